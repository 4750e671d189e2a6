#pragma once
#include <napi.h>

namespace pageflip {
// calibrate(options?) → Promise<result>: memcpy bandwidth (cache-hot and cold) against the cost of
// moving pages (mremap) and dropping them (madvise), alone and with a second busy thread, measured
// on a dedicated native thread. The result's shape is typed in lib/native.ts.
Napi::Value Calibrate(const Napi::CallbackInfo& info);
}  // namespace pageflip

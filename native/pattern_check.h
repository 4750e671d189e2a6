#pragma once
#include <napi.h>

namespace pageflip {
Napi::Value VerifyPatternJs(const Napi::CallbackInfo& info);
}  // namespace pageflip

#pragma once
#include <napi.h>

namespace pageflip {
// capabilities(): what this kernel and runtime can do, probed live (not from version numbers alone).
Napi::Value Capabilities(const Napi::CallbackInfo& info);
}  // namespace pageflip

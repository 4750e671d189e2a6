// verifyPattern(bytes, streamOffset, seed) -> mismatching byte count: lets JavaScript readers
// (Node's net.Socket baseline) "touch" data at the same cost as the native loops do.
#include "pattern_check.h"

#include "args.h"
#include "errors.h"
#include "pattern.h"

namespace pageflip {

Napi::Value VerifyPatternJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsArrayBuffer()) ThrowTypeError(env, "bytes must be a Uint8Array or ArrayBuffer");
  uint64_t offset = ToUint(env, info[1], "offset");
  uint64_t seed = ToUint(env, info[2], "seed");
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (info[0].IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    data = static_cast<const uint8_t*>(buffer.Data());
    length = buffer.ByteLength();
  } else {
    Napi::TypedArray array = info[0].As<Napi::TypedArray>();
    Napi::ArrayBuffer buffer = array.ArrayBuffer();
    data = static_cast<const uint8_t*>(buffer.Data()) + array.ByteOffset();
    length = array.ByteLength();
  }
  VerifyResult result;
  if (data && length) VerifyPattern(data, length, offset, seed, result);
  return Napi::Number::New(env, static_cast<double>(result.mismatches));
}

}  // namespace pageflip

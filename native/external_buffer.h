// External ArrayBuffers over native memory. The Owner object (kept alive until V8 finalizes the
// buffer) is what keeps the memory valid: a shared Mapping, a lease on a receive slot, ...
// If the runtime refuses external buffers (V8 sandbox builds) this throws a typed error: it never
// silently copies, since a copy would falsify every zero-copy claim made about the data.
#pragma once
#include <napi.h>

#include <memory>

#include "errors.h"

namespace pageflip {

template <class Owner>
Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length, std::unique_ptr<Owner> owner) {
  napi_value result = nullptr;
  Owner* hint = owner.get();
  napi_status status = napi_create_external_arraybuffer(
      env, data, length, [](napi_env, void*, void* h) { delete static_cast<Owner*>(h); }, hint, &result);
  if (status == napi_no_external_buffers_allowed)
    throw CodedError(env, "ERR_PAGEFLIP_EXTERNAL_BUFFERS_UNSUPPORTED",
                     "this runtime does not allow external ArrayBuffers (V8 sandbox); pageflip cannot expose "
                     "mapped pages without copying them, and will not copy silently");
  NAPI_THROW_IF_FAILED(env, status, Napi::ArrayBuffer());
  owner.release();  // now owned by the ArrayBuffer's finalizer
  return Napi::ArrayBuffer(env, result);
}

}  // namespace pageflip

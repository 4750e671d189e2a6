// External ArrayBuffers over native memory. The Owner object (kept alive until V8 finalizes the
// buffer's backing store, which a transferred alias keeps alive too) is what keeps the memory
// valid: a shared Mapping, a lease on a receive slot, ... (page_range.h has the whole rule).
// If the runtime refuses external buffers (V8 sandbox builds) this throws a typed error: it never
// silently copies, since a copy would falsify every zero-copy claim made about the data.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "errors.h"

namespace pageflip {

// The longest external ArrayBuffer this runtime can hold: Node builds them as Buffers, and a
// longer one crashes Node before 22 (a double free; buffer.constants.MAX_LENGTH is 2^32 there,
// 2^53 - 1 from Node 22 on).
inline uint64_t MaxExternalBufferBytes(Napi::Env env) {
  const napi_node_version* version = nullptr;
  if (napi_get_node_version(env, &version) != napi_ok || version == nullptr || version->major < 22) return 1ull << 32;
  return (1ull << 53) - 1;
}

template <class Owner>
Napi::ArrayBuffer NewExternalArrayBuffer(Napi::Env env, void* data, size_t length, std::unique_ptr<Owner> owner) {
  uint64_t max = MaxExternalBufferBytes(env);
  if (length > max)
    ThrowRangeError(env, "a view of " + std::to_string(length) + " bytes is longer than this runtime allows (" +
                             std::to_string(max) + " bytes, buffer.constants.MAX_LENGTH); use a smaller region");
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

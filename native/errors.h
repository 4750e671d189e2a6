// The one place that turns errno and bad arguments into JavaScript errors.
#pragma once
#include <napi.h>

#include <string>

#include "sys_error.h"

namespace pageflip {

// Error with code ('EINVAL'), errno (negative, like Node core), syscall and a message saying what to do.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& hint = "");
inline Napi::Error ErrnoError(Napi::Env env, const SysError& e) { return ErrnoError(env, e.err, e.syscall, e.hint); }

// Argument and state errors: code is always ERR_PAGEFLIP_*.
Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message);
Napi::Error CodedTypeError(Napi::Env env, const char* code, const std::string& message);
Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message);

// False while the environment is stopping (worker terminate(), process.exit() in a worker): then
// every N-API call that needs JavaScript fails, and node-addon-api's error path for a failed call
// aborts the process. Callbacks entered from libuv or a thread-safe function check it first.
inline bool CanRunJs(napi_env env) {
  napi_value object;
  return napi_create_object(env, &object) == napi_ok && napi_set_named_property(env, object, "probe", object) == napi_ok;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& hint = "") {
  throw ErrnoError(env, err, syscall, hint);
}
[[noreturn]] inline void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw CodedTypeError(env, "ERR_PAGEFLIP_INVALID_ARG_TYPE", message);
}
[[noreturn]] inline void ThrowRangeError(Napi::Env env, const std::string& message) {
  throw CodedRangeError(env, "ERR_PAGEFLIP_OUT_OF_RANGE", message);
}
[[noreturn]] inline void ThrowState(Napi::Env env, const char* code, const std::string& message) {
  throw CodedError(env, code, message);
}

}  // namespace pageflip

// The one place that turns errno and bad arguments into JavaScript errors.
#pragma once
#include <napi.h>

#include <string>

namespace pageflip {

// A failed syscall observed on any thread; converted to a JS error on the JS thread.
struct SysError {
  int err = 0;
  const char* syscall = nullptr;
  std::string hint;
  explicit operator bool() const { return err != 0; }
};

// Error with code ('EINVAL'), errno (negative, like Node core), syscall and a message saying what to do.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& hint = "");
inline Napi::Error ErrnoError(Napi::Env env, const SysError& e) { return ErrnoError(env, e.err, e.syscall, e.hint); }

// Argument and state errors: code is always ERR_PAGEFLIP_*.
Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message);
Napi::Error CodedTypeError(Napi::Env env, const char* code, const std::string& message);
Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message);

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

#include "errors.h"

#include <uv.h>

#include <cstring>

namespace pageflip {

namespace {
Napi::Error WithCode(Napi::Error error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  return error;
}
}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& hint) {
  // libuv's name where it has one (Node's codes), else glibc's (EHWPOISON, ...).
  const char* name = uv_err_name(-err);
  if (std::strncmp(name, "Unknown", 7) == 0 && strerrorname_np(err)) name = strerrorname_np(err);
  std::string message = std::string(syscall) + " failed: " + std::strerror(err) + " (" + name + ")";
  if (!hint.empty()) message += ". " + hint;
  Napi::Error error = WithCode(Napi::Error::New(env, message), name);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  return WithCode(Napi::Error::New(env, message), code);
}

Napi::Error CodedTypeError(Napi::Env env, const char* code, const std::string& message) {
  return WithCode(Napi::TypeError::New(env, message), code);
}

Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message) {
  return WithCode(Napi::RangeError::New(env, message), code);
}

}  // namespace pageflip

#include "args.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>

#include "errors.h"
#include "tcp_socket.h"

namespace pageflip {

uint64_t ToUint(Napi::Env env, Napi::Value value, const char* name, uint64_t min, uint64_t max) {
  uint64_t result = 0;
  if (value.IsNumber()) {
    double d = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(d) || std::isinf(d) || d != std::floor(d))
      ThrowRangeError(env, std::string(name) + " must be an integer, got " + value.ToString().Utf8Value());
    if (d < 0) ThrowRangeError(env, std::string(name) + " must not be negative, got " + value.ToString().Utf8Value());
    if (d > static_cast<double>(kMaxSafeInteger))
      ThrowRangeError(env, std::string(name) + " must be <= 2^53-1, got " + value.ToString().Utf8Value());
    result = static_cast<uint64_t>(d);
  } else if (value.IsBigInt()) {
    bool lossless = false;
    int64_t signed_value = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless || signed_value < 0 || static_cast<uint64_t>(signed_value) > kMaxSafeInteger)
      ThrowRangeError(env, std::string(name) + " must be between 0 and 2^53-1, got " +
                               value.ToString().Utf8Value() + "n");
    result = static_cast<uint64_t>(signed_value);
  } else {
    ThrowTypeError(env, std::string(name) + " must be a number or bigint");
  }
  if (result < min || result > max)
    ThrowRangeError(env, std::string(name) + " must be between " + std::to_string(min) + " and " +
                             std::to_string(max) + ", got " + std::to_string(result));
  return result;
}

uint64_t ToUintOr(Napi::Env env, Napi::Value value, const char* name, uint64_t fallback, uint64_t min,
                  uint64_t max) {
  if (value.IsUndefined()) return fallback;
  return ToUint(env, value, name, min, max);
}

int64_t ToInt(Napi::Env env, Napi::Value value, const char* name, int64_t min, int64_t max) {
  if (!value.IsNumber()) ThrowTypeError(env, std::string(name) + " must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max))
    ThrowRangeError(env, std::string(name) + " must be an integer between " + std::to_string(min) + " and " +
                             std::to_string(max) + ", got " + value.ToString().Utf8Value());
  return static_cast<int64_t>(d);
}

bool ToBoolOr(Napi::Env env, Napi::Value value, const char* name, bool fallback) {
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) ThrowTypeError(env, std::string(name) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

double ToNumberOr(Napi::Env env, Napi::Value value, const char* name, double fallback, double min, double max) {
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) ThrowTypeError(env, std::string(name) + " must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (std::isnan(d) || d < min || d > max)
    ThrowRangeError(env, std::string(name) + " must be between " + std::to_string(min) + " and " +
                             std::to_string(max) + ", got " + value.ToString().Utf8Value());
  return d;
}

std::string ToString(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsString()) ThrowTypeError(env, std::string(name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

Napi::Object ToObjectOrEmpty(Napi::Env env, Napi::Value value, const char* name) {
  if (value.IsUndefined()) return Napi::Object::New(env);
  if (!value.IsObject() || value.IsArray() || value.IsFunction())
    ThrowTypeError(env, std::string(name) + " must be an object");
  return value.As<Napi::Object>();
}

Napi::Function ToFunction(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsFunction()) ThrowTypeError(env, std::string(name) + " must be a function");
  return value.As<Napi::Function>();
}

int FdArg(Napi::Env env, Napi::Value value) { return static_cast<int>(ToInt(env, value, "fd", 0, INT32_MAX)); }

int TcpConnectionFdArg(Napi::Env env, Napi::Value value) {
  int fd = FdArg(env, value);
  if (int err = CheckTcpConnection(fd))
    ThrowErrno(env, err, "getsockopt",
               "pageflip receives from and sends to connected TCP sockets only; fd " + std::to_string(fd) +
                   (err == ENOTSOCK ? " is not a socket" : err == EPROTOTYPE ? " is not a TCP stream socket" : err == ENOTCONN ? " is not connected" : ""));
  return fd;
}

UniqueFd DupFdOrThrow(Napi::Env env, int fd, const char* what) {
  UniqueFd copy(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) ThrowErrno(env, errno, "fcntl", what);
  return copy;
}

uint64_t ToPageMultiple(Napi::Env env, Napi::Value value, const char* name) {
  uint64_t bytes = ToUint(env, value, name, 1);
  if (bytes % PageSize() != 0)
    throw CodedRangeError(env, "ERR_PAGEFLIP_NOT_PAGE_MULTIPLE",
                          std::string(name) + " must be a multiple of the page size (" + std::to_string(PageSize()) +
                              "), got " + std::to_string(bytes));
  return bytes;
}

}  // namespace pageflip

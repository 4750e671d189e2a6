// Argument readers for binding functions. They never coerce (no valueOf calls), so hostile
// arguments get a TypeError/RangeError with an ERR_PAGEFLIP_* code instead of surprising behaviour.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "fd.h"
#include "page_range.h"

namespace pageflip {

constexpr uint64_t kMaxSafeInteger = 9007199254740991ULL;  // 2^53 - 1

// A byte count or offset: a non-negative integral number or bigint, <= 2^53-1, >= min.
uint64_t ToUint(Napi::Env env, Napi::Value value, const char* name, uint64_t min = 0,
                uint64_t max = kMaxSafeInteger);
// Same, for optional values: returns fallback when undefined.
uint64_t ToUintOr(Napi::Env env, Napi::Value value, const char* name, uint64_t fallback, uint64_t min = 0,
                  uint64_t max = kMaxSafeInteger);
int64_t ToInt(Napi::Env env, Napi::Value value, const char* name, int64_t min, int64_t max);
bool ToBoolOr(Napi::Env env, Napi::Value value, const char* name, bool fallback);
double ToNumberOr(Napi::Env env, Napi::Value value, const char* name, double fallback, double min, double max);
std::string ToString(Napi::Env env, Napi::Value value, const char* name);
Napi::Object ToObjectOrEmpty(Napi::Env env, Napi::Value value, const char* name);
Napi::Function ToFunction(Napi::Env env, Napi::Value value, const char* name);
// A file descriptor argument named "fd": an integer between 0 and INT32_MAX.
int FdArg(Napi::Env env, Napi::Value value);
// A descriptor argument that must name a connected TCP socket (see CheckTcpConnection): anything
// else throws ENOTSOCK, EPROTOTYPE or ENOTCONN before any work is done on it.
int TcpConnectionFdArg(Napi::Env env, Napi::Value value);
// An F_DUPFD_CLOEXEC duplicate of fd; throws the errno with `what` as the hint when it fails.
UniqueFd DupFdOrThrow(Napi::Env env, int fd, const char* what);

// A positive multiple of the page size (for region and slot sizes).
uint64_t ToPageMultiple(Napi::Env env, Napi::Value value, const char* name);

}  // namespace pageflip

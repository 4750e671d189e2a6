// A failed syscall, as the engines report it: plain data, usable on any thread. errors.h turns
// it into a JavaScript error on the JS thread.
#pragma once
#include <string>

namespace pageflip {

struct SysError {
  int err = 0;
  const char* syscall = nullptr;
  std::string hint;
  explicit operator bool() const { return err != 0; }
};

}  // namespace pageflip

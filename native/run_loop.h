// Native hot loops: receive or send N bytes / T seconds on a dedicated thread, so the experiment
// measures the kernel paths rather than JavaScript. new Loop('receive' | 'send', fd, options).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

namespace pageflip {

class Loop : public Napi::ObjectWrap<Loop> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Loop(const Napi::CallbackInfo& info);

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);  // -> Promise<stats>
  Napi::Value Stop(const Napi::CallbackInfo& info);   // ask the loop to end (within ~100 ms)

  bool receive_ = true;
  int fd_ = -1;
  Napi::ObjectReference options_;
  std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
  bool started_ = false;
};

}  // namespace pageflip

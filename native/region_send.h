// Sends the bytes of a PageRegion with write, MSG_ZEROCOPY or vmsplice(SPLICE_F_GIFT)+splice on a
// worker thread. The region is lent for the duration (views detached, use refused) so the kernel
// never reads pages that change; with splice the pages are gifted and the region ends closed.
// new RegionSend(fd, region, { mode, offset?, length?, chunkSize? }).start() -> Promise<stats>
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

namespace pageflip {

class RegionSend : public Napi::ObjectWrap<RegionSend> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RegionSend(const Napi::CallbackInfo& info);

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);

  int fd_ = -1;
  Napi::ObjectReference region_;
  Napi::ObjectReference options_;
  std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
  bool started_ = false;
};

}  // namespace pageflip

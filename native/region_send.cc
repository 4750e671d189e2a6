#include "region_send.h"

#include <fcntl.h>

#include <cerrno>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "mapping.h"
#include "receive_options.h"
#include "region.h"
#include "send.h"
#include "thread_task.h"

namespace pageflip {

namespace {

class RegionSendTask {
 public:
  UniqueFd fd;
  SendMode mode = SendMode::kWrite;
  MappingPtr mapping;  // keeps the pages mapped until the kernel is done with them
  size_t offset = 0, length = 0, chunk = 0;
  bool allow_copy = false;
  Napi::ObjectReference region;  // returned to JS-thread use in Settle
  std::shared_ptr<std::atomic<bool>> stop;

  void Abort() {
    torn_down_.store(true);
    stop->store(true);
  }
  void StartFailed(const SysError& e) { error_ = e; }

  void Run() {
    SendEngine engine(fd.get(), mode, chunk, /*nonblocking=*/true, allow_copy);
    if (!engine.Setup(&error_)) return;
    const uint8_t* data = mapping->data() + offset;
    while (sent_ < length) {
      if (stop->load()) {
        stopped_ = true;
        break;
      }
      ssize_t n = engine.Send(data + sent_, length - sent_, &error_);
      if (n < 0) break;
      if (n == 0) PollOne(fd.get(), POLLOUT, 100);
      sent_ += static_cast<size_t>(n > 0 ? n : 0);
    }
    // The promise settles only when the kernel no longer needs the pages.
    while (!error_ && !stopped_ && !engine.Drain(100, &error_)) {
      if (stop->load()) stopped_ = true;
    }
    // Stopped or failed: what was sent with MSG_ZEROCOPY is still read from the region's pages
    // until its completion arrives (the peer takes the bytes, or a reset drops them), so the
    // region goes back to its owner only then. Only the environment's teardown ends the wait.
    while (engine.inflight_bytes() > 0 && !torn_down_.load()) {
      SysError reap_error;
      if (!engine.Reap(100, /*wait=*/true, &reap_error)) {
        if (!error_) error_ = reap_error;
        break;
      }
    }
    // Pages the kernel may still read are never handed back: the region ends closed instead.
    pages_in_flight_ = engine.inflight_bytes() > 0;
    counters_ = engine.counters();
  }

  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    Region::Unwrap(region.Value())->Return(mode == SendMode::kSplice || pages_in_flight_);
    region.Reset();
    mapping.reset();
    Napi::Object stats = Napi::Object::New(env);
    stats.Set("bytes", double(sent_));
    stats.Set("syscalls", double(counters_.syscalls));
    stats.Set("zerocopySends", double(counters_.zerocopy_sends));
    stats.Set("completions", double(counters_.completions));
    stats.Set("completionsCopied", double(counters_.completions_copied));
    stats.Set("copiedSends", double(counters_.copied_sends));
    stats.Set("copiedBytes", double(counters_.copied_bytes));
    if (error_) {
      Napi::Error e = ErrnoError(env, error_);
      e.Set("stats", stats);
      deferred.Reject(e.Value());
    } else if (stopped_) {
      Napi::Error e = CodedError(env, "ERR_PAGEFLIP_CLOSED", "the sender was closed before the send completed");
      e.Set("stats", stats);
      deferred.Reject(e.Value());
    } else {
      deferred.Resolve(stats);
    }
  }

 private:
  SysError error_;
  size_t sent_ = 0;
  bool stopped_ = false;
  bool pages_in_flight_ = false;
  std::atomic<bool> torn_down_{false};
  SendCounters counters_;
};

}  // namespace

Napi::Function RegionSend::Define(Napi::Env env) {
  return DefineClass(env, "RegionSend",
                     {InstanceMethod<&RegionSend::Start>("start"), InstanceMethod<&RegionSend::Stop>("stop")});
}

RegionSend::RegionSend(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RegionSend>(info) {
  Napi::Env env = info.Env();
  fd_ = TcpConnectionFdArg(env, info[0]);
  Region::FromValue(env, info[1], "region");
  region_ = Napi::Persistent(info[1].As<Napi::Object>());
  options_ = Napi::Persistent(ToObjectOrEmpty(env, info[2], "options"));
}

Napi::Value RegionSend::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "this send was already started");
  Napi::Object options = options_.Value();
  auto task = std::make_shared<RegionSendTask>();
  task->mode = SendModeArg(env, options, "mode");
  Region* region = Region::Unwrap(region_.Value());
  region->CheckLendable(env);
  size_t region_length = region->byte_length();
  task->offset = ToUintOr(env, options.Get("offset"), "options.offset", 0, 0, region_length - 1);
  task->length = ToUintOr(env, options.Get("length"), "options.length", region_length - task->offset, 1, region_length - task->offset);
  task->chunk = ChunkSizeArg(env, options);
  task->allow_copy = ToBoolOr(env, options.Get("allowFallback"), "options.allowFallback", false);
  if (task->mode == SendMode::kSplice && (task->offset % PageSize() || task->chunk % PageSize()))
    throw CodedRangeError(env, "ERR_PAGEFLIP_NOT_PAGE_MULTIPLE", "splice gifts whole pages: offset and chunkSize must be page multiples");
  task->fd = DupFdOrThrow(env, fd_, "duplicating the socket for the send");
  task->mapping = region->Lend(env);  // throws if closed or already lent
  task->region = Napi::Persistent(region_.Value());
  task->stop = stop_;
  started_ = true;
  return ThreadJob<RegionSendTask>::Start(env, task);
}

Napi::Value RegionSend::Stop(const Napi::CallbackInfo& info) {
  stop_->store(true);
  return info.Env().Undefined();
}

}  // namespace pageflip

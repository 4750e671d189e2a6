#include "run_loop.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <string>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "mapping.h"
#include "pattern.h"
#include "receive.h"
#include "receive_stats.h"
#include "send.h"
#include "thread_task.h"

namespace pageflip {

namespace {

constexpr int kStopCheckMs = 100;  // how often a blocked loop looks at its stop flag

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct ThreadUsage {
  double user = 0, system = 0;
  long voluntary = 0, involuntary = 0;
  static ThreadUsage Now() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    ThreadUsage u;
    u.user = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) * 1e-6;
    u.system = double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) * 1e-6;
    u.voluntary = ru.ru_nvcsw;
    u.involuntary = ru.ru_nivcsw;
    return u;
  }
};

// What every loop shares: limits, pinning, blocking mode, timing and the outcome.
struct LoopBase {
  UniqueFd fd;  // our own dup: the JS side may close its descriptor meanwhile
  uint64_t byte_limit = 0;  // 0 = none
  double seconds = 0;       // 0 = none
  int cpu = -1;
  bool blocking = true;
  std::shared_ptr<std::atomic<bool>> stop;

  SysError error;
  std::string error_code;  // ERR_PAGEFLIP_* when the failure is not an errno
  const char* end_reason = "stopped";
  double elapsed = 0;
  ThreadUsage usage_start, usage_end;
  int saved_flags = -1;
  timeval saved_timeout{};
  int timeout_option = SO_RCVTIMEO;
  double started_at = 0;
  double deadline = 0;  // 0 = none

  // Start of a loop: the clock, the deadline and the thread's CPU usage.
  void Begin() {
    started_at = Now();
    deadline = seconds > 0 ? started_at + seconds : 0;
    usage_start = ThreadUsage::Now();
  }

  // Checked before each step, in this order: a stop request (end_reason stays as it is), the
  // byte limit against `done` (end_reason "bytes"), the deadline (end_reason "time").
  bool Ended(uint64_t done) {
    if (stop->load(std::memory_order_relaxed)) return true;
    if (byte_limit && done >= byte_limit) {
      end_reason = "bytes";
      return true;
    }
    if (deadline && Now() >= deadline) {
      end_reason = "time";
      return true;
    }
    return false;
  }

  // End of a loop: the thread's CPU usage and the elapsed time since Begin().
  void End() {
    usage_end = ThreadUsage::Now();
    elapsed = Now() - started_at;
  }

  void StartFailed(const SysError& e) { error = e; }

  bool Prepare(int option) {
    timeout_option = option;
    if (cpu >= 0) {
      if (int err = PinCurrentThread(cpu)) {
        error = {err, "pthread_setaffinity_np", "pinning the loop to CPU " + std::to_string(cpu)};
        return false;
      }
    }
    if (blocking) {
      // A blocking socket needs one syscall per read/write instead of poll + retry; the
      // timeout bounds how long a stop request can go unnoticed.
      // The flags belong to the open file description the caller shares with our dup: whatever
      // fails below, they are put back as they were (Restore() only runs after a good Prepare()).
      int flags = fcntl(fd.get(), F_GETFL);
      socklen_t length = sizeof(saved_timeout);
      getsockopt(fd.get(), SOL_SOCKET, option, &saved_timeout, &length);
      timeval timeout{0, kStopCheckMs * 1000};
      if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
        error = {errno, "fcntl", "switching the socket to blocking mode"};
        return false;
      }
      if (setsockopt(fd.get(), SOL_SOCKET, option, &timeout, sizeof(timeout)) != 0) {
        error = {errno, "setsockopt", "setting the loop's socket timeout (is fd a socket?)"};
        fcntl(fd.get(), F_SETFL, flags);
        return false;
      }
      saved_flags = flags;
    }
    return true;
  }

  void Restore() {
    if (blocking && saved_flags >= 0) {
      fcntl(fd.get(), F_SETFL, saved_flags);
      setsockopt(fd.get(), SOL_SOCKET, timeout_option, &saved_timeout, sizeof(saved_timeout));
    }
  }

  void SetCommon(Napi::Env env, Napi::Object stats) const {
    stats.Set("seconds", elapsed);
    stats.Set("userSeconds", usage_end.user - usage_start.user);
    stats.Set("systemSeconds", usage_end.system - usage_start.system);
    stats.Set("cpuSeconds", (usage_end.user - usage_start.user) + (usage_end.system - usage_start.system));
    stats.Set("voluntarySwitches", double(usage_end.voluntary - usage_start.voluntary));
    stats.Set("involuntarySwitches", double(usage_end.involuntary - usage_start.involuntary));
    stats.Set("endReason", end_reason);
  }

  void Finish(Napi::Env env, Napi::Promise::Deferred& deferred, Napi::Object stats) const {
    if (!error && error_code.empty()) {
      deferred.Resolve(stats);
      return;
    }
    Napi::Error e = error_code.empty() ? ErrnoError(env, error) : CodedError(env, error_code.c_str(), error.hint);
    e.Set("stats", stats);  // what was done before the failure
    deferred.Reject(e.Value());
  }
};

class ReceiveTask : public LoopBase {
 public:
  ReceiveOptions options;
  bool verify = false;
  uint64_t seed = 0;
  bool lazy_release = false;  // zerocopy: let the next receive zap old pages instead of madvise
  int low_water = 0;          // SO_RCVLOWAT during the loop; 0 leaves the socket's own

  void Abort() { stop->store(true); }

  void Run() {
    if (!Prepare(SO_RCVTIMEO)) return;
    // Waking only once low_water bytes are queued gives fuller reads and fewer wakeups
    // (bench:tune measured it); a pause below it costs at most the stop-check interval.
    int saved_low_water = 1;
    if (low_water > 0 && !SwapLowWater(fd.get(), low_water, &saved_low_water)) {
      error = {errno, "setsockopt", "SO_RCVLOWAT (lowWater)"};
    } else {
      engine_ = ReceiveEngine::Create(fd.get(), options, &error, &error_code);
      if (engine_) Loop();
      if (low_water > 0) setsockopt(fd.get(), SOL_SOCKET, SO_RCVLOWAT, &saved_low_water, sizeof(saved_low_water));
    }
    Restore();
  }

  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    Napi::Object stats = Napi::Object::New(env);
    SetCommon(env, stats);
    if (engine_) SetReceiveCounters(env, stats, *engine_);
    stats.Set("verifiedBytes", double(verified_));
    stats.Set("mismatches", double(check_.mismatches));
    stats.Set("firstMismatchOffset", check_.mismatches ? Napi::Number::New(env, double(check_.first_mismatch)) : env.Null());
    engine_.reset();  // unmap the buffers on the JS thread, after the worker is done
    Finish(env, deferred, stats);
  }

 private:
  void Consume(const Segment& segment) {
    if (verify) {
      VerifyPattern(segment.data, segment.length, segment.offset, seed, check_);
      verified_ += segment.length;
    }
  }

  void ReleaseHeld() {
    if (held_) engine_->ReleaseMapRange(first_held_, held_);
    held_ = 0;
  }

  void Loop() {
    Segment segments[2];
    int count = 0;
    Begin();
    for (;;) {
      if (Ended(engine_->counters().bytes)) break;
      Step step = engine_->Read(segments, &count, &error);
      if (step == Step::kData) {
        for (int i = 0; i < count; i++) {
          Consume(segments[i]);
          Recycle(segments[i]);
        }
      } else if (step == Step::kWouldBlock) {
        // Blocking recv already waited; zero-copy receive never blocks, so wait here.
        if (!blocking || engine_->mode() == ReceiveMode::kZerocopy || engine_->mode() == ReceiveMode::kFlip)
          PollOne(fd.get(), POLLIN, kStopCheckMs);
      } else if (step == Step::kNoSlot) {
        ReleaseHeld();
      } else if (step == Step::kEof) {
        end_reason = "eof";
        break;
      } else {
        break;  // error is set
      }
    }
    ReleaseHeld();
    End();
  }

  void Recycle(const Segment& segment) {
    if (segment.pool == Pool::kMap && !lazy_release) {
      // Batch: slots are taken in ascending order, so held slots are contiguous.
      if (held_ == 0) first_held_ = segment.slot;
      held_++;
      if (held_ == options.slots) ReleaseHeld();
      return;
    }
    engine_->Recycle(segment);
  }

  std::unique_ptr<ReceiveEngine> engine_;
  VerifyResult check_;
  uint64_t verified_ = 0;
  uint32_t first_held_ = 0;
  uint32_t held_ = 0;
};

class SendTask : public LoopBase {
 public:
  SendMode mode = SendMode::kWrite;
  size_t chunk = 256 * 1024;
  uint64_t seed = 0;
  bool shutdown_when_done = false;

  void Abort() { stop->store(true); }

  void Run() {
    if (!Prepare(SO_SNDTIMEO)) return;
    engine_ = std::make_unique<SendEngine>(fd.get(), mode, chunk, !blocking);
    if (engine_->Setup(&error) && MapRing()) Loop();
    Restore();
  }

  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    Napi::Object stats = Napi::Object::New(env);
    SetCommon(env, stats);
    stats.Set("mode", SendModeName(mode));
    const SendCounters& c = engine_ ? engine_->counters() : SendCounters{};
    stats.Set("bytes", double(c.bytes));
    stats.Set("syscalls", double(c.syscalls));
    stats.Set("wouldBlock", double(c.would_block));
    stats.Set("zerocopySends", double(c.zerocopy_sends));
    stats.Set("completions", double(c.completions));
    stats.Set("completionsCopied", double(c.completions_copied));
    stats.Set("enobufs", double(c.enobufs));
    if (ring_) munmap(ring_, kPatternPeriod);
    ring_ = nullptr;
    Finish(env, deferred, stats);
  }

 private:
  bool MapRing() {
    // Filled once, never written again: safe to hand to MSG_ZEROCOPY and SPLICE_F_GIFT.
    void* p = MapAnonymousAligned(kPatternPeriod, PageSize(), PROT_READ | PROT_WRITE, 0);
    if (!p) {
      error = {errno, "mmap", "allocating the 16 MiB send ring"};
      return false;
    }
    ring_ = static_cast<uint8_t*>(p);
    FillPatternPeriod(ring_, seed);
    return true;
  }

  void Loop() {
    uint64_t offset = 0;
    Begin();
    bool failed = false;
    for (;;) {
      if (Ended(offset)) break;
      size_t in_ring = static_cast<size_t>(offset % kPatternPeriod);
      size_t length = std::min<uint64_t>(chunk, kPatternPeriod - in_ring);
      if (byte_limit) length = std::min<uint64_t>(length, byte_limit - offset);
      // Never hand out ring bytes whose previous zero-copy send has not completed.
      if (mode == SendMode::kZerocopy && engine_->inflight_bytes() + length > kPatternPeriod - chunk) {
        if (!engine_->Reap(kStopCheckMs, true, &error)) {
          failed = true;
          break;
        }
        continue;
      }
      ssize_t n = engine_->Send(ring_ + in_ring, length, &error);
      if (n < 0) {
        failed = true;
        break;
      }
      if (n == 0) {
        if (!blocking) PollOne(fd.get(), POLLOUT, kStopCheckMs);
        continue;
      }
      offset += static_cast<uint64_t>(n);
    }
    if (!failed && std::string(end_reason) == "bytes") {
      // A complete transfer: the peer reads everything, so every completion must arrive (and
      // the splice pipe must empty) before we report success and unmap the ring.
      if (!engine_->Drain(5000, &error) && !error) error = {ETIMEDOUT, "recvmsg", "waiting for zero-copy completions"};
      if (shutdown_when_done && !error) shutdown(fd.get(), SHUT_WR);
    } else if (!failed) {
      // Stopped or out of time: the peer may have stopped reading, so completions can take
      // until the socket closes. Reap what is there; unmapping the ring afterwards is safe
      // because in-flight pages stay referenced by the kernel, and the ring is never reused.
      engine_->Reap(0, false, &error);
      // A timed send that ran its course is complete too: the peer must see EOF (a stopped
      // sender was aborted by its caller, who decides what happens to the connection).
      if (shutdown_when_done && !error && std::string(end_reason) == "time") shutdown(fd.get(), SHUT_WR);
    }
    End();
  }

  std::unique_ptr<SendEngine> engine_;
  uint8_t* ring_ = nullptr;
};

template <class Task>
void ReadLimits(Napi::Env env, Napi::Object options, Task& task) {
  task.byte_limit = ToUintOr(env, options.Get("bytes"), "options.bytes", 0);
  task.seconds = ToNumberOr(env, options.Get("seconds"), "options.seconds", 0, 0, 1e6);
  task.cpu = static_cast<int>(options.Get("cpu").IsUndefined() ? -1 : ToInt(env, options.Get("cpu"), "options.cpu", 0, CPU_SETSIZE - 1));
  task.blocking = ToBoolOr(env, options.Get("blocking"), "options.blocking", true);
}

}  // namespace

Napi::Function Loop::Define(Napi::Env env) {
  return DefineClass(env, "Loop", {InstanceMethod<&Loop::Start>("start"), InstanceMethod<&Loop::Stop>("stop")});
}

Loop::Loop(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Loop>(info) {
  Napi::Env env = info.Env();
  std::string kind = ToString(env, info[0], "kind");
  if (kind != "receive" && kind != "send") ThrowRangeError(env, "kind must be 'receive' or 'send'");
  receive_ = kind == "receive";
  fd_ = FdArg(env, info[1]);
  options_ = Napi::Persistent(ToObjectOrEmpty(env, info[2], "options"));
}

Napi::Value Loop::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "this loop was already started");
  Napi::Object options = options_.Value();
  std::string mode = options.Get("mode").IsUndefined() ? (receive_ ? "copy" : "write") : ToString(env, options.Get("mode"), "options.mode");
  size_t chunk = ToUintOr(env, options.Get("chunkSize"), "options.chunkSize", 256 * 1024, 1, 64ull << 20);
  uint64_t seed = ToUintOr(env, options.Get("seed"), "options.seed", 1);

  auto attach = [&](LoopBase& task) {
    ReadLimits(env, options, task);
    task.stop = stop_;
    task.fd = DupFdOrThrow(env, fd_, "duplicating the socket for the loop");
  };

  Napi::Promise promise;
  if (receive_) {
    auto task = std::make_shared<ReceiveTask>();
    if (!ParseReceiveMode(mode, &task->options.mode))
      ThrowRangeError(env, "receive mode must be copy, zerocopy, flip, copy-remap or splice, got '" + mode + "'");
    task->options.chunk = chunk;
    task->options.slots = ToUintOr(env, options.Get("releaseBatch"), "options.releaseBatch", 1, 1, 1024);
    task->options.copybuf = ToUintOr(env, options.Get("copybuf"), "options.copybuf", 0, 0, 1 << 20);
    task->options.tlb_hint = ToBoolOr(env, options.Get("tlbHint"), "options.tlbHint", true);
    task->options.allow_fallback = ToBoolOr(env, options.Get("allowFallback"), "options.allowFallback", false);
    task->options.zerocopy_unavailable = AddonData::Of(env).simulate_no_zerocopy;
    task->lazy_release = ToBoolOr(env, options.Get("lazyRelease"), "options.lazyRelease", false);
    if (task->lazy_release) task->options.tlb_hint = false;  // slots are not empty: the hint would lie
    task->verify = ToBoolOr(env, options.Get("verify"), "options.verify", false);
    task->low_water = static_cast<int>(ToUintOr(env, options.Get("lowWater"), "options.lowWater", DefaultLowWater(chunk), 0, INT32_MAX));
    task->seed = seed;
    attach(*task);
    task->options.nonblocking = !task->blocking;
    promise = ThreadJob<ReceiveTask>::Start(env, task);
  } else {
    auto task = std::make_shared<SendTask>();
    if (!ParseSendMode(mode, &task->mode)) ThrowRangeError(env, "send mode must be write, zerocopy or splice, got '" + mode + "'");
    task->chunk = chunk;
    if (task->mode == SendMode::kSplice && chunk % PageSize() != 0)
      throw CodedRangeError(env, "ERR_PAGEFLIP_NOT_PAGE_MULTIPLE", "splice sends gift whole pages: chunkSize must be a page multiple");
    task->seed = seed;
    task->shutdown_when_done = ToBoolOr(env, options.Get("shutdown"), "options.shutdown", true);
    attach(*task);
    promise = ThreadJob<SendTask>::Start(env, task);
  }
  started_ = true;
  return promise;
}

Napi::Value Loop::Stop(const Napi::CallbackInfo& info) {
  stop_->store(true);
  return info.Env().Undefined();
}

}  // namespace pageflip

#include "run_loop.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "mapping.h"
#include "pattern.h"
#include "receive.h"
#include "receive_options.h"
#include "receive_stats.h"
#include "send.h"
#include "tcp_socket.h"
#include "thread_task.h"

namespace pageflip {

namespace {

constexpr int kStopCheckMs = 100;  // how often a blocked loop looks at its stop flag
constexpr const char* kReceiveThreadName = "pageflip-recv";  // at most 15 characters (comm)
constexpr const char* kSendThreadName = "pageflip-send";

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The whole text of a small file (/proc/stat, a task's schedstat), or "" when it cannot be read
// (e.g. the task is gone). Read with plain syscalls: it runs on the loop thread at its edges.
std::string ReadSmallFile(const std::string& path) {
  std::string text;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[8192];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, size_t(n));
  }
  close(fd);
  return text;
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
  LoopClaim claim;  // this loop's direction of the socket (released before fd closes)
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
  bool timeout_set = false;  // Restore puts saved_timeout back
  timeval saved_timeout{};
  int timeout_option = SO_RCVTIMEO;
  double started_at = 0;
  double deadline = 0;  // 0 = none
  // Files read at the loop's first and last instant (the measurement window: /proc/stat, the
  // other side's schedstat), so every CPU figure of a run covers exactly the loop.
  std::vector<std::string> window_paths;
  std::vector<std::string> window_start, window_end;

  static std::vector<std::string> ReadAll(const std::vector<std::string>& paths) {
    std::vector<std::string> texts;
    for (const std::string& path : paths) texts.push_back(ReadSmallFile(path));
    return texts;
  }

  // Start of a loop: the clock, the deadline and the thread's CPU usage.
  void Begin() {
    window_start = ReadAll(window_paths);
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
    window_end = ReadAll(window_paths);
  }

  void StartFailed(const SysError& e) {
    error = e;
    claim.Release();  // no thread ran: nothing else gives the direction back before the promise settles
  }

  bool Prepare(int option, const char* thread_name) {
    timeout_option = option;
    // Named so a measurement can find the loop threads in /proc/PID/task/*/comm.
    pthread_setname_np(pthread_self(), thread_name);
    if (cpu >= 0) {
      if (int err = PinCurrentThread(cpu)) {
        error = {err, "pthread_setaffinity_np", "pinning the loop to CPU " + std::to_string(cpu)};
        claim.Release();
        return false;
      }
    }
    if (blocking) {
      // A blocking socket needs one syscall per read/write instead of poll + retry; the
      // timeout bounds how long a stop request can go unnoticed.
      // The flags belong to the open file description the caller (and a loop of the other
      // direction) shares with our dup: the claim clears O_NONBLOCK for all of them and the last
      // to leave puts it back. Whatever fails below, nothing stays changed.
      socklen_t length = sizeof(saved_timeout);
      getsockopt(fd.get(), SOL_SOCKET, option, &saved_timeout, &length);
      timeval timeout{0, kStopCheckMs * 1000};
      if (int err = claim.EnterBlocking()) {
        error = {err, "fcntl", "switching the socket to blocking mode"};
        claim.Release();
        return false;
      }
      if (setsockopt(fd.get(), SOL_SOCKET, option, &timeout, sizeof(timeout)) != 0) {
        error = {errno, "setsockopt", "setting the loop's socket timeout"};
        claim.Release();
        return false;
      }
      timeout_set = true;
    }
    return true;
  }

  // After the loop: the socket as it was, and the direction free for the next loop (before the
  // promise settles, so a loop started right after it is not refused).
  void Restore() {
    if (timeout_set) setsockopt(fd.get(), SOL_SOCKET, timeout_option, &saved_timeout, sizeof(saved_timeout));
    claim.Release();
  }

  void SetCommon(Napi::Env env, Napi::Object stats) const {
    stats.Set("seconds", elapsed);
    stats.Set("userSeconds", usage_end.user - usage_start.user);
    stats.Set("systemSeconds", usage_end.system - usage_start.system);
    stats.Set("cpuSeconds", (usage_end.user - usage_start.user) + (usage_end.system - usage_start.system));
    stats.Set("voluntarySwitches", double(usage_end.voluntary - usage_start.voluntary));
    stats.Set("involuntarySwitches", double(usage_end.involuntary - usage_start.involuntary));
    stats.Set("endReason", end_reason);
    if (!window_paths.empty()) {
      auto texts = [&](const std::vector<std::string>& list) {
        Napi::Array array = Napi::Array::New(env, list.size());
        for (size_t i = 0; i < list.size(); i++) array.Set(uint32_t(i), list[i]);
        return array;
      };
      stats.Set("windowStart", texts(window_start));
      stats.Set("windowEnd", texts(window_end));
    }
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
  ReceiveArgs args;  // options.mode, verify, seed, ... (receive_options.h)

  void Abort() { stop->store(true); }

  void Run() {
    if (!Prepare(SO_RCVTIMEO, kReceiveThreadName)) return;
    // Waking only once low_water bytes are queued gives fuller reads and fewer wakeups
    // (bench:tune measured it); a pause below it costs at most the stop-check interval.
    {
      LowWaterGuard low_water;
      if (args.low_water > 0 && !low_water.Set(fd.get(), args.low_water)) {
        error = {errno, "setsockopt", "SO_RCVLOWAT (lowWater)"};
      } else {
        engine_ = ReceiveEngine::Create(fd.get(), args.engine, &error, &error_code);
        if (engine_) Loop();
      }
    }  // the socket's own mark is back before the direction is freed
    Restore();
  }

  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    Napi::Object stats = Napi::Object::New(env);
    SetCommon(env, stats);
    if (engine_) SetReceiveCounters(env, stats, *engine_);
    SetVerifyCounters(env, stats, engine_ ? engine_->counters() : ReceiveCounters{});
    engine_.reset();  // unmap the buffers on the JS thread, after the worker is done
    Finish(env, deferred, stats);
  }

 private:
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
        for (int i = 0; i < count; i++) Recycle(segments[i]);  // verified by the engine (options.verify)
      } else if (step == Step::kWouldBlock) {
        // Blocking: the receive call (or the engine's low-water wait before it) already waited
        // up to kStopCheckMs. Non-blocking: wait here, counted with the mode's syscalls.
        if (!blocking) engine_->WaitReadable(kStopCheckMs);
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
    if (segment.pool == Pool::kMap && !args.lazy_release) {
      // Batch: slots are taken in ascending order, so held slots are contiguous.
      if (held_ == 0) first_held_ = segment.slot;
      held_++;
      if (held_ == args.engine.slots) ReleaseHeld();
      return;
    }
    engine_->Recycle(segment);
  }

  std::unique_ptr<ReceiveEngine> engine_;
  uint32_t first_held_ = 0;
  uint32_t held_ = 0;
};

class SendTask : public LoopBase {
 public:
  SendMode mode = SendMode::kWrite;
  size_t chunk = kDefaultChunk;
  uint64_t seed = 0;
  bool shutdown_when_done = false;
  bool allow_copy = false;

  void Abort() { stop->store(true); }

  void Run() {
    if (!Prepare(SO_SNDTIMEO, kSendThreadName)) return;
    engine_ = std::make_unique<SendEngine>(fd.get(), mode, chunk, !blocking, allow_copy);
    if (engine_->Setup(&error) && MapRing()) Loop();
    counters_ = engine_->counters();
    engine_.reset();  // gives the socket's zero-copy notifications to the next sender now
    Restore();
  }

  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    Napi::Object stats = Napi::Object::New(env);
    SetCommon(env, stats);
    stats.Set("mode", SendModeName(mode));
    const SendCounters& c = counters_;
    stats.Set("bytes", double(c.bytes));
    stats.Set("syscalls", double(c.syscalls));
    stats.Set("wouldBlock", double(c.would_block));
    stats.Set("zerocopySends", double(c.zerocopy_sends));
    stats.Set("completions", double(c.completions));
    stats.Set("completionsCopied", double(c.completions_copied));
    stats.Set("enobufs", double(c.enobufs));
    stats.Set("copiedSends", double(c.copied_sends));
    stats.Set("copiedBytes", double(c.copied_bytes));
    ring_.Unmap();
    Finish(env, deferred, stats);
  }

 private:
  bool MapRing() {
    // Filled once, never written again: safe to hand to MSG_ZEROCOPY and SPLICE_F_GIFT.
    ring_ = MapAnonymousAligned(kPatternPeriod, PageSize(), PROT_READ | PROT_WRITE, 0);
    if (!ring_) {
      error = {errno, "mmap", "allocating the 16 MiB send ring"};
      return false;
    }
    FillPatternPeriod(ring_.data(), seed);
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
      // The ring is never written, so its bytes may be in flight twice; what bounds the pages
      // pinned is this: at most one ring's worth in flight (a single send may always go).
      uint64_t inflight = engine_->inflight_bytes();
      if (mode == SendMode::kZerocopy && inflight > 0 && inflight + length > kPatternPeriod) {
        if (!engine_->Reap(kStopCheckMs, true, &error)) {
          failed = true;
          break;
        }
        continue;
      }
      ssize_t n = engine_->Send(ring_.data() + in_ring, length, &error);
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
      // At most 5 s, and a stop request (also the environment's teardown) ends the wait.
      bool drained = false;
      for (double until = Now() + 5; !drained && !error && !stop->load() && Now() < until;)
        drained = engine_->Drain(kStopCheckMs, &error);
      if (!drained && !error && !stop->load()) error = {ETIMEDOUT, "recvmsg", "waiting for zero-copy completions"};
      if (shutdown_when_done && drained) shutdown(fd.get(), SHUT_WR);
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
  SendCounters counters_;
  PageRange ring_;
};

template <class Task>
void ReadLimits(Napi::Env env, Napi::Object options, Task& task) {
  task.byte_limit = ToUintOr(env, options.Get("bytes"), "options.bytes", 0);
  task.seconds = ToNumberOr(env, options.Get("seconds"), "options.seconds", 0, 0, 1e6);
  task.cpu = static_cast<int>(options.Get("cpu").IsUndefined() ? -1 : ToInt(env, options.Get("cpu"), "options.cpu", 0, CPU_SETSIZE - 1));
  task.blocking = ToBoolOr(env, options.Get("blocking"), "options.blocking", true);
  Napi::Value window = options.Get("window");
  if (!window.IsUndefined()) {
    if (!window.IsArray()) ThrowTypeError(env, "options.window must be an array of file paths");
    Napi::Array paths = window.As<Napi::Array>();
    if (paths.Length() > 64) ThrowRangeError(env, "options.window takes at most 64 paths");
    for (uint32_t i = 0; i < paths.Length(); i++) task.window_paths.push_back(ToString(env, paths.Get(i), "options.window[i]"));
  }
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
  fd_ = TcpConnectionFdArg(env, info[1]);
  options_ = Napi::Persistent(ToObjectOrEmpty(env, info[2], "options"));
}

Napi::Value Loop::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "this loop was already started");
  Napi::Object options = options_.Value();
  auto attach = [&](LoopBase& task) {
    ReadLimits(env, options, task);
    task.stop = stop_;
    task.fd = DupFdOrThrow(env, fd_, "duplicating the socket for the loop");
    if (int err = task.claim.Take(task.fd.get(), receive_ ? LoopClaim::Direction::kReceive : LoopClaim::Direction::kSend)) {
      if (err == EBUSY)
        ThrowState(env, "ERR_PAGEFLIP_BUSY",
                   std::string("a ") + (receive_ ? "receive" : "send") + " loop is already running on this connection");
      ThrowErrno(env, err, "fstat", "identifying the socket");
    }
  };

  Napi::Promise promise;
  if (receive_) {
    auto task = std::make_shared<ReceiveTask>();
    task->args = ReadReceiveOptions(env, options, ReceiveDriver::kLoop);
    attach(*task);
    ReceiveOptions& engine = task->args.engine;
    engine.nonblocking = !task->blocking;
    engine.low_water = static_cast<size_t>(task->args.low_water);
    engine.wait_ms = kStopCheckMs;
    promise = ThreadJob<ReceiveTask>::Start(env, task);
  } else {
    auto task = std::make_shared<SendTask>();
    task->mode = SendModeArg(env, options, "send mode");
    task->chunk = ChunkSizeArg(env, options);
    if (task->mode == SendMode::kSplice && task->chunk % PageSize() != 0)
      throw CodedRangeError(env, "ERR_PAGEFLIP_NOT_PAGE_MULTIPLE", "splice sends gift whole pages: chunkSize must be a page multiple");
    task->seed = ToUintOr(env, options.Get("seed"), "options.seed", 1);
    task->shutdown_when_done = ToBoolOr(env, options.Get("shutdown"), "options.shutdown", true);
    task->allow_copy = ToBoolOr(env, options.Get("allowFallback"), "options.allowFallback", false);
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

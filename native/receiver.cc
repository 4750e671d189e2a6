#include "receiver.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "external_buffer.h"
#include "fd.h"
#include "receive.h"
#include "receive_stats.h"

namespace pageflip {

struct ReceiverCore {
  // Our own duplicate of the socket: the caller may close its descriptor and the number may be
  // reused by another connection, whose bytes must never show up in this receiver's leases.
  UniqueFd fd;
  std::unique_ptr<ReceiveEngine> engine;  // null once closed
  struct Lease {
    Segment segment;
    Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: V8 may collect a forgotten lease
  };
  std::unordered_map<double, Lease> leases;
  size_t max_leases = 8;  // bound on leases.size(), whichever pools they come from
  double next_id = 1;
  bool verify = false;
  uint64_t seed = 0;
  VerifyResult check;
  uint64_t verified = 0;
  uint64_t collected = 0;  // leases released by the garbage collector rather than release()

  // The buffer is unreachable (being finalized): no view can see the slot any more.
  void Collected(double id) {
    auto it = leases.find(id);
    if (it == leases.end()) return;
    if (engine) engine->Release(it->second.segment);
    collected++;
    leases.erase(it);
  }
};

namespace {

struct LeaseOwner {
  std::shared_ptr<ReceiverCore> core;
  double id;
  ~LeaseOwner() { core->Collected(id); }
};

void DetachIfAlive(Napi::Reference<Napi::ArrayBuffer>& ref) {
  if (ref.IsEmpty()) return;
  Napi::ArrayBuffer buffer = ref.Value();
  if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
}

}  // namespace

Napi::Function Receiver::Define(Napi::Env env) {
  return DefineClass(env, "Receiver",
                     {InstanceMethod<&Receiver::Read>("read"), InstanceMethod<&Receiver::Release>("release"),
                      InstanceMethod<&Receiver::Stats>("stats"), InstanceMethod<&Receiver::Layout>("layout"),
                      InstanceMethod<&Receiver::Fd>("fd"), InstanceMethod<&Receiver::Info>("info"),
                      InstanceMethod<&Receiver::Close>("close")});
}

Receiver::Receiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Receiver>(info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  Napi::Object options = ToObjectOrEmpty(env, info[1], "options");
  ReceiveOptions engine_options;
  std::string mode = options.Get("mode").IsUndefined() ? "copy" : ToString(env, options.Get("mode"), "options.mode");
  if (!ParseReceiveMode(mode, &engine_options.mode))
    ThrowRangeError(env, "mode must be copy, zerocopy, flip, copy-remap or splice, got '" + mode + "'");
  engine_options.chunk = ToUintOr(env, options.Get("chunkSize"), "options.chunkSize", 256 * 1024, 1, 64ull << 20);
  engine_options.slots = ToUintOr(env, options.Get("maxLeases"), "options.maxLeases", 8, 1, 1024);
  engine_options.copybuf = ToUintOr(env, options.Get("copybuf"), "options.copybuf", 0, 0, 1 << 20);
  engine_options.tlb_hint = ToBoolOr(env, options.Get("tlbHint"), "options.tlbHint", true);
  engine_options.allow_fallback = ToBoolOr(env, options.Get("allowFallback"), "options.allowFallback", false);
  engine_options.zerocopy_unavailable = AddonData::Of(env).simulate_no_zerocopy;
  engine_options.nonblocking = true;

  core_ = std::make_shared<ReceiverCore>();
  core_->max_leases = engine_options.slots;
  core_->verify = ToBoolOr(env, options.Get("verify"), "options.verify", false);
  core_->seed = ToUintOr(env, options.Get("seed"), "options.seed", 1);
  core_->fd = DupFdOrThrow(env, fd, "duplicating the socket for the receiver");
  SysError error;
  std::string code;
  core_->engine = ReceiveEngine::Create(core_->fd.get(), engine_options, &error, &code);
  if (!core_->engine) {
    if (!code.empty()) throw CodedError(env, code.c_str(), error.hint);
    throw ErrnoError(env, error);
  }
  // A waiting read wakes once lowWater bytes are queued (SO_RCVLOWAT; the kernel caps it at half
  // the receive buffer and still wakes at EOF, on errors and when its window is nearly closed).
  // Fewer wakeups with fuller leases; the JS side bounds each wait (lowWaterMs), so a peer that
  // pauses below lowWater is never stalled. The previous value comes back on close().
  int low_water = static_cast<int>(ToUintOr(env, options.Get("lowWater"), "options.lowWater", DefaultLowWater(engine_options.chunk), 1, INT32_MAX));
  // Our duplicate: the option belongs to the socket both descriptors name.
  if (!SwapLowWater(core_->fd.get(), low_water, &saved_low_water_)) {
    int err = errno;
    core_->engine.reset();
    ThrowErrno(env, err, "setsockopt", "SO_RCVLOWAT (lowWater)");
  }
  Napi::Float64Array lease_info = Napi::Float64Array::New(env, 2 * kLeaseInfoFields);
  info_data_ = lease_info.Data();  // V8 never moves an ArrayBuffer's backing store
  info_ = Napi::Persistent(lease_info);
}

Receiver::~Receiver() {
  // The object is being collected: its leases' buffers may outlive it, so keep the core (and
  // the mapped slots) alive through their owners; only drop our references here.
}

Napi::Value Receiver::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReceiverCore& core = *core_;
  if (!core.engine) ThrowState(env, "ERR_PAGEFLIP_CLOSED", "the receiver is closed");
  // maxLeases bounds every outstanding lease: the mapped or moved ones and the copied ones
  // (skip-hint reads, copybuf) together, so one read may only add as many as there is room for.
  size_t room = core.max_leases > core.leases.size() ? core.max_leases - core.leases.size() : 0;
  if (room == 0) return Napi::String::New(env, "full");
  Segment segments[2];
  int count = 0;
  SysError error;
  switch (core.engine->Read(segments, &count, &error, room >= 2 ? 2 : 1)) {
    case Step::kWouldBlock: return Napi::String::New(env, "wait");
    case Step::kNoSlot: return Napi::String::New(env, "full");
    case Step::kEof: return env.Null();
    case Step::kError: throw ErrnoError(env, error);
    case Step::kData: break;
  }
  // One ArrayBuffer per segment; the numbers describing it go into the shared info array
  // (kLeaseInfoFields per segment) rather than into a fresh object per lease: building objects
  // property by property was the largest part of the per-lease cost.
  Napi::ArrayBuffer buffers[2];
  for (int i = 0; i < count; i++) {
    const Segment& segment = segments[i];
    VerifyResult check;
    if (core.verify) {
      VerifyPattern(segment.data, segment.length, segment.offset, core.seed, check);
      core.verified += segment.length;
      if (check.mismatches && !core.check.mismatches) core.check.first_mismatch = check.first_mismatch;
      core.check.mismatches += check.mismatches;
    }
    double id = core.next_id++;
    try {
      buffers[i] = NewExternalArrayBuffer(env, segment.data, segment.length, std::make_unique<LeaseOwner>(LeaseOwner{core_, id}));
    } catch (...) {
      // No buffer, no lease: give back this and any later segment of the read.
      for (int j = i; j < count; j++) core.engine->Release(segments[j]);
      throw;
    }
    core.leases.emplace(id, ReceiverCore::Lease{segment, Napi::Weak(buffers[i])});
    double* out = info_data_ + i * kLeaseInfoFields;
    out[0] = id;
    out[1] = double(segment.offset);
    out[2] = double(reinterpret_cast<uintptr_t>(segment.data));  // user addresses fit in 2^53
    out[3] = double(segment.mapped);
    out[4] = double(segment.copied);
    out[5] = double(check.mismatches);
  }
  if (count == 1) return buffers[0];
  Napi::Array result = Napi::Array::New(env, count);
  for (int i = 0; i < count; i++) result.Set(i, buffers[i]);
  return result;
}

Napi::Value Receiver::Info(const Napi::CallbackInfo& info) { return info_.Value(); }

Napi::Value Receiver::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReceiverCore& core = *core_;
  double id = static_cast<double>(ToUint(env, info[0], "id", 1));
  auto it = core.leases.find(id);
  if (it == core.leases.end()) ThrowState(env, "ERR_PAGEFLIP_RELEASED", "this lease was already released");
  DetachIfAlive(it->second.buffer);  // first the views go, then the pages
  if (core.engine) core.engine->Release(it->second.segment);
  core.leases.erase(it);
  return env.Undefined();
}

Napi::Value Receiver::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReceiverCore& core = *core_;
  Napi::Object stats = Napi::Object::New(env);
  if (core.engine) SetReceiveCounters(env, stats, *core.engine);
  stats.Set("closed", !core.engine);
  stats.Set("outstandingLeases", double(core.leases.size()));
  stats.Set("collectedLeases", double(core.collected));
  stats.Set("verifiedBytes", double(core.verified));
  stats.Set("mismatches", double(core.check.mismatches));
  stats.Set("firstMismatchOffset", core.check.mismatches ? Napi::Number::New(env, double(core.check.first_mismatch)) : env.Null());
  return stats;
}

Napi::Value Receiver::Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_->engine) ThrowState(env, "ERR_PAGEFLIP_CLOSED", "the receiver is closed");
  ReceiveEngine::Layout layout = core_->engine->layout();
  auto address = [&](uint8_t* p) -> Napi::Value {
    return p ? Napi::Value(Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)))) : env.Null();
  };
  Napi::Object result = Napi::Object::New(env);
  result.Set("copy", address(layout.copy));
  result.Set("map", address(layout.map));
  result.Set("dest", address(layout.dest));
  result.Set("staging", address(layout.staging));
  result.Set("slotBytes", double(layout.slot_bytes));
  return result;
}

Napi::Value Receiver::Fd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!core_->engine) ThrowState(env, "ERR_PAGEFLIP_CLOSED", "the receiver is closed");
  return Napi::Number::New(env, core_->fd.get());
}

Napi::Value Receiver::Close(const Napi::CallbackInfo& info) {
  ReceiverCore& core = *core_;
  for (auto& entry : core.leases) DetachIfAlive(entry.second.buffer);
  core.leases.clear();
  core.engine.reset();  // unmaps every slot; late finalizers find no lease and do nothing
  // Give SO_RCVLOWAT back to the socket (the caller may keep using it), then drop our duplicate.
  if (core.fd) setsockopt(core.fd.get(), SOL_SOCKET, SO_RCVLOWAT, &saved_low_water_, sizeof(saved_low_water_));
  core.fd.reset();
  return info.Env().Undefined();
}

}  // namespace pageflip

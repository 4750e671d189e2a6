#include "receiver.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "external_buffer.h"
#include "fd.h"
#include "receive.h"
#include "receive_options.h"
#include "receive_stats.h"

namespace pageflip {

struct ReceiverCore {
  // Our own duplicate of the socket: the caller may close its descriptor and the number may be
  // reused by another connection, whose bytes must never show up in this receiver's leases.
  UniqueFd fd;
  // SO_RCVLOWAT while the receiver is open: back to the socket's own on close() (or when the
  // core goes, should the receiver be collected unclosed). After fd: it ends first.
  LowWaterGuard low_water;
  // TCP_INQ while open, so a copy read knows what it left queued (ReceiveOptions::tcp_inq).
  SocketOptionGuard inq{IPPROTO_TCP, TCP_INQ};
  std::unique_ptr<ReceiveEngine> engine;  // null once closed
  // Closed with leases in quarantine: the engine's slots stay mapped until the last one ends.
  std::unique_ptr<ReceiveEngine> closed_engine;
  struct Lease {
    Segment segment;
    Napi::Reference<Napi::ArrayBuffer> buffer;  // weak: V8 may collect a forgotten lease
  };
  std::unordered_map<double, Lease> leases;
  // Released leases whose buffer may live on in an alias (page_range.h, rule 3): their slots
  // are untouched until the finalizer says no ArrayBuffer holds them any more.
  std::unordered_map<double, Segment> quarantined;
  size_t max_leases = 8;  // bound on leases.size(), whichever pools they come from
  // Released zero-copy slots whose pages are dropped together (one madvise, one TLB flush for
  // the batch, as tcp_mmap.c and the loops do); they stay out of the pool until then, within
  // the max_leases slots the arena has.
  size_t release_batch = 1;
  std::vector<uint32_t> held;
  double next_id = 1;
  ReceiveCounters closed_counters;  // the engine's at close(): stats() still reports the pattern check
  uint64_t collected = 0;  // leases released by the garbage collector rather than release()

  // The lease's backing store was freed (its finalizer runs): no view can see the slot any more.
  void Collected(double id) {
    if (auto q = quarantined.find(id); q != quarantined.end()) {
      if (engine) engine->EndQuarantine(q->second);
      quarantined.erase(q);
      if (quarantined.empty()) closed_engine.reset();
      return;
    }
    auto it = leases.find(id);
    if (it == leases.end()) return;
    if (engine) engine->Release(it->second.segment);
    collected++;
    leases.erase(it);
  }

  // Ends a lease: its slot is reused at once when detaching our buffer ended every view of it,
  // else it is quarantined. Returns false with error when no fresh slot replaced a quarantined one.
  bool End(double id, Lease& lease, SysError* error) {
    if (DetachSoleBuffer(lease.buffer)) {
      if (engine && lease.segment.pool == Pool::kMap && release_batch > 1) {
        held.push_back(lease.segment.slot);
        if (held.size() >= release_batch) ReleaseHeld();
      } else if (engine) {
        engine->Release(lease.segment);
      }
      return true;
    }
    quarantined.emplace(id, lease.segment);
    return !engine || engine->Quarantine(lease.segment, error);
  }

  // Drops the held slots' pages and gives them back (a batch is full, a read found no free slot, close).
  void ReleaseHeld() {
    if (engine && !held.empty()) engine->ReleaseMapSlots(held);
    held.clear();
  }

  // Detaches the buffer if we are its only holder: alive and never detached. A detached buffer
  // was transferred; a collected one may have been transferred before (its finalizer tells).
  static bool DetachSoleBuffer(Napi::Reference<Napi::ArrayBuffer>& ref) {
    if (ref.IsEmpty()) return false;
    Napi::ArrayBuffer buffer = ref.Value();
    if (buffer.IsEmpty() || buffer.IsDetached()) return false;
    buffer.Detach();
    return true;
  }
};

namespace {

struct LeaseOwner {
  std::shared_ptr<ReceiverCore> core;
  double id;
  ~LeaseOwner() { core->Collected(id); }
};

// The memory behind info(): native writes into it, so it lives until both the receiver and
// every ArrayBuffer over it (a transferred one too) are gone.
struct LeaseInfoOwner {
  std::shared_ptr<double[]> values;
};

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
  int fd = TcpConnectionFdArg(env, info[0]);
  Napi::Object options = ToObjectOrEmpty(env, info[1], "options");
  ReceiveArgs args = ReadReceiveOptions(env, options, ReceiveDriver::kReceiver);
  args.engine.nonblocking = true;
  args.engine.low_water = static_cast<size_t>(args.low_water);  // decides when a read waits
  core_ = std::make_shared<ReceiverCore>();
  core_->max_leases = args.engine.slots;
  core_->release_batch = args.release_batch;
  core_->fd = DupFdOrThrow(env, fd, "duplicating the socket for the receiver");
  // Without TCP_INQ (before 4.18) copy reads find the end of the queue by an EAGAIN, as before.
  args.engine.tcp_inq = core_->inq.Set(core_->fd.get(), {1});
  SysError error;
  std::string code;
  core_->engine = ReceiveEngine::Create(core_->fd.get(), args.engine, &error, &code);
  if (!core_->engine) {
    if (!code.empty()) throw CodedError(env, code.c_str(), error.hint);
    throw ErrnoError(env, error);
  }
  // The JS side bounds each wait (lowWaterMs), so a peer that pauses below lowWater is never
  // stalled. Set on our duplicate: the option belongs to the socket both descriptors name.
  if (!core_->low_water.Set(core_->fd.get(), args.low_water)) {
    int err = errno;
    core_->engine.reset();
    ThrowErrno(env, err, "setsockopt", "SO_RCVLOWAT (lowWater)");
  }
  info_values_ = std::shared_ptr<double[]>(new double[2 * kLeaseInfoFields]());
  info_ = Napi::Persistent(NewInfoArray(env));
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
  Step step = core.engine->Read(segments, &count, &error, room >= 2 ? 2 : 1);
  // Every free slot may be in the release batch: give those back and read again.
  if (step == Step::kNoSlot && !core.held.empty()) {
    core.ReleaseHeld();
    step = core.engine->Read(segments, &count, &error, room >= 2 ? 2 : 1);
  }
  switch (step) {
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
    double id = core.next_id++;
    try {
      buffers[i] = NewExternalArrayBuffer(env, segment.data, segment.length, std::make_unique<LeaseOwner>(LeaseOwner{core_, id}));
    } catch (...) {
      // No buffer, no lease: give back this and any later segment of the read.
      for (int j = i; j < count; j++) core.engine->Release(segments[j]);
      throw;
    }
    core.leases.emplace(id, ReceiverCore::Lease{segment, Napi::Weak(buffers[i])});
    double* out = info_values_.get() + i * kLeaseInfoFields;
    out[0] = id;
    out[1] = double(segment.offset);
    out[2] = double(reinterpret_cast<uintptr_t>(segment.data));  // user addresses fit in 2^53
    out[3] = double(segment.mapped);
    out[4] = double(segment.copied);
    out[5] = double(segment.mismatches);
  }
  if (count == 1) return buffers[0];
  Napi::Array result = Napi::Array::New(env, count);
  for (int i = 0; i < count; i++) result.Set(i, buffers[i]);
  return result;
}

Napi::Float64Array Receiver::NewInfoArray(Napi::Env env) {
  Napi::ArrayBuffer buffer = NewExternalArrayBuffer(env, info_values_.get(), 2 * kLeaseInfoFields * sizeof(double),
                                                    std::make_unique<LeaseInfoOwner>(LeaseInfoOwner{info_values_}));
  return Napi::Float64Array::New(env, 2 * kLeaseInfoFields, buffer, 0);
}

Napi::Value Receiver::Info(const Napi::CallbackInfo& info) {
  // Transferred away: a new view over the same memory (the alias keeps its own reference to it).
  if (info_.Value().ArrayBuffer().IsDetached()) info_ = Napi::Persistent(NewInfoArray(info.Env()));
  return info_.Value();
}

Napi::Value Receiver::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReceiverCore& core = *core_;
  double id = static_cast<double>(ToUint(env, info[0], "id", 1));
  auto it = core.leases.find(id);
  if (it == core.leases.end()) ThrowState(env, "ERR_PAGEFLIP_RELEASED", "this lease was already released");
  SysError error;
  bool replaced = core.End(id, it->second, &error);  // first the views go, then the pages
  core.leases.erase(it);
  if (!replaced) throw ErrnoError(env, error);
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
  stats.Set("quarantinedLeases", double(core.quarantined.size()));
  SetVerifyCounters(env, stats, core.engine ? core.engine->counters() : core.closed_counters);
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
  core.ReleaseHeld();  // held slots are socket mappings too: back in the pool before Retire()
  std::unique_ptr<ReceiveEngine> engine = std::move(core.engine);
  if (engine) core.closed_counters = engine->counters();
  SysError unused;  // no fresh slots for a closed receiver
  for (auto& entry : core.leases) core.End(entry.first, entry.second, &unused);
  core.leases.clear();
  // Unmaps every slot, unless an alias may still see one: then when its finalizer runs.
  if (!core.quarantined.empty() && engine) {
    engine->Retire();
    core.closed_engine = std::move(engine);
  }
  // Give SO_RCVLOWAT and TCP_INQ back to the socket (the caller may keep using it), then drop our duplicate.
  core.low_water.Restore();
  core.inq.Restore();
  core.fd.reset();
  return info.Env().Undefined();
}

}  // namespace pageflip

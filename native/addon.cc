// Module entry: per-environment state and the exported binding surface (typed in lib/native.ts).
#include <napi.h>

#include "addon_data.h"
#include "args.h"
#include "calibrate.h"
#include "calibrate_socket.h"
#include "capabilities.h"
#include "errors.h"
#include "netns.h"
#include "pattern_check.h"
#include "receiver.h"
#include "region.h"
#include "region_send.h"
#include "run_loop.h"
#include "socket.h"
#include "zerocopy_ledger.h"

namespace pageflip {

Napi::Object Vocabulary(Napi::Env env);  // vocabulary.cc (vocabulary.h stays free of <napi.h>)

namespace {

// Test-only switches (fault injection); not part of the public API.
Napi::Value SetTestSwitch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ToString(env, info[0], "name");
  bool on = ToBoolOr(env, info[1], "on", false);
  if (name != "noZerocopy") ThrowRangeError(env, "unknown test switch '" + name + "'");
  AddonData::Of(env).simulate_no_zerocopy = on;
  return env.Undefined();
}

// Test-only: replays MSG_ZEROCOPY bookkeeping. (sends: byte counts, one per send, ids 0, 1, ...;
// completions: [lo, hi] id ranges in arrival order) -> bytes in flight after each completion.
Napi::Value ZerocopyLedgerReplay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) ThrowTypeError(env, "sends and completions must be arrays");
  Napi::Array sends = info[0].As<Napi::Array>();
  Napi::Array completions = info[1].As<Napi::Array>();
  ZerocopyLedger ledger;
  for (uint32_t i = 0; i < sends.Length(); i++) ledger.Sent(ToUint(env, sends.Get(i), "sends[i]", 1, UINT32_MAX));
  Napi::Array inflight = Napi::Array::New(env, completions.Length());
  for (uint32_t i = 0; i < completions.Length(); i++) {
    Napi::Value range = completions.Get(i);
    if (!range.IsArray()) ThrowTypeError(env, "each completion must be [lo, hi]");
    Napi::Array pair = range.As<Napi::Array>();
    ledger.Complete(uint32_t(ToUint(env, pair.Get(0u), "lo", 0, UINT32_MAX)), uint32_t(ToUint(env, pair.Get(1u), "hi", 0, UINT32_MAX)));
    inflight.Set(i, double(ledger.inflight_bytes()));
  }
  return inflight;
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void Export(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<F>(env, name));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);

  Napi::Function region = Region::Define(env);
  data->region_constructor = Napi::Persistent(region);
  exports.Set("Region", region);
  exports.Set("Receiver", Receiver::Define(env));
  exports.Set("Loop", Loop::Define(env));
  exports.Set("RegionSend", RegionSend::Define(env));
  exports.Set("FdWatcher", FdWatcher::Define(env));
  exports.Set("vocabulary", Vocabulary(env));

  Export<Capabilities>(env, exports, "capabilities");
  Export<SetTestSwitch>(env, exports, "setTestSwitch");
  Export<ZerocopyLedgerReplay>(env, exports, "zerocopyLedgerReplay");
  Export<TcpListen>(env, exports, "tcpListen");
  Export<TcpAccept>(env, exports, "tcpAccept");
  Export<TcpConnect>(env, exports, "tcpConnect");
  Export<SocketError>(env, exports, "socketError");
  Export<SocketAddress>(env, exports, "socketAddress");
  Export<SetSocketOptions>(env, exports, "setSocketOptions");
  Export<SocketInfo>(env, exports, "socketInfo");
  Export<CloseFd>(env, exports, "closeFd");
  Export<ShutdownFd>(env, exports, "shutdownFd");
  Export<DupFd>(env, exports, "dupFd");
  Export<NetnsCreate>(env, exports, "netnsCreate");
  Export<NetnsCurrent>(env, exports, "netnsCurrent");
  Export<NetnsEnter>(env, exports, "netnsEnter");
  Export<LinkConfigure>(env, exports, "linkConfigure");
  Export<VerifyPatternJs>(env, exports, "verifyPattern");
  Export<Calibrate>(env, exports, "calibrate");
  Export<Virtualization>(env, exports, "virtualization");
  return exports;
}

}  // namespace pageflip

static Napi::Object InitPageflip(Napi::Env env, Napi::Object exports) { return pageflip::Init(env, exports); }

NODE_API_MODULE(pageflip, InitPageflip)

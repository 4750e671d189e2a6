// The receive engine's counters as a JS object: shared by Receiver.stats() and the loop results.
// (Receive options go the other way, JS to engine, in receive_options.h.)
#pragma once
#include <napi.h>

#include "receive.h"

namespace pageflip {

inline void SetReceiveCounters(Napi::Env env, Napi::Object stats, const ReceiveEngine& engine) {
  const ReceiveCounters& c = engine.counters();
  auto text_or_null = [&](const std::string& text) -> Napi::Value { return text.empty() ? env.Null() : Napi::String::New(env, text); };
  stats.Set("mode", ReceiveModeName(engine.mode()));
  stats.Set("requestedMode", ReceiveModeName(engine.requested_mode()));
  stats.Set("fallbackReason", text_or_null(engine.fallback_reason()));
  stats.Set("zerocopyAbi", engine.abi() == ZerocopyAbi::kNone ? env.Null() : Napi::String::New(env, AbiName(engine.abi())));
  stats.Set("bytes", double(c.bytes));
  stats.Set("mappedBytes", double(c.mapped));
  stats.Set("copiedBytes", double(c.copied));
  stats.Set("remappedBytes", double(c.remapped));
  stats.Set("pmdMoves", double(c.pmd_moves));
  stats.Set("syscalls", double(c.syscalls));
  stats.Set("receiveCalls", double(c.receive_calls));
  stats.Set("waitCalls", double(c.wait_calls));
  stats.Set("pageCalls", double(c.page_calls));
  stats.Set("wouldBlock", double(c.would_block));
}

// The pattern check's counters (options.verify): every receive driver reports these three.
inline void SetVerifyCounters(Napi::Env env, Napi::Object stats, const ReceiveCounters& c) {
  stats.Set("verifiedBytes", double(c.verified));
  stats.Set("mismatches", double(c.check.mismatches));
  stats.Set("firstMismatchOffset", c.check.mismatches ? Napi::Number::New(env, double(c.check.first_mismatch)) : env.Null());
}

}  // namespace pageflip

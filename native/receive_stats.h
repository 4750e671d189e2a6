// The receive engine's counters as a JS object: shared by Receiver.stats() and the loop results.
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
  stats.Set("syscalls", double(c.syscalls));
  stats.Set("wouldBlock", double(c.would_block));
}

}  // namespace pageflip

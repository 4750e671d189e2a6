// The one reader of a receive's JS options, for both drivers of the receive engine: the
// chunk-by-chunk Receiver (receiver.cc) and the native receive loop (run_loop.cc).
#pragma once
#include <napi.h>

#include "receive.h"

namespace pageflip {

enum class ReceiveDriver { kReceiver, kLoop };

struct ReceiveArgs {
  ReceiveOptions engine;
  // SO_RCVLOWAT to set while receiving (LowWaterGuard); the loop's 0 leaves the socket's own.
  int low_water = 0;
  bool lazy_release = false;  // loop: let the next receive zap old pages instead of madvise
  size_t release_batch = 1;   // Receiver: released zero-copy leases dropped by one madvise
};

// Reads { mode, chunkSize, maxLeases and releaseBatch | releaseBatch, copybuf, tlbHint, allowFallback,
// lazyRelease, verify, seed, streamOffset, lowWater } without coercion (args.h); throws a
// TypeError/RangeError with an ERR_PAGEFLIP_* code for a bad one. The loop's blocking and
// wait fields come from its limits (run_loop.cc).
ReceiveArgs ReadReceiveOptions(Napi::Env env, Napi::Object options, ReceiveDriver driver);

// options.chunkSize of a receive or send: 1 byte to kMaxChunk, default kDefaultChunk.
size_t ChunkSizeArg(Napi::Env env, Napi::Object options);

// options.mode of a send; `what` starts the message ("mode", "send mode").
SendMode SendModeArg(Napi::Env env, Napi::Object options, const char* what);

}  // namespace pageflip

#include "receive_options.h"

#include "addon_data.h"
#include "args.h"
#include "errors.h"

namespace pageflip {

size_t ChunkSizeArg(Napi::Env env, Napi::Object options) {
  return ToUintOr(env, options.Get("chunkSize"), "options.chunkSize", kDefaultChunk, 1, kMaxChunk);
}

SendMode SendModeArg(Napi::Env env, Napi::Object options, const char* what) {
  std::string name = options.Get("mode").IsUndefined() ? kSendModes[0].name : ToString(env, options.Get("mode"), "options.mode");
  SendMode mode;
  if (!ParseSendMode(name, &mode)) ThrowRangeError(env, std::string(what) + " must be " + ModeAlternatives(kSendModes) + ", got '" + name + "'");
  return mode;
}

ReceiveArgs ReadReceiveOptions(Napi::Env env, Napi::Object options, ReceiveDriver driver) {
  bool loop = driver == ReceiveDriver::kLoop;
  ReceiveArgs args;
  ReceiveOptions& o = args.engine;
  // discard (recv(MSG_TRUNC)) yields no bytes to read: a measurement floor for native loops only.
  size_t modes = loop ? std::size(kReceiveModes) : kReceiverModeCount;
  std::string name = options.Get("mode").IsUndefined() ? kReceiveModes[0].name : ToString(env, options.Get("mode"), "options.mode");
  if (!ParseMode(kReceiveModes, name, &o.mode, modes))
    ThrowRangeError(env, std::string(loop ? "receive mode" : "mode") + " must be " + ModeAlternatives(kReceiveModes, modes) + ", got '" + name + "'");
  o.chunk = ChunkSizeArg(env, options);
  // Slots outstanding at once: the loop's batch of released slots, or the Receiver's leases
  // (within which its zero-copy leases are released in batches too).
  if (loop) {
    o.slots = ToUintOr(env, options.Get("releaseBatch"), "options.releaseBatch", 1, 1, kMaxSlots);
  } else {
    o.slots = ToUintOr(env, options.Get("maxLeases"), "options.maxLeases", 8, 1, kMaxSlots);
    args.release_batch = ToUintOr(env, options.Get("releaseBatch"), "options.releaseBatch", o.mode == ReceiveMode::kZerocopy ? 4 : 1, 1, kMaxSlots);
  }
  o.copybuf = ToUintOr(env, options.Get("copybuf"), "options.copybuf", 0, 0, kMaxCopybuf);
  o.tlb_hint = ToBoolOr(env, options.Get("tlbHint"), "options.tlbHint", true);
  o.allow_fallback = ToBoolOr(env, options.Get("allowFallback"), "options.allowFallback", false);
  o.zerocopy_unavailable = AddonData::Of(env).simulate_no_zerocopy;
  if (loop) {
    args.lazy_release = ToBoolOr(env, options.Get("lazyRelease"), "options.lazyRelease", false);
    if (args.lazy_release) o.tlb_hint = false;  // slots are not empty: the hint would lie
  }
  o.verify = ToBoolOr(env, options.Get("verify"), "options.verify", false);
  if (o.verify && o.mode == ReceiveMode::kDiscard)
    throw CodedRangeError(env, "ERR_PAGEFLIP_INVALID_ARG_VALUE", "discard drops the bytes in the kernel: there is nothing to verify (verify must be false)");
  o.seed = ToUintOr(env, options.Get("seed"), "options.seed", 1);
  if (loop) o.stream_offset = ToUintOr(env, options.Get("streamOffset"), "options.streamOffset", 0);
  // A waiting read wakes once lowWater bytes are queued (SO_RCVLOWAT; the kernel caps it at half
  // the receive buffer and still wakes at EOF, on errors and when its window is nearly closed):
  // fewer wakeups, fuller reads. A loop may pass 0 to leave the socket's own mark.
  args.low_water = static_cast<int>(ToUintOr(env, options.Get("lowWater"), "options.lowWater", DefaultLowWater(o.chunk, o.mode), loop ? 0 : 1, INT32_MAX));
  return args;
}

}  // namespace pageflip

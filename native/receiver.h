// Receiver: the chunk-by-chunk receive API. Each read hands out leases: external ArrayBuffers
// over slots of the receive engine. release() detaches the lease's buffer before its pages are
// dropped or its slot reused, so no view ever dangles; the number of leases is bounded by the
// slot count (backpressure). A lease the program forgot is released when V8 collects it.
#pragma once
#include <napi.h>
#include <sys/types.h>

#include <memory>

namespace pageflip {

struct ReceiverCore;

constexpr int kLeaseInfoFields = 6;  // doubles per segment in Receiver::info()

class Receiver : public Napi::ObjectWrap<Receiver> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new Receiver(fd, { mode, chunkSize, maxLeases, verify, seed, allowFallback, copybuf, tlbHint, lowWater })
  explicit Receiver(const Napi::CallbackInfo& info);
  ~Receiver() override;

 private:
  // -> ArrayBuffer (one segment) | [ArrayBuffer, ArrayBuffer] (mapped part, then copied part) |
  //    'wait' (nothing queued) | 'full' (maxLeases leases are outstanding) | null (end of stream).
  // Segment i is described by info()[i * kLeaseInfoFields ...]: id, offset, address, mapped,
  // copied, mismatches (valid until the next read).
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);  // the Float64Array read() fills
  Napi::Value Release(const Napi::CallbackInfo& info);  // (id)
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Layout(const Napi::CallbackInfo& info);  // buffer addresses (bigint) for diagnostics
  Napi::Value Fd(const Napi::CallbackInfo& info);      // the receiver's own duplicate of the socket
  Napi::Value Close(const Napi::CallbackInfo& info);
  // A Float64Array over info_values_ whose finalizer shares them.
  Napi::Float64Array NewInfoArray(Napi::Env env);

  std::shared_ptr<ReceiverCore> core_;
  Napi::Reference<Napi::Float64Array> info_;
  std::shared_ptr<double[]> info_values_;  // what info_ shows (see LeaseInfoOwner)
};

}  // namespace pageflip

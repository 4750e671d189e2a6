// PageRegion: an anonymous mapping handed to JS as an external ArrayBuffer, whose pages can be
// moved (mremap) to another region or to a fresh address, and which unmaps synchronously on close.
#pragma once
#include <napi.h>

#include "mapping.h"

namespace pageflip {

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new Region(bytes, { hugePages?, populate? })
  explicit Region(const Napi::CallbackInfo& info);
  // The Region behind a JS value, or a coded TypeError naming `what` (also for objects that
  // merely inherit from Region.prototype and wrap nothing).
  static Region* FromValue(Napi::Env env, Napi::Value value, const char* what);

  // Lends the pages to a send in progress: views are detached and every use of the region is
  // refused (ERR_PAGEFLIP_BUSY) until Return(), so the kernel never sees them change.
  MappingPtr Lend(Napi::Env env);
  // consumed: the pages were gifted (SPLICE_F_GIFT) and may never be written again: close.
  void Return(bool consumed);
  size_t byte_length() const { return length_; }

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  Napi::Value MoveTo(const Napi::CallbackInfo& info);
  Napi::Value Remap(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Mapping& OpenMapping(Napi::Env env, const char* operation);
  // Detaches the current ArrayBuffer (and so every view over it); the next Buffer() makes a new one.
  void DetachBuffer();

  MappingPtr mapping_;  // null once closed
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  size_t length_ = 0;
  bool huge_ = false;
  bool lent_ = false;
};

// Whether mremap(MREMAP_DONTUNMAP) works on anonymous memory here (5.7+). Probed once.
bool MremapDontUnmapSupported();

}  // namespace pageflip

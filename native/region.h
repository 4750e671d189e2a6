// PageRegion: an anonymous mapping handed to JS as an external ArrayBuffer, whose pages can be
// moved (mremap) to another region or to a fresh address, and which unmaps synchronously on close.
#pragma once
#include <napi.h>

#include <memory>

#include "mapping.h"
#include "page_range.h"

namespace pageflip {

// A region's pages, shared by the Region, a send in progress and the finalizer of every
// ArrayBuffer over them, and reported to V8 as external memory while mapped. Whoever lets go
// last unmaps (page_range.h).
class Mapping {
 public:
  Mapping(napi_env env, PageRange range);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return range_.data(); }
  size_t length() const { return range_.length(); }
  // munmap now (idempotent). Returns 0 or an errno.
  int Unmap();
  // The range is no longer ours (the kernel already unmapped it, e.g. mremap without DONTUNMAP).
  void Disown();

  // A view of these pages was detached by someone else (ArrayBuffer.prototype.transfer):
  // an ArrayBuffer the addon does not track may reach them until it is collected, so they are
  // never moved, lent to the kernel or unmapped early again (page_range.h, rule 3).
  bool escaped = false;

 private:
  void Unaccount();
  napi_env env_;
  PageRange range_;
  size_t accounted_ = 0;
};

using MappingPtr = std::shared_ptr<Mapping>;

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new Region(bytes, { hugePages?, populate? })
  explicit Region(const Napi::CallbackInfo& info);
  // The Region behind a JS value, or a coded TypeError naming `what` (also for objects that
  // merely inherit from Region.prototype and wrap nothing).
  static Region* FromValue(Napi::Env env, Napi::Value value, const char* what);
  // The Region behind a wrapper (hides ObjectWrap::Unwrap, so every method call goes through it).
  // close() frees the native object at once rather than when the wrapper is collected (which
  // Node defers to the next turn of the event loop): a closed wrapper is unwrapped, and its
  // calls go to one shared closed Region (length 0, every use ERR_PAGEFLIP_CLOSED).
  static Region* Unwrap(Napi::Object wrapper);

  // Throws what Lend() would (closed, lent, transferred) without lending: checked before a send
  // reads its options, since a closed region no longer knows its length.
  void CheckLendable(Napi::Env env) { PrivateMapping(env, "send"); }
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
  // OpenMapping, for operations that change what is at the region's addresses or hand the pages
  // to the kernel: refused (ERR_PAGEFLIP_TRANSFERRED) once the memory escaped.
  Mapping& PrivateMapping(Napi::Env env, const char* operation);
  // Whether a view was detached by someone else; marks the mapping escaped when so.
  bool Escaped();
  // Detaches the current ArrayBuffer (and so every view over it); the next Buffer() makes a new one.
  void DetachBuffer();
  // Drops the region's hold on its pages: unmapped now, unless they escaped (then the last
  // ArrayBuffer that can reach them unmaps them when it is collected). Returns 0 or an errno.
  int Release();

  static Region* Closed(Napi::Env env);

  MappingPtr mapping_;  // null once closed
  Napi::Reference<Napi::ArrayBuffer> buffer_;  // strong: only a transfer can detach it behind our back
  // The finalizer-owned holder of buffer_'s pages: valid while buffer_ is set (until detached).
  struct MappingOwner* buffer_owner_ = nullptr;
  bool shared_closed_ = false;  // the one Closed() instance
  size_t length_ = 0;
  bool huge_ = false;
  bool lent_ = false;
};

// Whether mremap(MREMAP_DONTUNMAP) works on anonymous memory here (5.7+). Probed once.
bool MremapDontUnmapSupported();

}  // namespace pageflip

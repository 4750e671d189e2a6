// PageRange: the one owner of every page range the addon maps (regions, receive arenas, staging
// and copy slots, the send ring, calibrate's scratch). Move-only; its destructor unmaps.
//
// The ownership rule (README, "Memory ownership"):
//  1. A range is unmapped only by its PageRange's destructor (or Unmap()), and a PageRange that
//     may be seen from JavaScript is destroyed only when nothing can reach it any more.
//  2. JavaScript reaches native memory only through external ArrayBuffers whose finalizer owns a
//     reference to the range (shared ownership). The addon keeps a reference to every such
//     buffer; while it is alive and not detached the addon is its only holder, so detaching it
//     ends every view at once and the range may be reused, zapped or unmapped right away.
//  3. A buffer found detached by someone else (ArrayBuffer.prototype.transfer or
//     transferToFixedLength), or already collected, may have handed the range to an ArrayBuffer
//     the addon does not know: the range is then quarantined, neither reused nor
//     zapped nor unmapped, until that buffer's finalizer runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

namespace pageflip {

size_t PageSize();

class PageRange {
 public:
  PageRange() = default;
  // Takes ownership of [data, data + length), which must be mapped.
  PageRange(void* data, size_t length) : data_(static_cast<uint8_t*>(data)), length_(length) {}
  PageRange(PageRange&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), length_(std::exchange(other.length_, 0)) {}
  PageRange& operator=(PageRange&& other) noexcept {
    if (this != &other) {
      Unmap();
      data_ = std::exchange(other.data_, nullptr);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  PageRange(const PageRange&) = delete;
  PageRange& operator=(const PageRange&) = delete;
  ~PageRange() { Unmap(); }

  uint8_t* data() const { return data_; }
  size_t length() const { return length_; }
  explicit operator bool() const { return data_ != nullptr; }

  // munmap now; afterwards the range is empty. Returns 0 or an errno. Idempotent.
  int Unmap();
  // The kernel already unmapped the range (mremap without MREMAP_DONTUNMAP): forget it, so it is
  // never unmapped again after someone else may have mapped that address.
  void Disown() {
    data_ = nullptr;
    length_ = 0;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
};

// Anonymous private mapping of `length` bytes aligned to `alignment` (a power of two >= page
// size). Empty with errno set on failure.
PageRange MapAnonymousAligned(size_t length, size_t alignment, int prot, int extra_flags);

}  // namespace pageflip

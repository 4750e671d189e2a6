// An mmap'ed address range shared by its owner (a Region, a receiver arena) and by every
// ArrayBuffer over it, so the memory outlives whichever goes last. Only a mapping that still
// owns its range is ever unmapped: after the pages moved away (mremap) or an explicit close,
// a late finalizer cannot unmap an address that now belongs to someone else.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace pageflip {

class Mapping {
 public:
  // Takes ownership of [data, data + length); reports it to V8 as external memory.
  Mapping(napi_env env, void* data, size_t length);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return data_; }
  size_t length() const { return length_; }
  bool owned() const { return owned_; }

  // munmap now (idempotent). Returns 0 or an errno.
  int Unmap();
  // The range is no longer ours (the kernel already unmapped it, e.g. mremap without DONTUNMAP).
  void Disown();

 private:
  void Release();
  napi_env env_;
  uint8_t* data_;
  size_t length_;
  bool owned_ = true;
};

using MappingPtr = std::shared_ptr<Mapping>;

// Anonymous private mapping of `length` bytes aligned to `alignment` (a power of two >= page size).
// Returns nullptr and sets errno on failure.
void* MapAnonymousAligned(size_t length, size_t alignment, int prot, int extra_flags);

}  // namespace pageflip

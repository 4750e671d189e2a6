// An mmap'ed address range shared by its owner (a Region, a receiver arena) and by every
// ArrayBuffer over it, so the memory outlives whichever goes last. Only a mapping that still
// owns its range is ever unmapped: after the pages moved away (mremap) or an explicit close,
// a late finalizer cannot unmap an address that now belongs to someone else.
#pragma once
#include <napi.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

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

// How a page move uses MREMAP_DONTUNMAP (which leaves the source VMA in place, empty).
enum class DontUnmap {
  kOff,       // plain move, then the source is re-mapped
  kOn,        // MREMAP_DONTUNMAP only: its failure is the result
  kFallback,  // MREMAP_DONTUNMAP, but EINVAL (this kind of VMA cannot keep its source) sets
              // *mode to kOff and the move is done plainly, now and from then on
};

// Moves the pages at src onto dst (same length, MREMAP_MAYMOVE | MREMAP_FIXED). The source range
// stays mapped so its owner keeps its address: by MREMAP_DONTUNMAP (see mode), else by mapping
// the hole again without clobbering anything someone else mapped there (MAP_FIXED_NOREPLACE):
// fresh anonymous read-write pages when refill_fd < 0, else refill_fd read-only MAP_SHARED at
// offset 0 (a socket's TCP_ZEROCOPY_RECEIVE area). Returns 0, or an errno with *failed set to
// the syscall ("mremap" or "mmap"); EEXIST from "mmap" means the pages moved but the source's
// address was taken meanwhile.
int MovePageRange(void* src, void* dst, size_t length, DontUnmap* mode, int refill_fd, const char** failed);

}  // namespace pageflip

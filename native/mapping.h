// Moving pages between address ranges (mremap), for regions and the receive engine. Ownership of
// the ranges themselves: page_range.h.
#pragma once
#include <sys/mman.h>

#include <cstddef>

#include "page_range.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace pageflip {

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
// address was taken meanwhile. *calls (when given) grows by the syscalls made (mremap, mmap, munmap).
int MovePageRange(void* src, void* dst, size_t length, DontUnmap* mode, int refill_fd, const char** failed,
                  uint64_t* calls = nullptr);

// MovePageRange's EEXIST from "mmap": the pages reached dst, but another mapping took the
// source's address before it could be mapped again. That address is someone else's now.
bool SourceAddressTaken(int err, const char* failed);

// After SourceAddressTaken: the range that held the source gives up [hole, hole + bytes), unmaps
// the rest of itself and forgets all of it, so nothing of ours ever touches the hole again.
void AbandonAround(PageRange* range, void* hole, size_t bytes);

}  // namespace pageflip

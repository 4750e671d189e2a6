#include "mapping.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace pageflip {

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

int PageRange::Unmap() {
  if (!data_) return 0;
  int result = munmap(data_, length_) == 0 ? 0 : errno;
  Disown();
  return result;
}

PageRange MapAnonymousAligned(size_t length, size_t alignment, int prot, int extra_flags) {
  size_t reserve = length + alignment;
  void* raw = mmap(nullptr, reserve, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (raw == MAP_FAILED) return {};
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t(alignment) - 1);
  // Trim the slack on both sides so only the aligned range stays mapped.
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = aligned + length;
  if (start + reserve > end) munmap(reinterpret_cast<void*>(end), start + reserve - end);
  return PageRange(reinterpret_cast<void*>(aligned), length);
}

int MovePageRange(void* src, void* dst, size_t length, DontUnmap* mode, int refill_fd, const char** failed,
                  uint64_t* calls) {
  uint64_t unused = 0;
  uint64_t& made = calls ? *calls : unused;
  if (*mode != DontUnmap::kOff) {
    made++;
    if (mremap(src, length, length, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) != MAP_FAILED) return 0;
    if (*mode == DontUnmap::kOn || errno != EINVAL) {
      *failed = "mremap";
      return errno;
    }
    *mode = DontUnmap::kOff;
  }
  made++;
  if (mremap(src, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
    *failed = "mremap";
    return errno;
  }
  // Plug the hole the move left, without ever clobbering a mapping someone else made there.
  made++;
  void* back = refill_fd >= 0
                   ? mmap(src, length, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, refill_fd, 0)
                   : mmap(src, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (back != src) {
    int err = back == MAP_FAILED ? errno : EEXIST;
    if (back != MAP_FAILED) {
      made++;
      munmap(back, length);
    }
    *failed = "mmap";
    return err;
  }
  return 0;
}

bool SourceAddressTaken(int err, const char* failed) {
  return err == EEXIST && failed != nullptr && std::strcmp(failed, "mmap") == 0;
}

void AbandonAround(PageRange* range, void* hole, size_t bytes) {
  uint8_t* start = range->data();
  uint8_t* end = start + range->length();
  uint8_t* first = static_cast<uint8_t*>(hole);
  if (first > start) munmap(start, static_cast<size_t>(first - start));
  if (first + bytes < end) munmap(first + bytes, static_cast<size_t>(end - (first + bytes)));
  range->Disown();
}

}  // namespace pageflip

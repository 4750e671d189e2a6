#include "mapping.h"

#include <sys/mman.h>

#include <cerrno>

namespace pageflip {

Mapping::Mapping(napi_env env, void* data, size_t length)
    : env_(env), data_(static_cast<uint8_t*>(data)), length_(length) {
  Napi::MemoryManagement::AdjustExternalMemory(Napi::BasicEnv(env_), static_cast<int64_t>(length_));
}

Mapping::~Mapping() { Unmap(); }

int Mapping::Unmap() {
  if (!owned_) return 0;
  int result = munmap(data_, length_) == 0 ? 0 : errno;
  Release();
  return result;
}

void Mapping::Disown() {
  if (owned_) Release();
}

void Mapping::Release() {
  owned_ = false;
  Napi::MemoryManagement::AdjustExternalMemory(Napi::BasicEnv(env_), -static_cast<int64_t>(length_));
}

void* MapAnonymousAligned(size_t length, size_t alignment, int prot, int extra_flags) {
  size_t reserve = length + alignment;
  void* raw = mmap(nullptr, reserve, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + alignment - 1) & ~(uintptr_t(alignment) - 1);
  // Trim the slack on both sides so only the aligned range stays mapped.
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = aligned + length;
  if (start + reserve > end) munmap(reinterpret_cast<void*>(end), start + reserve - end);
  return reinterpret_cast<void*>(aligned);
}

int MovePageRange(void* src, void* dst, size_t length, DontUnmap* mode, int refill_fd, const char** failed) {
  if (*mode != DontUnmap::kOff) {
    if (mremap(src, length, length, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst) != MAP_FAILED) return 0;
    if (*mode == DontUnmap::kOn || errno != EINVAL) {
      *failed = "mremap";
      return errno;
    }
    *mode = DontUnmap::kOff;
  }
  if (mremap(src, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
    *failed = "mremap";
    return errno;
  }
  // Plug the hole the move left, without ever clobbering a mapping someone else made there.
  void* back = refill_fd >= 0
                   ? mmap(src, length, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, refill_fd, 0)
                   : mmap(src, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (back != src) {
    int err = back == MAP_FAILED ? errno : EEXIST;
    if (back != MAP_FAILED) munmap(back, length);
    *failed = "mmap";
    return err;
  }
  return 0;
}

}  // namespace pageflip

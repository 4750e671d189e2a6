#include "receive.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "mapping.h"
#include "region.h"

namespace pageflip {

namespace {

constexpr size_t kArenaAlignment = 2 * 1024 * 1024;  // tcp_mmap.c: avoids page-table lock collisions

size_t RoundUp(size_t value, size_t unit) { return (value + unit - 1) / unit * unit; }

// The socket error TCP_ZEROCOPY_RECEIVE handed over in zc.err (the kernel stores it negated).
SysError ZerocopySocketError(int zc_err) {
  return {zc_err < 0 ? -zc_err : zc_err, "getsockopt", "TCP_ZEROCOPY_RECEIVE reported a socket error"};
}

// Reports a held error once: moves it to *error, clears it, and says kError.
Step HandOver(SysError* held, SysError* error) {
  *error = *held;
  *held = {};
  return Step::kError;
}

}  // namespace

int DefaultLowWater(size_t chunk) { return static_cast<int>(std::min<size_t>(RoundUp(chunk, PageSize()), 256 * 1024)); }

bool SwapLowWater(int fd, int value, int* saved) {
  socklen_t length = sizeof(*saved);
  return getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, saved, &length) == 0 &&
         setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof(value)) == 0;
}

bool ParseReceiveMode(const std::string& name, ReceiveMode* mode) {
  if (name == "copy") *mode = ReceiveMode::kCopy;
  else if (name == "zerocopy") *mode = ReceiveMode::kZerocopy;
  else if (name == "flip") *mode = ReceiveMode::kFlip;
  else if (name == "copy-remap") *mode = ReceiveMode::kCopyRemap;
  else if (name == "splice") *mode = ReceiveMode::kSplice;
  else return false;
  return true;
}

const char* ReceiveModeName(ReceiveMode mode) {
  switch (mode) {
    case ReceiveMode::kCopy: return "copy";
    case ReceiveMode::kZerocopy: return "zerocopy";
    case ReceiveMode::kFlip: return "flip";
    case ReceiveMode::kCopyRemap: return "copy-remap";
    case ReceiveMode::kSplice: return "splice";
  }
  return "?";
}

SlotPool::SlotPool(uint8_t* base, size_t slot_bytes, size_t count) : base_(base), slot_bytes_(slot_bytes) {
  // Handed out in ascending order, so consecutive takes are adjacent (loops release in batches).
  for (size_t i = count; i > 0; i--) free_.push_back(static_cast<uint32_t>(i - 1));
}

uint32_t SlotPool::Take() {
  uint32_t slot = free_.back();
  free_.pop_back();
  return slot;
}

ReceiveEngine::ReceiveEngine(int fd, const ReceiveOptions& options)
    : fd_(fd), options_(options), mode_(options.mode) {}

ReceiveEngine::~ReceiveEngine() {
  for (Area* area : {&copy_area_, &map_area_, &dest_area_, &staging_area_})
    if (area->base) munmap(area->base, area->bytes);
}

std::unique_ptr<ReceiveEngine> ReceiveEngine::Create(int fd, const ReceiveOptions& options, SysError* error,
                                                     std::string* error_code) {
  std::unique_ptr<ReceiveEngine> engine(new ReceiveEngine(fd, options));
  if (!engine->Setup(error, error_code)) return nullptr;
  return engine;
}

bool ReceiveEngine::Setup(SysError* error, std::string* error_code) {
  size_t page = PageSize();
  slot_bytes_ = RoundUp(options_.chunk, page);
  size_t slots = options_.slots;
  recv_flags_ = options_.nonblocking ? MSG_DONTWAIT : 0;

  bool wants_mapping = mode_ == ReceiveMode::kZerocopy || mode_ == ReceiveMode::kFlip;
  if (wants_mapping) {
    const ZerocopyProbe& probe = ProbeZerocopyReceive(options_.zerocopy_unavailable);
    std::string missing = probe.supported ? "" : probe.reason;
    if (!missing.empty()) {
      if (!options_.allow_fallback) {
        *error_code = "ERR_PAGEFLIP_UNSUPPORTED";
        error->hint = std::string("receive mode '") + ReceiveModeName(mode_) + "' needs TCP_ZEROCOPY_RECEIVE: " + missing +
                      " (pass allowFallback to copy instead; the fallback is reported)";
        return false;
      }
      fallback_reason_ = std::string("fell back to copy: ") + missing;
      mode_ = ReceiveMode::kCopy;
      wants_mapping = false;
    } else {
      abi_ = probe.abi;
    }
  }

  auto map_anonymous = [&](Area* area, size_t bytes, int prot) {
    void* p = MapAnonymousAligned(bytes, page, prot, MAP_NORESERVE);
    if (!p) {
      *error = {errno, "mmap", "allocating " + std::to_string(bytes) + " bytes of receive buffers"};
      return false;
    }
    area->base = static_cast<uint8_t*>(p);
    area->bytes = bytes;
    return true;
  };

  // Every mode may copy (recv, skip-hint reads, copybuf): one copy slot per possible lease.
  if (!map_anonymous(&copy_area_, slots * slot_bytes_, PROT_READ | PROT_WRITE)) return false;
  copy_pool_ = SlotPool(copy_area_.base, slot_bytes_, slots);

  if (wants_mapping) {
    // Zero-copy arena: a read-only VMA of this socket, 2 MiB aligned. flip moves pages out at
    // once, so it needs a single arena slot; zerocopy keeps pages in place until released.
    size_t arena_slots = mode_ == ReceiveMode::kFlip ? 1 : slots;
    size_t bytes = arena_slots * slot_bytes_;
    void* reserve = MapAnonymousAligned(bytes, kArenaAlignment, PROT_NONE, MAP_NORESERVE);
    if (!reserve) {
      *error = {errno, "mmap", "reserving the zero-copy arena"};
      return false;
    }
    void* arena = mmap(reserve, bytes, PROT_READ, MAP_SHARED | MAP_FIXED, fd_, 0);
    if (arena == MAP_FAILED) {
      *error = {errno, "mmap", "mapping the TCP socket for zero-copy receive"};
      munmap(reserve, bytes);
      return false;
    }
    map_area_ = {static_cast<uint8_t*>(arena), bytes};
    madvise(arena, bytes, MADV_DONTFORK);
    map_pool_ = SlotPool(map_area_.base, slot_bytes_, arena_slots);
    map_slot_clean_.assign(arena_slots, true);  // fresh VMA: nothing mapped yet
  }
  if (mode_ == ReceiveMode::kFlip || mode_ == ReceiveMode::kCopyRemap) {
    // The application's destination buffers that pages are moved onto.
    if (!map_anonymous(&dest_area_, slots * slot_bytes_, PROT_READ | PROT_WRITE)) return false;
    madvise(dest_area_.base, dest_area_.bytes, MADV_DONTFORK);
    dest_pool_ = SlotPool(dest_area_.base, slot_bytes_, slots);
  }
  if (mode_ == ReceiveMode::kCopyRemap) {
    if (!map_anonymous(&staging_area_, slot_bytes_, PROT_READ | PROT_WRITE)) return false;
  }
  if (mode_ == ReceiveMode::kSplice) {
    // One chunk per splice needs a pipe that holds a chunk (root may exceed pipe-max-size).
    if (int err = OpenPipe(O_CLOEXEC | O_NONBLOCK, slot_bytes_, &pipe_read_, &pipe_write_)) {
      *error = {err, "pipe2", ""};
      return false;
    }
  }
  return true;
}

Segment ReceiveEngine::Deliver(Pool pool, uint32_t slot, uint8_t* data, size_t length, size_t mapped) {
  Segment segment;
  segment.data = data;
  segment.length = length;
  segment.mapped = mapped;
  segment.copied = length - mapped;
  segment.pool = pool;
  segment.slot = slot;
  segment.offset = offset_;
  offset_ += length;
  counters_.bytes += length;
  counters_.mapped += mapped;
  counters_.copied += length - mapped;
  return segment;
}

Step ReceiveEngine::SocketEof(SysError* error) {
  if (pending_error_) return HandOver(&pending_error_, error);
  int err = 0;
  socklen_t length = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &length);
  if (err) {
    *error = {err, "recv", "the connection failed"};
    return Step::kError;
  }
  eof_ = true;
  return Step::kEof;
}

Step ReceiveEngine::NoData(ssize_t n, int err, const char* syscall, const char* hint, SysError* error) {
  if (n == 0) return SocketEof(error);
  if (WouldBlock(err)) {
    counters_.would_block++;
    return Step::kWouldBlock;
  }
  *error = {err, syscall, hint};
  return Step::kError;
}

Step ReceiveEngine::Read(Segment* out, int* count, SysError* error, int max_segments) {
  *count = 0;
  max_segments_ = max_segments;
  if (eof_) return Step::kEof;
  if (deferred_error_) return HandOver(&deferred_error_, error);
  switch (mode_) {
    case ReceiveMode::kCopy: return ReadCopy(out, count, error);
    case ReceiveMode::kZerocopy:
    case ReceiveMode::kFlip: return ReadZerocopy(out, count, error);
    case ReceiveMode::kCopyRemap: return ReadCopyRemap(out, count, error);
    case ReceiveMode::kSplice: return ReadSplice(out, count, error);
  }
  return Step::kError;
}

Step ReceiveEngine::ReadCopy(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  if (drained_) {
    // The last read emptied the queue: wait (the readiness check) instead of a recv that
    // would only say EAGAIN again. If data came meanwhile, the wait returns at once.
    drained_ = false;
    counters_.would_block++;
    return Step::kWouldBlock;
  }
  uint32_t slot = copy_pool_.Take();
  uint8_t* data = copy_pool_.At(slot);
  ssize_t n = recv(fd_, data, slot_bytes_, recv_flags_);
  counters_.syscalls++;
  if (n <= 0) {
    int err = errno;
    copy_pool_.Give(slot);
    return NoData(n, err, "recv", "", error);
  }
  size_t got = static_cast<size_t>(n);
  // A non-blocking recv returns early when arriving segments wait in the socket backlog (a
  // blocking one processes them and goes on). Fill the slot with what is already queued, so one
  // lease carries what one wakeup can get; never wait for more. EOF or an error is reported by
  // the next read.
  while (options_.nonblocking && got < slot_bytes_) {
    ssize_t more = recv(fd_, data + got, slot_bytes_ - got, recv_flags_);
    counters_.syscalls++;
    if (more > 0) {
      got += static_cast<size_t>(more);
      continue;
    }
    if (more < 0 && WouldBlock(errno)) drained_ = true;
    else if (more < 0) deferred_error_ = {errno, "recv", ""};
    break;
  }
  out[(*count)++] = Deliver(Pool::kCopy, slot, data, got, 0);
  return Step::kData;
}

Step ReceiveEngine::ReadSkipHint(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  uint32_t slot = copy_pool_.Take();
  size_t want = static_cast<size_t>(std::min<uint64_t>(pending_copy_, slot_bytes_));
  ssize_t n = recv(fd_, copy_pool_.At(slot), want, recv_flags_);
  counters_.syscalls++;
  if (n <= 0) {
    int err = errno;
    copy_pool_.Give(slot);
    return NoData(n, err, "recv", "reading the bytes the kernel could not map (recv_skip_hint)", error);
  }
  pending_copy_ -= static_cast<uint64_t>(n);
  out[(*count)++] = Deliver(Pool::kCopy, slot, copy_pool_.At(slot), static_cast<size_t>(n), 0);
  return Step::kData;
}

int ReceiveEngine::ZerocopyReceiveCall(ZerocopyReceive* zc) {
  socklen_t optlen = sizeof(*zc);
  int rc = getsockopt(fd_, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, &optlen);
  counters_.syscalls++;
  return rc;
}

Step ReceiveEngine::ReadZerocopy(Segment* out, int* count, SysError* error) {
  if (pending_copy_ > 0) return ReadSkipHint(out, count, error);
  if (drained_) {
    drained_ = false;  // as in ReadCopy: wait first; data that came meanwhile ends the wait at once
    counters_.would_block++;
    return Step::kWouldBlock;
  }
  bool flip = mode_ == ReceiveMode::kFlip;
  if (map_pool_.empty() || (flip && dest_pool_.empty())) return Step::kNoSlot;

  uint32_t slot = map_pool_.Take();
  uint8_t* address = map_pool_.At(slot);
  bool with_copybuf =
      options_.copybuf > 0 && abi_ >= ZerocopyAbi::k5_11 && !copy_pool_.empty() && max_segments_ >= 2;
  uint32_t copy_slot = with_copybuf ? copy_pool_.Take() : 0;

  // Zeroed for every call: later kernels read fields that older code would leave as garbage.
  ZerocopyReceive zc{};
  zc.address = reinterpret_cast<uintptr_t>(address);
  zc.length = static_cast<uint32_t>(slot_bytes_);
  if (with_copybuf) {
    zc.copybuf_address = reinterpret_cast<uintptr_t>(copy_pool_.At(copy_slot));
    zc.copybuf_len = static_cast<int32_t>(std::min(options_.copybuf, slot_bytes_ / 2));
  }
  if (options_.tlb_hint && map_slot_clean_[slot] && abi_ >= ZerocopyAbi::k5_11)
    zc.flags = TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT;
  int rc = ZerocopyReceiveCall(&zc);
  auto give_back = [&] {
    map_pool_.Give(slot);
    if (with_copybuf) copy_pool_.Give(copy_slot);
  };
  if (rc != 0) {
    int err = errno;
    give_back();
    // EIO: queue empty and the peer closed, which is what a recv returning 0 says.
    return NoData(err == EIO ? 0 : -1, err, "getsockopt", "TCP_ZEROCOPY_RECEIVE", error);
  }
  if (abi_ >= ZerocopyAbi::k5_7 && zc.err != 0) {
    // The kernel reads the socket error into zc.err and clears it, even when the same call
    // mapped or copied data: keep it, or it is lost (a reset would then look like a stream
    // that never ends).
    SysError socket_error = ZerocopySocketError(zc.err);
    if (zc.length == 0 && zc.copybuf_len <= 0) {
      give_back();
      *error = socket_error;
      return Step::kError;
    }
    pending_error_ = socket_error;
  }
  if (with_copybuf && zc.copybuf_len < 0) {
    give_back();
    *error = {-zc.copybuf_len, "getsockopt", "copying small reads into copybuf"};
    return Step::kError;
  }
  size_t mapped = zc.length;
  size_t copied = with_copybuf && zc.copybuf_len > 0 ? static_cast<size_t>(zc.copybuf_len) : 0;
  pending_copy_ = zc.recv_skip_hint;
  // Non-blocking (the JS API): while whole pages are still queued, map them into the rest of
  // the slot, so one lease (and the one madvise that releases it) covers what a wakeup can get.
  // The rest of the slot is as empty as the slot was, so the TLB hint stays truthful.
  bool fill = options_.nonblocking && !flip && !with_copybuf && mapped > 0;
  while (fill && mapped < slot_bytes_ && pending_copy_ == 0 && zc.inq >= PageSize()) {
    uint32_t hint = zc.flags;
    zc = ZerocopyReceive{};
    zc.address = reinterpret_cast<uintptr_t>(address + mapped);
    zc.length = static_cast<uint32_t>(slot_bytes_ - mapped);
    zc.flags = hint;
    int more = ZerocopyReceiveCall(&zc);
    if (more != 0) break;  // EAGAIN, or EOF/errors, which the next read meets again
    // The kernel hands a socket error over once: keep it for the read after this data.
    if (zc.err != 0) deferred_error_ = ZerocopySocketError(zc.err);
    mapped += zc.length;
    pending_copy_ = zc.recv_skip_hint;
    if (zc.length == 0 || deferred_error_) break;
  }
  // Less than a page left: the next read waits (for lowWater bytes) rather than mapping scraps.
  if (fill && pending_copy_ == 0 && zc.inq < PageSize()) drained_ = true;

  if (mapped > 0) {
    map_slot_clean_[slot] = false;
    if (flip) {
      // The paper's flip: move the freshly mapped pages onto the application's buffer.
      uint32_t dest = dest_pool_.Take();
      if (!MovePages(address, dest_pool_.At(dest), mapped, /*socket_vma=*/true, error)) {
        dest_pool_.Give(dest);
        give_back();
        return Step::kError;
      }
      map_slot_clean_[slot] = true;  // the page-table entries moved away with the pages
      map_pool_.Give(slot);
      counters_.remapped += mapped;
      out[(*count)++] = Deliver(Pool::kDest, dest, dest_pool_.At(dest), mapped, mapped);
    } else {
      out[(*count)++] = Deliver(Pool::kMap, slot, address, mapped, mapped);
    }
  } else {
    map_pool_.Give(slot);
  }
  if (copied > 0) {
    out[(*count)++] = Deliver(Pool::kCopy, copy_slot, copy_pool_.At(copy_slot), copied, 0);
  } else if (with_copybuf) {
    copy_pool_.Give(copy_slot);
  }
  if (*count > 0) return Step::kData;
  if (pending_copy_ > 0) return ReadSkipHint(out, count, error);
  return NothingQueued(error);
}

Step ReceiveEngine::NothingQueued(SysError* error) {
  if (pending_error_) return HandOver(&pending_error_, error);
  // TCP_ZEROCOPY_RECEIVE says EIO only after a FIN (SOCK_DONE); after a reset, or when an older
  // kernel has no err field, an empty answer looks the same as "nothing yet" while poll keeps
  // reporting the socket readable. recv(MSG_PEEK) tells them apart without consuming anything.
  char byte;
  ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  counters_.syscalls++;
  if (n == 0) return SocketEof(error);
  if (n < 0 && !WouldBlock(errno)) {
    *error = {errno, "recv", "the connection failed"};
    return Step::kError;
  }
  counters_.would_block++;
  return Step::kWouldBlock;  // nothing queued (or data arrived just now: the next read gets it)
}

Step ReceiveEngine::ReadCopyRemap(Segment* out, int* count, SysError* error) {
  if (dest_pool_.empty()) return Step::kNoSlot;
  // Loops wait for whole chunks so every move is a full chunk of pages.
  ssize_t n = recv(fd_, staging_area_.base, slot_bytes_, recv_flags_ | (options_.nonblocking ? 0 : MSG_WAITALL));
  counters_.syscalls++;
  if (n <= 0) return NoData(n, errno, "recv", "", error);
  // The paper's Appendix B control: copy into staging pages, then flip them into place. The
  // partial last page moves too (its unused tail is zero: staging pages refault empty).
  size_t bytes = RoundUp(static_cast<size_t>(n), PageSize());
  uint32_t dest = dest_pool_.Take();
  if (!MovePages(staging_area_.base, dest_pool_.At(dest), bytes, /*socket_vma=*/false, error)) {
    dest_pool_.Give(dest);
    return Step::kError;
  }
  counters_.remapped += bytes;
  out[(*count)++] = Deliver(Pool::kDest, dest, dest_pool_.At(dest), static_cast<size_t>(n), 0);
  return Step::kData;
}

Step ReceiveEngine::ReadSplice(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  ssize_t n = splice(fd_, nullptr, pipe_write_.get(), nullptr, slot_bytes_,
                     SPLICE_F_MOVE | (options_.nonblocking ? SPLICE_F_NONBLOCK : 0));
  counters_.syscalls++;
  if (n <= 0) return NoData(n, errno, "splice", "socket to pipe", error);
  uint32_t slot = copy_pool_.Take();
  uint8_t* data = copy_pool_.At(slot);
  size_t got = 0;
  while (got < static_cast<size_t>(n)) {
    // vmsplice from a pipe to user memory copies (fs/splice.c): this mode is a copy baseline.
    iovec iov{data + got, static_cast<size_t>(n) - got};
    ssize_t r = vmsplice(pipe_read_.get(), &iov, 1, 0);
    counters_.syscalls++;
    if (r <= 0) {
      int err = r == 0 ? EPIPE : errno;
      if (r < 0 && err == EINTR) continue;
      copy_pool_.Give(slot);
      *error = {err, "vmsplice", "pipe to user memory"};
      return Step::kError;
    }
    got += static_cast<size_t>(r);
  }
  out[(*count)++] = Deliver(Pool::kCopy, slot, data, got, 0);
  return Step::kData;
}

bool ReceiveEngine::MovePages(uint8_t* from, uint8_t* to, size_t bytes, bool socket_vma, SysError* error) {
  // The hole a plain move leaves is plugged with the socket's own mapping or with anonymous pages.
  const char* failed = nullptr;
  int err = MovePageRange(from, to, bytes, &dontunmap_, socket_vma ? fd_ : -1, &failed);
  if (err == 0) return true;
  *error = {err, failed, std::strcmp(failed, "mmap") == 0 ? "re-mapping the source of a page move" : "moving received pages"};
  return false;
}

void ReceiveEngine::Release(const Segment& segment) {
  switch (segment.pool) {
    case Pool::kCopy:
      copy_pool_.Give(segment.slot);
      break;
    case Pool::kMap:
      ReleaseMapRange(segment.slot, 1);
      break;
    case Pool::kDest:
      // Drop the moved pages now rather than at the next move onto this slot.
      madvise(segment.data, RoundUp(segment.length, PageSize()), MADV_DONTNEED);
      counters_.syscalls++;
      dest_pool_.Give(segment.slot);
      break;
  }
}

void ReceiveEngine::Recycle(const Segment& segment) {
  switch (segment.pool) {
    case Pool::kCopy: copy_pool_.Give(segment.slot); break;
    case Pool::kMap:
      map_slot_clean_[segment.slot] = false;
      map_pool_.Give(segment.slot);
      break;
    case Pool::kDest: dest_pool_.Give(segment.slot); break;
  }
}

void ReceiveEngine::ReleaseMapRange(uint32_t first_slot, uint32_t slots) {
  // One madvise drops the pages of all the slots; afterwards they are empty, so the next
  // receive into them may pass TLB_CLEAN_HINT truthfully.
  bool ok = madvise(map_pool_.At(first_slot), size_t(slots) * slot_bytes_, MADV_DONTNEED) == 0;
  counters_.syscalls++;
  for (uint32_t i = slots; i > 0; i--) {
    map_slot_clean_[first_slot + i - 1] = ok;
    map_pool_.Give(first_slot + i - 1);
  }
}

}  // namespace pageflip

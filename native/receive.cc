#include "receive.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mapping.h"
#include "page_range.h"
#include "pmd_flip.h"

namespace pageflip {

namespace {

constexpr size_t kArenaAlignment = kPmdBytes;  // tcp_mmap.c: own page tables avoid page-table lock collisions

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

int DefaultLowWater(size_t chunk, ReceiveMode mode) {
  size_t slot = RoundUp(chunk, PageSize());
  // A PMD flip needs the whole slot queued before it maps (pmd_flip.h).
  return static_cast<int>(PmdSlots(mode, slot) ? slot : std::min(slot, kMaxDefaultLowWater));
}

bool SocketOptionGuard::Set(int fd, std::initializer_list<int> values) {
  Restore();
  int saved = 0;
  socklen_t length = sizeof(saved);
  if (getsockopt(fd, level_, name_, &saved, &length) != 0) return false;
  fd_ = fd;  // from here on the option may have changed: restore it whatever follows
  saved_ = saved;
  for (int value : values)
    if (setsockopt(fd, level_, name_, &value, sizeof(value)) != 0) return false;
  return true;
}

void SocketOptionGuard::Restore() {
  if (fd_ < 0) return;
  int err = errno;  // a failed Set's errno survives the restore
  setsockopt(fd_, level_, name_, &saved_, sizeof(saved_));
  errno = err;
  fd_ = -1;
}

bool LowWaterGuard::Set(int fd, int value) {
  // tcp_set_rcvlowat also clamps the window to the mark, and a reader is woken as soon as the
  // window is nearly closed: with a mark of a whole 2 MiB slot that wake comes a few segments
  // short of it, and the flip cannot move a page table (pmd_flip.h). Asking for twice the mark
  // first sizes the buffer and clamp for two slots; the second call changes only the mark.
  bool pmd = value >= static_cast<int>(kPmdBytes) && value <= INT32_MAX / 2;
  return pmd ? option_.Set(fd, {2 * value, value}) : option_.Set(fd, {value});
}

SlotPool::SlotPool(PageRange range, size_t slot_bytes) : slot_bytes_(slot_bytes) { Add(std::move(range)); }

void SlotPool::Add(PageRange range) {
  uint32_t first = static_cast<uint32_t>(slots_.size());
  size_t count = range.length() / slot_bytes_;
  for (size_t i = 0; i < count; i++) slots_.push_back(range.data() + i * slot_bytes_);
  ranges_.push_back(std::move(range));
  // Handed out in ascending order, so consecutive takes are adjacent (loops release in batches).
  for (size_t i = count; i > 0; i--) free_.push_back(first + static_cast<uint32_t>(i - 1));
}

PageRange* SlotPool::RangeHolding(const uint8_t* address) {
  for (PageRange& range : ranges_)
    if (address >= range.data() && address < range.data() + range.length()) return &range;
  return nullptr;
}


uint32_t SlotPool::Take() {
  uint32_t slot = free_.back();
  free_.pop_back();
  return slot;
}

ReceiveEngine::ReceiveEngine(int fd, const ReceiveOptions& options)
    : fd_(fd), options_(options), mode_(options.mode) {}

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
    ZerocopyProbe probe = ProbeZerocopyReceive(options_.zerocopy_unavailable);
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

  // Every mode may copy (recv, skip-hint reads, copybuf): one copy slot per possible lease.
  PageRange copy = MapBuffers(slots * slot_bytes_, error);
  if (!copy) return false;
  copy_pool_ = SlotPool(std::move(copy), slot_bytes_);

  if (wants_mapping) {
    // Zero-copy arena: flip moves pages out at once, so it needs a single arena slot; zerocopy
    // keeps pages in place until released.
    size_t arena_slots = mode_ == ReceiveMode::kFlip ? 1 : slots;
    PageRange arena = MapArena(arena_slots * slot_bytes_, error);
    if (!arena) return false;
    map_pool_ = SlotPool(std::move(arena), slot_bytes_);
    map_slot_clean_.assign(arena_slots, true);  // fresh VMA: nothing mapped yet
  }
  if (mode_ == ReceiveMode::kFlip || mode_ == ReceiveMode::kCopyRemap) {
    // The application's destination buffers that pages are moved onto.
    PageRange dest = MapBuffers(slots * slot_bytes_, error, DestAlignment(mode_, slot_bytes_, PageSize()));
    if (!dest) return false;
    madvise(dest.data(), dest.length(), MADV_DONTFORK);
    dest_pool_ = SlotPool(std::move(dest), slot_bytes_);
  }
  if (mode_ == ReceiveMode::kCopyRemap) {
    staging_ = MapBuffers(slot_bytes_, error);
    if (!staging_) return false;
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

PageRange ReceiveEngine::MapBuffers(size_t bytes, SysError* error, size_t alignment) {
  PageRange range = MapAnonymousAligned(bytes, alignment ? alignment : PageSize(), PROT_READ | PROT_WRITE, MAP_NORESERVE);
  if (!range) *error = {errno, "mmap", "allocating " + std::to_string(bytes) + " bytes of receive buffers"};
  return range;
}

PageRange ReceiveEngine::MapArena(size_t bytes, SysError* error) {
  // 2 MiB aligned like tcp_mmap.c: avoids page-table lock collisions.
  PageRange range = MapAnonymousAligned(bytes, kArenaAlignment, PROT_NONE, MAP_NORESERVE);
  if (!range) {
    *error = {errno, "mmap", "reserving the zero-copy arena"};
    return range;
  }
  if (mmap(range.data(), bytes, PROT_READ, MAP_SHARED | MAP_FIXED, fd_, 0) == MAP_FAILED) {
    *error = {errno, "mmap", "mapping the TCP socket for zero-copy receive"};
    return {};
  }
  madvise(range.data(), bytes, MADV_DONTFORK);
  return range;
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
  if (broken_) {
    *error = broken_;
    return Step::kError;
  }
  if (eof_) return Step::kEof;
  if (deferred_error_) return HandOver(&deferred_error_, error);
  Step step = Step::kError;
  switch (mode_) {
    case ReceiveMode::kCopy: step = ReadCopy(out, count, error); break;
    case ReceiveMode::kZerocopy:
    case ReceiveMode::kFlip: step = ReadZerocopy(out, count, error); break;
    case ReceiveMode::kCopyRemap: step = ReadCopyRemap(out, count, error); break;
    case ReceiveMode::kSplice: step = ReadSplice(out, count, error); break;
    case ReceiveMode::kDiscard: step = ReadDiscard(out, count, error); break;
  }
  if (step == Step::kData && options_.verify)
    for (int i = 0; i < *count; i++) Verify(&out[i]);
  return step;
}

void ReceiveEngine::Verify(Segment* segment) {
  VerifyResult check;
  VerifyPattern(segment->data, segment->length, options_.stream_offset + segment->offset, options_.seed, check);
  segment->mismatches = check.mismatches;
  counters_.verified += segment->length;
  if (check.mismatches && !counters_.check.mismatches) counters_.check.first_mismatch = check.first_mismatch;
  counters_.check.mismatches += check.mismatches;
}

Step ReceiveEngine::ReadDiscard(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  // MSG_TRUNC on TCP: tcp_recvmsg consumes up to the length without copying to user space, so
  // the slot is never written; it only keeps the lease accounting of the other modes.
  uint32_t slot = copy_pool_.Take();
  ssize_t n = recv(fd_, copy_pool_.At(slot), slot_bytes_, recv_flags_ | MSG_TRUNC);
  CountReceiveCall();
  if (n <= 0) {
    int err = errno;
    copy_pool_.Give(slot);
    return NoData(n, err, "recv", "recv(MSG_TRUNC)", error);
  }
  size_t got = static_cast<size_t>(n);
  out[0] = Deliver(Pool::kCopy, slot, nullptr, got, 0);
  // Neither copied nor mapped: the bytes were dropped in the kernel.
  out[0].copied = 0;
  counters_.copied -= got;
  *count = 1;
  return Step::kData;
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
  int64_t inq = -1;
  ssize_t n = RecvCounted(data, slot_bytes_, &inq);
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
  while (options_.nonblocking && got < slot_bytes_ && inq != 0) {
    ssize_t more = RecvCounted(data + got, slot_bytes_ - got, &inq);
    if (more > 0) {
      got += static_cast<size_t>(more);
      continue;
    }
    if (more < 0 && WouldBlock(errno)) drained_ = true;
    else if (more < 0) deferred_error_ = {errno, "recv", ""};
    break;
  }
  // Non-blocking: less than lowWater left (TCP_INQ says so), the next read waits for lowWater
  // bytes (bounded by the JS side's lowWaterMs) rather than taking a scrap of a chunk at once.
  // At EOF the kernel says 1, so the wait ends on the FIN and the next read reports it.
  if (options_.nonblocking && inq >= 0 && LeavesScrap(static_cast<uint64_t>(inq))) drained_ = true;
  out[(*count)++] = Deliver(Pool::kCopy, slot, data, got, 0);
  return Step::kData;
}

ssize_t ReceiveEngine::RecvCounted(uint8_t* data, size_t length, int64_t* inq) {
  CountReceiveCall();
  if (!options_.tcp_inq) return recv(fd_, data, length, recv_flags_);
  iovec iov{data, length};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_, &msg, recv_flags_);
  *inq = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int value;
      std::memcpy(&value, CMSG_DATA(c), sizeof value);
      *inq = value;
    }
  }
  return n;
}

Step ReceiveEngine::ReadSkipHint(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  uint32_t slot = copy_pool_.Take();
  size_t want = static_cast<size_t>(std::min<uint64_t>(pending_copy_, slot_bytes_));
  ssize_t n = recv(fd_, copy_pool_.At(slot), want, recv_flags_);
  CountReceiveCall();
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
  // The size of the struct this kernel speaks: 4.18-5.6 refuse any other.
  socklen_t optlen = static_cast<socklen_t>(abi_);
  int rc = getsockopt(fd_, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, &optlen);
  CountReceiveCall();
  // What is still queued after this call (5.7+); the next wait is skipped while it is enough.
  queued_ = rc == 0 && abi_ >= ZerocopyAbi::k5_7 ? zc->inq : 0;
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
  // TCP_ZEROCOPY_RECEIVE never waits: without this it maps whatever is queued (a third of a
  // chunk per call on loopback) where a blocking recv() waits for SO_RCVLOWAT bytes.
  if (!options_.nonblocking) WaitForLowWater();

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
    // mapped or copied data, or left bytes it could not map (recv_skip_hint, inq): keep it for
    // after those bytes (as recv would report it), or it is lost or jumps the queue.
    pending_error_ = ZerocopySocketError(zc.err);
    // Bytes still queued that the kernel neither mapped nor hinted: read them by copy.
    if (zc.length == 0 && zc.recv_skip_hint == 0) zc.recv_skip_hint = zc.inq;
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
    // The kernel hands a socket error over once: keep it for after the bytes still queued.
    if (zc.err != 0) pending_error_ = ZerocopySocketError(zc.err);
    mapped += zc.length;
    pending_copy_ = zc.err != 0 && zc.length == 0 && zc.recv_skip_hint == 0 ? zc.inq : zc.recv_skip_hint;
    if (zc.length == 0 || pending_error_) break;
  }
  // Non-blocking: less than lowWater left queued, the next read waits (for lowWater bytes, up
  // to the JS side's lowWaterMs) rather than mapping part of a chunk at once, as a loop would.
  if (options_.nonblocking && abi_ >= ZerocopyAbi::k5_7 && pending_copy_ == 0 && LeavesScrap(zc.inq)) drained_ = true;
  // A PMD flip (pmd_flip.h) with less than a whole slot left waits for SO_RCVLOWAT (a slot)
  // before it maps again, so the next move can take the page table and not 512 PTEs.
  if (PmdSlots(mode_, slot_bytes_) && abi_ >= ZerocopyAbi::k5_7 && pending_copy_ == 0 && zc.inq < slot_bytes_) drained_ = true;

  if (mapped > 0) {
    map_slot_clean_[slot] = false;
    if (flip) {
      // The paper's flip: move the freshly mapped pages onto the application's buffer.
      uint32_t dest = dest_pool_.Take();
      if (PmdMove(address, dest_pool_.At(dest), mapped)) counters_.pmd_moves++;
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
  ssize_t n = recv(fd_, staging_.data(), slot_bytes_, recv_flags_ | (options_.nonblocking ? 0 : MSG_WAITALL));
  CountReceiveCall();
  if (n <= 0) return NoData(n, errno, "recv", "", error);
  // The paper's Appendix B control: copy into staging pages, then flip them into place. The
  // partial last page moves too (its unused tail is zero: staging pages refault empty).
  size_t bytes = RoundUp(static_cast<size_t>(n), PageSize());
  uint32_t dest = dest_pool_.Take();
  if (!MovePages(staging_.data(), dest_pool_.At(dest), bytes, /*socket_vma=*/false, error)) {
    dest_pool_.Give(dest);
    return Step::kError;
  }
  counters_.remapped += bytes;
  out[(*count)++] = Deliver(Pool::kDest, dest, dest_pool_.At(dest), static_cast<size_t>(n), 0);
  return Step::kData;
}

Step ReceiveEngine::ReadSplice(Segment* out, int* count, SysError* error) {
  if (copy_pool_.empty()) return Step::kNoSlot;
  // A blocking splice returns as soon as anything is queued (it ignores SO_RCVLOWAT).
  if (!options_.nonblocking) WaitForLowWater();
  ssize_t n = splice(fd_, nullptr, pipe_write_.get(), nullptr, slot_bytes_,
                     SPLICE_F_MOVE | (options_.nonblocking ? SPLICE_F_NONBLOCK : 0));
  CountReceiveCall();
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
  uint64_t calls = 0;
  int err = MovePageRange(from, to, bytes, &dontunmap_, socket_vma ? fd_ : -1, &failed, &calls);
  CountPageCalls(calls);
  if (err == 0) return true;
  if (SourceAddressTaken(err, failed)) {
    // The pages reached `to`, but another mapping took the source's address before it was
    // mapped again (as in Region.moveTo): that range is someone else's now and must never be
    // advised, received into or unmapped by us. Deliver what moved, give up the rest of the
    // area, and refuse further reads.
    // Only the flip arena and the copy-remap staging are ever a move's source: never leased.
    PageRange* range = socket_vma ? map_pool_.RangeHolding(from) : &staging_;
    if (range && *range) AbandonAround(range, from, bytes);
    broken_ = {EEXIST, "mmap", "another mapping took the address of this receiver's buffer during a page move; it cannot receive more"};
    return true;
  }
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
      CountPageCalls(1);
      dest_pool_.Give(segment.slot);
      break;
  }
}

bool ReceiveEngine::Privatize(const Segment& segment, SysError* error) {
  // A copy of the slot's bytes replaces the slot in one mremap, so the alias sees the same bytes
  // throughout; reading stays within the pages the segment covers (the rest of a socket VMA has
  // none, and touching it would SIGBUS).
  PageRange copy = MapBuffers(slot_bytes_, error);
  if (!copy) return false;
  std::memcpy(copy.data(), segment.data, segment.length);
  if (mremap(copy.data(), slot_bytes_, slot_bytes_, MREMAP_MAYMOVE | MREMAP_FIXED, segment.data) == MAP_FAILED) {
    *error = {errno, "mremap", "moving a quarantined lease off the socket's mapping"};
    return false;
  }
  copy.Disown();  // now part of the pool's range, at the slot's address
  return true;
}

bool ReceiveEngine::Quarantine(const Segment& segment, SysError* error) {
  // Pages mapped from the socket (zerocopy, flip) would keep the socket open while quarantined.
  if (segment.pool != Pool::kCopy && !Privatize(segment, error)) return false;
  // The slot itself is simply not given back; a fresh one takes its place in the pool.
  switch (segment.pool) {
    case Pool::kCopy: {
      PageRange fresh = MapBuffers(slot_bytes_, error);
      if (!fresh) return false;
      copy_pool_.Add(std::move(fresh));
      return true;
    }
    case Pool::kMap: {
      PageRange fresh = MapArena(slot_bytes_, error);
      if (!fresh) return false;
      map_pool_.Add(std::move(fresh));
      map_slot_clean_.push_back(true);
      return true;
    }
    case Pool::kDest: {
      PageRange fresh = MapBuffers(slot_bytes_, error, DestAlignment(mode_, slot_bytes_, PageSize()));
      if (!fresh) return false;
      madvise(fresh.data(), fresh.length(), MADV_DONTFORK);
      dest_pool_.Add(std::move(fresh));
      return true;
    }
  }
  return false;
}

void ReceiveEngine::EndQuarantine(const Segment& segment) {
  if (segment.pool == Pool::kMap) {
    // Privatized: it becomes a piece of the socket's mapping again, else it stays out of the pool.
    uint8_t* slot = map_pool_.At(segment.slot);
    if (mmap(slot, slot_bytes_, PROT_READ, MAP_SHARED | MAP_FIXED, fd_, 0) != slot) return;
    map_slot_clean_[segment.slot] = true;
    map_pool_.Give(segment.slot);
    return;
  }
  Release(segment);
}

void ReceiveEngine::Retire() {
  // Free slots may be pieces of the socket's mapping (arena, or destinations pages were moved
  // onto): inaccessible anonymous memory replaces them, so the socket can close now while the
  // quarantined slots (already private) stay where their aliases see them.
  for (SlotPool* pool : {&map_pool_, &dest_pool_}) {
    while (!pool->empty()) {
      uint8_t* slot = pool->At(pool->Take());
      mmap(slot, slot_bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    }
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
  // receive into them may pass TLB_CLEAN_HINT truthfully. Batches (loops) cover slots of the
  // first arena, which are adjacent; slots added by Quarantine() are released one by one.
  bool ok = madvise(map_pool_.At(first_slot), size_t(slots) * slot_bytes_, MADV_DONTNEED) == 0;
  CountPageCalls(1);
  for (uint32_t i = slots; i > 0; i--) {
    map_slot_clean_[first_slot + i - 1] = ok;
    map_pool_.Give(first_slot + i - 1);
  }
}

void ReceiveEngine::ReleaseMapSlots(std::vector<uint32_t> slots) {
  std::sort(slots.begin(), slots.end(), [&](uint32_t a, uint32_t b) { return map_pool_.At(a) < map_pool_.At(b); });
  for (size_t i = 0; i < slots.size();) {
    size_t n = 1;
    // Slot ids of one arena are adjacent in memory; a slot added by Quarantine() is not.
    while (i + n < slots.size() && slots[i + n] == slots[i] + n && map_pool_.At(slots[i + n]) == map_pool_.At(slots[i]) + n * slot_bytes_) n++;
    ReleaseMapRange(slots[i], static_cast<uint32_t>(n));
    i += n;
  }
}

void ReceiveEngine::WaitReadable(int timeout_ms) {
  PollOne(fd_, POLLIN, timeout_ms);
  counters_.syscalls++;
  counters_.wait_calls++;
}

void ReceiveEngine::WaitForLowWater() {
  if (queued_ >= std::max<size_t>(options_.low_water, 1)) return;
  // poll() reports POLLIN once SO_RCVLOWAT bytes are queued (or EOF/an error); on timeout the
  // receive call takes what is there, as a blocking recv() does when SO_RCVTIMEO expires.
  WaitReadable(options_.wait_ms);
}

}  // namespace pageflip

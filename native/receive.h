// Receive strategies: how stream bytes get from a TCP socket into memory the application reads.
// One engine serves both the chunk-by-chunk JS API (leases over slots) and the native loops.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "sys_error.h"
#include "fd.h"
#include "mapping.h"
#include "page_range.h"
#include "pattern.h"
#include "vocabulary.h"
#include "zerocopy.h"

namespace pageflip {

struct ReceiveOptions {
  ReceiveMode mode = ReceiveMode::kCopy;
  size_t chunk = kDefaultChunk;  // bytes per read, rounded up to whole pages per slot
  size_t slots = 1;            // buffers that may be outstanding at once (leases; release batch in loops)
  // Zero-copy small-read buffer; 0 disables it. Off by default: when the queue holds no more
  // than copybuf bytes the kernel copies instead of mapping, which lowers the mapped share.
  size_t copybuf = 0;
  bool tlb_hint = true;        // pass TLB_CLEAN_HINT for slots known empty
  bool allow_fallback = false; // copy when zero-copy receive is unavailable (reported, never silent)
  bool zerocopy_unavailable = false;  // test switch: behave as if the kernel lacked TCP_ZEROCOPY_RECEIVE
  bool nonblocking = true;     // chunk API: never block; loops: block (SO_RCVTIMEO bounds it)
  // The SO_RCVLOWAT in force. Loops (blocking): receive calls that do not wait for it themselves
  // (TCP_ZEROCOPY_RECEIVE, splice) first poll until that many bytes are queued, like a blocking
  // recv() does inside the kernel, for at most wait_ms; 0 = the socket's own mark (1 byte).
  // Chunk API (non-blocking): a mapping read that leaves less than this queued makes the next
  // read say "wait" (the JS side polls, bounded by lowWaterMs) instead of mapping a scrap.
  size_t low_water = 0;
  // Chunk API, copy: the driver turned TCP_INQ on, so each recv says what it left queued and a
  // read that leaves less than low_water makes the next one wait, as a mapping read does.
  bool tcp_inq = false;
  int wait_ms = 100;
  // Check every delivered byte against the test pattern (pattern.h) of `seed`; the stream's
  // first byte here is pattern offset `stream_offset` (a loop after a warm-up on the connection).
  bool verify = false;
  uint64_t seed = 1;
  uint64_t stream_offset = 0;
};

struct ReceiveCounters {
  uint64_t bytes = 0;     // stream bytes delivered
  uint64_t mapped = 0;    // of those, mapped from the kernel's pages (zerocopy, flip)
  uint64_t copied = 0;    // of those, copied by the CPU (recv, splice, skip-hint reads, copybuf)
  uint64_t remapped = 0;  // bytes of pages moved with mremap after arrival (flip, copy-remap)
  uint64_t pmd_moves = 0; // flips of whole 2 MiB-aligned slots, eligible for the page-table (PMD) move
  uint64_t syscalls = 0;       // every syscall the mode made: the three kinds below and the rest (vmsplice, probes)
  uint64_t receive_calls = 0;  // recv, getsockopt(TCP_ZEROCOPY_RECEIVE), splice: the calls that bring bytes in
  uint64_t wait_calls = 0;     // poll() for readable data (the low-water wait)
  uint64_t page_calls = 0;     // mremap, mmap, madvise: page-table work
  uint64_t would_block = 0;
  uint64_t verified = 0;  // bytes checked against the pattern (options.verify)
  VerifyResult check;     // what that check found
};

// SO_RCVLOWAT for a reader of `chunk`-byte reads: one page-rounded chunk, at most kMaxDefaultLowWater. The
// mark also clamps the window the kernel advertises (tcp_set_rcvlowat), so a larger one would
// leave the sender idle while the reader catches up. A flip of whole 2 MiB slots waits for the
// whole slot instead (pmd_flip.h): only a full slot can move as one page table.
int DefaultLowWater(size_t chunk, ReceiveMode mode);
// An int socket option set for as long as the guard lives: the socket's previous value comes
// back on Restore() or when the guard ends, so a receiver or loop never leaves its setting behind
// on a socket the caller keeps using.
class SocketOptionGuard {
 public:
  SocketOptionGuard(int level, int name) : level_(level), name_(name) {}
  SocketOptionGuard(const SocketOptionGuard&) = delete;
  SocketOptionGuard& operator=(const SocketOptionGuard&) = delete;
  ~SocketOptionGuard() { Restore(); }
  // Sets `values` in turn on fd (not owned; it must outlive the guard); false with errno set
  // when the socket refused (what was set is still restored).
  bool Set(int fd, std::initializer_list<int> values);
  void Restore();

 private:
  int level_, name_;
  int fd_ = -1;  // -1: nothing to restore
  int saved_ = 0;
};

// SO_RCVLOWAT (see DefaultLowWater), set in the way tcp_set_rcvlowat needs for 2 MiB marks.
class LowWaterGuard {
 public:
  bool Set(int fd, int value);
  void Restore() { option_.Restore(); }

 private:
  SocketOptionGuard option_{SOL_SOCKET, SO_RCVLOWAT};
};

enum class Pool : uint8_t { kCopy, kMap, kDest };

// Stream bytes sitting in one slot of one pool, owned by the caller until Release().
struct Segment {
  uint8_t* data = nullptr;
  size_t length = 0;
  size_t mapped = 0;
  size_t copied = 0;
  uint64_t mismatches = 0;  // options.verify: bytes of this segment that differ from the pattern
  Pool pool = Pool::kCopy;
  uint32_t slot = 0;
  uint64_t offset = 0;  // stream offset of data[0]
};

enum class Step { kData, kWouldBlock, kNoSlot, kEof, kError };

// Equally sized slots with a free list, over page ranges the pool owns: the first range holds
// the slots asked for at set-up (consecutive ids, adjacent in memory); Add() appends one more.
class SlotPool {
 public:
  SlotPool() = default;
  SlotPool(PageRange range, size_t slot_bytes);
  bool empty() const { return free_.empty(); }
  uint8_t* At(uint32_t slot) const { return slots_[slot]; }
  uint32_t Take();
  void Give(uint32_t slot) { free_.push_back(slot); }
  // Appends the slots of `range` to the pool (free).
  void Add(PageRange range);
  // The range holding `address` (null if none): for giving it up around a foreign mapping.
  PageRange* RangeHolding(const uint8_t* address);
  size_t slot_bytes() const { return slot_bytes_; }
  size_t size() const { return slots_.size(); }
  uint8_t* base() const { return ranges_.empty() ? nullptr : ranges_.front().data(); }

 private:
  size_t slot_bytes_ = 0;
  std::vector<PageRange> ranges_;
  std::vector<uint8_t*> slots_;  // address of each slot id
  std::vector<uint32_t> free_;
};

class ReceiveEngine {
 public:
  // Builds the buffers for options.mode over a connected TCP socket (not owned). On failure
  // returns nullptr and fills error (a typed code in error_code when it is not an errno).
  static std::unique_ptr<ReceiveEngine> Create(int fd, const ReceiveOptions& options, SysError* error,
                                               std::string* error_code);

  // One read step: appends 0-2 segments (mapped part, then copied part), never more than
  // max_segments (1 or 2; with 1 the copybuf, which may add a second segment, is not used).
  Step Read(Segment* out, int* count, SysError* error, int max_segments = 2);
  // Gives a segment's slot back (dropping mapped pages) so it can be reused.
  void Release(const Segment& segment);
  // The segment may still be visible through a buffer its caller could not detach (page_range.h,
  // rule 3): its slot stays out of the pool, untouched and mapped, until Release() is called for
  // it once that buffer is gone. The pool gets a freshly mapped slot instead, so reads go on;
  // false with error when none could be mapped (the pool is one slot short until the Release).
  bool Quarantine(const Segment& segment, SysError* error);
  // The quarantined segment's buffer is gone: its slot returns to the pool (JS thread, engine open).
  void EndQuarantine(const Segment& segment);
  // The engine reads no more but stays alive for quarantined slots: every other slot stops
  // referring to the socket, so closing the socket's descriptor really closes the connection.
  void Retire();
  // Loops: gives a slot back without dropping its pages; the next receive (without the TLB
  // hint) or the next move onto it replaces them.
  void Recycle(const Segment& segment);
  // Drops the pages of several map-pool slots with one madvise (loops batch releases).
  void ReleaseMapRange(uint32_t first_slot, uint32_t slots);
  // Gives back map-pool slots released in any order (the chunk API's batch): one madvise per
  // run of slots whose addresses are adjacent.
  void ReleaseMapSlots(std::vector<uint32_t> slots);
  // Waits up to timeout_ms for the socket to be readable (SO_RCVLOWAT bytes queued, EOF or an
  // error), counted as a syscall: non-blocking loops call it after Step::kWouldBlock.
  void WaitReadable(int timeout_ms);

  ReceiveMode mode() const { return mode_; }
  ReceiveMode requested_mode() const { return options_.mode; }  // mode_ may be a fallback
  const std::string& fallback_reason() const { return fallback_reason_; }
  ZerocopyAbi abi() const { return abi_; }
  const ReceiveCounters& counters() const { return counters_; }
  // Where the engine's buffers live (diagnostics and tests: page-move evidence).
  struct Layout {
    uint8_t *copy, *map, *dest, *staging;
    size_t slot_bytes;
  };
  Layout layout() const { return {copy_pool_.base(), map_pool_.base(), dest_pool_.base(), staging_.data(), slot_bytes_}; }

 private:
  ReceiveEngine(int fd, const ReceiveOptions& options);
  bool Setup(SysError* error, std::string* error_code);
  Step ReadCopy(Segment* out, int* count, SysError* error);
  // One counted recv into data; with options_.tcp_inq a recvmsg whose TCP_CM_INQ says what it
  // left queued (*inq; -1 when the kernel did not say).
  ssize_t RecvCounted(uint8_t* data, size_t length, int64_t* inq);
  // Less than lowWater (at least a page) still queued: the chunk API's next read waits first.
  bool LeavesScrap(uint64_t queued) const { return queued < std::max(options_.low_water, PageSize()); }
  Step ReadZerocopy(Segment* out, int* count, SysError* error);
  // One getsockopt(TCP_ZEROCOPY_RECEIVE) on *zc, counted as a syscall; returns its rc (errno set).
  int ZerocopyReceiveCall(ZerocopyReceive* zc);
  Step ReadSkipHint(Segment* out, int* count, SysError* error);
  Step ReadCopyRemap(Segment* out, int* count, SysError* error);
  Step ReadSplice(Segment* out, int* count, SysError* error);
  Step ReadDiscard(Segment* out, int* count, SysError* error);
  bool MovePages(uint8_t* from, uint8_t* to, size_t bytes, bool socket_vma, SysError* error);
  // Replaces a socket-backed slot with private pages holding the same bytes.
  bool Privatize(const Segment& segment, SysError* error);
  // Page-aligned read-write anonymous memory for copy, destination or staging slots.
  PageRange MapBuffers(size_t bytes, SysError* error, size_t alignment = 0);  // 0: a page
  // A read-only VMA of the socket, 2 MiB aligned, for TCP_ZEROCOPY_RECEIVE.
  PageRange MapArena(size_t bytes, SysError* error);
  Step SocketEof(SysError* error);
  // What a receive syscall that returned n <= 0 (errno err) means: end, nothing yet, or an error.
  Step NoData(ssize_t n, int err, const char* syscall, const char* hint, SysError* error);
  // Nothing was delivered: is the stream over, or has it failed? (MSG_PEEK, no data consumed.)
  Step NothingQueued(SysError* error);
  // options.verify: checks a delivered segment against the pattern, counted in counters_.
  void Verify(Segment* segment);
  Segment Deliver(Pool pool, uint32_t slot, uint8_t* data, size_t length, size_t mapped);
  // Blocking loops, before a receive call that does not wait for SO_RCVLOWAT itself: waits unless
  // the last call left at least the low-water mark queued.
  void WaitForLowWater();
  // A receive call made (counted as a syscall too).
  void CountReceiveCall() {
    counters_.syscalls++;
    counters_.receive_calls++;
  }
  void CountPageCalls(uint64_t calls) {
    counters_.syscalls += calls;
    counters_.page_calls += calls;
  }

  int fd_;
  ReceiveOptions options_;
  ReceiveMode mode_;
  std::string fallback_reason_;
  ZerocopyAbi abi_ = ZerocopyAbi::kNone;
  size_t slot_bytes_ = 0;
  int recv_flags_ = 0;

  SlotPool copy_pool_, map_pool_, dest_pool_;
  PageRange staging_;
  std::vector<bool> map_slot_clean_;  // slot known empty: TLB_CLEAN_HINT is truthful
  DontUnmap dontunmap_ = DontUnmap::kFallback;  // kOff once this kind of VMA refused MREMAP_DONTUNMAP
  UniqueFd pipe_read_, pipe_write_;

  uint64_t offset_ = 0;         // stream offset of the next byte
  uint64_t pending_copy_ = 0;   // bytes the kernel said must be read by copy before the next mappable page
  int max_segments_ = 2;        // of the Read() in progress
  // A socket error the kernel handed over (zc.err, which clears it) in a call that also
  // delivered data: reported once the queued data is read.
  SysError pending_error_;
  bool eof_ = false;
  bool drained_ = false;       // non-blocking: the last read (nearly) emptied the queue
  uint64_t queued_ = 0;        // bytes the last receive call left queued, as far as it said (0: unknown)
  SysError deferred_error_;    // non-blocking fill: an error to report after the data before it
  SysError broken_;            // a buffer was lost to another mapping: every later read fails
  ReceiveCounters counters_;
};

}  // namespace pageflip

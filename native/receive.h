// Receive strategies: how stream bytes get from a TCP socket into memory the application reads.
// One engine serves both the chunk-by-chunk JS API (leases over slots) and the native loops.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "mapping.h"
#include "pattern.h"
#include "zerocopy.h"

namespace pageflip {

enum class ReceiveMode { kCopy, kZerocopy, kFlip, kCopyRemap, kSplice };
bool ParseReceiveMode(const std::string& name, ReceiveMode* mode);
const char* ReceiveModeName(ReceiveMode mode);

struct ReceiveOptions {
  ReceiveMode mode = ReceiveMode::kCopy;
  size_t chunk = 256 * 1024;   // bytes per read, rounded up to whole pages per slot
  size_t slots = 1;            // buffers that may be outstanding at once (leases; release batch in loops)
  // Zero-copy small-read buffer; 0 disables it. Off by default: when the queue holds no more
  // than copybuf bytes the kernel copies instead of mapping, which lowers the mapped share.
  size_t copybuf = 0;
  bool tlb_hint = true;        // pass TLB_CLEAN_HINT for slots known empty
  bool allow_fallback = false; // copy when zero-copy receive is unavailable (reported, never silent)
  bool zerocopy_unavailable = false;  // test switch: behave as if the kernel lacked TCP_ZEROCOPY_RECEIVE
  bool nonblocking = true;     // chunk API: never block; loops: block (SO_RCVTIMEO bounds it)
};

struct ReceiveCounters {
  uint64_t bytes = 0;     // stream bytes delivered
  uint64_t mapped = 0;    // of those, mapped from the kernel's pages (zerocopy, flip)
  uint64_t copied = 0;    // of those, copied by the CPU (recv, splice, skip-hint reads, copybuf)
  uint64_t remapped = 0;  // bytes of pages moved with mremap after arrival (flip, copy-remap)
  uint64_t syscalls = 0;
  uint64_t would_block = 0;
};

// SO_RCVLOWAT for a reader of `chunk`-byte reads: one page-rounded chunk, at most 256 KiB. The
// mark also clamps the window the kernel advertises (tcp_set_rcvlowat), so a larger one would
// leave the sender idle while the reader catches up.
int DefaultLowWater(size_t chunk);
// Sets SO_RCVLOWAT on fd to value, keeping the previous one in *saved to put back later;
// false with errno set when either call fails.
bool SwapLowWater(int fd, int value, int* saved);

enum class Pool : uint8_t { kCopy, kMap, kDest };

// Stream bytes sitting in one slot of one pool, owned by the caller until Release().
struct Segment {
  uint8_t* data = nullptr;
  size_t length = 0;
  size_t mapped = 0;
  size_t copied = 0;
  Pool pool = Pool::kCopy;
  uint32_t slot = 0;
  uint64_t offset = 0;  // stream offset of data[0]
};

enum class Step { kData, kWouldBlock, kNoSlot, kEof, kError };

// A contiguous range of equally sized slots with a free list.
class SlotPool {
 public:
  SlotPool() = default;
  SlotPool(uint8_t* base, size_t slot_bytes, size_t count);
  bool empty() const { return free_.empty(); }
  uint8_t* At(uint32_t slot) const { return base_ + size_t(slot) * slot_bytes_; }
  uint32_t Take();
  void Give(uint32_t slot) { free_.push_back(slot); }
  size_t slot_bytes() const { return slot_bytes_; }

 private:
  uint8_t* base_ = nullptr;
  size_t slot_bytes_ = 0;
  std::vector<uint32_t> free_;
};

class ReceiveEngine {
 public:
  // Builds the buffers for options.mode over a connected TCP socket (not owned). On failure
  // returns nullptr and fills error (a typed code in error_code when it is not an errno).
  static std::unique_ptr<ReceiveEngine> Create(int fd, const ReceiveOptions& options, SysError* error,
                                               std::string* error_code);
  ~ReceiveEngine();

  // One read step: appends 0-2 segments (mapped part, then copied part), never more than
  // max_segments (1 or 2; with 1 the copybuf, which may add a second segment, is not used).
  Step Read(Segment* out, int* count, SysError* error, int max_segments = 2);
  // Gives a segment's slot back (dropping mapped pages) so it can be reused.
  void Release(const Segment& segment);
  // Loops: gives a slot back without dropping its pages; the next receive (without the TLB
  // hint) or the next move onto it replaces them.
  void Recycle(const Segment& segment);
  // Drops the pages of several map-pool slots with one madvise (loops batch releases).
  void ReleaseMapRange(uint32_t first_slot, uint32_t slots);

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
  Layout layout() const { return {copy_area_.base, map_area_.base, dest_area_.base, staging_area_.base, slot_bytes_}; }

 private:
  ReceiveEngine(int fd, const ReceiveOptions& options);
  bool Setup(SysError* error, std::string* error_code);
  Step ReadCopy(Segment* out, int* count, SysError* error);
  Step ReadZerocopy(Segment* out, int* count, SysError* error);
  // One getsockopt(TCP_ZEROCOPY_RECEIVE) on *zc, counted as a syscall; returns its rc (errno set).
  int ZerocopyReceiveCall(ZerocopyReceive* zc);
  Step ReadSkipHint(Segment* out, int* count, SysError* error);
  Step ReadCopyRemap(Segment* out, int* count, SysError* error);
  Step ReadSplice(Segment* out, int* count, SysError* error);
  bool MovePages(uint8_t* from, uint8_t* to, size_t bytes, bool socket_vma, SysError* error);
  Step SocketEof(SysError* error);
  // What a receive syscall that returned n <= 0 (errno err) means: end, nothing yet, or an error.
  Step NoData(ssize_t n, int err, const char* syscall, const char* hint, SysError* error);
  // Nothing was delivered: is the stream over, or has it failed? (MSG_PEEK, no data consumed.)
  Step NothingQueued(SysError* error);
  Segment Deliver(Pool pool, uint32_t slot, uint8_t* data, size_t length, size_t mapped);

  int fd_;
  ReceiveOptions options_;
  ReceiveMode mode_;
  std::string fallback_reason_;
  ZerocopyAbi abi_ = ZerocopyAbi::kNone;
  size_t slot_bytes_ = 0;
  int recv_flags_ = 0;

  // Mappings owned by the engine (unmapped in the destructor).
  struct Area {
    uint8_t* base = nullptr;
    size_t bytes = 0;
  };
  Area copy_area_, map_area_, dest_area_, staging_area_;
  SlotPool copy_pool_, map_pool_, dest_pool_;
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
  SysError deferred_error_;    // non-blocking fill: an error to report after the data before it
  ReceiveCounters counters_;
};

}  // namespace pageflip

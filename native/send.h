// Send strategies: write(), MSG_ZEROCOPY with completions from the error queue, and
// vmsplice(SPLICE_F_GIFT) + splice. Used by the native send loop and Sender.send(region).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sys_error.h"
#include "fd.h"
#include "vocabulary.h"
#include "zerocopy_ledger.h"

namespace pageflip {


struct SendCounters {
  uint64_t bytes = 0;
  uint64_t syscalls = 0;
  uint64_t would_block = 0;
  uint64_t zerocopy_sends = 0;        // send() calls made with MSG_ZEROCOPY
  uint64_t completions = 0;           // of those, completed (pages released by the kernel)
  uint64_t completions_copied = 0;    // completed, but the kernel copied instead (SO_EE_CODE_ZEROCOPY_COPIED)
  uint64_t enobufs = 0;               // MSG_ZEROCOPY sends refused with ENOBUFS (optmem or pinned-page limit)
  uint64_t copied_sends = 0;          // sends made by copy instead, because ENOBUFS came with nothing in flight
  uint64_t copied_bytes = 0;          //   (allow_copy only) and the bytes they took
};

class SendEngine {
 public:
  // fd: connected TCP socket (not owned). chunk: max bytes per syscall. allow_copy: when
  // MSG_ZEROCOPY is refused with nothing in flight, send that chunk by copy (counted) instead of
  // failing with ENOBUFS.
  SendEngine(int fd, SendMode mode, size_t chunk, bool nonblocking, bool allow_copy = false);
  ~SendEngine();
  SendEngine(const SendEngine&) = delete;
  SendEngine& operator=(const SendEngine&) = delete;
  bool Setup(SysError* error);

  // Sends up to `length` bytes starting at `data`. Returns bytes accepted (> 0), 0 when the socket
  // would block, or -1 with error set. Zero-copy callers must keep [data, data+returned) unchanged
  // until Completed() covers it; splice callers must never modify gifted pages again.
  ssize_t Send(const uint8_t* data, size_t length, SysError* error);
  // Reads zero-copy completions; waits up to timeout_ms for at least one when wait is set and
  // some are outstanding. Never longer, whatever poll reports.
  bool Reap(int timeout_ms, bool wait, SysError* error);
  // Bytes handed to the kernel with MSG_ZEROCOPY whose completion has not arrived yet.
  uint64_t inflight_bytes() const { return ledger_.inflight_bytes(); }
  // Waits until every zero-copy send completed (or timeout); true when drained.
  bool Drain(int timeout_ms, SysError* error);
  const SendCounters& counters() const { return counters_; }

 private:
  ssize_t SendZerocopy(const uint8_t* data, size_t length, SysError* error);
  ssize_t SendSplice(const uint8_t* data, size_t length, SysError* error);
  ssize_t FlushPipe(SysError* error);

  int fd_;
  SendMode mode_;
  size_t chunk_;
  int flags_;
  bool allow_copy_;
  UniqueFd pipe_read_, pipe_write_;
  size_t in_pipe_ = 0;  // bytes gifted to the pipe but not yet spliced to the socket
  ZerocopyLedger ledger_;
  uint64_t cookie_ = 0;  // SO_COOKIE of the socket while this engine holds its notification ids
  SendCounters counters_;
};

}  // namespace pageflip

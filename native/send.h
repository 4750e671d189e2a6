// Send strategies: write(), MSG_ZEROCOPY with completions from the error queue, and
// vmsplice(SPLICE_F_GIFT) + splice. Used by the native send loop and Sender.send(region).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "errors.h"
#include "fd.h"

namespace pageflip {

enum class SendMode { kWrite, kZerocopy, kSplice };
bool ParseSendMode(const std::string& name, SendMode* mode);
const char* SendModeName(SendMode mode);

struct SendCounters {
  uint64_t bytes = 0;
  uint64_t syscalls = 0;
  uint64_t would_block = 0;
  uint64_t zerocopy_sends = 0;        // send() calls made with MSG_ZEROCOPY
  uint64_t completions = 0;           // of those, completed (pages released by the kernel)
  uint64_t completions_copied = 0;    // completed, but the kernel copied instead (SO_EE_CODE_ZEROCOPY_COPIED)
  uint64_t enobufs = 0;               // sends refused until completions were reaped (optmem limit)
};

class SendEngine {
 public:
  // fd: connected TCP socket (not owned). chunk: max bytes per syscall.
  SendEngine(int fd, SendMode mode, size_t chunk, bool nonblocking);
  bool Setup(SysError* error);

  // Sends up to `length` bytes starting at `data`. Returns bytes accepted (> 0), 0 when the socket
  // would block, or -1 with error set. Zero-copy callers must keep [data, data+returned) unchanged
  // until Completed() covers it; splice callers must never modify gifted pages again.
  ssize_t Send(const uint8_t* data, size_t length, SysError* error);
  // Reads zero-copy completions; waits up to timeout_ms for at least one when wait is set.
  bool Reap(int timeout_ms, bool wait, SysError* error);
  // Bytes handed to the kernel with MSG_ZEROCOPY whose completion has not arrived yet.
  uint64_t inflight_bytes() const { return inflight_bytes_; }
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
  UniqueFd pipe_read_, pipe_write_;
  size_t in_pipe_ = 0;  // bytes gifted to the pipe but not yet spliced to the socket
  // MSG_ZEROCOPY bookkeeping: notification id of each in-flight send and its size.
  struct Inflight {
    uint32_t id;
    size_t bytes;
  };
  std::deque<Inflight> inflight_;
  uint32_t next_id_ = 0;
  uint64_t inflight_bytes_ = 0;
  SendCounters counters_;
};

}  // namespace pageflip

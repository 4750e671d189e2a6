#include "send.h"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <unordered_map>

#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

namespace pageflip {

namespace {
int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void SleepMs(int64_t ms) {
  timespec ts{time_t(ms / 1000), long(ms % 1000) * 1000000};
  nanosleep(&ts, nullptr);
}

// How often Reap looks at the error queue when poll cannot wait for it (see there).
constexpr int64_t kRecheckMs = 10;

// MSG_ZEROCOPY notification ids belong to the socket, not to one engine: a second Sender or loop
// on the same connection continues where the last one stopped. So the next id of each socket
// (named by its SO_COOKIE, never reused) is kept for the process. Only one engine at a time
// may send with MSG_ZEROCOPY on a socket: engines share its one error queue.
struct SocketIds {
  uint32_t next_id = 0;
  bool in_use = false;
};
std::mutex ids_mutex;
std::unordered_map<uint64_t, SocketIds> socket_ids;
}  // namespace

SendEngine::SendEngine(int fd, SendMode mode, size_t chunk, bool nonblocking, bool allow_copy)
    : fd_(fd), mode_(mode), chunk_(chunk), flags_(MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0)), allow_copy_(allow_copy) {}

SendEngine::~SendEngine() {
  if (!cookie_) return;
  std::lock_guard<std::mutex> lock(ids_mutex);
  SocketIds& ids = socket_ids[cookie_];
  ids.next_id = ledger_.next_id();
  ids.in_use = false;
}

bool SendEngine::Setup(SysError* error) {
  if (mode_ == SendMode::kZerocopy) {
    int one = 1;
    if (setsockopt(fd_, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
      *error = {errno, "setsockopt", "SO_ZEROCOPY (MSG_ZEROCOPY needs Linux 4.14+)"};
      return false;
    }
    uint64_t cookie = 0;
    socklen_t length = sizeof(cookie);
    if (getsockopt(fd_, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0) {
      *error = {errno, "getsockopt", "SO_COOKIE (naming the socket's MSG_ZEROCOPY notifications)"};
      return false;
    }
    std::lock_guard<std::mutex> lock(ids_mutex);
    SocketIds& ids = socket_ids[cookie];
    if (ids.in_use) {
      *error = {EBUSY, "send", "another MSG_ZEROCOPY send is running on this connection (they would share one completion queue)"};
      return false;
    }
    ids.in_use = true;
    cookie_ = cookie;
    ledger_ = ZerocopyLedger(ids.next_id);
  }
  if (mode_ == SendMode::kSplice) {
    if (int err = OpenPipe(O_CLOEXEC, chunk_, &pipe_read_, &pipe_write_)) {
      *error = {err, "pipe2", ""};
      return false;
    }
  }
  return true;
}

ssize_t SendEngine::Send(const uint8_t* data, size_t length, SysError* error) {
  length = std::min(length, chunk_);
  if (mode_ == SendMode::kZerocopy) return SendZerocopy(data, length, error);
  if (mode_ == SendMode::kSplice) return SendSplice(data, length, error);
  ssize_t n = send(fd_, data, length, flags_);
  counters_.syscalls++;
  if (n >= 0) {
    counters_.bytes += static_cast<uint64_t>(n);
    return n;
  }
  if (WouldBlock(errno)) {
    counters_.would_block++;
    return 0;
  }
  *error = {errno, "send", ""};
  return -1;
}

ssize_t SendEngine::SendZerocopy(const uint8_t* data, size_t length, SysError* error) {
  ssize_t n = send(fd_, data, length, flags_ | MSG_ZEROCOPY);
  counters_.syscalls++;
  if (n > 0) {
    ledger_.Sent(static_cast<size_t>(n));
    counters_.zerocopy_sends++;
    counters_.bytes += static_cast<uint64_t>(n);
    return n;
  }
  int err = n == 0 ? EAGAIN : errno;
  if (err == ENOBUFS) {
    counters_.enobufs++;
    // Too much outstanding (optmem, pinned pages): completions make room. The caller retries
    // (and looks at its stop flag and deadline meanwhile).
    if (!ledger_.empty()) return Reap(100, /*wait=*/true, error) ? 0 : -1;
    // Refused with nothing in flight: waiting frees nothing, so copy or fail.
    if (!allow_copy_) {
      *error = {ENOBUFS, "send",
                "MSG_ZEROCOPY refused with nothing in flight: the pages it pins count against RLIMIT_MEMLOCK "
                "(ulimit -l) in a process without CAP_IPC_LOCK; raise the limit, use a smaller chunkSize, or "
                "pass allowFallback to send by copy (counted in copiedSends)"};
      return -1;
    }
    n = send(fd_, data, length, flags_);
    counters_.syscalls++;
    if (n > 0) {
      counters_.copied_sends++;
      counters_.copied_bytes += static_cast<uint64_t>(n);
      counters_.bytes += static_cast<uint64_t>(n);
      return n;
    }
    err = n == 0 ? EAGAIN : errno;
  }
  if (WouldBlock(err)) {
    counters_.would_block++;
    Reap(0, false, error);  // completions also free socket memory
    return 0;
  }
  *error = {err, "send", "MSG_ZEROCOPY"};
  return -1;
}

bool SendEngine::Reap(int timeout_ms, bool wait, SysError* error) {
  if (mode_ != SendMode::kZerocopy) return true;
  if (wait && ledger_.empty()) return true;
  const int64_t deadline = NowMs() + timeout_ms;
  bool woken = false;  // the last poll returned at once
  for (bool got_one = false;;) {
    char control[128];
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t rc = recvmsg(fd_, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    counters_.syscalls++;
    if (rc < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *error = {errno, "recvmsg", "reading MSG_ZEROCOPY completions (MSG_ERRQUEUE)"};
        return false;
      }
      if (!wait || got_one || ledger_.empty()) return true;
      int64_t left = deadline - NowMs();
      if (left <= 0) return true;  // timed out; caller decides
      if (woken) {
        // poll woke us, yet the queue is empty: POLLHUP (shut down both ways) or a pending socket
        // error, which poll reports at once whatever we ask for. It cannot wait for completions
        // any more, so look again after a short sleep instead of spinning.
        SleepMs(std::min(left, kRecheckMs));
        woken = false;
        continue;
      }
      // The error queue signals POLLERR; poll reports it whatever events we ask for.
      int revents = PollOne(fd_, 0, static_cast<int>(left));
      counters_.syscalls++;
      if (revents < 0) {
        *error = {-revents, "poll", ""};
        return false;
      }
      if (revents == 0) return true;  // timed out; caller decides
      woken = true;
      continue;
    }
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      bool recverr = (cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                     (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR);
      if (!recverr) continue;
      auto* serr = reinterpret_cast<sock_extended_err*>(CMSG_DATA(cm));
      if (serr->ee_origin != SO_EE_ORIGIN_ZEROCOPY) {
        if (serr->ee_errno) {
          *error = {static_cast<int>(serr->ee_errno), "send", "reported on the error queue"};
          return false;
        }
        continue;
      }
      uint64_t completed = ledger_.Complete(serr->ee_info, serr->ee_data);
      counters_.completions += completed;
      if (serr->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) counters_.completions_copied += completed;
      got_one = true;
      woken = false;
    }
  }
}

bool SendEngine::Drain(int timeout_ms, SysError* error) {
  int64_t deadline = NowMs() + timeout_ms;
  while (in_pipe_ > 0) {
    ssize_t flushed = FlushPipe(error);
    if (flushed < 0) return false;
    if (flushed == 0 && (NowMs() >= deadline || PollOne(fd_, POLLOUT, 100) < 0)) return false;
  }
  while (!ledger_.empty()) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    if (!Reap(static_cast<int>(std::min<int64_t>(left, 100)), true, error)) return false;
  }
  return true;
}

ssize_t SendEngine::FlushPipe(SysError* error) {
  while (in_pipe_ > 0) {
    ssize_t n = splice(pipe_read_.get(), nullptr, fd_, nullptr, in_pipe_,
                       SPLICE_F_MOVE | SPLICE_F_MORE | ((flags_ & MSG_DONTWAIT) ? SPLICE_F_NONBLOCK : 0));
    counters_.syscalls++;
    if (n > 0) {
      in_pipe_ -= static_cast<size_t>(n);
      continue;
    }
    int err = n == 0 ? EPIPE : errno;
    if (WouldBlock(err)) {
      counters_.would_block++;
      return 0;
    }
    *error = {err, "splice", "pipe to socket"};
    return -1;
  }
  return 1;
}

ssize_t SendEngine::SendSplice(const uint8_t* data, size_t length, SysError* error) {
  // Finish what is already gifted before gifting more, so offsets stay page aligned.
  ssize_t flushed = FlushPipe(error);
  if (flushed <= 0) return flushed;
  iovec iov{const_cast<uint8_t*>(data), length};
  ssize_t n = vmsplice(pipe_write_.get(), &iov, 1, SPLICE_F_GIFT);
  counters_.syscalls++;
  if (n <= 0) {
    if (n < 0 && WouldBlock(errno)) return 0;
    *error = {n == 0 ? EPIPE : errno, "vmsplice", "gifting pages to the pipe"};
    return -1;
  }
  in_pipe_ = static_cast<size_t>(n);
  counters_.bytes += static_cast<uint64_t>(n);
  if (FlushPipe(error) < 0) return -1;
  return n;
}

}  // namespace pageflip

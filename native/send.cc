#include "send.h"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <cerrno>

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
}  // namespace

bool ParseSendMode(const std::string& name, SendMode* mode) {
  if (name == "write") *mode = SendMode::kWrite;
  else if (name == "zerocopy") *mode = SendMode::kZerocopy;
  else if (name == "splice") *mode = SendMode::kSplice;
  else return false;
  return true;
}

const char* SendModeName(SendMode mode) {
  switch (mode) {
    case SendMode::kWrite: return "write";
    case SendMode::kZerocopy: return "zerocopy";
    case SendMode::kSplice: return "splice";
  }
  return "?";
}

SendEngine::SendEngine(int fd, SendMode mode, size_t chunk, bool nonblocking)
    : fd_(fd), mode_(mode), chunk_(chunk), flags_(MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0)) {}

bool SendEngine::Setup(SysError* error) {
  if (mode_ == SendMode::kZerocopy) {
    int one = 1;
    if (setsockopt(fd_, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
      *error = {errno, "setsockopt", "SO_ZEROCOPY (MSG_ZEROCOPY needs Linux 4.14+)"};
      return false;
    }
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
  for (;;) {
    ssize_t n = send(fd_, data, length, flags_ | MSG_ZEROCOPY);
    counters_.syscalls++;
    if (n > 0) {
      // Every successful MSG_ZEROCOPY send consumes one notification id, in order.
      inflight_.push_back({next_id_++, static_cast<size_t>(n)});
      inflight_bytes_ += static_cast<uint64_t>(n);
      counters_.zerocopy_sends++;
      counters_.bytes += static_cast<uint64_t>(n);
      return n;
    }
    int err = n == 0 ? EAGAIN : errno;
    if (err == ENOBUFS) {
      // Too many notifications outstanding (optmem_max): reap some, then try again.
      counters_.enobufs++;
      if (!Reap(100, /*wait=*/true, error)) return -1;
      continue;
    }
    if (WouldBlock(err)) {
      counters_.would_block++;
      Reap(0, false, error);  // completions also free socket memory
      return 0;
    }
    *error = {err, "send", "MSG_ZEROCOPY"};
    return -1;
  }
}

bool SendEngine::Reap(int timeout_ms, bool wait, SysError* error) {
  if (mode_ != SendMode::kZerocopy) return true;
  if (wait && inflight_.empty()) return true;
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
      if (!wait || got_one) return true;
      // The error queue signals POLLERR; poll reports it whatever events we ask for.
      int revents = PollOne(fd_, 0, timeout_ms);
      counters_.syscalls++;
      if (revents < 0) {
        *error = {-revents, "poll", ""};
        return false;
      }
      if (revents == 0) return true;  // timed out; caller decides
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
      // Completions are ranges [ee_info, ee_data] of notification ids; TCP completes in order.
      uint32_t last = serr->ee_data;
      uint64_t range = uint64_t(serr->ee_data - serr->ee_info) + 1;
      counters_.completions += range;
      if (serr->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) counters_.completions_copied += range;
      while (!inflight_.empty() && int32_t(inflight_.front().id - last) <= 0) {
        inflight_bytes_ -= inflight_.front().bytes;
        inflight_.pop_front();
      }
      got_one = true;
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
  while (!inflight_.empty()) {
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

// Owning file descriptor (closes on scope exit) and poll helpers shared by the socket code.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace pageflip {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// True for the errors that mean "nothing to do right now, try again": EAGAIN/EWOULDBLOCK, or EINTR.
inline bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// A pipe with `flags` (pipe2) that should hold `capacity` bytes; when the kernel refuses that
// size (above pipe-max-size without privilege) it asks for 1 MiB, and failing that keeps the
// default. Returns 0 or the errno of pipe2.
inline int OpenPipe(int flags, size_t capacity, UniqueFd* read_end, UniqueFd* write_end) {
  int pipes[2];
  if (pipe2(pipes, flags) != 0) return errno;
  read_end->reset(pipes[0]);
  write_end->reset(pipes[1]);
  if (fcntl(pipes[1], F_SETPIPE_SZ, static_cast<int>(capacity)) < 0) fcntl(pipes[1], F_SETPIPE_SZ, 1 << 20);
  return 0;
}

// Waits up to timeout_ms for events on fd. Returns revents (0 on timeout) or -errno.
inline int PollOne(int fd, short events, int timeout_ms) {
  struct pollfd p {fd, events, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  return n == 0 ? 0 : p.revents;
}

}  // namespace pageflip

// Owning file descriptor (closes on scope exit) and poll helpers shared by the socket code.
#pragma once
#include <poll.h>
#include <unistd.h>

#include <cerrno>
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

// Waits up to timeout_ms for events on fd. Returns revents (0 on timeout) or -errno.
inline int PollOne(int fd, short events, int timeout_ms) {
  struct pollfd p {fd, events, 0};
  int n = poll(&p, 1, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  return n == 0 ? 0 : p.revents;
}

}  // namespace pageflip

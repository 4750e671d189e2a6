// What the receive and send paths require of a caller's TCP socket, and what loops on one socket
// share: the open file description (O_NONBLOCK) and per-direction socket options.
#pragma once
#include <sys/types.h>

namespace pageflip {

// 0 when fd is a TCP stream socket that is connected, or was (a reset or FIN since then is
// reported by the first read, after the bytes that came before it). Otherwise ENOTSOCK (not a
// socket), EPROTOTYPE (a socket of another kind: UDP, Unix, ...) or ENOTCONN (listening,
// connecting or never connected), or the errno of a query that failed (EBADF).
int CheckTcpConnection(int fd);

// A native loop's hold on one direction of a socket. Two receive loops (or two send loops) on one
// socket would save and restore SO_RCVLOWAT / SO_*TIMEO over each other, so the second is refused;
// loops of both directions share the blocking switch, which the last one puts back.
class LoopClaim {
 public:
  enum class Direction { kReceive, kSend };
  LoopClaim() = default;
  ~LoopClaim() { Release(); }
  LoopClaim(const LoopClaim&) = delete;
  LoopClaim& operator=(const LoopClaim&) = delete;

  // Claims `direction` of the socket fd names (the open file description stays shared with the
  // caller's descriptor). Returns 0, EBUSY when another loop holds that direction, or an errno.
  int Take(int fd, Direction direction);
  // Clears O_NONBLOCK on the socket while any claim on it wants blocking I/O; the last claim to
  // leave puts the flags back as the first one found them. Returns 0 or an errno.
  int EnterBlocking();
  void LeaveBlocking();
  // Leaves blocking mode if needed and gives the direction back. Idempotent.
  void Release();

 private:
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t inode_ = 0;
  Direction direction_ = Direction::kReceive;
  bool held_ = false;
  bool blocking_ = false;
};

}  // namespace pageflip

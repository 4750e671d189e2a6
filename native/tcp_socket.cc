#include "tcp_socket.h"

#include <fcntl.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_segs_in (glibc's lacks it)
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <utility>

namespace pageflip {

namespace {
constexpr int kTcpClose = 7;  // tcpi_state TCP_CLOSE (include/net/tcp_states.h; a stable ABI value)
}  // namespace

int CheckTcpConnection(int fd) {
  int type = 0, protocol = 0;
  socklen_t length = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return errno;  // ENOTSOCK, EBADF
  length = sizeof(protocol);
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0) return errno;
  if (type != SOCK_STREAM || protocol != IPPROTO_TCP) return EPROTOTYPE;
  sockaddr_storage peer{};
  length = sizeof(peer);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0) return 0;
  if (errno != ENOTCONN) return errno;
  // getpeername says ENOTCONN for a socket the peer reset or that finished closing, too; those
  // are closed (TCP_CLOSE) but received segments, unlike a socket that never connected.
  tcp_info info{};
  length = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return errno;
  bool was_connected = info.tcpi_state == kTcpClose && length >= offsetof(tcp_info, tcpi_segs_in) + sizeof(info.tcpi_segs_in) &&
                       info.tcpi_segs_in > 0;
  return was_connected ? 0 : ENOTCONN;
}

namespace {

struct SocketState {
  bool receive = false, send = false;
  int blocking = 0;         // claims that cleared O_NONBLOCK
  int saved_flags = 0;      // the file status flags before the first of them
};

std::mutex registry_mutex;
std::map<std::pair<dev_t, ino_t>, SocketState> registry;  // claimed sockets only

}  // namespace

int LoopClaim::Take(int fd, Direction direction) {
  Release();
  struct stat st {};
  if (fstat(fd, &st) != 0) return errno;
  std::lock_guard<std::mutex> lock(registry_mutex);
  SocketState& state = registry[{st.st_dev, st.st_ino}];
  bool& mine = direction == Direction::kReceive ? state.receive : state.send;
  if (mine) return EBUSY;
  mine = true;
  fd_ = fd;
  dev_ = st.st_dev;
  inode_ = st.st_ino;
  direction_ = direction;
  held_ = true;
  return 0;
}

int LoopClaim::EnterBlocking() {
  if (!held_ || blocking_) return 0;
  std::lock_guard<std::mutex> lock(registry_mutex);
  SocketState& state = registry[{dev_, inode_}];
  if (state.blocking == 0) {
    int flags = fcntl(fd_, F_GETFL);
    if (flags < 0 || fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) return errno;
    state.saved_flags = flags;
  }
  state.blocking++;
  blocking_ = true;
  return 0;
}

void LoopClaim::LeaveBlocking() {
  if (!held_ || !blocking_) return;
  std::lock_guard<std::mutex> lock(registry_mutex);
  SocketState& state = registry[{dev_, inode_}];
  if (--state.blocking == 0) fcntl(fd_, F_SETFL, state.saved_flags);
  blocking_ = false;
}

void LoopClaim::Release() {
  if (!held_) return;
  LeaveBlocking();
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find({dev_, inode_});
  if (it != registry.end()) {
    (direction_ == Direction::kReceive ? it->second.receive : it->second.send) = false;
    if (!it->second.receive && !it->second.send) registry.erase(it);
  }
  held_ = false;
}

}  // namespace pageflip

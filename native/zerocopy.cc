#include "zerocopy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include "fd.h"

namespace pageflip {

ZerocopyAbi AbiFromOptlen(unsigned optlen) {
  if (optlen >= 64) return ZerocopyAbi::k5_12;
  if (optlen >= 40) return ZerocopyAbi::k5_11;
  if (optlen >= 24) return ZerocopyAbi::k5_7;
  if (optlen >= 16) return ZerocopyAbi::k4_18;
  return ZerocopyAbi::kNone;
}

const char* AbiName(ZerocopyAbi abi) {
  switch (abi) {
    case ZerocopyAbi::k4_18: return "4.18";
    case ZerocopyAbi::k5_7: return "5.7";
    case ZerocopyAbi::k5_11: return "5.11";
    case ZerocopyAbi::k5_12: return "5.12";
    default: return "none";
  }
}

namespace {

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// A connected loopback TCP pair in the calling thread's network namespace.
bool LoopbackPair(UniqueFd* client, UniqueFd* server, std::string* why) {
  UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (!listener || bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener.get(), 1) != 0 || getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    *why = Errno("could not listen on 127.0.0.1 for the probe");
    return false;
  }
  client->reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!*client || connect(client->get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    *why = Errno("could not connect over loopback for the probe (is lo up?)");
    return false;
  }
  server->reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!*server) {
    *why = Errno("accept");
    return false;
  }
  return true;
}

}  // namespace

// The struct generation the kernel speaks, asked with an empty queue (nothing is mapped and no
// VMA is needed). kNone with errno set when the kernel refuses every size.
ZerocopyAbi AskZerocopyAbi(int fd) {
  auto ask = [fd](ZerocopyReceive* zc, socklen_t* optlen) { return getsockopt(fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, zc, optlen); };
  ZerocopyReceive zc{};
  socklen_t optlen = sizeof(zc);
  if (ask(&zc, &optlen) != 0) {
    if (errno != EINVAL) return ZerocopyAbi::kNone;
    // 4.18 to 5.6 accept their own 16-byte struct only (len != sizeof(zc) is EINVAL).
    zc = ZerocopyReceive{};
    optlen = static_cast<socklen_t>(ZerocopyAbi::k4_18);
    return ask(&zc, &optlen) == 0 ? ZerocopyAbi::k4_18 : ZerocopyAbi::kNone;
  }
  if (optlen < sizeof(zc)) return AbiFromOptlen(optlen);
  // optlen came back unchanged: a 5.12+ kernel, or a 5.7-5.10 one from before the optlen
  // write-back fix, which silently used a 24-byte prefix. Only the first refuses reserved != 0.
  zc = ZerocopyReceive{};
  zc.reserved = 1;
  optlen = sizeof(zc);
  return ask(&zc, &optlen) == 0 ? ZerocopyAbi::k5_7 : ZerocopyAbi::k5_12;
}

ZerocopyProbe ProbeZerocopyReceive(bool simulate_missing) {
  if (simulate_missing) return {false, ZerocopyAbi::kNone, "TCP_ZEROCOPY_RECEIVE disabled by the test switch"};
  static std::mutex mutex;
  static std::optional<ZerocopyProbe> answer;  // the kernel's answer, once there is one
  std::lock_guard<std::mutex> lock(mutex);
  if (answer) return *answer;
  ZerocopyProbe result;
  UniqueFd client, server;
  if (!LoopbackPair(&client, &server, &result.reason)) return result;  // the environment's failure: ask again next time
  result.abi = AskZerocopyAbi(server.get());
  if (result.abi == ZerocopyAbi::kNone) {
    int err = errno;
    result.reason = std::string("getsockopt(TCP_ZEROCOPY_RECEIVE) failed: ") + std::strerror(err) + " (needs Linux 4.18+)";
    // Only "no such option" is the kernel's final word; anything else may pass.
    if (err == ENOPROTOOPT || err == EOPNOTSUPP) answer = result;
    return result;
  }
  result.supported = true;
  result.reason = std::string("TCP_ZEROCOPY_RECEIVE works; struct ABI ") + AbiName(result.abi) + " (" +
                  std::to_string(static_cast<int>(result.abi)) + "-byte struct)";
  answer = result;
  return result;
}

const SimpleProbe& ProbeMsgZerocopy() {
  static const SimpleProbe probe = [] {
    SimpleProbe result;
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (!fd || setsockopt(fd.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
      result.reason = Errno("setsockopt(SO_ZEROCOPY) failed (needs Linux 4.14+)");
      return result;
    }
    result.supported = true;
    result.reason = "SO_ZEROCOPY accepted; completions are read from the error queue";
    return result;
  }();
  return probe;
}

const SimpleProbe& ProbeSplice() {
  static const SimpleProbe probe = [] {
    SimpleProbe result;
    int pipes[2];
    if (pipe2(pipes, O_CLOEXEC | O_NONBLOCK) != 0) {
      result.reason = Errno("pipe2");
      return result;
    }
    UniqueFd read_end(pipes[0]), write_end(pipes[1]);
    char byte = 'x';
    char back = 0;
    iovec out{&byte, 1}, in{&back, 1};
    if (vmsplice(write_end.get(), &out, 1, 0) != 1 || vmsplice(read_end.get(), &in, 1, 0) != 1 || back != 'x') {
      result.reason = Errno("vmsplice");
      return result;
    }
    result.supported = true;
    result.reason = "vmsplice/splice work (vmsplice to user memory is a copy on every kernel)";
    return result;
  }();
  return probe;
}

}  // namespace pageflip

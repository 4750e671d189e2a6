#include "netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "fd.h"
#include "vocabulary.h"

namespace pageflip {

namespace {
int OpenCurrentNetns() { return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC); }
}  // namespace

Napi::Value NetnsCurrent(const Napi::CallbackInfo& info) {
  int fd = OpenCurrentNetns();
  if (fd < 0) ThrowErrno(info.Env(), errno, "open", "reading /proc/thread-self/ns/net");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UniqueFd original(OpenCurrentNetns());
  if (!original) ThrowErrno(env, errno, "open", "reading /proc/thread-self/ns/net");
  if (unshare(CLONE_NEWNET) != 0)
    ThrowErrno(env, errno, "unshare", "creating a network namespace needs root (CAP_SYS_ADMIN)");
  int created = OpenCurrentNetns();
  int open_err = errno;
  // Always go back, even when opening the new namespace failed.
  if (setns(original.get(), CLONE_NEWNET) != 0) {
    int err = errno;
    if (created >= 0) close(created);
    ThrowErrno(env, err, "setns", "could not return to the original network namespace");
  }
  if (created < 0) ThrowErrno(env, open_err, "open", "opening the new network namespace");
  return Napi::Number::New(env, created);
}

Napi::Value NetnsEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  if (setns(fd, CLONE_NEWNET) != 0) ThrowErrno(env, errno, "setns", "entering a network namespace");
  return env.Undefined();
}

Napi::Value LinkConfigure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ToString(env, info[0], "ifname");
  if (name.empty() || name.size() >= IFNAMSIZ) ThrowRangeError(env, "ifname must be 1-15 characters");
  Napi::Object options = ToObjectOrEmpty(env, info[1], "options");
  bool up = ToBoolOr(env, options.Get("up"), "options.up", false);
  uint64_t mtu = ToUintOr(env, options.Get("mtu"), "options.mtu", 0, kMinLinkMtu, kMaxLinkMtu);

  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) ThrowErrno(env, errno, "socket");
  struct ifreq request {};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  if (mtu) {
    request.ifr_mtu = static_cast<int>(mtu);
    if (ioctl(sock.get(), SIOCSIFMTU, &request) != 0)
      ThrowErrno(env, errno, "ioctl", "setting the MTU of " + name + " (SIOCSIFMTU)");
  }
  if (up) {
    if (ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) ThrowErrno(env, errno, "ioctl", "reading flags of " + name);
    request.ifr_flags |= IFF_UP;
    if (ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) ThrowErrno(env, errno, "ioctl", "bringing " + name + " up");
  }
  return env.Undefined();
}

}  // namespace pageflip

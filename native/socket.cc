#include "socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "args.h"
#include "errors.h"
#include "fd.h"

namespace pageflip {

namespace {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Address ParseAddress(Napi::Env env, Napi::Value host_value, Napi::Value port_value) {
  std::string host = ToString(env, host_value, "host");
  uint16_t port = static_cast<uint16_t>(ToInt(env, port_value, "port", 0, 65535));
  Address address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address.length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address.length = sizeof(*v6);
    address.family = AF_INET6;
  } else {
    throw CodedTypeError(env, "ERR_PAGEFLIP_INVALID_ADDRESS", "host must be an IPv4 or IPv6 address literal, got '" + host + "'");
  }
  return address;
}

void SetInt(Napi::Env env, int fd, int level, int option, int value, const char* what) {
  if (setsockopt(fd, level, option, &value, sizeof(value)) != 0) ThrowErrno(env, errno, "setsockopt", what);
}

int GetInt(int fd, int level, int option) {
  int value = -1;
  socklen_t length = sizeof(value);
  return getsockopt(fd, level, option, &value, &length) == 0 ? value : -1;
}

}  // namespace

Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address address = ParseAddress(env, info[0], info[1]);
  int backlog = static_cast<int>(ToInt(env, info[2].IsUndefined() ? Napi::Number::New(env, 16) : info[2], "backlog", 1, 65535));
  UniqueFd fd(socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) ThrowErrno(env, errno, "socket");
  SetInt(env, fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address.storage), address.length) != 0)
    ThrowErrno(env, errno, "bind", "is the address configured and the port free?");
  if (listen(fd.get(), backlog) != 0) ThrowErrno(env, errno, "listen");
  return Napi::Number::New(env, fd.release());
}

Napi::Value TcpAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = accept4(FdArg(env, info[0]), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (WouldBlock(errno)) return env.Null();
    ThrowErrno(env, errno, "accept4");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value TcpConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Address address = ParseAddress(env, info[0], info[1]);
  Napi::Object options = ToObjectOrEmpty(env, info[2], "options");
  uint64_t mss = ToUintOr(env, options.Get("mss"), "options.mss", 0, 0, 65535);
  UniqueFd fd(socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) ThrowErrno(env, errno, "socket");
  // The MSS must be clamped before the handshake to take effect on both directions' segments.
  if (mss) SetInt(env, fd.get(), IPPROTO_TCP, TCP_MAXSEG, static_cast<int>(mss), "TCP_MAXSEG");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address.storage), address.length) != 0 && errno != EINPROGRESS)
    ThrowErrno(env, errno, "connect");
  return Napi::Number::New(env, fd.release());
}

Napi::Value SocketError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  int err = 0;
  socklen_t length = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) ThrowErrno(env, errno, "getsockopt", "SO_ERROR");
  if (err) ThrowErrno(env, err, "connect");
  return env.Undefined();
}

Napi::Value SocketAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  bool peer = ToBoolOr(env, info[1], "peer", false);
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  auto* sa = reinterpret_cast<sockaddr*>(&storage);
  if ((peer ? getpeername(fd, sa, &length) : getsockname(fd, sa, &length)) != 0)
    ThrowErrno(env, errno, peer ? "getpeername" : "getsockname");
  char text[INET6_ADDRSTRLEN] = {0};
  Napi::Object result = Napi::Object::New(env);
  if (storage.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    result.Set("port", ntohs(v6->sin6_port));
    result.Set("family", "IPv6");
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    result.Set("port", ntohs(v4->sin_port));
    result.Set("family", "IPv4");
  }
  result.Set("address", text);
  return result;
}

Napi::Value SetSocketOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  Napi::Object options = ToObjectOrEmpty(env, info[1], "options");
  Napi::Value value;
  if (!(value = options.Get("rcvbuf")).IsUndefined())
    SetInt(env, fd, SOL_SOCKET, SO_RCVBUF, static_cast<int>(ToUint(env, value, "options.rcvbuf", 1, INT32_MAX / 2)), "SO_RCVBUF");
  if (!(value = options.Get("sndbuf")).IsUndefined())
    SetInt(env, fd, SOL_SOCKET, SO_SNDBUF, static_cast<int>(ToUint(env, value, "options.sndbuf", 1, INT32_MAX / 2)), "SO_SNDBUF");
  if (!(value = options.Get("rcvlowat")).IsUndefined())
    SetInt(env, fd, SOL_SOCKET, SO_RCVLOWAT, static_cast<int>(ToUint(env, value, "options.rcvlowat", 1, INT32_MAX)), "SO_RCVLOWAT");
  if (!(value = options.Get("noDelay")).IsUndefined())
    SetInt(env, fd, IPPROTO_TCP, TCP_NODELAY, ToBoolOr(env, value, "options.noDelay", false), "TCP_NODELAY");
  if (!(value = options.Get("zerocopy")).IsUndefined())
    SetInt(env, fd, SOL_SOCKET, SO_ZEROCOPY, ToBoolOr(env, value, "options.zerocopy", false), "SO_ZEROCOPY");
  if (!(value = options.Get("linger0")).IsUndefined() && ToBoolOr(env, value, "options.linger0", false)) {
    // Closing with a zero linger sends RST: used to inject peer resets in tests.
    struct linger linger {1, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)) != 0) ThrowErrno(env, errno, "setsockopt", "SO_LINGER");
  }
  return env.Undefined();
}

Napi::Value SocketInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  int type = GetInt(fd, SOL_SOCKET, SO_TYPE);
  if (type < 0) ThrowErrno(env, errno, "getsockopt", "fd is not a socket");
  Napi::Object result = Napi::Object::New(env);
  result.Set("stream", type == SOCK_STREAM);
  result.Set("mss", GetInt(fd, IPPROTO_TCP, TCP_MAXSEG));
  result.Set("rcvbuf", GetInt(fd, SOL_SOCKET, SO_RCVBUF));
  result.Set("sndbuf", GetInt(fd, SOL_SOCKET, SO_SNDBUF));
  result.Set("zerocopy", GetInt(fd, SOL_SOCKET, SO_ZEROCOPY) == 1);
  result.Set("rcvlowat", GetInt(fd, SOL_SOCKET, SO_RCVLOWAT));
  result.Set("inq", GetInt(fd, IPPROTO_TCP, TCP_INQ) == 1);
  int queued = 0;
  result.Set("receiveQueue", ioctl(fd, SIOCINQ, &queued) == 0 ? queued : -1);
  result.Set("sendQueue", ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : -1);
  int flags = fcntl(fd, F_GETFL);
  result.Set("nonBlocking", flags >= 0 && (flags & O_NONBLOCK) != 0);
  return result;
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (close(FdArg(env, info[0])) != 0 && errno != EINTR) ThrowErrno(env, errno, "close");
  return env.Undefined();
}

Napi::Value ShutdownFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  std::string how = ToString(env, info[1], "how");
  int mode = how == "read" ? SHUT_RD : how == "write" ? SHUT_WR : how == "both" ? SHUT_RDWR : -1;
  if (mode < 0) ThrowRangeError(env, "how must be 'read', 'write' or 'both'");
  if (shutdown(fd, mode) != 0 && errno != ENOTCONN) ThrowErrno(env, errno, "shutdown");
  return env.Undefined();
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UniqueFd fd = DupFdOrThrow(env, FdArg(env, info[0]), "F_DUPFD_CLOEXEC");
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) ThrowErrno(env, errno, "fcntl", "O_NONBLOCK");
  return Napi::Number::New(env, fd.release());
}

// ---- FdWatcher ----

// The uv handles of one watcher and the duplicate descriptor they poll. Closed by the watcher
// (close(), or its destructor) or, when the environment ends first (a worker exits), by an async
// cleanup hook: libuv must run the close callbacks, which live in this addon, before the
// environment and the addon are gone; the hook holds the teardown until they have run.
struct FdWatcher::Handles {
  uv_poll_t poll;
  uv_timer_t timer;
  UniqueFd fd;
  FdWatcher* owner = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  int open = 0;  // handles whose close callback has not run yet
  bool closing = false;

  void Close() {
    if (closing) return;
    closing = true;
    if (owner) owner->handles_ = nullptr;
    owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), &Handles::OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), &Handles::OnClosed);
    fd.reset();  // closing the poll handle took it out of the loop's epoll set
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<Handles*>(handle->data);
    if (--self->open > 0) return;
    if (self->hook) napi_remove_async_cleanup_hook(self->hook);  // lets a waiting teardown go on
    delete self;
  }

  static void OnTeardown(napi_async_cleanup_hook_handle, void* arg) { static_cast<Handles*>(arg)->Close(); }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    FdWatcher* owner = static_cast<Handles*>(handle->data)->owner;
    if (!owner) return;
    if (status == UV_EBADF) {
      // libuv reports POLLERR as UV_EBADF: the descriptor is fine, the socket has a pending error
      // (ECONNREFUSED, ECONNRESET, ...). Wake the caller as if ready: its next syscall on the fd
      // reports the real error, which "poll failed: EBADF" would hide.
      status = 0;
      events = owner->events_;
    }
    owner->Fire(status, events);
  }

  static void OnTimer(uv_timer_t* handle) {
    FdWatcher* owner = static_cast<Handles*>(handle->data)->owner;
    if (owner) owner->Fire(0, 0);  // timed out: no events
  }
};

Napi::Function FdWatcher::Define(Napi::Env env) {
  return DefineClass(env, "FdWatcher",
                     {InstanceMethod<&FdWatcher::Wait>("wait"), InstanceMethod<&FdWatcher::Close>("close")});
}

FdWatcher::FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
  Napi::Env env = info.Env();
  int fd = FdArg(env, info[0]);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) ThrowState(env, "ERR_PAGEFLIP_NO_EVENT_LOOP", "no libuv loop");
  auto handles = std::make_unique<Handles>();
  handles->fd = DupFdOrThrow(env, fd, "duplicating the descriptor to watch");
  if (int err = uv_poll_init(loop, &handles->poll, handles->fd.get())) ThrowErrno(env, -err, "uv_poll_init");
  uv_timer_init(loop, &handles->timer);  // cannot fail
  handles->poll.data = handles->timer.data = handles.get();
  handles->open = 2;
  handles->owner = this;
  handles_ = handles.release();
  // From here the handles are closed through Handles::Close, never freed directly.
  if (napi_add_async_cleanup_hook(env, &Handles::OnTeardown, handles_, &handles_->hook) != napi_ok) {
    Stop();
    ThrowState(env, "ERR_PAGEFLIP_NO_EVENT_LOOP", "could not register the watcher's cleanup hook");
  }
}

FdWatcher::~FdWatcher() { Stop(); }

void FdWatcher::Stop() {
  if (handles_) handles_->Close();  // clears handles_
}

Napi::Value FdWatcher::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!handles_) ThrowState(env, "ERR_PAGEFLIP_CLOSED", "the watcher is closed");
  std::string what = ToString(env, info[0], "events");
  int events = what == "readable" ? UV_READABLE : what == "writable" ? UV_WRITABLE : 0;
  if (!events) ThrowRangeError(env, "events must be 'readable' or 'writable'");
  Napi::Function callback = ToFunction(env, info[1], "callback");
  if (waiting_) ThrowState(env, "ERR_PAGEFLIP_BUSY", "already waiting on this fd");
  bool timed = !info[2].IsUndefined();
  uint64_t timeout_ms = timed ? ToUint(env, info[2], "timeoutMs", 0, uint64_t(1) << 31) : 0;
  if (!handles_) ThrowState(env, "ERR_PAGEFLIP_CLOSED", "the watcher is closed");  // an argument's getter closed it
  if (int err = uv_poll_start(&handles_->poll, events, &Handles::OnPoll)) ThrowErrno(env, -err, "uv_poll_start");
  events_ = events;
  if (timed) uv_timer_start(&handles_->timer, &Handles::OnTimer, timeout_ms, 0);
  callback_ = Napi::Persistent(callback);
  waiting_ = true;
  Ref();  // stay alive while the loop may call back
  return env.Undefined();
}

void FdWatcher::Fire(int status, int events) {
  if (!waiting_) return;
  uv_poll_stop(&handles_->poll);
  uv_timer_stop(&handles_->timer);
  waiting_ = false;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Function callback = callback_.Value();
  callback_.Reset();
  Unref();
  // Only raw N-API calls from here: while a worker is being stopped (process.exit() in a worker,
  // terminate()) JavaScript cannot run, every call that needs it fails, and node-addon-api's
  // error path for such a failure aborts the process.
  if (!CanRunJs(env)) return;
  napi_value error = status < 0 ? ErrnoError(env, -status, "poll").Value() : env.Null();
  napi_value args[2] = {error, Napi::Number::New(env, events)};
  napi_value result;
  if (napi_make_callback(env, nullptr, Napi::Object::New(env), callback, 2, args, &result) == napi_pending_exception) {
    // A throwing JS callback surfaces as an uncaught exception, not an unwind through libuv
    // (unless the callback stopped the environment, e.g. with process.exit()).
    napi_value exception;
    if (napi_get_and_clear_last_exception(env, &exception) == napi_ok && CanRunJs(env)) napi_fatal_exception(env, exception);
  }
}

Napi::Value FdWatcher::Close(const Napi::CallbackInfo& info) {
  if (waiting_) {
    waiting_ = false;
    callback_.Reset();
    Unref();
  }
  Stop();
  return info.Env().Undefined();
}

}  // namespace pageflip

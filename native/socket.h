#pragma once
#include <napi.h>
#include <uv.h>

namespace pageflip {
// TCP helpers over raw, non-blocking, close-on-exec file descriptors owned by lib/socket.ts.
Napi::Value TcpListen(const Napi::CallbackInfo& info);        // (host, port, backlog) -> fd
Napi::Value TcpAccept(const Napi::CallbackInfo& info);        // (fd) -> fd | null (would block)
Napi::Value TcpConnect(const Napi::CallbackInfo& info);       // (host, port, { mss? }) -> fd (connect in progress)
Napi::Value SocketError(const Napi::CallbackInfo& info);      // (fd) -> throws the pending SO_ERROR, if any
Napi::Value SocketAddress(const Napi::CallbackInfo& info);    // (fd, peer?) -> { address, port, family }
Napi::Value SetSocketOptions(const Napi::CallbackInfo& info); // (fd, options)
Napi::Value SocketInfo(const Napi::CallbackInfo& info);       // (fd) -> { mss, rcvbuf, sndbuf, ... }
Napi::Value CloseFd(const Napi::CallbackInfo& info);          // (fd)
Napi::Value ShutdownFd(const Napi::CallbackInfo& info);       // (fd, 'read' | 'write' | 'both')
Napi::Value DupFd(const Napi::CallbackInfo& info);            // (fd) -> fd, close-on-exec, non-blocking

// Waits for an fd to become readable/writable on the JS thread's event loop (uv_poll). The
// watcher polls its own duplicate of the fd, so it never watches a descriptor number someone
// else may have closed and reused.
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FdWatcher(const Napi::CallbackInfo& info);  // (fd)
  ~FdWatcher() override;

 private:
  struct Handles;  // the uv handles and the duplicate fd; they outlive the watcher until closed
  // ('readable' | 'writable', callback(err, events), timeoutMs?) one-shot; events is 0 when
  // the timeout came first.
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Fire(int status, int events);
  void Stop();

  Handles* handles_ = nullptr;  // null once closed (by us, or by the environment's teardown)
  Napi::FunctionReference callback_;
  bool waiting_ = false;
  int events_ = 0;  // what the pending wait asked for
};
}  // namespace pageflip

#pragma once
#include <napi.h>

namespace pageflip {
// Network namespaces are per thread: these act on the calling (JS) thread only. Sockets keep the
// namespace they were created in, so the experiment enters a private namespace, creates its
// sockets (and spawns iperf3/perf, which inherit it), and leaves again.
Napi::Value NetnsCreate(const Napi::CallbackInfo& info);   // () -> fd of a new namespace (lo down)
Napi::Value NetnsCurrent(const Napi::CallbackInfo& info);  // () -> fd of the current namespace
Napi::Value NetnsEnter(const Napi::CallbackInfo& info);    // (fd) -> undefined
Napi::Value LinkConfigure(const Napi::CallbackInfo& info); // (ifname, { up?, mtu? }) in the current namespace
}  // namespace pageflip

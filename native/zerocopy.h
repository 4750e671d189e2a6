// TCP_ZEROCOPY_RECEIVE: the struct, its ABI history, and the live capability probe.
#pragma once
#include <linux/tcp.h>

#include <cstdint>
#include <string>

namespace pageflip {

#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif
#ifndef TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT
#define TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT 0x1
#endif

// Our own copy of the 5.12+ layout (64 bytes), so the build does not depend on the libc headers'
// age. Older kernels understand a prefix of it and say which by the optlen they write back.
struct ZerocopyReceive {
  uint64_t address;
  uint32_t length;
  uint32_t recv_skip_hint;
  uint32_t inq;             // 5.7
  int32_t err;              // 5.7
  uint64_t copybuf_address; // 5.11
  int32_t copybuf_len;      // 5.11
  uint32_t flags;           // 5.11
  uint64_t msg_control;     // 5.12
  uint64_t msg_controllen;  // 5.12
  uint32_t msg_flags;       // 5.12
  uint32_t reserved;        // 5.12, must be 0
};
static_assert(sizeof(ZerocopyReceive) == 64, "tcp_zerocopy_receive is 64 bytes since 5.12");

// Which struct generation the kernel speaks, from the optlen it wrote back.
enum class ZerocopyAbi { kNone = 0, k4_18 = 16, k5_7 = 24, k5_11 = 40, k5_12 = 64 };
ZerocopyAbi AbiFromOptlen(unsigned optlen);
const char* AbiName(ZerocopyAbi abi);  // "4.18" ...

struct ZerocopyProbe {
  bool supported = false;
  ZerocopyAbi abi = ZerocopyAbi::kNone;
  std::string reason;
};
// Probes over a loopback connection (or reports why it could not). The kernel's answer is kept
// for the process; a failure of the environment (no loopback yet, out of descriptors) is not, so
// the next call probes again. simulate_missing (the test switch) answers "unsupported" without probing.
ZerocopyProbe ProbeZerocopyReceive(bool simulate_missing = false);

struct SimpleProbe {
  bool supported = false;
  std::string reason;
};
const SimpleProbe& ProbeMsgZerocopy();
const SimpleProbe& ProbeSplice();

}  // namespace pageflip

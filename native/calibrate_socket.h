// Calibration terms a socket receive pays, measured through real TCP sockets on 127.0.0.1 (one
// thread fills the queue untimed, then times the receive calls), plus the page-fault and
// page-read costs. They feed the cost model in lib/experiment/model.ts.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "calibrate_measure.h"
#include "vocabulary.h"

namespace pageflip::calibration {

// The chunk sizes (in pages) every socket term is measured at, so the model can fit per call + per page.
constexpr size_t kSocketPageCounts[] = {1, 4, 16, 64, 256};
constexpr size_t kFlowChunk = kDefaultChunk;  // compare's default chunk

struct ChunkFigure {
  size_t bytes = 0;
  Figure figure;  // one operation = one call on `bytes`
};

struct SocketTerms {
  std::vector<ChunkFigure> recv_hot, recv_cold;  // recv() copying into a cached / an evicted buffer
  bool zerocopy_measured = false;
  std::string zerocopy_reason;                    // why not, when not measured
  std::vector<ChunkFigure> zerocopy, zap;         // TCP_ZEROCOPY_RECEIVE; madvise(DONTNEED) of what it mapped
  // What touch adds to a call of zero-copy receive: reading every word of the pages just mapped,
  // plus what their zap then costs more than an untouched one's. On shadow or nested paging the first
  // access to a freshly inserted PTE exits to the hypervisor, which a read of long-mapped pages never pays.
  std::vector<ChunkFigure> zerocopy_touch;
  // flip's move of the mapped pages onto a destination (MovePageRange) plus the release's madvise there.
  std::vector<ChunkFigure> flip_move;
  // Real flows (a sender thread on another CPU): the receiving thread's CPU per 10^6 bytes.
  size_t flow_chunk = 0;
  int flow_sender_cpu = -1;                       // -1: one usable CPU, the sender shared it
  bool flow_zerocopy_sender = false;              // MSG_ZEROCOPY sender (else plain send)
  double flow_truncate_us_per_mb = 0;             // recv(MSG_TRUNC): packets, ACKs, wake-ups, no copy
  double flow_copy_us_per_mb = 0;                 // recv() copying into one reused buffer
  double flow_truncate_two_pages_us_per_mb = 0;   // recv(MSG_TRUNC) with two pages per segment
  Figure fault;                                   // one page: first write to a dropped anonymous page
  Figure read_hot, read_cold;                     // one page: reading every word, cached / evicted
};

// `zerocopy_available` is the capability probe's answer; when false the zero-copy terms are not
// attempted and the reason says so.
SysError MeasureSocketTerms(const Plan& plan, int sender_cpu, bool zerocopy_available, const std::string& zerocopy_missing,
                            SocketTerms* out);

}  // namespace pageflip::calibration

namespace pageflip {
// virtualization() → { hypervisor, hypervisorVendor, faultUs, syscallUs, method }: whether the CPU
// says it runs under a hypervisor (cpuid), and what an anonymous page fault and a syscall cost here
// (a few ms of measurement on the calling thread).
Napi::Value Virtualization(const Napi::CallbackInfo& info);
}  // namespace pageflip

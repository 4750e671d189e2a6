// Calibration's measuring kit, shared by its kernels (calibrate_kernels.cc: memcpy, mremap, madvise;
// calibrate_socket.cc: socket receive, zero-copy receive, page faults): the clock, the cell runner
// that turns batches into a median figure, and private scratch memory.
#pragma once
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sys_error.h"
#include "args.h"
#include "mapping.h"
#include "page_range.h"
#include "region.h"

namespace pageflip::calibration {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;
constexpr uint8_t kFill = 0x5a;  // non-zero, so no page is the shared zero page

struct Figure {
  double ns_per_op = 0;     // median over trials of (timed ns / operations)
  uint64_t ops = 0;         // operations in the trials (warm-up excluded)
  double ipis_per_op = -1;  // TLB shootdowns (system-wide) per operation; -1: not counted / unknown
  double busy_share = -1;   // CPU time of the second thread / wall time of the cell; -1: no second thread
};

inline uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Tells the compiler the memory behind p is read and written here, so no copy can be elided or
// merged with the next identical one.
inline void KeepMemory(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

struct Sample {
  uint64_t ns = 0;
  uint64_t ops = 0;
};

struct Plan {
  uint64_t trial_ns = 0;
  uint64_t trials = 0;
  uint64_t batch_ns = 0;  // a batch should take at least this long so two clock reads are noise
  const std::atomic<bool>* stop = nullptr;
};

inline double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Sum of the "TLB:" row of /proc/interrupts (x86 TLB shootdown IPIs received, all CPUs); -1 if absent.
inline int64_t TlbShootdowns() {
  std::ifstream in("/proc/interrupts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string label;
    words >> label;
    if (label != "TLB:") continue;
    int64_t sum = 0;
    uint64_t count = 0;
    while (words >> count) sum += static_cast<int64_t>(count);
    return sum;
  }
  return -1;
}

// Runs batch(k, &sample) (untimed set-up, then a timed section of sample.ops operations): first a
// warm-up that grows k until one batch takes plan.batch_ns, then plan.trials trials of about
// plan.trial_ns each (at least one batch). The figure is the median of the trials' ns per op.
template <class Batch>
SysError MeasureCell(const Plan& plan, uint64_t max_k, bool count_ipis, Batch&& batch, Figure* figure) {
  int64_t ipis_before = count_ipis ? TlbShootdowns() : -1;
  uint64_t all_ops = 0;
  uint64_t k = 1;
  Sample sample;
  for (;;) {
    if (SysError e = batch(k, &sample)) return e;
    all_ops += sample.ops;
    if (sample.ns >= plan.batch_ns || k >= max_k) break;
    uint64_t grow = sample.ns == 0 ? 16 : std::min<uint64_t>(16, plan.batch_ns / sample.ns + 1);
    k = std::min(max_k, k * std::max<uint64_t>(2, grow));
  }
  std::vector<double> per_op;
  for (uint64_t trial = 0; trial < plan.trials; trial++) {
    Sample sum;
    uint64_t start = NowNs();
    do {
      if (plan.stop->load(std::memory_order_relaxed))
        return SysError{ECANCELED, "calibrate", "the calibration was stopped because its environment is shutting down"};
      if (SysError e = batch(k, &sample)) return e;
      sum.ns += sample.ns;
      sum.ops += sample.ops;
    } while (NowNs() - start < plan.trial_ns);
    per_op.push_back(static_cast<double>(std::max<uint64_t>(sum.ns, 1)) / static_cast<double>(sum.ops));
    figure->ops += sum.ops;
  }
  all_ops += figure->ops;
  figure->ns_per_op = Median(std::move(per_op));
  int64_t ipis_after = count_ipis ? TlbShootdowns() : -1;
  if (ipis_before >= 0 && ipis_after >= ipis_before)
    figure->ipis_per_op = static_cast<double>(ipis_after - ipis_before) / static_cast<double>(all_ops);
  return {};
}

// An anonymous mapping of a calibration thread: base pages only, unmapped on every way out
// (a PageRange: page_range.h).
class Scratch {
 public:
  SysError Map(size_t length, size_t alignment, int prot, const char* what) {
    range_ = MapAnonymousAligned(length, alignment, prot, MAP_NORESERVE);
    if (!range_) return SysError{errno, "mmap", std::string("could not map ") + std::to_string(length >> 10) + " KiB for " + what};
    // 4 KiB pages everywhere: the experiment is about base pages, and THP would change both the
    // copy's TLB misses and what one mremap moves. EINVAL (kernel without THP) is fine.
    madvise(range_.data(), range_.length(), MADV_NOHUGEPAGE);
    return {};
  }
  // Writes every byte, so every page is present and private (not the shared zero page).
  SysError MapFilled(size_t length, const char* what) {
    if (SysError e = Map(length, PageSize(), PROT_READ | PROT_WRITE, what)) return e;
    std::memset(range_.data(), kFill, range_.length());
    return {};
  }

  uint8_t* data() const { return range_.data(); }

 private:
  PageRange range_;
};

// Cache eviction for cold figures (calibrate_kernels.cc): every line of a range out of every
// cache level, then a fence; FlushMethod() says how, or null where user space cannot flush.
const char* FlushMethod();
void FlushRange(const uint8_t* p, size_t length);
void FlushFence();

}  // namespace pageflip::calibration

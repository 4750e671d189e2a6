// Calibration's CPUs: which ones the process may use, the last-level cache size, pinning the
// measuring thread, and a second thread that keeps the process's mm active on another CPU (so
// every TLB flush of the measuring thread has to reach it).
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "errors.h"

namespace pageflip::calibration {

SysError PinSelf(int cpu);
SysError AllowedCpus(std::vector<int>* cpus);
// Size of the highest cache level that CPU reports in sysfs (0 when unknown).
uint64_t LastLevelCacheBytes(int cpu);

// A second thread of this process that keeps writing memory on its own CPU, so the mm stays
// active there and every TLB flush of ours has to reach that CPU (a shootdown IPI on x86).
class BusyThread {
 public:
  BusyThread() = default;
  BusyThread(const BusyThread&) = delete;
  BusyThread& operator=(const BusyThread&) = delete;
  ~BusyThread();

  // Returns once the thread runs pinned on `cpu` (or why it could not).
  SysError Start(int cpu);
  int cpu() const { return cpu_.load(); }
  // CPU time the thread has had: if something else ran on its CPU meanwhile, our mm was not active
  // there all the time and fewer flushes needed an IPI.
  uint64_t CpuNs();

 private:
  void Loop(int cpu);

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sweeps_{0};
  std::atomic<int> cpu_{-1};
  std::atomic<int> err_{0};
};

}  // namespace pageflip::calibration

// Calibration's CPUs (see calibrate_cpus.h).
#include "calibrate_cpus.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <fstream>
#include <string>
#include <system_error>

#include "calibrate_measure.h"
#include "thread_task.h"

namespace pageflip::calibration {

namespace {
constexpr size_t kBusyBytes = 64 * kKiB;
}  // namespace

SysError PinSelf(int cpu) {
  if (int err = PinCurrentThread(cpu))
    return SysError{err, "pthread_setaffinity_np", "could not pin a calibration thread to CPU " + std::to_string(cpu)};
  return {};
}

SysError AllowedCpus(std::vector<int>* cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return SysError{errno, "sched_getaffinity", "could not list usable CPUs"};
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) cpus->push_back(cpu);
  return {};
}

uint64_t LastLevelCacheBytes(int cpu) {
  int best_level = 0;
  uint64_t best = 0;
  for (int index = 0; index < 16; index++) {
    std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), size_file(dir + "size");
    int level = 0;
    uint64_t size = 0;
    std::string unit;
    if (!(level_file >> level) || !(size_file >> size)) break;
    size_file >> unit;  // "K" or "M" directly after the number
    size *= unit == "M" ? kMiB : unit == "K" ? kKiB : 1;
    if (level > best_level) {
      best_level = level;
      best = size;
    }
  }
  return best;
}

BusyThread::~BusyThread() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

SysError BusyThread::Start(int cpu) {
  try {
    thread_ = std::thread([this, cpu] { Loop(cpu); });
  } catch (const std::system_error& e) {
    return SysError{e.code().value(), "pthread_create", "could not start the second thread"};
  }
  // Measure only once it is really running there.
  uint64_t deadline = NowNs() + 5000000000ULL;
  while (sweeps_.load() == 0 && err_.load() == 0) {
    if (NowNs() > deadline) return SysError{ETIMEDOUT, "pthread_create", "the second thread never got CPU time"};
    std::this_thread::yield();
  }
  if (int err = err_.load())
    return SysError{err, "pthread_setaffinity_np", "could not pin the second thread to CPU " + std::to_string(cpu)};
  return {};
}

uint64_t BusyThread::CpuNs() {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(thread_.native_handle(), &clock) != 0 || clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

void BusyThread::Loop(int cpu) {
  if (SysError e = PinSelf(cpu)) {
    err_.store(e.err);
    return;
  }
  cpu_.store(sched_getcpu());
  alignas(64) uint8_t scratch[kBusyBytes] = {};
  while (!stop_.load(std::memory_order_relaxed)) {
    for (size_t off = 0; off < kBusyBytes; off += 64) scratch[off]++;
    KeepMemory(scratch);
    sweeps_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace pageflip::calibration

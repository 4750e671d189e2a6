// Calibration: what moving a page costs on this machine compared with copying it. Everything is
// timed in C++ with CLOCK_MONOTONIC on a thread of our own (pinned, so that a second thread can be
// placed on another CPU); JS only receives the finished figures.
#include "calibrate.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "args.h"
#include "errors.h"
#include "mapping.h"
#include "region.h"
#include "thread_task.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pageflip {

namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;
constexpr size_t kPmdSize = 2 * kMiB;
constexpr size_t kCopySizes[] = {4 * kKiB, 16 * kKiB, 64 * kKiB, 256 * kKiB, 1 * kMiB, 4 * kMiB, 16 * kMiB, 64 * kMiB};
constexpr size_t kPageCounts[] = {1, 4, 16, 64, 256, 512};
constexpr size_t kDropPoolPages = 2048;  // madvise pool: even 512-page calls get 4 per batch
constexpr size_t kBusyBytes = 64 * kKiB;
constexpr uint8_t kFill = 0x5a;  // non-zero, so no page is the shared zero page

std::atomic<bool> g_running{false};  // one calibration per process: two would share CPUs

struct Options {
  bool quick = false;
  double cell_ms = 0;
  uint64_t trials = 0;
  uint64_t cold_pool_mib = 0;
};

struct Figure {
  double ns_per_op = 0;     // median over trials of (timed ns / operations)
  uint64_t ops = 0;         // operations in the trials (warm-up excluded)
  double ipis_per_op = -1;  // TLB shootdowns (system-wide) per operation; -1: not counted / unknown
  double busy_share = -1;   // CPU time of the second thread / wall time of the cell; -1: no second thread
};

struct CopyRow {
  size_t bytes = 0;
  Figure hot, cold;
};

struct MoveRow {
  size_t pages = 0;
  Figure alone, busy;
  bool has_busy = false;
};

struct Results {
  size_t page_size = 0;
  long cpus = 0;
  int measure_cpu = -1;
  int busy_cpu = -1;  // where the second thread ran; -1 when it was not run
  uint64_t llc_bytes = 0;
  int move_flags = 0;
  std::vector<size_t> copy_sizes;
  std::vector<CopyRow> copy;
  std::vector<MoveRow> mremap, madvise;
  double elapsed_ms = 0;
};

// ---- timing -----------------------------------------------------------------------------------

uint64_t NowNs() {
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

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Sum of the "TLB:" row of /proc/interrupts (x86 TLB shootdown IPIs received, all CPUs); -1 if absent.
int64_t TlbShootdowns() {
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

// ---- memory and CPUs --------------------------------------------------------------------------

// An anonymous mapping of the calibration thread: base pages only, unmapped on every way out.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (data_) munmap(data_, length_);
  }

  SysError Map(size_t length, size_t alignment, int prot, const char* what) {
    void* data = MapAnonymousAligned(length, alignment, prot, MAP_NORESERVE);
    if (!data) return SysError{errno, "mmap", std::string("could not map ") + std::to_string(length >> 10) + " KiB for " + what};
    data_ = static_cast<uint8_t*>(data);
    length_ = length;
    // 4 KiB pages everywhere: the experiment is about base pages, and THP would change both the
    // copy's TLB misses and what one mremap moves. EINVAL (kernel without THP) is fine.
    madvise(data_, length_, MADV_NOHUGEPAGE);
    return {};
  }
  // Writes every byte, so every page is present and private (not the shared zero page).
  SysError MapFilled(size_t length, const char* what) {
    if (SysError e = Map(length, PageSize(), PROT_READ | PROT_WRITE, what)) return e;
    std::memset(data_, kFill, length_);
    return {};
  }

  uint8_t* data() const { return data_; }

 private:
  uint8_t* data_ = nullptr;
  size_t length_ = 0;
};

SysError PinSelf(int cpu) {
  if (int err = PinCurrentThread(cpu))
    return SysError{err, "pthread_setaffinity_np", "could not pin a calibration thread to CPU " + std::to_string(cpu)};
  return {};
}

// A second thread of this process that keeps writing memory on its own CPU, so the mm stays
// active there and every TLB flush of ours has to reach that CPU (a shootdown IPI on x86).
class BusyThread {
 public:
  BusyThread() = default;
  BusyThread(const BusyThread&) = delete;
  BusyThread& operator=(const BusyThread&) = delete;
  ~BusyThread() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  SysError Start(int cpu) {
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
  int cpu() const { return cpu_.load(); }
  // CPU time the thread has had: if something else ran on its CPU meanwhile, our mm was not active
  // there all the time and fewer flushes needed an IPI.
  uint64_t CpuNs() {
    clockid_t clock;
    timespec ts{};
    if (pthread_getcpuclockid(thread_.native_handle(), &clock) != 0 || clock_gettime(clock, &ts) != 0) return 0;
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
  }

 private:
  void Loop(int cpu) {
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

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sweeps_{0};
  std::atomic<int> cpu_{-1};
  std::atomic<int> err_{0};
};

SysError AllowedCpus(std::vector<int>* cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return SysError{errno, "sched_getaffinity", "could not list usable CPUs"};
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &set)) cpus->push_back(cpu);
  return {};
}

// Size of the highest cache level that CPU reports in sysfs (0 when unknown).
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

// ---- cache eviction for cold copies -------------------------------------------------------------

#if defined(__x86_64__) || defined(__i386__)
// clflush is ordered against every other clflush (~160 ns a line in a VM here); clflushopt is
// not, and pipelines (~2 ns a line). Flush lines are 64 bytes on every x86-64.
// cpuid runs on first use (a calibration), not when the addon loads.
bool HasClflushopt() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 23));
  }();
  return has;
}
const char* FlushMethod() { return HasClflushopt() ? "clflushopt (every 64-byte line) + mfence" : "clflush (every 64-byte line) + mfence"; }
__attribute__((target("clflushopt"))) void FlushRangeOpt(const uint8_t* p, size_t length) {
  for (size_t off = 0; off < length; off += 64) _mm_clflushopt(const_cast<uint8_t*>(p + off));
}
void FlushRange(const uint8_t* p, size_t length) {
  if (HasClflushopt()) return FlushRangeOpt(p, length);
  for (size_t off = 0; off < length; off += 64) _mm_clflush(p + off);
}
void FlushFence() { _mm_mfence(); }
#elif defined(__aarch64__)
const char* FlushMethod() { return "dc civac (every data cache line) + dsb ish"; }
void FlushRange(const uint8_t* p, size_t length) {
  uint64_t ctr = 0;
  asm volatile("mrs %0, ctr_el0" : "=r"(ctr));
  size_t line = size_t{4} << ((ctr >> 16) & 0xf);  // CTR_EL0.DminLine, in 4-byte words
  for (size_t off = 0; off < length; off += line) asm volatile("dc civac, %0" : : "r"(p + off) : "memory");
}
void FlushFence() { asm volatile("dsb ish" : : : "memory"); }
#else
const char* FlushMethod() { return nullptr; }  // no user-space cache flush: rely on the pool size
void FlushRange(const uint8_t*, size_t) {}
void FlushFence() {}
#endif

// An odd stride coprime to n: slot i*stride mod n visits every slot once per round, far apart, so
// neighbouring copies never read neighbouring memory (no prefetcher help across copies).
uint64_t CoprimeStride(uint64_t n) {
  if (n <= 2) return 1;
  for (uint64_t s = (n / 3) | 1;; s += 2)
    if (std::gcd(s, n) == 1) return s;
}

// ---- the measurements -------------------------------------------------------------------------

SysError MeasureCopies(const Plan& plan, size_t pool_bytes, Results* r) {
  size_t largest = r->copy_sizes.back();
  Scratch src, dst, pool;
  if (SysError e = src.MapFilled(largest, "the memcpy source")) return e;
  if (SysError e = dst.MapFilled(largest, "the memcpy destination")) return e;
  if (SysError e = pool.MapFilled(pool_bytes, "the cold memcpy pool")) return e;
  for (size_t bytes : r->copy_sizes) {
    CopyRow row;
    row.bytes = bytes;
    auto hot = [&](uint64_t k, Sample* s) -> SysError {
      uint64_t start = NowNs();
      for (uint64_t i = 0; i < k; i++) {
        std::memcpy(dst.data(), src.data(), bytes);
        KeepMemory(dst.data());
      }
      s->ns = NowNs() - start;
      s->ops = k;
      return {};
    };
    if (SysError e = MeasureCell(plan, uint64_t{1} << 40, false, hot, &row.hot)) return e;

    uint64_t slots = pool_bytes / bytes;
    uint64_t stride = CoprimeStride(slots);
    uint64_t cursor = 0;
    auto source = [&](uint64_t i) { return pool.data() + ((cursor + i) * stride % slots) * bytes; };
    auto cold = [&](uint64_t k, Sample* s) -> SysError {
      for (uint64_t i = 0; i < k; i++) FlushRange(source(i), bytes);
      FlushFence();
      uint64_t start = NowNs();
      for (uint64_t i = 0; i < k; i++) {
        std::memcpy(dst.data(), source(i), bytes);
        KeepMemory(dst.data());
      }
      s->ns = NowNs() - start;
      s->ops = k;
      cursor += k;
      return {};
    };
    if (SysError e = MeasureCell(plan, slots, false, cold, &row.cold)) return e;
    r->copy.push_back(row);
  }
  return {};
}

// Ping-pongs `pages` populated pages between two ranges with mremap; one operation = one move.
SysError MeasureMremap(const Plan& plan, size_t pages, int flags, Figure* figure) {
  const size_t page = PageSize();
  const size_t length = pages * page;
  // [guard][A][guard][B][guard] in a PMD-aligned PROT_NONE reservation: A starts 1 page and B
  // pages+2 pages past a 2 MiB boundary, so neither is PMD-aligned and the kernel moves PTEs
  // rather than whole page tables; the PROT_NONE guards keep A and B from merging with neighbours.
  Scratch area;
  if (SysError e = area.Map(2 * length + 3 * page, kPmdSize, PROT_NONE, "the mremap ranges")) return e;
  uint8_t* a = area.data() + page;
  uint8_t* b = a + length + page;
  if (mprotect(a, length, PROT_READ | PROT_WRITE) != 0 || mprotect(b, length, PROT_READ | PROT_WRITE) != 0)
    return SysError{errno, "mprotect", "could not open the mremap ranges"};
  std::memset(a, kFill, length);
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < k; i++) {
      if (mremap(a, length, length, flags, b) == MAP_FAILED || mremap(b, length, length, flags, a) == MAP_FAILED)
        return SysError{errno, "mremap", "moving " + std::to_string(pages) + " pages back and forth"};
    }
    s->ns = NowNs() - start;
    s->ops = 2 * k;
    return {};
  };
  return MeasureCell(plan, uint64_t{1} << 40, true, batch, figure);
}

// Drops `pages` populated pages per madvise(MADV_DONTNEED) call; refaulting them is not timed.
SysError MeasureMadvise(const Plan& plan, size_t pages, Figure* figure) {
  const size_t page = PageSize();
  Scratch pool;
  if (SysError e = pool.Map(kDropPoolPages * page, page, PROT_READ | PROT_WRITE, "the madvise pool")) return e;
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    size_t bytes = k * pages * page;
    for (size_t off = 0; off < bytes; off += page) pool.data()[off] = kFill;
    KeepMemory(pool.data());
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < k; i++) {
      if (madvise(pool.data() + i * pages * page, pages * page, MADV_DONTNEED) != 0)
        return SysError{errno, "madvise", "dropping " + std::to_string(pages) + " pages"};
    }
    s->ns = NowNs() - start;
    s->ops = k;
    return {};
  };
  return MeasureCell(plan, kDropPoolPages / pages, true, batch, figure);
}

SysError MeasureMoves(const Plan& plan, int busy_cpu, Results* r) {
  for (size_t pages : kPageCounts) {
    MoveRow remap, drop;
    remap.pages = drop.pages = pages;
    if (SysError e = MeasureMremap(plan, pages, r->move_flags, &remap.alone)) return e;
    if (SysError e = MeasureMadvise(plan, pages, &drop.alone)) return e;
    if (busy_cpu >= 0) {
      // Alone and busy alternate per page count, so drift on a shared machine hits both alike.
      BusyThread busy;
      if (SysError e = busy.Start(busy_cpu)) return e;
      auto share = [&busy](uint64_t cpu_before, uint64_t wall_before) {
        return static_cast<double>(busy.CpuNs() - cpu_before) / static_cast<double>(NowNs() - wall_before);
      };
      uint64_t cpu = busy.CpuNs();
      uint64_t wall = NowNs();
      if (SysError e = MeasureMremap(plan, pages, r->move_flags, &remap.busy)) return e;
      remap.busy.busy_share = share(cpu, wall);
      cpu = busy.CpuNs();
      wall = NowNs();
      if (SysError e = MeasureMadvise(plan, pages, &drop.busy)) return e;
      drop.busy.busy_share = share(cpu, wall);
      remap.has_busy = drop.has_busy = true;
      r->busy_cpu = busy.cpu();
    }
    r->mremap.push_back(remap);
    r->madvise.push_back(drop);
  }
  return {};
}

SysError Measure(const Options& options, const std::atomic<bool>& stop, Results* r) {
  uint64_t started = NowNs();
  r->page_size = PageSize();
  r->cpus = sysconf(_SC_NPROCESSORS_ONLN);
  r->move_flags = MREMAP_MAYMOVE | MREMAP_FIXED | (MremapDontUnmapSupported() ? MREMAP_DONTUNMAP : 0);
  // The listed sizes plus every page count's size, so each crossover compares equal byte counts.
  r->copy_sizes.assign(std::begin(kCopySizes), std::end(kCopySizes));
  for (size_t pages : kPageCounts) r->copy_sizes.push_back(pages * r->page_size);
  std::sort(r->copy_sizes.begin(), r->copy_sizes.end());
  r->copy_sizes.erase(std::unique(r->copy_sizes.begin(), r->copy_sizes.end()), r->copy_sizes.end());

  std::vector<int> cpus;
  if (SysError e = AllowedCpus(&cpus)) return e;
  r->measure_cpu = cpus.front();
  if (SysError e = PinSelf(r->measure_cpu)) return e;
  r->llc_bytes = LastLevelCacheBytes(r->measure_cpu);

  Plan plan;
  plan.trials = options.trials;
  plan.trial_ns = static_cast<uint64_t>(options.cell_ms * 1e6 / static_cast<double>(options.trials));
  plan.batch_ns = std::clamp<uint64_t>(plan.trial_ns / 10, 10000, 2000000);
  plan.stop = &stop;
  size_t pool_bytes = std::max<size_t>(options.cold_pool_mib * kMiB, r->copy_sizes.back());
  if (SysError e = MeasureCopies(plan, pool_bytes, r)) return e;
  if (SysError e = MeasureMoves(plan, cpus.size() >= 2 ? cpus[1] : -1, r)) return e;
  r->elapsed_ms = static_cast<double>(NowNs() - started) / 1e6;
  return {};
}

// ---- the binding: options in, promise out -------------------------------------------------------

struct Job;
void Finish(Napi::Env env, void* unused, Job* job);
using Tsfn = Napi::TypedThreadSafeFunction<Job>;

struct Job {
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Options options;
  Napi::Promise::Deferred deferred;
  Tsfn tsfn;
  std::thread thread;
  std::atomic<bool> stop{false};
  Results results;
  SysError error;
};

Options ReadOptions(Napi::Env env, Napi::Value value) {
  Napi::Object object = ToObjectOrEmpty(env, value, "options");
  Options options;
  options.quick = ToBoolOr(env, object.Get("quick"), "options.quick", false);
  options.cell_ms = ToNumberOr(env, object.Get("cellMs"), "options.cellMs", options.quick ? 4 : 40, 1, 60000);
  options.trials = ToUintOr(env, object.Get("trials"), "options.trials", options.quick ? 3 : 5, 1, 99);
  // The pool is written in full: cap it at half the RAM, so a large value fails here, not in the OOM killer.
  uint64_t ram_mib = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * PageSize() / kMiB;
  options.cold_pool_mib = ToUintOr(env, object.Get("coldPoolMiB"), "options.coldPoolMiB", options.quick ? 64 : 256, 64,
                                   std::max<uint64_t>(64, ram_mib / 2));
  return options;
}

std::string FlagNames(int flags) {
  std::string names = "MREMAP_MAYMOVE|MREMAP_FIXED";
  if (flags & MREMAP_DONTUNMAP) names += "|MREMAP_DONTUNMAP";
  return names;
}

std::string Num(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string Mib(uint64_t bytes) { return std::to_string(bytes / kMiB) + " MiB"; }

Napi::Value NumberOrNull(Napi::Env env, double value, bool present) {
  return present ? Napi::Number::New(env, value) : env.Null();
}

Napi::Object CopyFigureJs(Napi::Env env, const Figure& f, size_t bytes, size_t page) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gbPerSec", static_cast<double>(bytes) / f.ns_per_op);  // bytes per ns = 10^9 bytes/s
  o.Set("nsPerCall", f.ns_per_op);
  o.Set("nsPerPage", f.ns_per_op * static_cast<double>(page) / static_cast<double>(bytes));
  o.Set("calls", static_cast<double>(f.ops));
  return o;
}

Napi::Object MoveFigureJs(Napi::Env env, const Figure& f, size_t pages) {
  Napi::Object o = Napi::Object::New(env);
  double us = f.ns_per_op / 1000;
  o.Set("usPerCall", us);
  o.Set("usPerPage", us / static_cast<double>(pages));
  o.Set("calls", static_cast<double>(f.ops));
  o.Set("tlbIpisPerCall", NumberOrNull(env, f.ipis_per_op, f.ipis_per_op >= 0));
  if (f.busy_share >= 0) o.Set("secondThreadOnCpu", f.busy_share);
  return o;
}

Napi::Array MoveRowsJs(Napi::Env env, const std::vector<MoveRow>& rows) {
  Napi::Array array = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const MoveRow& row = rows[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pages", static_cast<double>(row.pages));
    o.Set("alone", MoveFigureJs(env, row.alone, row.pages));
    o.Set("secondThread", row.has_busy ? Napi::Value(MoveFigureJs(env, row.busy, row.pages)) : env.Null());
    o.Set("slowdown", NumberOrNull(env, row.busy.ns_per_op / row.alone.ns_per_op, row.has_busy));
    array.Set(i, o);
  }
  return array;
}

// For one copy case (hot/cold) and one mover (alone/second thread): per-page costs at each page
// count and the smallest count where the move is cheaper per page than the copy.
Napi::Object CrossoverJs(Napi::Env env, const Results& r, bool hot, bool busy) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("copy", hot ? "hot" : "cold");
  o.Set("mover", busy ? "secondThread" : "alone");
  Napi::Array points = Napi::Array::New(env, r.mremap.size());
  double crossover = 0;
  for (size_t i = 0; i < r.mremap.size(); i++) {
    const MoveRow& row = r.mremap[i];
    size_t bytes = row.pages * r.page_size;
    auto copy = std::find_if(r.copy.begin(), r.copy.end(), [&](const CopyRow& c) { return c.bytes == bytes; });
    if (copy == r.copy.end()) continue;  // cannot happen: every page count's size is measured
    double copy_us = (hot ? copy->hot : copy->cold).ns_per_op / static_cast<double>(row.pages) / 1000;
    double move_us = (busy ? row.busy : row.alone).ns_per_op / static_cast<double>(row.pages) / 1000;
    Napi::Object point = Napi::Object::New(env);
    point.Set("pages", static_cast<double>(row.pages));
    point.Set("moveUsPerPage", move_us);
    point.Set("copyUsPerPage", copy_us);
    points.Set(i, point);
    if (crossover == 0 && move_us < copy_us) crossover = static_cast<double>(row.pages);
  }
  o.Set("pages", NumberOrNull(env, crossover, crossover > 0));
  o.Set("points", points);
  return o;
}

Napi::Array MethodJs(Napi::Env env, const Job& job) {
  const Results& r = job.results;
  const Options& o = job.options;
  std::string page = std::to_string(r.page_size);
  std::string llc = r.llc_bytes ? Mib(r.llc_bytes) : std::string("unknown");
  std::string pool = Mib(std::max<size_t>(o.cold_pool_mib * kMiB, r.copy_sizes.back()));
  std::vector<std::string> lines = {
      "timing: clock_gettime(CLOCK_MONOTONIC) around batches of calls on a dedicated native thread pinned to CPU " +
          std::to_string(r.measure_cpu) + "; each cell runs a warm-up that also sizes the batches, then " +
          std::to_string(o.trials) + " trials over about " + Num(o.cell_ms) + " ms; the figure is the median over trials of (timed ns / calls); set-up, refaults and cache flushes "
          "between batches are not timed",
      "memcpy: glibc memcpy() between page-aligned private anonymous buffers (" + page +
          "-byte pages, MADV_NOHUGEPAGE, every byte written beforehand); a compiler barrier after each call keeps "
          "every copy; GB/s = 10^9 bytes/s, ns/page = ns per call / (bytes / " + page + ")",
      "memcpy hot: the same source and destination every call, so they stay in cache as far as the caches "
      "hold them (last-level cache here: " + llc + ")",
      std::string("memcpy cold: sources rotate, far apart, through a ") + pool + " pool, " +
          (FlushMethod() ? std::string("and each batch's sources are evicted from every cache level with ") +
                               FlushMethod() + " before the timed copies, so every source byte comes from DRAM"
                        : std::string("without a cache flush (none on this architecture): coldness relies on the "
                                      "pool exceeding the last-level cache (") + llc + ")") +
          "; the destination is one reused buffer, like an application's receive buffer",
      "memcpy sizes: 4 KiB to 64 MiB, plus each page count's size (" + std::to_string(kPageCounts[5]) + " pages = " +
          std::to_string(kPageCounts[5] * r.page_size / kKiB) + " KiB) so every crossover compares equal byte counts",
      "mremap: one call = mremap(src, n pages, " + FlagNames(r.move_flags) +
          ", dst) of present private anonymous pages, back and forth between two ranges that are not 2 MiB aligned "
          "(so PTEs move one by one, not whole page tables) and are fenced by PROT_NONE guards (no VMA merging); "
          "every call moves n present PTEs and flushes the source range from the TLB" +
          ((r.move_flags & MREMAP_DONTUNMAP)
               ? std::string("; DONTUNMAP leaves the source as an empty mapping (it would refault as zero pages) "
                             "that the next move's MREMAP_FIXED replaces")
               : std::string("; without DONTUNMAP the source becomes a hole that the next move fills")) +
          "; the moved pages are not touched between moves (a consumer's TLB refills are not included)",
      "madvise: one call = madvise(MADV_DONTNEED) of n present pages from a " +
          std::to_string(kDropPoolPages * r.page_size / kMiB) +
          " MiB pool, refaulted by one write per page before each batch (not timed); this is the release a "
          "page-moving receiver pays per chunk on top of the move",
      r.busy_cpu >= 0
          ? "second thread: a thread of this process pinned to CPU " + std::to_string(r.busy_cpu) +
                " writes a 64 KiB buffer in a loop during those cells, so the mm is active there and each TLB "
                "flush must reach that CPU (an IPI on x86; arm64 broadcasts in hardware); slowdown = with / alone; "
                "secondThreadOnCpu = its CPU time / the cell's wall time (below 1: something else ran there, and "
                "flushes in that time needed no IPI)"
          : std::string("second thread: not measured (fewer than 2 usable CPUs)"),
      "TLB IPIs/call: delta of the TLB row of /proc/interrupts (all CPUs, all processes, warm-up included) "
      "divided by calls; null where the kernel has no such row",
      "crossover: per copy case (hot, cold) and mover (alone, second thread), the smallest page count n in "
      "1, 4, 16, 64, 256, 512 where mremap µs/page < memcpy µs/page at n pages' bytes; null if none; it counts "
      "the move alone, not the release (madvise) or the consumer's refault",
  };
  Napi::Array array = Napi::Array::New(env, lines.size());
  for (size_t i = 0; i < lines.size(); i++) array.Set(i, lines[i]);
  return array;
}

Napi::Object ResultJs(Napi::Env env, const Job& job) {
  const Results& r = job.results;
  const Options& opts = job.options;
  Napi::Object result = Napi::Object::New(env);
  result.Set("cpus", static_cast<double>(r.cpus));
  result.Set("pageSize", static_cast<double>(r.page_size));
  Napi::Object options = Napi::Object::New(env);
  options.Set("quick", opts.quick);
  options.Set("cellMs", opts.cell_ms);
  options.Set("trials", static_cast<double>(opts.trials));
  options.Set("coldPoolMiB", static_cast<double>(opts.cold_pool_mib));
  result.Set("options", options);
  result.Set("measureCpu", static_cast<double>(r.measure_cpu));
  result.Set("secondThreadCpu", NumberOrNull(env, r.busy_cpu, r.busy_cpu >= 0));
  result.Set("lastLevelCacheBytes", NumberOrNull(env, static_cast<double>(r.llc_bytes), r.llc_bytes > 0));
  result.Set("mremapFlags", FlagNames(r.move_flags));

  Napi::Array copy = Napi::Array::New(env, r.copy.size());
  for (size_t i = 0; i < r.copy.size(); i++) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("bytes", static_cast<double>(r.copy[i].bytes));
    row.Set("hot", CopyFigureJs(env, r.copy[i].hot, r.copy[i].bytes, r.page_size));
    row.Set("cold", CopyFigureJs(env, r.copy[i].cold, r.copy[i].bytes, r.page_size));
    copy.Set(i, row);
  }
  result.Set("memcpy", copy);
  result.Set("mremap", MoveRowsJs(env, r.mremap));
  result.Set("madvise", MoveRowsJs(env, r.madvise));

  bool busy = r.busy_cpu >= 0;
  Napi::Array crossover = Napi::Array::New(env);
  for (bool hot : {true, false}) {
    crossover.Set(crossover.Length(), CrossoverJs(env, r, hot, false));
    if (busy) crossover.Set(crossover.Length(), CrossoverJs(env, r, hot, true));
  }
  result.Set("crossover", crossover);
  result.Set("elapsedMs", r.elapsed_ms);
  result.Set("method", MethodJs(env, job));
  return result;
}

void Run(Job* job) {
  try {
    job->error = Measure(job->options, job->stop, &job->results);
  } catch (const std::bad_alloc&) {
    job->error = SysError{ENOMEM, "calibrate", "out of memory while calibrating"};
  }
  job->tsfn.Release();  // last touch of the job on this thread: Finish may run right away
}

// Runs on the JS thread once the calibration thread released the function (or at env teardown).
void Finish(Napi::Env env, void*, Job* raw) {
  std::unique_ptr<Job> job(raw);
  job->stop.store(true);
  if (job->thread.joinable()) job->thread.join();
  g_running.store(false);
  try {
    if (job->error)
      job->deferred.Reject(ErrnoError(env, job->error).Value());
    else
      job->deferred.Resolve(ResultJs(env, *job));
  } catch (const Napi::Error&) {
    // The environment is going away; nobody can observe the promise any more.
  }
}

}  // namespace

Napi::Value Calibrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Options options = ReadOptions(env, info[0]);
  bool expected = false;
  if (!g_running.compare_exchange_strong(expected, true))
    ThrowState(env, "ERR_PAGEFLIP_BUSY", "a calibration is already running in this process; await it first");
  auto job = std::make_unique<Job>(env);
  job->options = options;
  Napi::Promise promise = job->deferred.Promise();
  try {
    job->tsfn = Tsfn::New(env, "pageflip.calibrate", 0, 1, job.get(), Finish, static_cast<void*>(nullptr));
  } catch (...) {
    g_running.store(false);
    throw;
  }
  Job* raw = job.release();  // owned by the thread-safe function's finalizer from here on
  try {
    raw->thread = std::thread(Run, raw);
  } catch (const std::system_error& e) {
    raw->error = SysError{e.code().value(), "pthread_create", "could not start the calibration thread"};
    raw->tsfn.Release();
  }
  return promise;
}

}  // namespace pageflip

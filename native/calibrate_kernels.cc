// Calibration's memcpy, mremap and madvise kernels (see calibrate_kernels.h).
#include "calibrate_kernels.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "calibrate_cpus.h"
#include "mapping.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pageflip::calibration {

// ---- cache eviction for cold copies -------------------------------------------------------------

#if defined(__x86_64__) || defined(__i386__)
// clflush is ordered against every other clflush (~160 ns a line in a VM here); clflushopt is
// not, and pipelines (~2 ns a line). Flush lines are 64 bytes on every x86-64.
// cpuid runs on first use (a calibration), not when the addon loads.
static bool HasClflushopt() {
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 23));
  }();
  return has;
}
const char* FlushMethod() { return HasClflushopt() ? "clflushopt (every 64-byte line) + mfence" : "clflush (every 64-byte line) + mfence"; }
__attribute__((target("clflushopt"))) static void FlushRangeOpt(const uint8_t* p, size_t length) {
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


namespace {

constexpr size_t kCopySizes[] = {4 * kKiB, 16 * kKiB, 64 * kKiB, 256 * kKiB, 1 * kMiB, 4 * kMiB, 16 * kMiB, 64 * kMiB};

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

// Ping-pongs one whole, 2 MiB-aligned PMD of present pages between two aligned ranges in PMDs of
// their own (a PROT_NONE PMD between them): every move can take the page table along (one PMD
// entry, move_normal_pmd) instead of 512 PTEs. The page-table page the emptied source needs on
// its next fault is not part of this figure.
SysError MeasureMremapPmd(const Plan& plan, int flags, Figure* figure) {
  Scratch area;
  if (SysError e = area.Map(3 * kPmdSize, kPmdSize, PROT_NONE, "the PMD mremap ranges")) return e;
  uint8_t* a = area.data();
  uint8_t* b = a + 2 * kPmdSize;
  if (mprotect(a, kPmdSize, PROT_READ | PROT_WRITE) != 0 || mprotect(b, kPmdSize, PROT_READ | PROT_WRITE) != 0)
    return SysError{errno, "mprotect", "could not open the PMD mremap ranges"};
  std::memset(a, kFill, kPmdSize);
  auto batch = [&](uint64_t k, Sample* s) -> SysError {
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < k; i++) {
      if (mremap(a, kPmdSize, kPmdSize, flags, b) == MAP_FAILED || mremap(b, kPmdSize, kPmdSize, flags, a) == MAP_FAILED)
        return SysError{errno, "mremap", "moving a whole 2 MiB page table back and forth"};
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
  // The PMD path exists for 2 MiB page tables of 4 KiB pages (x86-64, arm64 with 4 KiB pages).
  if (r->page_size * 512 != kPmdSize) return {};
  r->pmd_move.pages = kPmdSize / r->page_size;
  if (SysError e = MeasureMremapPmd(plan, r->move_flags, &r->pmd_move.alone)) return e;
  if (busy_cpu >= 0) {
    BusyThread busy;
    if (SysError e = busy.Start(busy_cpu)) return e;
    uint64_t cpu = busy.CpuNs();
    uint64_t wall = NowNs();
    if (SysError e = MeasureMremapPmd(plan, r->move_flags, &r->pmd_move.busy)) return e;
    r->pmd_move.busy.busy_share = static_cast<double>(busy.CpuNs() - cpu) / static_cast<double>(NowNs() - wall);
    r->pmd_move.has_busy = true;
  }
  return {};
}

}  // namespace

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
  if (SysError e = MeasureSocketTerms(plan, cpus.size() >= 2 ? cpus[1] : -1, options.zerocopy, options.zerocopy_missing, &r->socket)) return e;
  r->elapsed_ms = static_cast<double>(NowNs() - started) / 1e6;
  return {};
}

}  // namespace pageflip::calibration

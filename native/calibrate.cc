// calibrate(): the binding. Reads the options, runs calibrate_kernels.h's Measure() on a ThreadJob
// thread, and turns the results into the JS object typed in lib/native.ts (figures, crossovers and
// the method, in words). Measuring happens in calibrate_kernels.cc, calibrate_socket.cc and
// calibrate_cpus.cc; nothing here times anything.
#include "calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "addon_data.h"
#include "args.h"
#include "calibrate_kernels.h"
#include "errors.h"
#include "thread_task.h"
#include "zerocopy.h"

namespace pageflip {

namespace {

using namespace calibration;

std::atomic<bool> g_running{false};  // one calibration per process: two would share CPUs

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
  const ZerocopyProbe& receive = ProbeZerocopyReceive(AddonData::Of(env).simulate_no_zerocopy);
  const SimpleProbe& send = ProbeMsgZerocopy();
  options.zerocopy = receive.supported && send.supported;
  options.zerocopy_missing = !receive.supported ? receive.reason : send.reason;
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

Napi::Object PerPageJs(Napi::Env env, const Figure& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("usPerPage", f.ns_per_op / 1000);
  o.Set("pages", static_cast<double>(f.ops));
  return o;
}

// The terms a socket receive pays (calibrate_socket.cc), per chunk size: µs per call.
Napi::Object SocketJs(Napi::Env env, const Results& r) {
  const SocketTerms& t = r.socket;
  Napi::Object o = Napi::Object::New(env);
  o.Set("segmentBytes", static_cast<double>(r.page_size));
  Napi::Array recv = Napi::Array::New(env, t.recv_hot.size());
  for (size_t i = 0; i < t.recv_hot.size(); i++) {
    Napi::Object row = Napi::Object::New(env);
    row.Set("bytes", static_cast<double>(t.recv_hot[i].bytes));
    row.Set("hotUsPerCall", t.recv_hot[i].figure.ns_per_op / 1000);
    row.Set("coldUsPerCall", t.recv_cold[i].figure.ns_per_op / 1000);
    row.Set("calls", static_cast<double>(t.recv_hot[i].figure.ops + t.recv_cold[i].figure.ops));
    recv.Set(i, row);
  }
  o.Set("recvCopy", recv);
  if (t.zerocopy_measured) {
    Napi::Array zc = Napi::Array::New(env, t.zerocopy.size());
    for (size_t i = 0; i < t.zerocopy.size(); i++) {
      const Figure& map = t.zerocopy[i].figure;
      Napi::Object row = Napi::Object::New(env);
      row.Set("bytes", static_cast<double>(t.zerocopy[i].bytes));
      row.Set("mapUsPerCall", map.ns_per_op / 1000);
      row.Set("zapUsPerCall", t.zap[i].figure.ns_per_op / 1000);
      row.Set("touchUsPerCall", t.zerocopy_touch[i].figure.ns_per_op / 1000);
      row.Set("flipMoveUsPerCall", t.flip_move[i].figure.ns_per_op / 1000);
      row.Set("calls", static_cast<double>(map.ops));
      row.Set("tlbIpisPerCall", NumberOrNull(env, map.ipis_per_op, map.ipis_per_op >= 0));
      zc.Set(i, row);
    }
    o.Set("zerocopy", zc);
    o.Set("zerocopyMissing", env.Null());
  } else {
    o.Set("zerocopy", env.Null());
    o.Set("zerocopyMissing", t.zerocopy_reason);
  }
  Napi::Object flow = Napi::Object::New(env);
  flow.Set("chunkBytes", static_cast<double>(t.flow_chunk));
  flow.Set("senderCpu", NumberOrNull(env, t.flow_sender_cpu, t.flow_sender_cpu >= 0));
  flow.Set("sender", SendModeName(t.flow_zerocopy_sender ? SendMode::kZerocopy : SendMode::kWrite));
  flow.Set("truncateUsPerMB", t.flow_truncate_us_per_mb);
  flow.Set("copyUsPerMB", t.flow_copy_us_per_mb);
  flow.Set("truncateTwoPagesUsPerMB", t.flow_truncate_two_pages_us_per_mb);
  o.Set("flow", flow);
  o.Set("fault", PerPageJs(env, t.fault));
  o.Set("readHot", PerPageJs(env, t.read_hot));
  o.Set("readCold", PerPageJs(env, t.read_cold));
  return o;
}

Napi::Array MethodJs(Napi::Env env, const Options& o, const Results& r) {
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
      "mremap PMD: the same with one whole 2 MiB-aligned range of 512 present pages moved between 2 MiB-aligned "
      "ranges in PMDs of their own, so the kernel moves the page table (one PMD entry) instead of 512 PTEs; the page "
      "table the emptied source needs at its next fault is not included",
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
      "socket terms: one thread on that CPU fills a TCP connection on 127.0.0.1 (TCP_MAXSEG so each segment "
      "carries one page, as at MTU 4148; not timed), then times each receive call alone: recv() of chunks of 1, 4, 16, 64 "
      "and 256 pages into one reused buffer (hot) or into buffers evicted from the caches first (cold); "
      "TCP_ZEROCOPY_RECEIVE of the same chunks into a socket mapping (sender: MSG_ZEROCOPY) and, timed apart, "
      "the madvise(MADV_DONTNEED) that drops what it mapped (zap; median over that cell's batches); one call in three "
      "also reads every 8-byte word of the pages just mapped before the zap (touch = median of read + zap on those "
      "calls minus the median zap of the plain ones: the first access to freshly inserted PTEs), and one in three "
      "moves them instead as flip does (mremap MREMAP_DONTUNMAP onto a destination holding the last move's pages) "
      "and drops them there (flip's move + release, median)",
      "flow: a sender thread on the other CPU streams over 127.0.0.1 (one page per segment, MSG_ZEROCOPY when "
      "available) while the calibration thread receives " + std::to_string(kFlowChunk / 1024) + " KiB per recv() (SO_RCVLOWAT " +
          std::to_string(kFlowChunk / 1024) + " KiB, as the receive loops) for "
          "about 5 cells' time after a warm-up; "
      "its CPU time (CLOCK_THREAD_CPUTIME_ID) per 10^6 bytes, median of 3 flows: with MSG_TRUNC (no copy: the "
      "packets, ACKs and wake-ups every mode pays), copying into one reused buffer, and with MSG_TRUNC at two pages per "
      "segment (the difference is what a segment costs the receiver)",
      "fault: first write to each of 512 anonymous pages just dropped with madvise(DONTNEED) (allocate, zero, map); "
      "read: summing every 8-byte word of a page, cached (hot) or after eviction (cold)",
      "crossover: per copy case (hot, cold) and mover (alone, second thread), the smallest page count n in "
      "1, 4, 16, 64, 256, 512 where mremap µs/page < memcpy µs/page at n pages' bytes; null if none; it counts "
      "the move alone, not the release (madvise) or the consumer's refault",
  };
  Napi::Array array = Napi::Array::New(env, lines.size());
  for (size_t i = 0; i < lines.size(); i++) array.Set(i, lines[i]);
  return array;
}

Napi::Object ResultJs(Napi::Env env, const Options& opts, const Results& r) {
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
  result.Set("mremapPmd", r.pmd_move.pages ? Napi::Value(MoveRowsJs(env, {r.pmd_move}).Get(uint32_t{0})) : env.Null());

  bool busy = r.busy_cpu >= 0;
  Napi::Array crossover = Napi::Array::New(env);
  for (bool hot : {true, false}) {
    crossover.Set(crossover.Length(), CrossoverJs(env, r, hot, false));
    if (busy) crossover.Set(crossover.Length(), CrossoverJs(env, r, hot, true));
  }
  result.Set("crossover", crossover);
  result.Set("socket", SocketJs(env, r));
  result.Set("elapsedMs", r.elapsed_ms);
  result.Set("method", MethodJs(env, opts, r));
  return result;
}

// One calibration on its own thread (ThreadJob joins it before Settle, so a resolved promise
// means no thread of the calibration is left).
class CalibrationTask {
 public:
  explicit CalibrationTask(const Options& options) : options_(options) {}
  ~CalibrationTask() { g_running.store(false); }  // also after an env teardown that never settled

  void Run() {
    try {
      error_ = Measure(options_, stop_, &results_);
    } catch (const std::bad_alloc&) {
      error_ = SysError{ENOMEM, "calibrate", "out of memory while calibrating"};
    }
  }
  void Settle(Napi::Env env, Napi::Promise::Deferred& deferred) {
    g_running.store(false);  // before the promise settles: its continuation may calibrate again
    if (error_)
      deferred.Reject(ErrnoError(env, error_).Value());
    else
      deferred.Resolve(ResultJs(env, options_, results_));
  }
  void Abort() { stop_.store(true); }
  void StartFailed(const SysError& e) { error_ = SysError{e.err, e.syscall, "could not start the calibration thread"}; }

 private:
  Options options_;
  Results results_;
  SysError error_;
  std::atomic<bool> stop_{false};
};

}  // namespace

Napi::Value Calibrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Options options = ReadOptions(env, info[0]);
  bool expected = false;
  if (!g_running.compare_exchange_strong(expected, true))
    ThrowState(env, "ERR_PAGEFLIP_BUSY", "a calibration is already running in this process; await it first");
  std::shared_ptr<CalibrationTask> task;
  try {
    task = std::make_shared<CalibrationTask>(options);
  } catch (...) {
    g_running.store(false);
    throw;
  }
  return ThreadJob<CalibrationTask>::Start(env, std::move(task));
}

}  // namespace pageflip

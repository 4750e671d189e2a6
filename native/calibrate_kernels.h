// Calibration's measurement kernels (memcpy, mremap, madvise; the socket terms live in
// calibrate_socket.cc) and the results they fill. Measure() runs them all on the calling thread,
// which it pins; it never touches JS (calibrate.cc turns the results into JS values).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "calibrate_measure.h"
#include "calibrate_socket.h"

namespace pageflip::calibration {

constexpr size_t kPmdSize = 2 * kMiB;
constexpr size_t kPageCounts[] = {1, 4, 16, 64, 256, 512};
constexpr size_t kDropPoolPages = 2048;  // madvise pool: even 512-page calls get 4 per batch

struct Options {
  bool quick = false;
  bool zerocopy = false;         // TCP_ZEROCOPY_RECEIVE and MSG_ZEROCOPY both work here
  std::string zerocopy_missing;  // why not, when not
  double cell_ms = 0;
  uint64_t trials = 0;
  uint64_t cold_pool_mib = 0;
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
  MoveRow pmd_move;  // pages == 0: not measured (page tables are not 2 MiB here)
  SocketTerms socket;
  double elapsed_ms = 0;
};

// Every cell, in order; `stop` ends it early with ECANCELED (environment teardown).
SysError Measure(const Options& options, const std::atomic<bool>& stop, Results* r);

}  // namespace pageflip::calibration

// MSG_ZEROCOPY bookkeeping, free of V8: every successful MSG_ZEROCOPY send takes the socket's
// next notification id; the kernel reports completed ids as ranges [lo, hi] (ee_info..ee_data).
// A range may arrive before an earlier one (retransmits, teardown), so bytes are in flight until
// their own id has been reported, whatever came after it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>

namespace pageflip {

class ZerocopyLedger {
 public:
  // first_id: the id the socket gives its next MSG_ZEROCOPY send (earlier sends took the others).
  explicit ZerocopyLedger(uint32_t first_id = 0) : first_id_(first_id) {}

  void Sent(size_t bytes) {
    entries_.push_back({bytes, false});
    inflight_bytes_ += bytes;
  }

  // Marks ids lo..hi (wrapping 32-bit ids) complete; ids not in flight here (an earlier
  // engine's, or repeated) are ignored. Returns how many of ours completed now.
  uint64_t Complete(uint32_t lo, uint32_t hi) {
    uint64_t completed = 0;
    int64_t first = int32_t(lo - first_id_);  // positions in entries_, negative: already gone
    int64_t last = first + int64_t(uint32_t(hi - lo));
    if (first < 0) first = 0;
    if (last >= int64_t(entries_.size())) last = int64_t(entries_.size()) - 1;
    for (int64_t i = first; i <= last; i++) {
      Entry& entry = entries_[size_t(i)];
      if (entry.done) continue;
      inflight_bytes_ -= entry.bytes;
      entry.done = true;
      completed++;
    }
    while (!entries_.empty() && entries_.front().done) {
      entries_.pop_front();
      first_id_++;
    }
    return completed;
  }

  uint64_t inflight_bytes() const { return inflight_bytes_; }  // of sends not yet reported complete
  bool empty() const { return entries_.empty(); }
  uint32_t next_id() const { return first_id_ + uint32_t(entries_.size()); }

 private:
  struct Entry {
    size_t bytes;
    bool done;
  };
  std::deque<Entry> entries_;  // entries_[i] has id first_id_ + i
  uint32_t first_id_ = 0;
  uint64_t inflight_bytes_ = 0;
};

}  // namespace pageflip

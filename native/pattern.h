// Deterministic stream data. The byte at stream offset o depends only on (o, seed), so any
// receiver can check any byte without shared state. The sender sends from a constant ring of
// kPatternPeriod bytes that is filled once and never written again (which is also what makes
// MSG_ZEROCOPY and SPLICE_F_GIFT safe with it). Word k of the ring is (k * kPatternMul) ^ seed;
// the multiply makes every 8-byte word of the period distinct, so misplaced data is caught.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pageflip {

constexpr uint64_t kPatternPeriod = 16ull << 20;  // 16 MiB
constexpr uint64_t kPatternMul = 0x9E3779B97F4A7C15ull;

inline uint64_t PatternWord(uint64_t word_index, uint64_t seed) { return (word_index * kPatternMul) ^ seed; }

inline uint8_t PatternByte(uint64_t offset, uint64_t seed) {
  uint64_t in_period = offset % kPatternPeriod;
  return static_cast<uint8_t>(PatternWord(in_period / 8, seed) >> (8 * (in_period % 8)));  // little endian
}

struct VerifyResult {
  uint64_t mismatches = 0;        // bytes that differ
  uint64_t first_mismatch = ~0ull;  // stream offset of the first one
};

// Checks [data, data+len) against the stream bytes at `offset`; accumulates into result.
// The hot loop reads 8-byte words and keeps the expected value with additions only, which the
// compiler vectorises: touch-mode cost stays close to the cost of reading the data.
inline void VerifyPattern(const uint8_t* data, size_t len, uint64_t offset, uint64_t seed, VerifyResult& result) {
  auto check_byte = [&](size_t i) {
    if (data[i] != PatternByte(offset + i, seed)) {
      if (!result.mismatches) result.first_mismatch = offset + i;
      result.mismatches++;
    }
  };
  size_t i = 0;
  while (i < len && ((offset + i) % 8) != 0) check_byte(i++);
  while (i + 8 <= len) {
    // Words up to the end of the pattern period (or of the data), then wrap.
    uint64_t in_period = (offset + i) % kPatternPeriod;
    size_t words = static_cast<size_t>(std::min<uint64_t>((len - i) / 8, (kPatternPeriod - in_period) / 8));
    uint64_t expected = in_period / 8 * kPatternMul;
    uint64_t diff = 0;
    const uint8_t* p = data + i;
    for (size_t w = 0; w < words; w++, expected += kPatternMul) {
      uint64_t word;
      std::memcpy(&word, p + 8 * w, 8);
      diff |= word ^ expected ^ seed;
    }
    if (diff) {
      for (size_t b = 0; b < words * 8; b++) check_byte(i + b);  // rare: find and count the bad bytes
    }
    i += words * 8;
  }
  while (i < len) check_byte(i++);
}

}  // namespace pageflip

namespace pageflip {
// Fills one whole period (kPatternPeriod bytes, 8-byte aligned) word by word.
inline void FillPatternPeriod(uint8_t* ring, uint64_t seed) {
  for (uint64_t k = 0; k < kPatternPeriod / 8; k++) {
    uint64_t word = PatternWord(k, seed);
    std::memcpy(ring + 8 * k, &word, 8);
  }
}
}  // namespace pageflip

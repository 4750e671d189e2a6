// The native side of pageflip's vocabulary: mode names and the limits every binding function
// checks, written once here. lib/vocabulary.ts is the TypeScript side; the addon exports these as
// `vocabulary` (vocabulary.cc) and test/vocabulary.test.ts holds the two equal.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>

namespace pageflip {

constexpr size_t kDefaultChunk = 256 * 1024;  // bytes per read or send when chunkSize is not given
constexpr size_t kMaxChunk = 64ull << 20;     // the largest chunkSize any binding function takes
// A loop's default SO_RCVLOWAT is one chunk, at most this much (receive.h, DefaultLowWater).
constexpr size_t kMaxDefaultLowWater = kDefaultChunk;
constexpr size_t kMaxCopybuf = 1 << 20;  // TCP_ZEROCOPY_RECEIVE's small-read buffer
constexpr uint64_t kMaxSlots = 1024;     // maxLeases, releaseBatch
constexpr uint64_t kMinLinkMtu = 68;     // IPv4's minimum MTU
constexpr uint64_t kMaxLinkMtu = 65536;  // loopback's largest
constexpr size_t kPmdBytes = 2 * 1024 * 1024;  // one page table (PMD entry): x86-64 and arm64 with 4 KiB pages

// kDiscard: recv(MSG_TRUNC), the kernel drops the bytes without copying or mapping them (the
// floor under every receive method's cost; native loops only, its segments carry no data).
enum class ReceiveMode { kCopy, kZerocopy, kFlip, kCopyRemap, kSplice, kDiscard };
enum class SendMode { kWrite, kZerocopy, kSplice };

template <class Mode>
struct ModeName {
  Mode mode;
  const char* name;
};

// The one string<->enum table per direction, in the order messages list them.
inline constexpr ModeName<ReceiveMode> kReceiveModes[] = {
    {ReceiveMode::kCopy, "copy"},   {ReceiveMode::kZerocopy, "zerocopy"}, {ReceiveMode::kFlip, "flip"},
    {ReceiveMode::kCopyRemap, "copy-remap"}, {ReceiveMode::kSplice, "splice"}, {ReceiveMode::kDiscard, "discard"},
};
// The chunk-by-chunk Receiver takes every mode but the last (discard yields no bytes to read).
constexpr size_t kReceiverModeCount = std::size(kReceiveModes) - 1;
inline constexpr ModeName<SendMode> kSendModes[] = {
    {SendMode::kWrite, "write"}, {SendMode::kZerocopy, "zerocopy"}, {SendMode::kSplice, "splice"}};

// The mode named `name` among the first `count` entries of `table`; false when none is.
template <class Mode, size_t N>
bool ParseMode(const ModeName<Mode> (&table)[N], const std::string& name, Mode* mode, size_t count = N) {
  for (size_t i = 0; i < count && i < N; i++)
    if (name == table[i].name) {
      *mode = table[i].mode;
      return true;
    }
  return false;
}

template <class Mode, size_t N>
const char* ModeNameOf(const ModeName<Mode> (&table)[N], Mode mode) {
  for (const auto& entry : table)
    if (entry.mode == mode) return entry.name;
  return "?";
}

// "a, b or c": the first `count` names of `table`, for error messages.
template <class Mode, size_t N>
std::string ModeAlternatives(const ModeName<Mode> (&table)[N], size_t count = N) {
  std::string text;
  for (size_t i = 0; i < count && i < N; i++) text += std::string(i == 0 ? "" : i + 1 == count ? " or " : ", ") + table[i].name;
  return text;
}

inline bool ParseReceiveMode(const std::string& name, ReceiveMode* mode) { return ParseMode(kReceiveModes, name, mode); }
inline const char* ReceiveModeName(ReceiveMode mode) { return ModeNameOf(kReceiveModes, mode); }
inline bool ParseSendMode(const std::string& name, SendMode* mode) { return ParseMode(kSendModes, name, mode); }
inline const char* SendModeName(SendMode mode) { return ModeNameOf(kSendModes, mode); }

}  // namespace pageflip

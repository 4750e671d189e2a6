// Flips of whole 2 MiB slots (issue 16 §2). move_page_tables() moves one PMD entry — the whole
// page table, 512 PTEs at once — when the extent is a full 2 MiB, both addresses are 2 MiB
// aligned and the destination's PMD is empty (MREMAP_FIXED unmaps the destination first, which
// frees its table when no other mapping shares those 2 MiB). So a flip whose slots are multiples
// of 2 MiB gets a 2 MiB-aligned destination area and waits for a whole slot (SO_RCVLOWAT) before
// it maps; a receive that fills less than the slot is still moved, PTE by PTE, with the same result.
#pragma once
#include <cstddef>
#include <cstdint>

#include "receive.h"
#include "vocabulary.h"

namespace pageflip {

// Flip with slots of whole PMDs: the mode that can move page tables instead of pages.
inline bool PmdSlots(ReceiveMode mode, size_t slot_bytes) {
  return mode == ReceiveMode::kFlip && slot_bytes > 0 && slot_bytes % kPmdBytes == 0;
}

// Alignment of the destination area: whole PMDs for PMD slots, else a page.
inline size_t DestAlignment(ReceiveMode mode, size_t slot_bytes, size_t page) {
  return PmdSlots(mode, slot_bytes) ? kPmdBytes : page;
}

// A move that meets every condition of the PMD path on our side: whole PMDs, both ends aligned.
inline bool PmdMove(const void* from, const void* to, size_t bytes) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % kPmdBytes == 0; };
  return bytes > 0 && bytes % kPmdBytes == 0 && aligned(from) && aligned(to);
}

}  // namespace pageflip

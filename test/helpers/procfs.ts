// Readers of /proc for the tests and the soak (bench/soak.ts): mapping counts, page frames,
// process resources for leak checks. What the library itself reads is in lib/procfs.ts.
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

/** Number of mappings (VMAs) of this process. */
export function mappingCount(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
}

/** Every /proc/self/status field given in kB, as bytes, from one read. */
function statusBytes(): Record<string, number | undefined> {
  const fields: Record<string, number> = {};
  for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) fields[m[1]] = Number(m[2]) * 1024;
  return fields;
}

/** Resident set size of this process, bytes. */
export function rssBytes(): number {
  return statusBytes().VmRSS ?? NaN;
}

/** Total mapped address space of this process, bytes (adjacent anonymous mappings merge, so
 * this catches leaked mappings that a VMA count would miss). */
export function virtualBytes(): number {
  return statusBytes().VmSize ?? NaN;
}

/** What this process holds, for leak checks (the soak and the reliability tests). */
export interface ProcessResources {
  fds: number;
  /** Mappings (VMAs). */
  maps: number;
  /** Mappings of sockets: zero-copy arenas and pages flipped out of them. */
  socketMaps: number;
  /** VmSize, bytes. */
  vsize: number;
  /** VmRSS, bytes. */
  rss: number;
  /** VmPin, bytes: pages the kernel pinned on behalf of this process. */
  pinned: number;
  /** glibc malloc arenas beyond the main one (64 MiB of address space each, never given back). */
  mallocArenas: number;
}

/** Address space of one glibc malloc arena (HEAP_MAX_SIZE on 64-bit). */
export const MALLOC_ARENA_BYTES = 64 * 1024 * 1024;
const ARENA_BYTES = BigInt(MALLOC_ARENA_BYTES);

/**
 * glibc gives a thread that finds every malloc arena busy a new one: a 64 MiB-aligned, 64 MiB
 * reservation (read-write head, PROT_NONE rest) kept for the life of the process. Counting them
 * lets leak checks tell that allocator behaviour, which depends on thread timing, from a leak.
 */
function countMallocArenas(maps: string[]): number {
  let count = 0;
  for (let i = 0; i < maps.length; i++) {
    const head = maps[i].match(/^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$/);
    if (!head) continue;
    const start = BigInt(`0x${head[1]}`);
    let end = BigInt(`0x${head[2]}`);
    if (start % ARENA_BYTES !== 0n) continue;
    const rest = maps[i + 1]?.match(/^([0-9a-f]+)-([0-9a-f]+) ---p 00000000 00:00 0\s*$/);
    if (rest && BigInt(`0x${rest[1]}`) === end) end = BigInt(`0x${rest[2]}`);
    if (end - start === ARENA_BYTES) count++;
  }
  return count;
}

export function processResources(): ProcessResources {
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean);
  const status = statusBytes();
  return {
    fds: readdirSync('/proc/self/fd').length,
    maps: maps.length,
    socketMaps: maps.filter((line) => line.includes('socket:[')).length,
    vsize: status.VmSize ?? 0,
    rss: status.VmRSS ?? 0,
    // VmPin: 0 where this kernel lacks the field.
    pinned: status.VmPin ?? 0,
    mallocArenas: countMallocArenas(maps),
  };
}

/** after − before, field by field. */
export function resourceGrowth(before: ProcessResources, after: ProcessResources = processResources()): ProcessResources {
  return {
    fds: after.fds - before.fds,
    maps: after.maps - before.maps,
    socketMaps: after.socketMaps - before.socketMaps,
    vsize: after.vsize - before.vsize,
    rss: after.rss - before.rss,
    pinned: after.pinned - before.pinned,
    mallocArenas: after.mallocArenas - before.mallocArenas,
  };
}

/** The /proc/self/maps line of the mapping that covers `address`, if any. */
export function mappingAt(address: bigint): string | undefined {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((line) => {
      const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) /);
      return range !== null && BigInt('0x' + range[1]) <= address && address < BigInt('0x' + range[2]);
    });
}

/** Whether any mapping of this process covers `address`. */
export function isMapped(address: bigint): boolean {
  return mappingAt(address) !== undefined;
}

/**
 * Physical page frame numbers of the pages at [address, address + pages * pageSize), from
 * /proc/self/pagemap. Returns undefined unless the kernel shows PFNs (root, CAP_SYS_ADMIN);
 * absent pages read as 0n.
 */
export function pageFrameNumbers(address: bigint, pages: number, pageSize: number): bigint[] | undefined {
  const fd = openSync('/proc/self/pagemap', 'r');
  try {
    const entries = Buffer.alloc(pages * 8);
    readSync(fd, entries, 0, entries.length, Number((address / BigInt(pageSize)) * 8n));
    const pfns: bigint[] = [];
    for (let i = 0; i < pages; i++) {
      const entry = entries.readBigUInt64LE(i * 8);
      const present = (entry >> 63n) & 1n;
      pfns.push(present ? entry & ((1n << 55n) - 1n) : 0n);
    }
    // Without privilege the kernel zeroes the PFN field of present pages.
    return pfns.some((pfn) => pfn !== 0n) ? pfns : undefined;
  } finally {
    closeSync(fd);
  }
}

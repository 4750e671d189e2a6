// Small readers of /proc and /sys used to report what the kernel actually did (huge pages,
// page frames, mapping counts), never to guess it.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The bracketed choice of a /sys "a [b] c" setting, e.g. THP mode. */
export function selectedSetting(path: string): string | undefined {
  return readTrimmed(path)?.match(/\[([^\]]+)\]/)?.[1];
}

/** Number of mappings (VMAs) of this process. */
export function mappingCount(): number {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean).length;
}

function statusBytes(field: string): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
  return kb * 1024;
}

/** Resident set size of this process, bytes. */
export function rssBytes(): number {
  return statusBytes('VmRSS');
}

/** Total mapped address space of this process, bytes (adjacent anonymous mappings merge, so
 * this catches leaked mappings that a VMA count would miss). */
export function virtualBytes(): number {
  return statusBytes('VmSize');
}

/** Whether any mapping of this process covers `address`. */
export function isMapped(address: bigint): boolean {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .some((line) => {
      const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) /);
      return range !== null && BigInt('0x' + range[1]) <= address && address < BigInt('0x' + range[2]);
    });
}

interface SmapsEntry {
  start: bigint;
  end: bigint;
  fields: Map<string, number>;
}

function smaps(): SmapsEntry[] {
  const entries: SmapsEntry[] = [];
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) /);
    if (range) {
      entries.push({ start: BigInt('0x' + range[1]), end: BigInt('0x' + range[2]), fields: new Map() });
      continue;
    }
    const field = line.match(/^(\w+):\s+(\d+) kB/);
    if (field && entries.length) entries[entries.length - 1].fields.set(field[1], Number(field[2]) * 1024);
  }
  return entries;
}

/** Sum of an smaps field (bytes) over the mappings that overlap [address, address + length). */
export function smapsBytes(address: bigint, length: number, field: string): number {
  const end = address + BigInt(length);
  return smaps()
    .filter((entry) => entry.start < end && entry.end > address)
    .reduce((sum, entry) => sum + (entry.fields.get(field) ?? 0), 0);
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

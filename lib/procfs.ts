// Small readers of /proc and /sys the library reports what the kernel actually did with (THP
// mode, huge pages behind a region), never guessing it. The tests' and the soak's readers
// (mapping counts, page frames, leak figures) are in test/helpers/procfs.ts.
import { readFileSync } from 'node:fs';

function readTrimmed(path: string): string | undefined {
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

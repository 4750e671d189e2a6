// Soak (not a test): streams N GB through every receive mode, at the paper's MTUs and a large
// one, from every send mode, with every byte verified, inside private network namespaces.
// Prints progress, then bytes verified, mismatches and the leak figures (descriptors, mappings,
// socket mappings, address space, RSS, pinned pages); exits non-zero on any mismatch, a short
// stream, an error or a leak beyond the stated tolerance.
//
//   npm run soak -- --gb 100 [--segment-mib 256] [--json]
//
// `soak()` is also what test/soak.test.ts runs (2 GB).
import { pathToFileURL } from 'node:url';
import { setImmediate as nextImmediate } from 'node:timers/promises';
import { Receiver, receiveLoop, sendLoop, type ReceiveMode, type SendMode } from '../lib/index.js';
import { PrivateNetwork } from '../lib/experiment/netns.js';
import { MALLOC_ARENA_BYTES, processResources, resourceGrowth, type ProcessResources } from '../test/helpers/procfs.js';
import { DEFAULT_CHUNK_BYTES, RECEIVE_MODES } from '../lib/vocabulary.js';

const GB = 1e9;
const KiB = 1024;
const MiB = 1024 * KiB;
export const soakModes: ReceiveMode[] = [...RECEIVE_MODES];
export const soakMtus = [4148, 8244, 61512];
const sendModes: SendMode[] = ['zerocopy', 'write', 'splice'];

export interface SoakModeTotals {
  bytes: number;
  mapped: number;
  copied: number;
  verified: number;
  mismatches: number;
  segments: number;
}

export interface SoakProgress {
  bytes: number;
  target: number;
  seconds: number;
  mismatches: number;
  segment: string;
}

export interface SoakOptions {
  /** Total to stream, in GB (10^9 bytes), over all modes. */
  gb: number;
  /** Bytes per connection; default: the total spread over 3 rounds of every mode × MTU, 16 MiB to 1 GiB. */
  segmentBytes?: number;
  modes?: ReceiveMode[];
  mtus?: number[];
  /** Every n-th connection is read by the JavaScript Receiver (leases) instead of a native loop. Default 5. */
  jsEvery?: number;
  onProgress?: (progress: SoakProgress) => void;
}

export interface SoakResult {
  target: number;
  bytes: number;
  verified: number;
  mismatches: number;
  seconds: number;
  gbitPerSecond: number;
  connections: number;
  errors: string[];
  perMode: Record<string, SoakModeTotals>;
  before: ProcessResources;
  after: ProcessResources;
  /** What grew, and whether it stayed within the tolerances below. */
  leaks: { growth: ProcessResources; ok: boolean; tolerance: string };
  ok: boolean;
}

// Leak tolerances: nothing of ours may stay (descriptors, socket mappings, pinned pages).
// Mappings: every leaked receiver or loop would leave one or more (slots, arena, destinations,
// the 16 MiB send ring) per connection, so over the soak's connections (~120 for 2 GB) a leak
// shows far above +48, which covers V8's new heap pages. Address space: V8 reserves heap pages
// without touching them, so VmSize gets +256 MiB besides the 64 MiB malloc arenas glibc adds
// for concurrently running threads (counted apart); RSS (what is really held) +64 MiB.
const TOLERANCE = { maps: 48, vsize: 256 * MiB, rss: 64 * MiB };
const toleranceText = `fds +0, socket maps +0, VmPin +0, maps <= +${TOLERANCE.maps}, VmSize <= +${TOLERANCE.vsize / MiB} MiB besides new malloc arenas, RSS <= +${TOLERANCE.rss / MiB} MiB`;

function senderFor(mode: ReceiveMode, index: number): SendMode {
  // Zero-copy receive maps pages only from a MSG_ZEROCOPY sender on loopback (notes §1.4), so
  // mostly use that, with every other sender now and then (the all-copied path).
  if (mode === 'zerocopy' || mode === 'flip') return index % 4 === 3 ? sendModes[1 + ((index >> 2) % 2)] : 'zerocopy';
  return sendModes[index % sendModes.length];
}

/** What each connection adds to its mode's totals (the rest of SoakModeTotals counts segments). */
const SUMMED = ['bytes', 'mapped', 'copied', 'verified', 'mismatches'] as const;

interface SegmentOutcome extends Pick<SoakModeTotals, (typeof SUMMED)[number]> {
  sent: number;
  error?: string;
}

async function viaLoop(net: PrivateNetwork, mode: ReceiveMode, send: SendMode, bytes: number, seed: number): Promise<SegmentOutcome> {
  const { client, server } = await net.connectedPair();
  try {
    const [r, s] = await Promise.all([
      receiveLoop(server, { mode, verify: true, seed, releaseBatch: 4 }).done,
      sendLoop(client, { mode: send, bytes, seed }).done,
    ]);
    return { bytes: r.bytes, mapped: r.mappedBytes, copied: r.copiedBytes, verified: r.verifiedBytes, mismatches: r.mismatches, sent: s.bytes };
  } finally {
    client.close();
    server.close();
  }
}

async function viaReceiver(net: PrivateNetwork, mode: ReceiveMode, send: SendMode, bytes: number, seed: number): Promise<SegmentOutcome> {
  const { client, server } = await net.connectedPair();
  const receiver = new Receiver(server, { mode, verify: true, seed, chunkSize: DEFAULT_CHUNK_BYTES, maxLeases: 4 });
  try {
    const sending = sendLoop(client, { mode: send, bytes, seed });
    const held = [];
    for await (const lease of receiver) {
      held.push(lease);
      if (held.length === 3) for (const l of held.splice(0)) l.release(); // hold a few, release in a batch
    }
    for (const l of held) l.release();
    const s = await sending.done;
    const r = receiver.stats();
    return { bytes: r.bytes, mapped: r.mappedBytes, copied: r.copiedBytes, verified: r.verifiedBytes, mismatches: r.mismatches, sent: s.bytes };
  } finally {
    receiver.close();
    client.close();
    server.close();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await nextImmediate();
  }
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const modes = options.modes ?? soakModes;
  const mtus = options.mtus ?? soakMtus;
  const target = Math.round(options.gb * GB);
  const combos = modes.length * mtus.length;
  const segmentBytes = Math.max(MiB, Math.round(options.segmentBytes ?? Math.min(1024 * MiB, Math.max(16 * MiB, target / (3 * combos)))));
  const jsEvery = options.jsEvery ?? 5;
  const networks = new Map(mtus.map((mtu) => [mtu, PrivateNetwork.create(mtu)]));
  const perMode: Record<string, SoakModeTotals> = {};
  for (const mode of modes) perMode[mode] = { bytes: 0, mapped: 0, copied: 0, verified: 0, mismatches: 0, segments: 0 };
  /** A field summed over the modes: the soak's totals are the per-mode ones added up. */
  const total = (field: (typeof SUMMED)[number]) => Object.values(perMode).reduce((n, t) => n + t[field], 0);
  const errors: string[] = [];
  let bytes = 0;
  let connections = 0;
  try {
    // Warm-up: every kind of connection once, so lazily created process state (malloc arenas of
    // the loop threads, V8 code, libuv handles) exists before the baseline.
    for (const net of networks.values()) {
      await viaLoop(net, 'flip', 'zerocopy', 4 * MiB, 1);
      await viaReceiver(net, 'zerocopy', 'zerocopy', 4 * MiB, 1);
    }
    await settle();
    const before = processResources();
    const start = performance.now();
    let lastProgress = 0;
    for (let index = 0; bytes < target && errors.length === 0; index++) {
      const mode = modes[index % modes.length];
      const mtu = mtus[Math.floor(index / modes.length) % mtus.length];
      const send = senderFor(mode, Math.floor(index / combos));
      const size = Math.min(segmentBytes, target - bytes);
      const js = jsEvery > 0 && index % jsEvery === jsEvery - 1;
      const seed = 0x5eed0000 + index;
      const label = `${mode} ← ${send}, MTU ${mtu}, ${js ? 'JS leases' : 'native loop'}`;
      let outcome: SegmentOutcome;
      try {
        outcome = await (js ? viaReceiver : viaLoop)(networks.get(mtu)!, mode, send, size, seed);
      } catch (error) {
        errors.push(`${label}: ${(error as Error).message}`);
        break;
      }
      connections++;
      const totals = perMode[mode];
      for (const field of SUMMED) totals[field] += outcome[field];
      totals.segments++;
      bytes += outcome.bytes;
      if (outcome.sent !== size || outcome.bytes !== size) errors.push(`${label}: sent ${outcome.sent}, received ${outcome.bytes} of ${size}`);
      if (outcome.verified !== outcome.bytes) errors.push(`${label}: verified ${outcome.verified} of ${outcome.bytes}`);
      if (outcome.mapped + outcome.copied !== outcome.bytes) errors.push(`${label}: mapped + copied != received`);
      if (outcome.mismatches) errors.push(`${label}: ${outcome.mismatches} mismatched bytes`);
      const now = performance.now();
      if (options.onProgress && (now - lastProgress > 2000 || bytes >= target)) {
        lastProgress = now;
        options.onProgress({ bytes, target, seconds: (now - start) / 1000, mismatches: total('mismatches'), segment: label });
      }
    }
    const seconds = (performance.now() - start) / 1000;
    const verified = total('verified');
    const mismatches = total('mismatches');
    await settle();
    const after = processResources();
    const growth = resourceGrowth(before, after);
    const leaksOk =
      growth.fds <= 0 &&
      growth.socketMaps <= 0 &&
      growth.pinned <= 0 &&
      growth.maps <= TOLERANCE.maps &&
      growth.vsize - Math.max(0, growth.mallocArenas) * MALLOC_ARENA_BYTES <= TOLERANCE.vsize &&
      growth.rss <= TOLERANCE.rss;
    return {
      target,
      bytes,
      verified,
      mismatches,
      seconds,
      gbitPerSecond: (bytes * 8) / seconds / 1e9,
      connections,
      errors,
      perMode,
      before,
      after,
      leaks: { growth, ok: leaksOk, tolerance: toleranceText },
      ok: errors.length === 0 && mismatches === 0 && bytes >= target && verified === bytes && leaksOk,
    };
  } finally {
    for (const net of networks.values()) net.close();
  }
}

export function formatSoak(result: SoakResult): string {
  const gb = (n: number) => (n / GB).toFixed(2);
  const g = result.leaks.growth;
  const sign = (n: number) => `${n >= 0 ? '+' : ''}${n}`;
  const lines = [
    `soak: ${gb(result.bytes)} GB streamed over ${result.connections} connections in ${result.seconds.toFixed(1)} s (${result.gbitPerSecond.toFixed(2)} Gbit/s)`,
    `  bytes verified: ${result.verified} (${gb(result.verified)} GB), mismatches: ${result.mismatches}`,
  ];
  for (const [mode, t] of Object.entries(result.perMode)) {
    lines.push(
      `  ${mode.padEnd(10)} ${gb(t.bytes).padStart(8)} GB in ${String(t.segments).padStart(4)} connections, ${t.bytes ? ((100 * t.mapped) / t.bytes).toFixed(1) : '0.0'}% mapped, mismatches ${t.mismatches}`,
    );
  }
  lines.push(
    `  leaks: fds ${sign(g.fds)}, maps ${sign(g.maps)}, socket maps ${sign(g.socketMaps)}, VmSize ${sign(g.vsize / KiB)} KiB (malloc arenas ${sign(g.mallocArenas)}), RSS ${sign(g.rss / KiB)} KiB, VmPin ${sign(g.pinned / KiB)} KiB -> ${result.leaks.ok ? 'ok' : 'LEAK'} (tolerance: ${result.leaks.tolerance})`,
  );
  for (const e of result.errors) lines.push(`  error: ${e}`);
  lines.push(result.ok ? 'soak: OK' : 'soak: FAILED');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const gb = Number(value('--gb') ?? 2);
  if (!(gb > 0)) {
    console.error('usage: npm run soak -- --gb N [--segment-mib M] [--json]');
    return 2;
  }
  const segmentMiB = value('--segment-mib');
  const result = await soak({
    gb,
    segmentBytes: segmentMiB ? Number(segmentMiB) * MiB : undefined,
    onProgress: (p) =>
      console.log(
        `soak: ${(p.bytes / GB).toFixed(2)}/${(p.target / GB).toFixed(2)} GB (${((100 * p.bytes) / p.target).toFixed(1)}%), ` +
          `${((p.bytes * 8) / p.seconds / 1e9).toFixed(2)} Gbit/s, ${p.seconds.toFixed(0)} s, mismatches ${p.mismatches}; last: ${p.segment}`,
      ),
  });
  console.log(argv.includes('--json') ? JSON.stringify(result, null, 2) : formatSoak(result));
  return result.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}

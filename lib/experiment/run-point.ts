// One measured run of one point (receive mode × MTU × touch × sender): the sender side feeds a
// fresh connection, the receiver runs here, and system CPU (and perf, when asked) are sampled
// exactly around the receiver's run.
import { receiveLoop, sendLoop, type ReceiveLoopOptions, type SendLoopStats } from '../loop.js';
import type { SocketOptions } from '../native.js';
import type { Connection } from '../socket.js';
import { nodeRead } from './node-reader.js';
import { withPerf } from './perf.js';
import { MOVING, type LoopReceiveMode, type SendMode } from '../vocabulary.js';
import type { Testbed } from './testbed.js';
import type { CpuUsage, Layout, RowMode, RunResult, ThreadCpu } from './types.js';
import { cpuCount } from './cpu.js';
import { planWindow, readWindow, windowFigures, type WindowPlan } from './window.js';

export interface PointSpec {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: SendMode;
  /** The sender as a thread of this process instead of the run's default (its own process). */
  layout?: Layout;
  /** Parallel connections, each with its own receive loop and send loop (default 1). */
  flows?: number;
  /** Bytes per receive (and send) call of this point, when not the run's chunk (the 2 MiB page-table flip rows). */
  chunkBytes?: number;
}

export interface RunSettings {
  seconds: number | null;
  bytes: number | null;
  chunkBytes: number;
  cpus: { rx: number; tx: number } | null;
  /** CPU sets for parallel flows (flow i: rx[i % n], tx[i % m]) and for the per-side figures. */
  cpuSets?: { rx: number[]; tx: number[] } | null;
  perf: boolean;
  seed: number;
  /** Seconds of receiving on the measured connection before the measured run starts (0 or absent: none). */
  warmupSeconds?: number;
  /** Receive-side knobs for tuning benches (loop options, socket options on the receiving end). */
  tuning?: { loop?: Partial<ReceiveLoopOptions>; socket?: SocketOptions };
}

/** The far end of a run: opens a connection that is being fed, and reports on it when stopped. */
export interface SenderSide {
  open(spec: PointSpec, settings: RunSettings): Promise<OpenedStream>;
}

export interface OpenedStream {
  /** The receiving end, here. */
  connection: Connection;
  /** The process whose send loop threads feed this stream when it runs on this host (null: another host). */
  senderPid: number | null;
  /** How the sender runs relative to the receiver. */
  layout: Layout | 'peer';
  /** Ends the sender (after its byte count, or now) and reports its cost. */
  finish(): Promise<{ thread: ThreadCpu | null; remoteCpu: CpuUsage | null; bytes: number }>;
  close(): void;
}

/** CPU seconds of one loop thread and its cost per MB moved. */
export function threadCpu(seconds: number, bytes: number): ThreadCpu {
  return { seconds, usPerMB: bytes > 0 ? (seconds * 1e6) / (bytes / 1e6) : 0 };
}

export interface StartedSender {
  /** Ends the send loop now (idempotent). */
  stop(): void;
  /** Stops a timed run (settings.bytes null), else waits for the byte count; rethrows the loop's failure. */
  finish(): Promise<SendLoopStats>;
  /** Settles when the loop has ended; never rejects. */
  readonly settled: Promise<unknown>;
}

/** A native send loop on `connection` for one run: the one mapping of RunSettings to sendLoop
 * options, for the local sender and for `pageflip serve`. */
export function startSender(connection: Connection, mode: SendMode, settings: RunSettings): StartedSender {
  const loop = sendLoop(connection, {
    mode,
    seed: settings.seed,
    chunkSize: settings.chunkBytes,
    cpu: settings.cpus?.tx,
    bytes: settings.bytes ?? 0,
  });
  // Keep a failure from becoming an unhandled rejection before finish() looks at it.
  const done: Promise<SendLoopStats | Error> = loop.done.catch((error: Error) => error);
  return {
    stop: () => loop.stop(),
    async finish() {
      if (settings.bytes === null) loop.stop();
      const result = await done;
      if (result instanceof Error) throw result;
      return result;
    },
    settled: done,
  };
}

/** Local sender: a native send loop on the other end of a testbed connection. */
export function localSender(testbed: Testbed): SenderSide {
  return {
    async open(spec, settings) {
      const { client, server } = await testbed.pair(spec.mtu);
      const sender = startSender(client, spec.sender, settings);
      return {
        connection: server,
        senderPid: process.pid,
        layout: 'threads',
        async finish() {
          const result = await sender.finish();
          return { thread: threadCpu(result.cpuSeconds, result.bytes), remoteCpu: null, bytes: result.bytes };
        },
        close() {
          sender.stop();
          client.close();
          server.close();
        },
      };
    },
  };
}

interface Received {
  bytes: number;
  seconds: number;
  threadSeconds: number;
  mapped: number;
  copied: number;
  verified: number;
  mismatches: number;
  syscalls: number | null;
  calls: RunResult['calls'];
  remap: RunResult['remap'];
  note: string | null;
  windowStart: string[];
  windowEnd: string[];
}

/** The receive loop options of a compare run of `mode` (bench:receive uses the same, so their calls per MB agree). */
export function receiveLoopOptions(mode: LoopReceiveMode, chunkBytes: number): ReceiveLoopOptions {
  // Page moving with a batch of slots released by one madvise is what tcp_mmap.c does.
  return { mode, chunkSize: chunkBytes, releaseBatch: mode === 'zerocopy' ? 4 : 1 };
}

/** How much to read: a duration, or a byte count (the sender then runs until finish(), see runPoint). */
function limits(settings: RunSettings): { seconds: number; bytes: number } {
  return settings.bytes === null ? { seconds: settings.seconds ?? 0, bytes: 0 } : { seconds: 0, bytes: settings.bytes };
}

/** The window of a receive that is not measured (a warm-up, or a flow other than the first): nothing read. */
const NO_WINDOW: WindowPlan = { paths: [], senderPid: null, senderTids: [] };

async function receive(connection: Connection, spec: PointSpec, settings: RunSettings, window: WindowPlan, streamOffset = 0): Promise<Received> {
  const { seconds, bytes } = limits(settings);
  if (spec.mode === 'node') {
    // Node's reader is no native loop: its window is read here, around it.
    const windowStart = readWindow(window);
    const r = await nodeRead(connection, { seconds: seconds || null, bytes, verify: spec.touch, seed: settings.seed, streamOffset });
    const windowEnd = readWindow(window);
    return { bytes: r.bytes, seconds: r.seconds, threadSeconds: r.cpuSeconds, mapped: 0, copied: r.bytes, verified: r.verifiedBytes, mismatches: r.mismatches, syscalls: null, calls: null, remap: null, note: null, windowStart, windowEnd };
  }
  const r = await receiveLoop(connection, {
    ...receiveLoopOptions(spec.mode as LoopReceiveMode, settings.chunkBytes),
    window: window.paths,
    verify: spec.touch,
    seed: settings.seed,
    streamOffset,
    cpu: settings.cpus?.rx,
    seconds,
    bytes,
    ...settings.tuning?.loop,
  }).done;
  const notes: string[] = [];
  if (r.fallbackReason) notes.push(r.fallbackReason);
  const mappedShare = r.bytes ? r.mappedBytes / r.bytes : 0;
  if (MOVING.has(spec.mode) && mappedShare < 0.9)
    notes.push(`copy fallback: only ${(mappedShare * 100).toFixed(1)}% of bytes mapped (the kernel maps only whole-page, order-0 frags; a '${spec.sender}' sender on loopback ${spec.sender === 'write' ? 'builds compound-page frags' : 'did not provide them'})`);
  if (r.mismatches) notes.push(`${r.mismatches} bytes did not match the pattern (first at offset ${r.firstMismatchOffset})`);
  return {
    bytes: r.bytes,
    seconds: r.seconds,
    threadSeconds: r.cpuSeconds,
    mapped: r.mappedBytes,
    copied: r.copiedBytes,
    verified: r.verifiedBytes,
    mismatches: r.mismatches,
    syscalls: r.syscalls,
    calls: { receive: r.receiveCalls, wait: r.waitCalls, page: r.pageCalls },
    remap: { bytes: r.remappedBytes, pmdMoves: r.pmdMoves },
    note: notes.length ? notes.join('; ') : null,
    windowStart: r.windowStart ?? [],
    windowEnd: r.windowEnd ?? [],
  };
}

/** The throughput figures of a result row: Mbit/s, Gbit/s and Mbit/s per percent of system CPU. */
export function rowFigures(bytes: number, seconds: number, cpu: CpuUsage): { mbps: number; gbps: number; efficiency: number } {
  const mbps = (bytes * 8) / seconds / 1e6;
  return { mbps, gbps: mbps / 1000, efficiency: cpu.percent > 0 ? mbps / cpu.percent : 0 };
}

/** The CPUs of flow `index`: spread round-robin over the CPU sets, or the one pinned pair. */
function flowCpus(settings: RunSettings, index: number): RunSettings['cpus'] {
  const sets = settings.cpuSets;
  if (!sets) return settings.cpus;
  return { rx: sets.rx[index % sets.rx.length], tx: sets.tx[index % sets.tx.length] };
}

/** Flows received together: byte and call counts add up, the run lasts as long as the longest flow. */
function combine(flows: Received[]): Received {
  const sum = (pick: (r: Received) => number) => flows.reduce((total, r) => total + pick(r), 0);
  const notes = [...new Set(flows.map((r) => r.note).filter((n): n is string => n !== null))];
  const syscalls = flows.every((r) => r.syscalls !== null) ? sum((r) => r.syscalls!) : null;
  return {
    bytes: sum((r) => r.bytes),
    seconds: Math.max(...flows.map((r) => r.seconds)),
    threadSeconds: sum((r) => r.threadSeconds),
    mapped: sum((r) => r.mapped),
    copied: sum((r) => r.copied),
    verified: sum((r) => r.verified),
    mismatches: sum((r) => r.mismatches),
    syscalls,
    calls: flows.every((r) => r.calls !== null) ? { receive: sum((r) => r.calls!.receive), wait: sum((r) => r.calls!.wait), page: sum((r) => r.calls!.page) } : null,
    remap: flows.every((r) => r.remap) ? { bytes: sum((r) => r.remap!.bytes), pmdMoves: sum((r) => r.remap!.pmdMoves) } : null,
    note: notes.length ? notes.join('; ') : null,
    // The first flow's loop reads the window; the others start and end with it.
    windowStart: flows[0].windowStart,
    windowEnd: flows[0].windowEnd,
  };
}

export async function runPoint(side: SenderSide, spec: PointSpec, runSettings: RunSettings, repeat: number): Promise<RunResult> {
  // A point's own chunk sizes both ends of its connections.
  const settings = spec.chunkBytes === undefined ? runSettings : { ...runSettings, chunkBytes: spec.chunkBytes };
  const count = spec.flows ?? 1;
  const warmup = settings.warmupSeconds ?? 0;
  const flowSettings = (i: number): RunSettings => ({ ...settings, cpus: flowCpus(settings, i) });
  const streams: OpenedStream[] = [];
  try {
    // Each flow: its own connection, send loop (thread of the sender process) and receive loop.
    // With a warm-up on the same connection the byte count is the receiver's: the sender runs until finish().
    for (let i = 0; i < count; i++) streams.push(await side.open(spec, warmup > 0 ? { ...flowSettings(i), bytes: null } : flowSettings(i)));
    const stream = streams[0];
    if (settings.tuning?.socket) for (const s of streams) s.connection.setOptions(settings.tuning.socket);
    // Warm up the measured connections themselves (window, congestion state, page tables, caches),
    // so the measured run does not start cold; verified runs continue the pattern where it left off.
    const warmed =
      warmup > 0
        ? await Promise.all(streams.map(async (s, i) => (await receive(s.connection, { ...spec, touch: false }, { ...flowSettings(i), seconds: warmup, bytes: null }, NO_WINDOW)).bytes))
        : streams.map(() => 0);
    const window = await planWindow(stream.senderPid, count);
    const { result: flows, counters } = await withPerf(
      settings.perf,
      async (perfWindow) => {
        await perfWindow.open();
        const got = await Promise.all(streams.map((s, i) => receive(s.connection, spec, flowSettings(i), i === 0 ? window : NO_WINDOW, warmed[i])));
        await perfWindow.close();
        return got;
      },
      (m) => m.reduce((total, r) => total + r.bytes, 0),
    );
    const received = combine(flows);
    const sent = (await Promise.all(streams.map((s) => s.finish())))[0];
    // Two hosts: the receiving host is this whole box, the sending host reports its own CPU.
    const remote = stream.layout === 'peer';
    const local = settings.cpuSets ?? (settings.cpus ? { rx: [settings.cpus.rx], tx: [settings.cpus.tx] } : null);
    const cpus = remote ? { rx: [...Array(cpuCount()).keys()], tx: [] } : local;
    const figures = windowFigures(window, received.windowStart, received.windowEnd, received.bytes, received.seconds, cpus);
    if (remote && figures.sides) {
      const other = sent.remoteCpu;
      figures.sides.sender = other ? { cpus: [], percent: other.percent, softirq: other.softirq, steal: other.steal, usPerMB: other.usPerMB } : { ...figures.sides.sender, percent: 0, usPerMB: 0 };
    }
    const { cpu } = figures;
    const perFlowSender = figures.senderThreadSeconds;
    const { mbps, gbps, efficiency } = rowFigures(received.bytes, received.seconds, cpu);
    const receiverPercent = figures.sides?.receiver.percent ?? 0;
    return {
      repeat,
      mode: spec.mode,
      mtu: spec.mtu,
      touch: spec.touch,
      sender: spec.sender,
      bytes: received.bytes,
      seconds: received.seconds,
      gbps,
      mbps,
      cpu,
      efficiency,
      receiverThread: threadCpu(received.threadSeconds, received.bytes),
      // In the same window as the receiver's when the sender runs here; a remote sender reports its
      // own (over its loop's life); a local one whose threads could not be read has none.
      senderThread: figures.senderSeconds !== null ? threadCpu(figures.senderSeconds, received.bytes) : remote ? sent.thread : null,
      mappedBytes: received.mapped,
      copiedBytes: received.copied,
      mappedPercent: received.bytes ? (received.mapped / received.bytes) * 100 : 0,
      verifiedBytes: received.verified,
      mismatches: received.mismatches,
      syscalls: received.syscalls,
      calls: received.calls,
      perf: counters,
      note: received.note,
      remote: stream.layout === 'peer' && sent.remoteCpu ? { cpu: sent.remoteCpu } : null,
      layout: stream.layout,
      pids: { receiver: process.pid, sender: stream.senderPid },
      sides: figures.sides,
      receiverEfficiency: figures.sides ? (receiverPercent > 0 ? mbps / receiverPercent : 0) : null,
      otherCpu: figures.otherCpu,
      flows:
        count > 1
          ? flows.map((f, i) => ({
              bytes: f.bytes,
              seconds: f.seconds,
              mbps: rowFigures(f.bytes, f.seconds, cpu).mbps,
              receiverThread: threadCpu(f.threadSeconds, f.bytes),
              // Thread i sends flow i (window.ts sendThreads), when one was found per flow.
              senderThread: perFlowSender?.length === count ? threadCpu(perFlowSender[i], f.bytes) : null,
            }))
          : null,
      chunkBytes: settings.chunkBytes,
      remap: received.remap,
    };
  } finally {
    for (const stream of streams) stream.close();
  }
}

// One measured run of one point (receive mode × MTU × touch × sender): the sender side feeds a
// fresh connection, the receiver runs here, and system CPU (and perf, when asked) are sampled
// exactly around the receiver's run.
import { receiveLoop, sendLoop, type ReceiveLoopOptions, type SendLoopStats } from '../loop.js';
import type { ReceiveMode, SendMode, SocketOptions } from '../native.js';
import type { Connection } from '../socket.js';
import { cpuUsage, readCpu } from './cpu.js';
import { nodeRead } from './node-reader.js';
import { withPerf } from './perf.js';
import { MOVING } from './stats.js';
import type { Testbed } from './testbed.js';
import type { CpuUsage, RowMode, RunResult, ThreadCpu } from './types.js';

export interface PointSpec {
  mode: RowMode;
  mtu: number;
  touch: boolean;
  sender: SendMode;
}

export interface RunSettings {
  seconds: number | null;
  bytes: number | null;
  chunkBytes: number;
  cpus: { rx: number; tx: number } | null;
  perf: boolean;
  seed: number;
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
  note: string | null;
}

async function receive(connection: Connection, spec: PointSpec, settings: RunSettings): Promise<Received> {
  if (settings.tuning?.socket) connection.setOptions(settings.tuning.socket);
  if (spec.mode === 'node') {
    const r = await nodeRead(connection, { seconds: settings.bytes === null ? settings.seconds : null, verify: spec.touch, seed: settings.seed });
    return { bytes: r.bytes, seconds: r.seconds, threadSeconds: r.cpuSeconds, mapped: 0, copied: r.bytes, verified: r.verifiedBytes, mismatches: r.mismatches, syscalls: null, note: null };
  }
  const r = await receiveLoop(connection, {
    mode: spec.mode as ReceiveMode,
    verify: spec.touch,
    seed: settings.seed,
    chunkSize: settings.chunkBytes,
    cpu: settings.cpus?.rx,
    seconds: settings.bytes === null ? (settings.seconds ?? 0) : 0,
    // Page moving with a batch of slots released by one madvise is what tcp_mmap.c does.
    releaseBatch: spec.mode === 'zerocopy' ? 4 : 1,
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
    note: notes.length ? notes.join('; ') : null,
  };
}

/** The throughput figures of a result row: Mbit/s, Gbit/s and Mbit/s per percent of system CPU. */
export function rowFigures(bytes: number, seconds: number, cpu: CpuUsage): { mbps: number; gbps: number; efficiency: number } {
  const mbps = (bytes * 8) / seconds / 1e6;
  return { mbps, gbps: mbps / 1000, efficiency: cpu.percent > 0 ? mbps / cpu.percent : 0 };
}

export async function runPoint(side: SenderSide, spec: PointSpec, settings: RunSettings, repeat: number): Promise<RunResult> {
  const stream = await side.open(spec, settings);
  try {
    const { result: measured, counters } = await withPerf(
      settings.perf,
      async (window) => {
        await window.open();
        const before = readCpu();
        const received = await receive(stream.connection, spec, settings);
        const after = readCpu();
        await window.close();
        return { before, received, after };
      },
      (m) => m.received.bytes,
    );
    const { before, received, after } = measured;
    const sent = await stream.finish();
    const cpu = cpuUsage(before, after, received.bytes, received.seconds);
    const { mbps, gbps, efficiency } = rowFigures(received.bytes, received.seconds, cpu);
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
      senderThread: sent.thread,
      mappedBytes: received.mapped,
      copiedBytes: received.copied,
      mappedPercent: received.bytes ? (received.mapped / received.bytes) * 100 : 0,
      verifiedBytes: received.verified,
      mismatches: received.mismatches,
      syscalls: received.syscalls,
      perf: counters,
      note: received.note,
      remote: sent.remoteCpu ? { cpu: sent.remoteCpu } : null,
    };
  } finally {
    stream.close();
  }
}

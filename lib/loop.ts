// Native hot loops: receive or send a byte count or a duration on a dedicated native thread.
// The data is the deterministic pattern (stream offset + seed), so the receiver can verify
// every byte ("touch") without shared state.
import { binding, type NativeLoop, type ReceiveLoopStats, type SendLoopStats } from './native.js';
import type { LoopReceiveMode, SendMode } from './vocabulary.js';
import { stopOnAbort, throwIfAborted } from './errors.js';
import { connectionArg, type Connection } from './socket.js';

export type { ReceiveLoopStats, SendLoopStats } from './native.js';

interface LoopLimits {
  /** Stop after this many bytes (0: no limit). */
  bytes?: number;
  /** Stop after this many seconds (0: no limit). */
  seconds?: number;
  /** Pin the loop thread to this CPU. */
  cpu?: number;
  /** Blocking syscalls with a 100 ms timeout (default) or non-blocking + poll. */
  blocking?: boolean;
  chunkSize?: number;
  seed?: number;
  /** Files (e.g. /proc/stat) the loop thread reads at its first and last instant, returned as
   * windowStart/windowEnd: a measurement window that covers the loop and nothing else. */
  window?: string[];
  /** Aborting stops the loop (as stop() does) and `done` rejects with an AbortError carrying `stats`. */
  signal?: AbortSignal;
}

export interface ReceiveLoopOptions extends LoopLimits {
  mode?: LoopReceiveMode;
  verify?: boolean;
  allowFallback?: boolean;
  copybuf?: number;
  tlbHint?: boolean;
  /** zerocopy: release this many consumed slots with one madvise. Default 1. */
  releaseBatch?: number;
  /** zerocopy: never madvise; the next receive zaps the old pages (no TLB hint). */
  lazyRelease?: boolean;
  /** SO_RCVLOWAT while the loop runs (restored after): wake once this many bytes are queued.
   * Default one chunk, capped at 256 KiB (a flip of whole 2 MiB slots: the slot); 0 leaves the socket's setting alone. */
  lowWater?: number;
  /** Stream offset of the first byte this loop reads, for verify (a loop that follows another on the same connection). Default 0. */
  streamOffset?: number;
}

export interface SendLoopOptions extends LoopLimits {
  mode?: SendMode;
  /** shutdown(SHUT_WR) once the byte or time limit is reached, so the receiver sees EOF (not after stop()). Default true. */
  shutdown?: boolean;
  /** zerocopy: when MSG_ZEROCOPY is refused (ENOBUFS) with nothing in flight, e.g. by RLIMIT_MEMLOCK,
   * send that chunk by copy (counted in copiedSends/copiedBytes) instead of failing with ENOBUFS. */
  allowFallback?: boolean;
}

export interface RunningLoop<T> {
  /** Resolves with the loop's measurements; rejects with a coded error carrying `stats`. */
  readonly done: Promise<T>;
  /** Ends the loop within ~100 ms. */
  stop(): void;
}

function start<T>(make: (options: object) => NativeLoop<T>, options: LoopLimits): RunningLoop<T> {
  const { signal, ...rest } = options ?? {};
  throwIfAborted(signal);
  const loop = make(rest);
  const stop = () => loop.stop();
  const done = stopOnAbort(signal, stop, loop.start());
  return { done, stop };
}

export function receiveLoop(connection: Connection, options: ReceiveLoopOptions = {}): RunningLoop<ReceiveLoopStats> {
  const fd = connectionArg(connection, 'receiveLoop()').fd;
  return start((rest) => new binding.Loop('receive', fd, rest), options);
}

export function sendLoop(connection: Connection, options: SendLoopOptions = {}): RunningLoop<SendLoopStats> {
  const fd = connectionArg(connection, 'sendLoop()').fd;
  return start((rest) => new binding.Loop('send', fd, rest), options);
}

// Native hot loops: receive or send a byte count or a duration on a dedicated native thread.
// The data is the deterministic pattern (stream offset + seed), so the receiver can verify
// every byte ("touch") without shared state.
import { binding, type NativeLoop, type ReceiveLoopStats, type ReceiveMode, type SendLoopStats, type SendMode } from './native.js';
import type { Connection } from './socket.js';

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
}

export interface ReceiveLoopOptions extends LoopLimits {
  mode?: ReceiveMode;
  verify?: boolean;
  allowFallback?: boolean;
  copybuf?: number;
  tlbHint?: boolean;
  /** zerocopy: release this many consumed slots with one madvise. Default 1. */
  releaseBatch?: number;
  /** zerocopy: never madvise; the next receive zaps the old pages (no TLB hint). */
  lazyRelease?: boolean;
  /** SO_RCVLOWAT while the loop runs (restored after): wake once this many bytes are queued.
   * Default one chunk, capped at 256 KiB; 0 leaves the socket's setting alone. */
  lowWater?: number;
}

export interface SendLoopOptions extends LoopLimits {
  mode?: SendMode;
  /** shutdown(SHUT_WR) once the byte or time limit is reached, so the receiver sees EOF (not after stop()). Default true. */
  shutdown?: boolean;
}

export interface RunningLoop<T> {
  /** Resolves with the loop's measurements; rejects with a coded error carrying `stats`. */
  readonly done: Promise<T>;
  /** Ends the loop within ~100 ms. */
  stop(): void;
}

function start<T>(loop: NativeLoop<T>): RunningLoop<T> {
  return { done: loop.start(), stop: () => loop.stop() };
}

export function receiveLoop(connection: Connection, options: ReceiveLoopOptions = {}): RunningLoop<ReceiveLoopStats> {
  return start(new binding.Loop('receive', connection.fd, options));
}

export function sendLoop(connection: Connection, options: SendLoopOptions = {}): RunningLoop<SendLoopStats> {
  return start(new binding.Loop('send', connection.fd, options));
}

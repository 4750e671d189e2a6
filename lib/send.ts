// Sender: sends PageRegions with write, MSG_ZEROCOPY or vmsplice(SPLICE_F_GIFT) + splice.
import { binding, type NativeLoop, type RegionSendStats } from './native.js';
import type { SendMode } from './vocabulary.js';
import { pageflipError, stopOnAbort, throwIfAborted } from './errors.js';
import { nativeRegionOf, type PageRegion } from './region.js';
import { connectionArg, type Connection } from './socket.js';

export type { RegionSendStats } from './native.js';
export type { SendMode } from './vocabulary.js';

export interface SenderOptions {
  /** write (default) | zerocopy (MSG_ZEROCOPY) | splice (vmsplice with SPLICE_F_GIFT, then splice) */
  mode?: SendMode;
  /** Bytes per syscall. Default 256 KiB. */
  chunkSize?: number;
  /** zerocopy: when MSG_ZEROCOPY is refused (ENOBUFS) with nothing in flight, e.g. by RLIMIT_MEMLOCK,
   * send that chunk by copy (counted in copiedSends/copiedBytes) instead of failing with ENOBUFS. */
  allowFallback?: boolean;
}

export interface SendRegionOptions {
  offset?: number;
  length?: number;
  /**
   * Aborting stops the send and rejects with an AbortError once the kernel no longer needs the
   * pages (the region is usable again, or closed for splice), like a stop by close().
   */
  signal?: AbortSignal;
}

export class Sender {
  readonly #connection: Connection;
  readonly #options: SenderOptions;
  readonly #running = new Set<NativeLoop<RegionSendStats>>();
  #closed = false;

  constructor(connection: Connection, options: SenderOptions = {}) {
    this.#connection = connectionArg(connection, 'new Sender()');
    this.#options = options;
  }

  /**
   * Sends region bytes. The promise settles when the kernel no longer needs the pages: after
   * the write, after every MSG_ZEROCOPY completion, or once spliced. Meanwhile the region is
   * lent (its views are detached; using it throws ERR_PAGEFLIP_BUSY). With mode 'splice' the
   * pages are gifted and the region is closed afterwards: gifted pages may never change again.
   * A zerocopy send that is closed or fails also settles only once the completions of what it
   * sent have arrived (the peer read those bytes, or the connection was reset).
   */
  async send(region: PageRegion, options: SendRegionOptions = {}): Promise<RegionSendStats> {
    if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the sender is closed');
    const { signal, ...range } = options ?? {};
    throwIfAborted(signal);
    const job = new binding.RegionSend(this.#connection.fd, nativeRegionOf(region), {
      mode: this.#options.mode,
      chunkSize: this.#options.chunkSize,
      allowFallback: this.#options.allowFallback,
      ...range,
    });
    this.#running.add(job);
    try {
      return await stopOnAbort(signal, () => job.stop(), job.start());
    } finally {
      this.#running.delete(job);
      this.#settled();
    }
  }

  /** Stops sends in progress (they reject with ERR_PAGEFLIP_CLOSED, see send()) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const job of this.#running) job.stop();
  }

  /** `using sender = ...` closes it at the end of the scope (sends in progress are stopped). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `await using`: closes, then waits until the kernel no longer needs any lent region. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    if (this.#running.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #idle: Array<() => void> = [];

  #settled(): void {
    if (this.#running.size > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const resolve of waiters) resolve();
  }
}

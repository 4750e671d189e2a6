// Sender: sends PageRegions with write, MSG_ZEROCOPY or vmsplice(SPLICE_F_GIFT) + splice.
import { binding, type NativeLoop, type RegionSendStats, type SendMode } from './native.js';
import { pageflipError } from './errors.js';
import { nativeRegionOf, type PageRegion } from './region.js';
import type { Connection } from './socket.js';

export type { SendMode, RegionSendStats } from './native.js';

export interface SenderOptions {
  /** write (default) | zerocopy (MSG_ZEROCOPY) | splice (vmsplice with SPLICE_F_GIFT, then splice) */
  mode?: SendMode;
  /** Bytes per syscall. Default 256 KiB. */
  chunkSize?: number;
}

export interface SendRegionOptions {
  offset?: number;
  length?: number;
}

export class Sender {
  readonly #connection: Connection;
  readonly #options: SenderOptions;
  readonly #running = new Set<NativeLoop<RegionSendStats>>();
  #closed = false;

  constructor(connection: Connection, options: SenderOptions = {}) {
    this.#connection = connection;
    this.#options = options;
  }

  /**
   * Sends region bytes. The promise settles when the kernel no longer needs the pages: after
   * the write, after every MSG_ZEROCOPY completion, or once spliced. Meanwhile the region is
   * lent (its views are detached; using it throws ERR_PAGEFLIP_BUSY). With mode 'splice' the
   * pages are gifted and the region is closed afterwards: gifted pages may never change again.
   */
  async send(region: PageRegion, options: SendRegionOptions = {}): Promise<RegionSendStats> {
    if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the sender is closed');
    const job = new binding.RegionSend(this.#connection.fd, nativeRegionOf(region), {
      mode: this.#options.mode,
      chunkSize: this.#options.chunkSize,
      ...options,
    });
    const done = job.start();
    this.#running.add(job);
    try {
      return await done;
    } finally {
      this.#running.delete(job);
    }
  }

  /** Stops sends in progress (they reject with ERR_PAGEFLIP_CLOSED) and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const job of this.#running) job.stop();
  }
}

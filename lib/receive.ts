// Receiver: chunk-by-chunk receive from JavaScript, in any receive mode, as leases.
import { binding, type NativeLease, type NativeReceiver, type ReceiveMode, type ReceiverLayout, type ReceiverStats } from './native.js';
import { pageflipError } from './errors.js';
import { FdWaiter } from './fd-wait.js';
import type { Connection } from './socket.js';

export type { ReceiveMode, ReceiverLayout, ReceiverStats } from './native.js';

/**
 * Bytes that must not be written. Pages mapped from the kernel (zerocopy, flip) are mapped
 * read-only: a write through any view of them terminates the process with SIGSEGV. Copy a
 * lease's bytes (`Uint8Array.from(lease.bytes)`) if you need to modify them.
 */
export type ReadonlyBytes = Readonly<Omit<Uint8Array, 'set' | 'fill' | 'copyWithin' | 'reverse' | 'sort'>>;

export interface ReceiverOptions {
  /** copy (default) | zerocopy | flip | copy-remap | splice */
  mode?: ReceiveMode;
  /** Bytes per read, rounded up to whole pages per slot. Default 256 KiB. */
  chunkSize?: number;
  /**
   * Leases that may be outstanding at once, mapped and copied ones together (1 to 1024; reads
   * wait for a release beyond that). Bounds the pages a receiver holds. Default 8.
   */
  maxLeases?: number;
  /** Check every byte against the deterministic test pattern (see Sender / sendLoop). */
  verify?: boolean;
  seed?: number;
  /** zerocopy/flip only: copy instead when the kernel lacks TCP_ZEROCOPY_RECEIVE. Reported in stats(). */
  allowFallback?: boolean;
  /** zerocopy/flip: small-read buffer (bytes); the kernel copies reads up to this size. Default 0 (off). */
  copybuf?: number;
  /** zerocopy: pass TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT for slots known empty. Default true. */
  tlbHint?: boolean;
}

/** A received chunk. Its view is valid until release(); afterwards it is detached (length 0). */
export class Lease {
  readonly bytes: ReadonlyBytes;
  /** Virtual address of bytes[0] (where the pages were mapped or moved to). */
  readonly address: bigint;
  /** Stream offset of bytes[0]. */
  readonly offset: number;
  /** Bytes that arrived by page mapping (not copied by the CPU). */
  readonly mapped: number;
  /** Bytes copied by the CPU (recv, skip-hint reads, copybuf, fallback). */
  readonly copied: number;
  /** With verify: bytes that did not match the pattern. */
  readonly mismatches: number;
  readonly #release: () => void;
  #released = false;

  /** @internal */
  constructor(lease: NativeLease, release: (id: number) => void) {
    this.bytes = new Uint8Array(lease.buffer);
    this.address = lease.address;
    this.offset = lease.offset;
    this.mapped = lease.mapped;
    this.copied = lease.copied;
    this.mismatches = lease.mismatches;
    this.#release = () => release(lease.id);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Detaches the view, then gives the pages back. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#release();
  }
}

export class Receiver implements AsyncIterable<Lease> {
  readonly #native: NativeReceiver;
  readonly #waiter: FdWaiter;
  readonly #ready: Lease[] = [];
  #releaseWaiters: Array<() => void> = [];
  #reading = false;
  #closed = false;

  /**
   * Reads `connection` through a duplicate of its descriptor: closing the connection does not
   * stop the receiver (the socket stays open until close()), and a reused descriptor number can
   * never make it read another connection.
   */
  constructor(connection: Connection, options: ReceiverOptions = {}) {
    this.#native = new binding.Receiver(connection.fd, options);
    try {
      this.#waiter = new FdWaiter(this.#native.fd());
    } catch (error) {
      this.#native.close();
      throw error;
    }
  }

  /** The next chunk, or null at the end of the stream. One read at a time. */
  async read(): Promise<Lease | null> {
    if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the receiver is closed');
    if (this.#reading) throw pageflipError('ERR_PAGEFLIP_BUSY', 'a read is already pending on this receiver');
    const ready = this.#ready.shift();
    if (ready) return ready;
    this.#reading = true;
    try {
      for (;;) {
        const result = this.#native.read();
        if (result === null) return null;
        if (result === 'wait') await this.#waiter.wait('readable');
        else if (result === 'full') await new Promise<void>((resolve) => this.#releaseWaiters.push(resolve));
        else {
          const leases = result.map((lease) => new Lease(lease, (id) => this.#released(id)));
          this.#ready.push(...leases.slice(1));
          return leases[0];
        }
        if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the receiver was closed during a read');
      }
    } finally {
      this.#reading = false;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Lease> {
    for (;;) {
      const lease = await this.read();
      if (lease === null) return;
      yield lease;
    }
  }

  stats(): ReceiverStats {
    return this.#native.stats();
  }

  /** Addresses of the receive buffers (copy slots, zero-copy arena, destinations, staging). */
  layout(): ReceiverLayout {
    return this.#native.layout();
  }

  /** Detaches every outstanding lease, unmaps the buffers and fails a pending read. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter.close(); // stop polling before the native side closes the descriptor
    this.#native.close();
    this.#ready.length = 0;
    this.#wakeReleaseWaiters();
  }

  #released(id: number): void {
    if (this.#closed) return;  // close() already detached and dropped everything
    this.#native.release(id);
    this.#wakeReleaseWaiters();
  }

  #wakeReleaseWaiters(): void {
    const waiters = this.#releaseWaiters;
    this.#releaseWaiters = [];
    for (const wake of waiters) wake();
  }
}

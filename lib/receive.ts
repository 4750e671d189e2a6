// Receiver: chunk-by-chunk receive from JavaScript, in any receive mode, as leases.
import { binding, LEASE_INFO_FIELDS, type NativeReceiver, type ReceiverLayout, type ReceiverStats } from './native.js';
import type { ReceiveMode } from './vocabulary.js';
import { abortError, pageflipError, pageflipRangeError, pageflipTypeError, throwIfAborted } from './errors.js';
import { FdWaiter } from './fd-wait.js';
import { connectionArg, type Connection } from './socket.js';

export type { ReceiverLayout, ReceiverStats } from './native.js';
export type { ReceiveMode } from './vocabulary.js';

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
  /**
   * zerocopy: released leases whose pages are dropped together by one madvise (1 to 1024), as the
   * native loops do: fewer page-table calls and TLB flushes. Their slots count within maxLeases
   * until then; a read that finds no free slot drops the batch at once. Default 4 (others: 1).
   */
  releaseBatch?: number;
  /** zerocopy: pass TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT for slots known empty. Default true. */
  tlbHint?: boolean;
  /**
   * A read waiting for data wakes once this many bytes are queued (SO_RCVLOWAT on the socket
   * until close()): fewer wakeups and fuller leases. Default: chunkSize, at most 256 KiB (the
   * kernel also clamps the TCP window to it, so larger values let the sender idle; EOF and errors
   * wake at once). 1 wakes on any data.
   */
  lowWater?: number;
  /**
   * The longest a read waits for `lowWater` bytes before taking what is queued, in ms, so a
   * peer that pauses with less in flight is never stalled: the added latency. Default 1.
   */
  lowWaterMs?: number;
}

/** A received chunk. Its view is valid until release(); afterwards it is detached (length 0). */
export class Lease {
  readonly bytes: ReadonlyBytes;
  /** Stream offset of bytes[0]. */
  readonly offset: number;
  /** Bytes that arrived by page mapping (not copied by the CPU). */
  readonly mapped: number;
  /** Bytes copied by the CPU (recv, skip-hint reads, copybuf, fallback). */
  readonly copied: number;
  /** With verify: bytes that did not match the pattern. */
  readonly mismatches: number;
  readonly #id: number;
  readonly #address: number;
  readonly #release: (id: number) => void;
  #released = false;

  /** @internal `info[at...]` describes `buffer` (see NativeReceiver.info()). */
  constructor(buffer: ArrayBuffer, info: Float64Array, at: number, release: (id: number) => void) {
    this.bytes = new Uint8Array(buffer);
    this.#id = info[at];
    this.offset = info[at + 1];
    this.#address = info[at + 2];
    this.mapped = info[at + 3];
    this.copied = info[at + 4];
    this.mismatches = info[at + 5];
    this.#release = release;
  }

  /** Virtual address of bytes[0] (where the pages were mapped or moved to). */
  get address(): bigint {
    return BigInt(this.#address);
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
    this.#release(this.#id);
  }
}

type Poll = Lease | null | 'wait' | 'full';

export interface ReadOptions {
  /** Aborting rejects the pending read with an AbortError; the receiver stays open and readable. */
  signal?: AbortSignal;
}

export interface IteratorOptions extends ReadOptions {
  /** Close the receiver when the loop is left early (break, return, throw), like Readable. Default true. */
  closeOnReturn?: boolean;
}

const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
const step = (lease: Lease | null): IteratorResult<Lease> => (lease === null ? done : { done: false, value: lease });

export class Receiver implements AsyncIterable<Lease> {
  readonly #native: NativeReceiver;
  readonly #info: Float64Array;
  readonly #waiter: FdWaiter;
  readonly #release = (id: number) => this.#released(id);
  #next: Lease | undefined; // the second segment of a two-segment read
  #releaseWaiters: Array<() => void> = [];
  #reading = false;
  #closed = false;

  readonly #lowWaterMs: number;

  /**
   * Reads `connection` through a duplicate of its descriptor: closing the connection does not
   * stop the receiver (the socket stays open until close()), and a reused descriptor number can
   * never make it read another connection.
   */
  constructor(connection: Connection, options: ReceiverOptions = {}) {
    const { fd } = connectionArg(connection, 'new Receiver()');
    const lowWaterMs = options.lowWaterMs ?? 1;
    if (typeof lowWaterMs !== 'number') throw pageflipTypeError('options.lowWaterMs must be a number');
    if (!Number.isInteger(lowWaterMs) || lowWaterMs < 0 || lowWaterMs > 2 ** 31)
      throw pageflipRangeError('options.lowWaterMs must be whole milliseconds from 0 to 2^31');
    this.#lowWaterMs = lowWaterMs;
    this.#native = new binding.Receiver(fd, options);
    this.#info = this.#native.info();
    try {
      this.#waiter = new FdWaiter(this.#native.fd());
    } catch (error) {
      this.#native.close();
      throw error;
    }
  }

  /** The next chunk, or null at the end of the stream. One read at a time. */
  read(options: ReadOptions = {}): Promise<Lease | null> {
    try {
      const signal = options?.signal;
      throwIfAborted(signal);
      const result = this.#poll();
      return typeof result === 'string' ? this.#waitThenRead(result, signal) : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Iterates chunks until the end of the stream. Leaving the loop early closes the receiver, as
   * leaving a loop over a Readable destroys it; `iterator({ closeOnReturn: false })` keeps it
   * open so read() can go on where the loop stopped.
   */
  [Symbol.asyncIterator](): AsyncIterator<Lease> {
    return this.iterator();
  }

  /**
   * The iterator behind `for await`, with options: `signal` rejects a waiting step with an
   * AbortError, `closeOnReturn: false` keeps the receiver open after an early exit. A plain
   * iterator rather than an async generator: when data is already queued, a step costs one
   * settled promise.
   */
  iterator(options: IteratorOptions = {}): AsyncIterableIterator<Lease> {
    const { signal, closeOnReturn = true } = options ?? {};
    throwIfAborted(signal);
    let waiting: Promise<void> | undefined;
    const idle = () => {
      waiting = undefined;
    };
    const next = (): Promise<IteratorResult<Lease>> => {
      // Like an async generator, a next() made while one is waiting runs after it.
      if (waiting) return waiting.then(next, next);
      try {
        throwIfAborted(signal);
        const result = this.#poll();
        if (typeof result !== 'string') return Promise.resolve(step(result));
        const settled = this.#waitThenRead(result, signal).then(step);
        waiting = settled.then(idle, idle);
        return settled;
      } catch (error) {
        return Promise.reject(error);
      }
    };
    const iterator: AsyncIterableIterator<Lease> = {
      next,
      return: async () => {
        if (closeOnReturn) this.close();
        return done;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** A chunk if one is ready now, null at the end, else why the caller must wait. */
  #poll(): Poll {
    if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the receiver is closed');
    if (this.#reading) throw pageflipError('ERR_PAGEFLIP_BUSY', 'a read is already pending on this receiver');
    return this.#take();
  }

  #take(): Poll {
    const next = this.#next;
    if (next) {
      this.#next = undefined;
      return next;
    }
    const result = this.#native.read();
    if (result === null || typeof result === 'string') return result;
    if (!Array.isArray(result)) return new Lease(result, this.#info, 0, this.#release);
    // Both leases are built now: info() describes them only until the next native read.
    this.#next = new Lease(result[1], this.#info, LEASE_INFO_FIELDS, this.#release);
    return new Lease(result[0], this.#info, 0, this.#release);
  }

  async #waitThenRead(why: 'wait' | 'full', signal: AbortSignal | undefined): Promise<Lease | null> {
    this.#reading = true;
    try {
      for (;;) {
        if (why === 'wait') await this.#waiter.wait('readable', this.#lowWaterMs, signal);
        else
          // Wake on a release, or look again after 100 ms: leases the program dropped without
          // release() come back only when the garbage collector finalizes their buffers.
          await new Promise<void>((resolve, reject) => {
            const wake = () => {
              clearTimeout(timer);
              signal?.removeEventListener('abort', onAbort);
              resolve();
            };
            const onAbort = () => {
              clearTimeout(timer);
              this.#releaseWaiters = this.#releaseWaiters.filter((w) => w !== wake);
              reject(abortError(signal!));
            };
            const timer = setTimeout(wake, 100);
            this.#releaseWaiters.push(wake);
            signal?.addEventListener('abort', onAbort, { once: true });
          });
        if (this.#closed) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the receiver was closed during a read');
        const result = this.#take();
        if (typeof result !== 'string') return result;
        why = result;
      }
    } finally {
      this.#reading = false;
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
    this.#next = undefined;
    this.#wakeReleaseWaiters();
  }

  /** `using receiver = new Receiver(...)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  #released(id: number): void {
    if (this.#closed) return;  // close() already detached and dropped everything
    this.#native.release(id);
    if (this.#releaseWaiters.length > 0) this.#wakeReleaseWaiters();
  }

  #wakeReleaseWaiters(): void {
    const waiters = this.#releaseWaiters;
    this.#releaseWaiters = [];
    for (const wake of waiters) wake();
  }
}

// Promise-shaped readiness waits on raw fds, on the JS thread's event loop (uv_poll).
import { binding, type NativeFdWatcher } from './native.js';
import { abortError, pageflipError, throwIfAborted } from './errors.js';

/**
 * One reusable watcher per fd; close() rejects a pending wait with ERR_PAGEFLIP_CLOSED, an
 * aborted `signal` with an AbortError (the waiter stays usable).
 */
export class FdWaiter {
  readonly #fd: number;
  #watcher: NativeFdWatcher;
  #pending: ((error: Error | null) => void) | undefined;

  constructor(fd: number) {
    this.#fd = fd;
    this.#watcher = new binding.FdWatcher(fd);
  }

  /** Resolves when the fd is ready, or after `timeoutMs` (when given) if that comes first. */
  wait(events: 'readable' | 'writable', timeoutMs?: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      throwIfAborted(signal);
      const onAbort = () => {
        // The native watcher cannot forget one wait: replace it, so the next wait starts clean.
        this.#watcher.close();
        this.#watcher = new binding.FdWatcher(this.#fd);
        settle(abortError(signal!));
      };
      const settle = (error: Error | null) => {
        this.#pending = undefined;
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      this.#watcher.wait(events, (error) => settle(error), timeoutMs);
      this.#pending = settle;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.#watcher.close();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(pageflipError('ERR_PAGEFLIP_CLOSED', 'closed while waiting for the socket'));
  }
}

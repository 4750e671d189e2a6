// Promise-shaped readiness waits on raw fds, on the JS thread's event loop (uv_poll).
import { binding, type NativeFdWatcher } from './native.js';
import { pageflipError } from './errors.js';

/** One reusable watcher per fd; close() rejects a pending wait with ERR_PAGEFLIP_CLOSED. */
export class FdWaiter {
  readonly #watcher: NativeFdWatcher;
  #pending: ((error: Error | null) => void) | undefined;

  constructor(fd: number) {
    this.#watcher = new binding.FdWatcher(fd);
  }

  /** Resolves when the fd is ready, or after `timeoutMs` (when given) if that comes first. */
  wait(events: 'readable' | 'writable', timeoutMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (error: Error | null) => {
        this.#pending = undefined;
        if (error) reject(error);
        else resolve();
      };
      this.#watcher.wait(events, (error) => settle(error), timeoutMs);
      this.#pending = settle;
    });
  }

  close(): void {
    this.#watcher.close();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(pageflipError('ERR_PAGEFLIP_CLOSED', 'closed while waiting for the socket'));
  }
}

/** Waits once for fd readiness. */
export async function waitFd(fd: number, events: 'readable' | 'writable'): Promise<void> {
  const waiter = new FdWaiter(fd);
  try {
    await waiter.wait(events);
  } finally {
    waiter.close();
  }
}

// Errors raised by the TypeScript layer carry the same shape as the binding's: a `code`
// starting with ERR_PAGEFLIP_. (errno → Error happens in one place only: native/errors.cc.)

import type { PageflipErrorCode } from './vocabulary.js';
export type { PageflipErrorCode } from './vocabulary.js';

export interface CodedError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
}

function withCode<E extends Error>(error: E, code: PageflipErrorCode): E & { code: PageflipErrorCode } {
  return Object.assign(error, { code });
}

export function pageflipError(code: PageflipErrorCode, message: string): Error & { code: PageflipErrorCode } {
  return withCode(new Error(message), code);
}

export function pageflipTypeError(message: string): TypeError & { code: PageflipErrorCode } {
  return withCode(new TypeError(message), 'ERR_PAGEFLIP_INVALID_ARG_TYPE');
}

export function pageflipRangeError(message: string) {
  return withCode(new RangeError(message), 'ERR_PAGEFLIP_OUT_OF_RANGE');
}

export function isCodedError(error: unknown): error is CodedError {
  return error instanceof Error && typeof (error as CodedError).code === 'string';
}

/** The error Node's own APIs reject with when an AbortSignal fires (name AbortError, code ABORT_ERR). */
export function abortError(signal: AbortSignal): Error & { code: 'ABORT_ERR' } {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' as const });
}

/** Throws an AbortError when `signal` has already fired; checks the type of `signal` first. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  if (!(signal instanceof AbortSignal)) throw pageflipTypeError('options.signal must be an AbortSignal');
  if (signal.aborted) throw abortError(signal);
}

/**
 * A native job under an AbortSignal: aborting asks the job to stop (it ends on its own terms,
 * within its stop latency), and whatever it then settles with becomes an AbortError that carries
 * the job's `stats` (its result, or the stats its error carried).
 */
export function stopOnAbort<T>(signal: AbortSignal | undefined, stop: () => void, done: Promise<T>): Promise<T> {
  if (!signal) return done;
  signal.addEventListener('abort', stop, { once: true });
  return done
    .then(
      (stats) => {
        if (signal.aborted) throw Object.assign(abortError(signal), { stats });
        return stats;
      },
      (error: unknown) => {
        if (signal.aborted) throw Object.assign(abortError(signal), { stats: (error as { stats?: unknown }).stats });
        throw error;
      },
    )
    .finally(() => signal.removeEventListener('abort', stop));
}

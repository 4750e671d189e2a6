// Errors raised by the TypeScript layer carry the same shape as the binding's: a `code`
// starting with ERR_PAGEFLIP_. (errno → Error happens in one place only: native/errors.cc.)

export type PageflipErrorCode = `ERR_PAGEFLIP_${string}`;

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

// The control protocol between `pageflip compare --peer` (the client, which receives and
// measures) and `pageflip serve` (the server, which sends), written down here and nowhere else.
//
// pageflip-peer/2: newline-delimited JSON objects over one TCP connection, each line at most
// MAX_LINE_BYTES (64 KiB) with its newline. In order:
//
//   server → {type:'challenge', protocol, nonce, auth:'hmac-sha256'|'none'}     nonce: 32 random bytes, hex
//   client → {type:'hello', protocol, version, host, proof?}
//            proof = hex HMAC-SHA256(key = the shared token, `${protocol} ${nonce}`): the token never
//            crosses the wire, and a recorded proof is worthless against the next nonce
//   server → {type:'hello', protocol, version, host, limits:{maxSeconds, maxBytes, idleSeconds}, iperf3}
//            iperf3: whether this serve can run iperf3 clients (absent from older serves: it cannot)
//   client → {type:'plan', runs, seconds, bytes}      the whole compare: how many runs, the seconds of
//            its timed runs (warm-ups included) and the bytes of its counted runs, checked against the
//            limits before any data flows
//   server → {type:'accepted'}
//   then per run (at most `runs`, their seconds and bytes drawn from the plan; up to MAX_FLOWS runs
//   may be in flight at once, a run with --flows N being N of them, so messages of different runs
//   interleave, each carrying its run's id):
//   client → {type:'open', id, sender, seconds, bytes, chunkBytes, cpus, seed}   one of seconds/bytes null
//   server → {type:'listening', id, port}     a data port, accepting only the control connection's address
//   server → {type:'sending', id}             the sender runs on the data connection
//   client → {type:'finish', id}              after its receiver is done
//   server → {type:'finished', id, bytes, thread, cpu}, or {type:'error', id, code, message} when the
//            sender failed (the session goes on)
//   or, for an iperf3 reference row (the client has started `iperf3 -s -1` on its own address):
//   client → {type:'iperf3', id, port, mtu, omit, seconds, bytes, zerocopy, cpu}   one of seconds/bytes
//            null; no other field. serve runs the iperf3 it finds with arguments it builds from these
//            checked numbers (iperf3ClientArgs: -c <the control connection's remote address> -p port
//            -t seconds | -n bytes -O omit -i 0 -J [-Z] [-A cpu] -M mtu-40); omit and seconds are
//            drawn from the plan's seconds, bytes from its bytes, and the run from its runs
//   server → {type:'iperf3-finished', id, report, cpu}   report: the client's -J text; cpu: this
//            host's /proc/stat over the client's life. Or {type:'error', id, code, message}
//   client → {type:'alive'} at any time after the hello, at least every idleSeconds / 3: silence for
//            idleSeconds is taken for a dead client
//
// Anything else ends the session with {type:'error', code, message} and a close: a missing or wrong
// proof (ERR_PAGEFLIP_PEER_AUTH); another compare running, or too many clients in their handshake
// (_BUSY); a plan over the limits, a run beyond the plan, a compare past --max-duration (_LIMIT); no
// valid hello within the handshake timeout, silence past the idle timeout (_TIMEOUT); a line that is
// not a JSON object or is too long, more than 16 messages sent ahead, a message out of turn, a field
// of the wrong type or range (_PROTOCOL).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { pageflipError, type PageflipErrorCode } from '../errors.js';

export const PROTOCOL = 'pageflip-peer/2';
export const MAX_LINE_BYTES = 64 * 1024;
/** The longest timeout or --max-duration either side accepts (a week; timers stay below 2^31 ms). */
export const MAX_TIMEOUT_SECONDS = 7 * 86_400;
/** Messages read ahead of the conversation (all runs together) before the peer is taken for a flood. */
const MAX_QUEUED = 16;
/** Runs one session may have in flight at once (compare --flows). */
export const MAX_FLOWS = 64;

export type PeerErrorCode = 'ERR_PAGEFLIP_PEER' | `ERR_PAGEFLIP_PEER_${'AUTH' | 'BUSY' | 'LIMIT' | 'PROTOCOL' | 'TIMEOUT'}`;

export function peerError(code: PeerErrorCode, message: string): Error & { code: PageflipErrorCode } {
  return pageflipError(code, message);
}

export type Message = { type: string; [key: string]: unknown };

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export function proof(token: string, nonce: string): string {
  return createHmac('sha256', token).update(`${PROTOCOL} ${nonce}`).digest('hex');
}

/** Whether `claimed` is the proof for `token` and `nonce` (in constant time). */
export function proofMatches(token: string, nonce: string, claimed: string): boolean {
  const expected = Buffer.from(proof(token, nonce), 'hex');
  const given = Buffer.from(claimed, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Messages waiting for one reader, in order. */
interface Inbox {
  queue: Message[];
  waiter: { resolve: (m: Message) => void; reject: (e: Error) => void } | undefined;
}

const inbox = (): Inbox => ({ queue: [], waiter: undefined });

/**
 * Newline-delimited JSON objects over a socket, read strictly in order. Every failure (the peer's
 * malformed line, a close, a socket error, or `fail()` from its owner) settles the channel once:
 * pending and later reads reject with that error. The messages of a run in flight (`route(id)`)
 * are read in order apart from the rest, so several runs can be in flight at once.
 */
export class ControlChannel {
  readonly #socket: Socket;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  readonly #main = inbox();
  readonly #runs = new Map<number, Inbox>();
  #queued = 0;
  readonly #client: boolean;
  #failure: Error | undefined;
  /** Resolves (never rejects) with the failure that ended the channel. */
  readonly ended: Promise<Error>;
  #end!: (error: Error) => void;

  /** `client`: the receiving side, where the peer's error for no run in flight ends every run (with its code). */
  constructor(socket: Socket, { client = false } = {}) {
    this.#socket = socket;
    this.#client = client;
    this.ended = new Promise((resolve) => (this.#end = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (error) => this.fail(Object.assign(peerError('ERR_PAGEFLIP_PEER', `control connection: ${error.message}`), { cause: error })));
    socket.on('close', () => this.fail(peerError('ERR_PAGEFLIP_PEER', 'the peer closed the control connection')));
  }

  #read(chunk: Buffer): void {
    let start = 0;
    let newline;
    while (!this.#failure && (newline = chunk.indexOf(0x0a, start)) >= 0) {
      const line = Buffer.concat([...this.#pending, chunk.subarray(start, newline)]);
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
      if (line.length + 1 > MAX_LINE_BYTES) return this.fail(lineTooLong());
      this.#deliver(parseLine(line));
    }
    if (this.#failure || start === chunk.length) return;
    this.#pendingBytes += chunk.length - start;
    if (this.#pendingBytes >= MAX_LINE_BYTES) return this.fail(lineTooLong());
    this.#pending.push(chunk.subarray(start));
  }

  #deliver(message: Message | Error): void {
    if (message instanceof Error) return this.fail(message);
    if (message.type === 'alive') return; // only says the peer is there; socket activity did that
    // An 'open' is never a run's own message (the session reads every open, so one for a run
    // already in flight is refused at once).
    const run = typeof message.id === 'number' && message.type !== 'open' ? this.#runs.get(message.id) : undefined;
    const to = run ?? this.#main;
    // The serve's session-ending error comes without a run: every run in flight ends with it.
    if (this.#client && !run && message.type === 'error' && !to.waiter) return this.fail(remoteError(message));
    if (to.waiter) {
      const { resolve } = to.waiter;
      to.waiter = undefined;
      resolve(message);
    } else {
      to.queue.push(message);
      if (++this.#queued > MAX_QUEUED) this.fail(peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `more than ${MAX_QUEUED} messages sent ahead of the conversation`));
    }
  }

  /** Ends the channel with `error` (the first failure wins); the socket is left to the owner. */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#pending = [];
    this.#socket.pause();
    for (const box of [this.#main, ...this.#runs.values()]) {
      box.queue.length = 0;
      box.waiter?.reject(error);
      box.waiter = undefined;
    }
    this.#queued = 0;
    this.#end(error);
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** From now on, messages carrying run `id` are read apart from the rest (with `next(id)`), until `unroute(id)`. */
  route(id: number): void {
    if (this.#runs.has(id)) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `run ${id} is already in flight`);
    if (this.#runs.size >= MAX_FLOWS) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `more than ${MAX_FLOWS} runs in flight at once`);
    this.#runs.set(id, inbox());
  }

  /** Run `id` is over: its unread messages are dropped, and later ones are read with the rest. */
  unroute(id: number): void {
    const box = this.#runs.get(id);
    if (!box) return;
    this.#queued -= box.queue.length;
    this.#runs.delete(id);
  }

  /** The next message, in order: of run `id` when it is routed, else of the rest. */
  next(id?: number): Promise<Message> {
    const box = (id !== undefined && this.#runs.get(id)) || this.#main;
    if (box.queue.length) {
      this.#queued -= 1;
      return Promise.resolve(box.queue.shift()!);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (box.waiter) return Promise.reject(peerError('ERR_PAGEFLIP_PEER_PROTOCOL', 'two readers of one inbox')); // a bug of ours, not the peer's
    return new Promise((resolve, reject) => (box.waiter = { resolve, reject }));
  }

  /** The next message, which must be `type` (for run `id`); the peer's {type:'error'} rejects with its code. */
  async expect(type: string, id?: number): Promise<Message> {
    const message = await this.next(id);
    if (message.type === 'error') throw remoteError(message);
    if (message.type !== type || (id !== undefined && message.id !== id))
      throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `expected '${type}'${id === undefined ? '' : ` for run ${id}`}, got ${describe(message.type)}${'id' in message ? ` for run ${describe(message.id)}` : ''}`);
    return message;
  }

  send(message: Message): void {
    if (this.#socket.writable) this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Ends the channel with `error` and tells the peer why before closing (see refuse()). */
  refuse(error: Error & { code?: string }): void {
    this.fail(error);
    refuse(this.#socket, error);
  }

  close(): void {
    this.fail(peerError('ERR_PAGEFLIP_PEER', 'the control connection was closed'));
    this.#socket.destroy();
  }
}

/**
 * Sends a coded error line and closes: the FIN follows the line, and whatever the peer still sends
 * is read and dropped until it closes too (at most a second), so a peer still writing gets the line
 * instead of a reset.
 */
export function refuse(socket: Socket, error: Error & { code?: string }): void {
  if (!socket.writable) return void socket.destroy();
  socket.on('data', () => {}).resume();
  socket.end(`${JSON.stringify({ type: 'error', code: error.code ?? 'ERR_PAGEFLIP_PEER', message: error.message })}\n`);
  setTimeout(() => socket.destroy(), 1000).unref();
}

function lineTooLong(): Error {
  return peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `control line longer than ${MAX_LINE_BYTES} bytes`);
}

function parseLine(line: Buffer): Message | Error {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `control line is not JSON: ${describe(line.toString('latin1'))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as Message).type !== 'string')
    return peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `control message is not an object with a string 'type': ${describe(value)}`);
  return value as Message;
}

/** The peer's {type:'error'} as a thrown error: its own code when it is one of ours, else ERR_PAGEFLIP_PEER. */
function remoteError(message: Message): Error {
  const code = typeof message.code === 'string' && /^ERR_PAGEFLIP_PEER_[A-Z]+$/.test(message.code) ? (message.code as PeerErrorCode) : 'ERR_PAGEFLIP_PEER';
  // Printed on the client's terminal: no control characters from the far side.
  const text = typeof message.message === 'string' ? message.message.slice(0, 1000).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ') : describe(message.message);
  return Object.assign(peerError(code, `peer: ${text}`), { peerCode: message.code });
}

/** A value quoted for a message or a log line: JSON-escaped (no control characters) and short. */
export function describe(value: unknown): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

// ---- field checks: each names the field and what it must be, with a _PROTOCOL code ----

type Check = { test: (v: unknown) => boolean; what: string };

export const integer = (min: number, max: number): Check => ({ test: (v) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max, what: `an integer from ${min} to ${max}` });
export const number = (min: number, max: number): Check => ({ test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max, what: `a number from ${min} to ${max}` });
export const oneOf = (...values: string[]): Check => ({ test: (v) => values.includes(v as string), what: `one of ${values.join(', ')}` });
export const text = (pattern: RegExp, what: string): Check => ({ test: (v) => typeof v === 'string' && pattern.test(v), what });
export const boolean: Check = { test: (v) => typeof v === 'boolean', what: 'true or false' };
export const orNull = (check: Check): Check => ({ test: (v) => v === null || check.test(v), what: `${check.what}, or null` });

/** `object[name]` when it passes `check`, else a _PROTOCOL error naming `where`.`name`. */
export function field<T>(object: Record<string, unknown>, name: string, check: Check, where = String(object.type)): T {
  const value = object[name];
  if (!check.test(value)) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `${where}.${name} must be ${check.what}, got ${describe(value)}`);
  return value as T;
}

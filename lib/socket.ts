// TCP connections as raw file descriptors the native receive/send paths can drive directly.
// Created natively (listen/connect) or adopted from Node's net module.
import { lookup } from 'node:dns/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { isIP, Socket } from 'node:net';
import { binding, type SocketAddress, type SocketInfo, type SocketOptions } from './native.js';
import { abortError, pageflipError, pageflipRangeError, pageflipTypeError, throwIfAborted } from './errors.js';
import { FdWaiter } from './fd-wait.js';

export type { SocketAddress, SocketInfo, SocketOptions } from './native.js';

// Safety net only: a descriptor whose owner was collected without close() is closed then.
const forgotten = new FinalizationRegistry<number>((fd) => {
  try {
    binding.closeFd(fd);
  } catch {
    // nothing useful to do in a finalizer
  }
});

/** An open, non-blocking, close-on-exec file descriptor owned by this object. */
class Descriptor {
  #fd: number | undefined;
  readonly #waiters = new Set<FdWaiter>();

  constructor(fd: number) {
    if (typeof fd !== 'number' || !Number.isInteger(fd)) throw pageflipTypeError('a descriptor must be an integer file descriptor');
    if (fd < 0 || fd > 2 ** 31 - 1) throw pageflipRangeError(`a descriptor must be between 0 and 2^31-1, got ${fd}`);
    this.#fd = fd;
    forgotten.register(this, fd, this);
  }

  get fd(): number {
    if (this.#fd === undefined) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the socket is closed');
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  /**
   * @internal Waits until the descriptor is ready; close() ends the wait with ERR_PAGEFLIP_CLOSED
   * (the watcher polls its own duplicate, and is gone before the descriptor is closed).
   */
  async waitUntil(events: 'readable' | 'writable', signal?: AbortSignal): Promise<void> {
    const waiter = new FdWaiter(this.fd);
    this.#waiters.add(waiter);
    try {
      await waiter.wait(events, undefined, signal);
    } finally {
      this.#waiters.delete(waiter);
      waiter.close();
    }
  }

  /** Closes the descriptor, ending pending waits first. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    for (const waiter of this.#waiters) waiter.close();
    forgotten.unregister(this);
    binding.closeFd(fd);
  }

  /** `using connection = ...` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

export class Connection extends Descriptor {
  info(): SocketInfo {
    return binding.socketInfo(this.fd);
  }

  setOptions(options: SocketOptions): void {
    binding.setSocketOptions(this.fd, options);
  }

  localAddress(): SocketAddress {
    return binding.socketAddress(this.fd, false);
  }

  remoteAddress(): SocketAddress {
    return binding.socketAddress(this.fd, true);
  }

  /** Half- or full-close without releasing the descriptor. */
  shutdown(how: 'read' | 'write' | 'both' = 'write'): void {
    binding.shutdownFd(this.fd, how);
  }
}

/** `value` as a Connection, or a coded TypeError naming `what` needed it. */
export function connectionArg(value: unknown, what: string): Connection {
  if (!(value instanceof Connection)) throw pageflipTypeError(`${what} needs a Connection (from connect(), accept() or adopt())`);
  return value;
}

export class Listener extends Descriptor {
  get port(): number {
    return binding.socketAddress(this.fd).port;
  }

  address(): SocketAddress {
    return binding.socketAddress(this.fd);
  }

  /** Resolves with the next incoming connection; an aborted `signal` rejects with an AbortError. */
  async accept(options: { signal?: AbortSignal } = {}): Promise<Connection> {
    for (;;) {
      throwIfAborted(options.signal);
      const fd = binding.tcpAccept(this.fd);
      if (fd !== null) return new Connection(fd);
      await this.waitUntil('readable', options.signal);
    }
  }
}

export interface ListenOptions {
  /** An IPv4/IPv6 address literal (listen() is synchronous, so it resolves no names); default 127.0.0.1. */
  host?: string;
  port?: number; // default 0: any free port
  backlog?: number;
}

/** Listens synchronously; `host` must be an IP literal ('127.0.0.1', '::', '0.0.0.0'). */
export function listen(options: ListenOptions = {}): Listener {
  const host = options.host ?? '127.0.0.1';
  if (typeof host === 'string' && host !== '' && isIP(host) === 0)
    throw Object.assign(new TypeError(`listen() takes an IP address literal, not a host name ('${host}'): resolve it first, e.g. (await dns.promises.lookup('${host}')).address`), { code: 'ERR_PAGEFLIP_INVALID_ADDRESS' });
  return new Listener(binding.tcpListen(host, options.port ?? 0, options.backlog));
}

export interface ConnectOptions {
  /** An IP literal, or (connect() only) a host name, resolved with dns.lookup like net.connect. */
  host: string;
  port: number;
  /** TCP_MAXSEG before the handshake (emulates an MTU: mss = MTU - 40). */
  mss?: number;
  /** connect() only: aborting closes the half-open socket and rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Starts a connection; the descriptor exists at once, `ready` settles when it is established. */
export function startConnect(options: ConnectOptions): { connection: Connection; ready: Promise<Connection> } {
  const connection = connecting(options);
  return { connection, ready: established(connection, undefined) };
}

/** A socket with its non-blocking connect() started (bad options throw here, synchronously). */
function connecting(options: ConnectOptions): Connection {
  if (typeof options !== 'object' || options === null) throw pageflipTypeError('connect() needs options { host, port }');
  return new Connection(binding.tcpConnect(options.host, options.port, { mss: options.mss }));
}

/**
 * Connects to `host` (an IP literal, or a host name resolved first with dns.lookup, as
 * net.connect does) and resolves once the connection is established. Bad options reject at once,
 * and an aborted `signal` closes the socket and rejects with an AbortError.
 */
export function connect(options: ConnectOptions): Promise<Connection> {
  try {
    return connectChecked(options);
  } catch (error) {
    return Promise.reject(error);
  }
}

function connectChecked(options: ConnectOptions): Promise<Connection> {
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw pageflipTypeError('options.signal must be an AbortSignal');
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const host = options?.host;
  if (typeof host === 'string' && host !== '' && isIP(host) === 0) return connectByName(options, host, signal);
  return established(connecting(options), signal);
}

/** Tries each address the name resolves to, in the resolver's order, until one connects. */
async function connectByName(options: ConnectOptions, name: string, signal: AbortSignal | undefined): Promise<Connection> {
  const resolving = lookup(name, { all: true });
  const addresses = await (signal ? abortable(resolving, signal) : resolving);
  let failure: unknown;
  for (const { address } of addresses) {
    throwIfAborted(signal);
    try {
      return await established(connecting({ ...options, host: address }), signal);
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      failure = error;
    }
  }
  throw failure;
}

async function established(connection: Connection, signal: AbortSignal | undefined): Promise<Connection> {
  try {
    await connection.waitUntil('writable', signal);
    binding.socketError(connection.fd);
    return connection;
  } catch (error) {
    connection.close();
    throw error;
  }
}

/** `promise`, or an AbortError as soon as `signal` fires (the promise's own result is dropped). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Takes over a connected `net.Socket` so the native paths can read it. Node must not have read
 * from it yet: use a `net.Server` with `pauseOnConnect: true`, or adopt a client socket inside its
 * 'connect' listener. The socket's descriptor is duplicated and the `net.Socket` destroyed (which
 * closes only Node's copy: no FIN is sent); the returned Connection owns the duplicate.
 */
export function adopt(socket: Socket): Connection {
  if (!(socket instanceof Socket)) throw pageflipTypeError('adopt() needs a connected TCP net.Socket');
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  if (!handle) throw pageflipTypeError('adopt() needs a connected TCP net.Socket with a file descriptor');
  // net.Socket has no public descriptor: `_handle.fd` is Node's internal field. Should a Node
  // version drop it, find the descriptor by the socket's addresses in /proc/self/fd instead.
  const fd = typeof handle.fd === 'number' && handle.fd >= 0 ? handle.fd : descriptorOf(socket);
  if (socket.bytesRead > 0 || socket.readableLength > 0)
    throw pageflipError('ERR_PAGEFLIP_SOCKET_ALREADY_READ', 'Node already read from this socket; those bytes would be lost (use pauseOnConnect)');
  const connection = new Connection(binding.dupFd(fd));
  socket.destroy();
  return connection;
}

/** The descriptor of this process whose TCP endpoints are `socket`'s, found through /proc/self/fd. */
function descriptorOf(socket: Socket): number {
  const local = socket.localAddress !== undefined && socket.localPort !== undefined;
  const remote = socket.remoteAddress !== undefined && socket.remotePort !== undefined;
  if (local && remote) {
    const same = (a: SocketAddress, address: string | undefined, port: number | undefined) =>
      a.port === port && a.address.replace(/^::ffff:/, '') === address?.replace(/^::ffff:/, '');
    for (const name of readdirSync('/proc/self/fd')) {
      const fd = Number(name);
      try {
        if (!readlinkSync(`/proc/self/fd/${name}`).startsWith('socket:')) continue;
        if (same(binding.socketAddress(fd, false), socket.localAddress, socket.localPort) && same(binding.socketAddress(fd, true), socket.remoteAddress, socket.remotePort))
          return fd;
      } catch {
        // closed meanwhile, or not a connected IP socket
      }
    }
  }
  throw pageflipError(
    'ERR_PAGEFLIP_ADOPT_UNSUPPORTED',
    "adopt(): this Node version exposes no descriptor for the net.Socket (no _handle.fd) and no descriptor of this process matches its addresses; use pageflip's listen()/connect() instead",
  );
}

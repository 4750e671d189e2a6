// TCP connections as raw file descriptors the native receive/send paths can drive directly.
// Created natively (listen/connect) or adopted from Node's net module.
import type { Socket } from 'node:net';
import { binding, type SocketAddress, type SocketInfo, type SocketOptions } from './native.js';
import { pageflipError, pageflipTypeError } from './errors.js';
import { waitFd } from './fd-wait.js';

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

  constructor(fd: number) {
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

  /** Closes the descriptor. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    forgotten.unregister(this);
    binding.closeFd(fd);
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

export class Listener extends Descriptor {
  get port(): number {
    return binding.socketAddress(this.fd).port;
  }

  address(): SocketAddress {
    return binding.socketAddress(this.fd);
  }

  /** Resolves with the next incoming connection. */
  async accept(): Promise<Connection> {
    for (;;) {
      const fd = binding.tcpAccept(this.fd);
      if (fd !== null) return new Connection(fd);
      await waitFd(this.fd, 'readable');
    }
  }
}

export interface ListenOptions {
  host?: string; // an IPv4/IPv6 literal; default 127.0.0.1
  port?: number; // default 0: any free port
  backlog?: number;
}

export function listen(options: ListenOptions = {}): Listener {
  return new Listener(binding.tcpListen(options.host ?? '127.0.0.1', options.port ?? 0, options.backlog));
}

export interface ConnectOptions {
  host: string;
  port: number;
  /** TCP_MAXSEG before the handshake (emulates an MTU: mss = MTU - 40). */
  mss?: number;
}

/** Starts a connection; the descriptor exists at once, `ready` settles when it is established. */
export function startConnect(options: ConnectOptions): { connection: Connection; ready: Promise<Connection> } {
  const connection = new Connection(binding.tcpConnect(options.host, options.port, { mss: options.mss }));
  const ready = (async () => {
    try {
      await waitFd(connection.fd, 'writable');
      binding.socketError(connection.fd);
      return connection;
    } catch (error) {
      connection.close();
      throw error;
    }
  })();
  return { connection, ready };
}

export function connect(options: ConnectOptions): Promise<Connection> {
  return startConnect(options).ready;
}

/**
 * Takes over a connected `net.Socket` so the native paths can read it. Node must not have read
 * from it yet: use a `net.Server` with `pauseOnConnect: true`, or adopt a client socket inside its
 * 'connect' listener. The socket's descriptor is duplicated and the `net.Socket` destroyed (which
 * closes only Node's copy: no FIN is sent); the returned Connection owns the duplicate.
 */
export function adopt(socket: Socket): Connection {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw pageflipTypeError('adopt() needs a connected TCP net.Socket with a file descriptor');
  if (socket.bytesRead > 0 || socket.readableLength > 0)
    throw pageflipError('ERR_PAGEFLIP_SOCKET_ALREADY_READ', 'Node already read from this socket; those bytes would be lost (use pauseOnConnect)');
  const connection = new Connection(binding.dupFd(fd));
  socket.destroy();
  return connection;
}

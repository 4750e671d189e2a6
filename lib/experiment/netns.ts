// Private network namespaces for local runs: loopback with a chosen MTU, so the host's own
// interfaces are never touched. Namespaces are per thread in Linux; we enter one on the JS
// thread only for the synchronous moment of creating sockets or spawning a child (sockets keep
// their namespace; children inherit it), then return.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { binding } from '../native.js';
import { pageflipError } from '../errors.js';
import { listen, startConnect, type Connection } from '../socket.js';

export class PrivateNetwork {
  readonly mtu: number;
  #fd: number | undefined;

  private constructor(fd: number, mtu: number) {
    this.#fd = fd;
    this.mtu = mtu;
  }

  /** A new namespace with `lo` up at `mtu`. Needs root (CAP_SYS_ADMIN). */
  static create(mtu: number): PrivateNetwork {
    let fd: number;
    try {
      fd = binding.netnsCreate();
    } catch (error) {
      const e = error as Error & { code?: string };
      throw Object.assign(pageflipError('ERR_PAGEFLIP_NETNS', `cannot create a network namespace: ${e.message}`), { cause: error });
    }
    const network = new PrivateNetwork(fd, mtu);
    try {
      network.run(() => binding.linkConfigure('lo', { up: true, mtu }));
    } catch (error) {
      network.close();
      throw error;
    }
    return network;
  }

  /** Runs fn synchronously inside the namespace. */
  run<T>(fn: () => T): T {
    if (this.#fd === undefined) throw pageflipError('ERR_PAGEFLIP_CLOSED', 'the network namespace is closed');
    const home = binding.netnsCurrent();
    try {
      binding.netnsEnter(this.#fd);
      try {
        return fn();
      } finally {
        binding.netnsEnter(home);
      }
    } finally {
      binding.closeFd(home);
    }
  }

  /** Spawns a child process inside the namespace. */
  spawn(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return this.run(() => spawn(command, args, options));
  }

  /** A connected loopback TCP pair inside the namespace. */
  connectedPair(options: { mss?: number } = {}): Promise<{ client: Connection; server: Connection }> {
    return loopbackPair(options.mss, (fn) => this.run(fn));
  }

  /** Drops our handle; the namespace disappears with its last socket. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    binding.closeFd(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * A connected TCP pair on 127.0.0.1 (with TCP_MAXSEG `mss` on the client when given): the
 * listener and the connect are created by `within` (in a namespace, or here), both ends are
 * awaited together, and the listener is closed once they are (or on failure).
 */
export async function loopbackPair(mss: number | undefined, within: <T>(fn: () => T) => T = (fn) => fn()): Promise<{ client: Connection; server: Connection }> {
  const { listener, pending } = within(() => {
    const listener = listen({ host: '127.0.0.1' });
    try {
      return { listener, pending: startConnect({ host: '127.0.0.1', port: listener.port, mss }) };
    } catch (error) {
      listener.close();
      throw error;
    }
  });
  try {
    const [server, client] = await Promise.all([listener.accept(), pending.ready]);
    return { client, server };
  } finally {
    listener.close();
  }
}

/** Why private namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  try {
    PrivateNetwork.create(1500).close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

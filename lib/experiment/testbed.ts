// Where local runs happen: a private network namespace per MTU (lo MTU set), or, without the
// rights for namespaces, the host's loopback with the MTU emulated by TCP_MAXSEG (MSS = MTU - 40).
import type { Connection } from '../socket.js';
import { PrivateNetwork, loopbackPair, netnsUnavailableReason } from './netns.js';

export interface Testbed {
  readonly kind: 'netns' | 'mss-emulation';
  /** Why the testbed is what it is (for the report's method lines). */
  readonly description: string;
  pair(mtu: number): Promise<{ client: Connection; server: Connection }>;
  /** The namespace for an MTU (to spawn iperf3 in it), when namespaces are used. */
  network(mtu: number): PrivateNetwork | undefined;
  close(): void;
}

class NamespaceTestbed implements Testbed {
  readonly kind = 'netns';
  readonly description = 'loopback inside a private network namespace per MTU (unshare(CLONE_NEWNET), lo MTU set with SIOCSIFMTU); the host\'s interfaces are untouched';
  readonly #networks = new Map<number, PrivateNetwork>();

  network(mtu: number): PrivateNetwork {
    let net = this.#networks.get(mtu);
    if (!net) {
      net = PrivateNetwork.create(mtu);
      this.#networks.set(mtu, net);
    }
    return net;
  }

  pair(mtu: number) {
    return this.network(mtu).connectedPair();
  }

  close(): void {
    for (const net of this.#networks.values()) net.close();
    this.#networks.clear();
  }
}

class MssTestbed implements Testbed {
  readonly kind = 'mss-emulation';
  readonly description: string;

  constructor(reason: string) {
    this.description = `host loopback with the MTU emulated by TCP_MAXSEG = MTU - 40 (no private namespace: ${reason})`;
  }

  network(): undefined {
    return undefined;
  }

  pair(mtu: number) {
    return loopbackPair(mtu - 40);
  }

  close(): void {}
}

/** Namespaces when we may create them; otherwise MSS emulation, saying why. */
export function localTestbed(options: { forceMss?: boolean } = {}): Testbed {
  const reason = options.forceMss ? 'requested with --mss-emulation' : netnsUnavailableReason();
  return reason === undefined ? new NamespaceTestbed() : new MssTestbed(reason);
}

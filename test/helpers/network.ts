// Shared by the socket tests: private namespaces (skipped with the reason when unavailable),
// connected pairs that clean up after themselves, and leak probes.
import { readdirSync } from 'node:fs';
import type { Test } from 'tap';
import { PrivateNetwork, netnsUnavailableReason } from '../../lib/experiment/netns.js';
import type { Connection } from '../../lib/socket.js';

const reason = netnsUnavailableReason();
/** Pass as `{ skip: netnsSkip }`: false when namespaces work, else why not. */
export const netnsSkip: string | false = reason ? `private network namespaces unavailable: ${reason}` : false;

export function network(t: Test, mtu: number): PrivateNetwork {
  const net = PrivateNetwork.create(mtu);
  t.teardown(() => net.close());
  return net;
}

export async function pair(t: Test, net: PrivateNetwork, options: { mss?: number } = {}) {
  const { client, server } = await net.connectedPair(options);
  t.teardown(() => {
    client.close();
    server.close();
  });
  return { client, server };
}

export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export function closeAll(...connections: Connection[]): void {
  for (const c of connections) c.close();
}

/** The pattern byte at a stream offset (mirror of native/pattern.h), for checks done in JS. */
export function patternByte(offset: number, seed: number): number {
  const period = 16 * 1024 * 1024;
  const inPeriod = offset % period;
  const word = (BigInt(Math.floor(inPeriod / 8)) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  return Number(((word ^ BigInt(seed)) >> BigInt(8 * (inPeriod % 8))) & 0xffn);
}

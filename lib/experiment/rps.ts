// Receive packet steering on a private namespace's loopback: the role a NIC interrupt's affinity
// plays on a real receiving host. loopback_xmit hands every packet to netif_rx on the *sending*
// CPU, so without steering the receive softirq (TCP processing and, for MSG_ZEROCOPY senders, the
// deferred copy of the sender's pages) runs on the sender's CPU. A CPU mask in the namespace's
// /sys/class/net/lo/queues/rx-0/rps_cpus moves it to the receiver's CPUs. The namespace's own lo
// is only visible in a sysfs mounted from inside it, and a mount namespace cannot be made by our
// multithreaded process (unshare(CLONE_NEWNS) fails), so a short-lived `unshare --mount` child
// that inherits the network namespace mounts sysfs privately and writes the mask.
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../capabilities.js';
import { pageflipError } from '../errors.js';
import type { PrivateNetwork } from './netns.js';

const RPS_FILE = '/sys/class/net/lo/queues/rx-0/rps_cpus';

/** The rps_cpus text for `cpus`: hex, in comma-separated 32-bit groups as sysfs prints it. */
export function rpsMask(cpus: readonly number[]): string {
  let mask = 0n;
  for (const cpu of cpus) mask |= 1n << BigInt(cpu);
  const hex = mask.toString(16);
  const groups: string[] = [];
  for (let end = hex.length; end > 0; end -= 8) groups.unshift(hex.slice(Math.max(0, end - 8), end).padStart(8, '0'));
  return groups.join(',');
}

function sameMask(a: string, b: string): boolean {
  return BigInt(`0x${a.replace(/,/g, '') || '0'}`) === BigInt(`0x${b.replace(/,/g, '') || '0'}`);
}

/**
 * Steers `network`'s loopback receive processing onto `cpus`. Throws ERR_PAGEFLIP_RPS naming the
 * cause when it cannot (no unshare, no RPS in this kernel, no rights); the caller decides whether
 * that ends the run or is reported and skipped.
 */
export function steerReceive(network: PrivateNetwork, cpus: readonly number[]): void {
  const unshare = findExecutable('unshare');
  if (!unshare) throw pageflipError('ERR_PAGEFLIP_RPS', 'unshare (util-linux) not found: it mounts the namespace\'s sysfs to reach lo\'s rps_cpus');
  const mask = rpsMask(cpus);
  const script = `mount -t sysfs sysfs /sys && [ -w ${RPS_FILE} ] && echo ${mask} > ${RPS_FILE} && cat ${RPS_FILE}`;
  const r = network.run(() => spawnSync(unshare, ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 10_000 }));
  const said = (r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0];
  if (r.status !== 0)
    throw pageflipError('ERR_PAGEFLIP_RPS', `cannot set ${RPS_FILE} in the namespace${said ? `: ${said}` : r.status === 1 ? ': no RPS in this kernel (CONFIG_RPS) or the file is not writable' : ''}`);
  if (!sameMask(r.stdout.trim(), mask)) throw pageflipError('ERR_PAGEFLIP_RPS', `wrote ${mask} to ${RPS_FILE} but it reads ${r.stdout.trim()}`);
}

// Leaks: 100,000 lease/release cycles and 1,000 connections opened and closed must leave
// descriptors, mappings, socket mappings, pinned pages and RSS where they were.
import t, { type Test } from 'tap';
import { Receiver, sendLoop, type Lease, type ReceiveMode } from '../lib/index.js';
import type { PrivateNetwork } from '../lib/experiment/netns.js';
import { netnsSkip, network } from './helpers/network.js';
import { MiB, describeGrowth, growth, sanitizer, settle, usage } from './helpers/reliability.js';

const modes: ReceiveMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'];
const senderFor = (mode: ReceiveMode) => (mode === 'zerocopy' || mode === 'flip' ? 'zerocopy' : 'write');

// Tolerances. Descriptors, socket mappings and pinned pages: none may stay. VMAs: +32 (V8 adds
// heap pages meanwhile; every leaked receiver would leave 2-4 and a lease that kept a flipped
// page one, so 1,000 connections or 100,000 leases leak far more). RSS: +24 MiB for V8's heap
// growth; the cycles move 400 MiB through the slots and the connections 64 MiB, so keeping
// even a fraction would show. Under ASan its allocator quarantine (256 MiB) holds freed memory.
const RSS_TOLERANCE = sanitizer ? 320 * MiB : 24 * MiB;

function checkBaseline(t: Test, before: ReturnType<typeof usage>, label: string): void {
  const g = growth(before);
  t.ok(g.fds <= 0, `${label}: descriptors back at baseline (${describeGrowth(g)})`);
  t.equal(g.socketMaps, 0, `${label}: no socket mapping left`);
  t.equal(g.pinned, 0, `${label}: no pinned pages`);
  t.ok(g.maps <= 32, `${label}: mappings back at baseline (${g.maps >= 0 ? '+' : ''}${g.maps} VMAs, tolerance +32)`);
  t.ok(g.rss <= RSS_TOLERANCE, `${label}: RSS back at baseline (${Math.round(g.rss / 1024)} KiB, tolerance ${RSS_TOLERANCE / MiB} MiB)`);
}

async function warmUp(net: PrivateNetwork): Promise<ReturnType<typeof usage>> {
  for (const mode of modes) {
    const { client, server } = await net.connectedPair();
    const receiver = new Receiver(server, { mode, chunkSize: 4096 });
    const sending = sendLoop(client, { mode: senderFor(mode), bytes: 256 * 1024 });
    for await (const lease of receiver) lease.release();
    await sending.done;
    receiver.close();
    client.close();
    server.close();
  }
  await settle();
  return usage();
}

t.test('100,000 lease/release cycles leave nothing behind', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const before = await warmUp(net);
  const perMode = 20_000;
  let cycles = 0;
  let stillAttached = 0;
  for (const mode of modes) {
    const { client, server } = await net.connectedPair();
    // One page per lease, up to 8 held and released in a shuffled order.
    const receiver = new Receiver(server, { mode, chunkSize: 4096, maxLeases: 8, verify: true, seed: 31 });
    const sending = sendLoop(client, { mode: senderFor(mode), bytes: 1024 * MiB, seed: 31 });
    const held: Lease[] = [];
    let n = 0;
    while (n < perMode) {
      const lease = await receiver.read();
      if (!lease) break;
      held.push(lease);
      n++;
      if (held.length === 8 || n === perMode) {
        for (let i = held.length - 1; i > 0; i--) {
          const j = (n * 7 + i * 13) % (i + 1);
          [held[i], held[j]] = [held[j], held[i]];
        }
        for (const l of held.splice(0)) {
          l.release();
          if (l.bytes.byteLength !== 0) stillAttached++;
        }
      }
    }
    cycles += n;
    const stats = receiver.stats();
    t.equal(n, perMode, `${mode}: ${perMode} leases`);
    t.equal(stats.mismatches, 0, `${mode}: all verified`);
    t.equal(stats.outstandingLeases, 0, `${mode}: none outstanding`);
    receiver.close();
    sending.stop();
    await sending.done.catch(() => undefined);
    client.close();
    server.close();
  }
  t.equal(cycles, 100_000, '100,000 cycles');
  t.equal(stillAttached, 0, 'every released lease was detached');
  await settle();
  checkBaseline(t, before, 'after 100,000 cycles');
});

t.test('1,000 connections opened, read and closed leave nothing behind', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const before = await warmUp(net);
  let bytes = 0;
  let mismatches = 0;
  for (let i = 0; i < 1000; i++) {
    const mode = modes[i % modes.length];
    const { client, server } = await net.connectedPair();
    const receiver = new Receiver(server, { mode, chunkSize: 16 * 1024, maxLeases: 4, verify: true, seed: i + 1 });
    // Half of them release everything, half are closed with their first lease still held.
    const sending = sendLoop(client, { mode: senderFor(mode), bytes: 64 * 1024, seed: i + 1 });
    let held: Lease | undefined;
    for await (const lease of receiver) {
      bytes += lease.length;
      if (i % 2 && !held) held = lease;
      else lease.release();
    }
    await sending.done;
    mismatches += receiver.stats().mismatches;
    receiver.close();
    if (held && held.bytes.byteLength !== 0) t.fail(`${mode}: a held lease survived close()`);
    client.close();
    server.close();
  }
  t.equal(mismatches, 0, `${bytes} bytes over 1,000 connections, all verified`);
  await settle();
  checkBaseline(t, before, 'after 1,000 connections');
});

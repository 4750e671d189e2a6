// The JS Receiver's release batch (issue 16 §3): zero-copy leases released one by one have their
// pages dropped by one madvise per batch, as the native loops do; a read that finds every free
// slot in the batch drops it at once, so a small maxLeases never stalls. Short real runs on
// loopback in a private namespace.
import t, { type Test } from 'tap';
import { Receiver, sendLoop, capabilities, type ReceiverOptions } from '../lib/index.js';
import { netnsSkip, network, pair } from './helpers/network.js';

const MiB = 1024 * 1024;
const skip = netnsSkip || (capabilities().zerocopyReceive.supported ? false : 'no TCP_ZEROCOPY_RECEIVE here');

async function receive(t: Test, options: ReceiverOptions, bytes: number, seed: number) {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'zerocopy', chunkSize: 64 * 1024, verify: true, seed, ...options });
  const sending = sendLoop(client, { mode: 'zerocopy', bytes, seed }).done;
  let leases = 0;
  let received = 0;
  for await (const lease of receiver.iterator({ closeOnReturn: false })) {
    if (lease.mapped > 0) leases++; // copied leases (skip-hint reads) need no madvise
    received += lease.length;
    lease.release();
  }
  await sending;
  const stats = receiver.stats();
  receiver.close();
  return { leases, received, stats };
}

t.test('zerocopy leases: one madvise per batch of releases, every byte verified', { skip }, async (t) => {
  const one = await receive(t, { releaseBatch: 1 }, 8 * MiB, 41);
  const four = await receive(t, {}, 8 * MiB, 42);
  for (const [name, r] of [['releaseBatch 1', one], ['default (4)', four]] as const) {
    t.equal(r.received, 8 * MiB, `${name}: every byte`);
    t.equal(r.stats.mismatches, 0, `${name}: verified`);
    t.ok(r.stats.mappedBytes >= 0.9 * 8 * MiB, `${name}: ${r.stats.mappedBytes} B mapped`);
  }
  t.ok(one.stats.pageCalls >= one.leases, `one madvise per mapped lease without a batch (${one.stats.pageCalls} for ${one.leases})`);
  // Batches of 4, plus the partial batch a read or close() drops early.
  t.ok(four.stats.pageCalls <= Math.ceil(four.leases / 4) + 2, `${four.stats.pageCalls} madvise calls for ${four.leases} mapped leases`);
});

t.test('a batch larger than the slots never stalls a read: it is dropped when no slot is free', { skip }, async (t) => {
  const r = await receive(t, { maxLeases: 2, releaseBatch: 8 }, 4 * MiB, 43);
  t.equal(r.received, 4 * MiB);
  t.equal(r.stats.mismatches, 0);
  t.ok(r.stats.pageCalls < r.leases, `${r.stats.pageCalls} madvise calls for ${r.leases} mapped leases`);
});

t.test('releaseBatch out of range: a coded error', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { server } = await pair(t, net);
  for (const releaseBatch of [0, 1025, 1.5])
    t.throws(() => new Receiver(server, { mode: 'zerocopy', releaseBatch }), { code: /^ERR_PAGEFLIP_/ }, `releaseBatch ${releaseBatch}`);
});

// Isolation: one connection's bytes never show up in another's leases, a released or recycled
// slot is never readable through an old view, and mapped pages are never writable.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Receiver, sendLoop, type Lease, type ReceiveMode } from '../lib/index.js';
import { mappingAt } from './helpers/procfs.js';
import { netnsSkip, network, pair } from './helpers/network.js';
import { MiB, patternMismatches, runChild } from './helpers/reliability.js';

const modes: ReceiveMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'];
const senderFor = (mode: ReceiveMode) => (mode === 'zerocopy' || mode === 'flip' ? 'zerocopy' : 'write');
const leaseChild = fileURLToPath(new URL('./fixtures/lease-child.ts', import.meta.url));

t.test('a receiver never reads another connection through a reused descriptor number', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of modes) {
    const a = await pair(t, net);
    const receiver = new Receiver(a.server, { mode, chunkSize: 64 * 1024, verify: true, seed: 11 });
    const number = a.server.fd;
    a.server.close(); // the caller closes its descriptor while the receiver is still open
    // Open connections until one of them gets the freed number (the lowest free fd is reused).
    let b: Awaited<ReturnType<typeof pair>> | undefined;
    for (let i = 0; i < 4 && !b; i++) {
      const candidate = await pair(t, net);
      if (candidate.server.fd === number || candidate.client.fd === number) b = candidate;
    }
    t.ok(b, `${mode}: another connection now has descriptor ${number}`);
    if (!b) continue;
    // Traffic towards the socket that now has the old number, with another seed.
    const [bSender, bReceiver] = b.server.fd === number ? [b.client, b.server] : [b.server, b.client];
    // (Small enough to sit in the socket buffers unread.)
    await sendLoop(bSender, { mode: 'write', bytes: 128 * 1024, seed: 22, shutdown: false }).done;
    const aSending = sendLoop(a.client, { mode: senderFor(mode), bytes: 2 * MiB + 77, seed: 11 }).done.then(() => a.client.close());
    let total = 0;
    for await (const lease of receiver) {
      t.same(patternMismatches(lease.bytes as Uint8Array, lease.offset, 11, 1), [], `${mode}: lease at ${lease.offset} holds A's bytes`);
      total += lease.length;
      lease.release();
    }
    await aSending;
    const stats = receiver.stats();
    t.equal(total, 2 * MiB + 77, `${mode}: received exactly A's stream`);
    t.equal(stats.mismatches, 0, `${mode}: no byte of B`);
    receiver.close();
    // B's bytes are all still there for B's own receiver.
    const other = new Receiver(bReceiver, { mode: 'copy', verify: true, seed: 22 });
    bSender.shutdown('write');
    let bTotal = 0;
    for await (const lease of other) {
      bTotal += lease.length;
      lease.release();
    }
    t.equal(bTotal, 128 * 1024, `${mode}: B's stream is intact`);
    t.equal(other.stats().mismatches, 0);
    other.close();
  }
});

t.test('two concurrent connections, different seeds, slots reused: no byte crosses', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of modes) {
    const sides = await Promise.all(
      [101, 202].map(async (seed) => {
        const { client, server } = await pair(t, net);
        const receiver = new Receiver(server, { mode, chunkSize: 32 * 1024, maxLeases: 3, verify: true, seed });
        const sending = sendLoop(client, { mode: senderFor(mode), bytes: 8 * MiB, seed });
        return { seed, receiver, sending };
      }),
    );
    const results = await Promise.all(
      sides.map(async ({ seed, receiver, sending }) => {
        const released = new Map<bigint, Lease>(); // last released lease per slot address
        const held: Lease[] = [];
        let reused = 0;
        let crossed = 0;
        let stale = 0;
        let n = 0;
        for await (const lease of receiver) {
          if (patternMismatches(lease.bytes as Uint8Array, lease.offset, seed, 1).length) crossed++;
          const previous = released.get(lease.address);
          if (previous) {
            reused++;
            // The slot is someone else's now: the old lease's view must not reach it.
            if (previous.bytes.byteLength !== 0 || previous.bytes[0] !== undefined) stale++;
          }
          held.push(lease);
          // Release in a varying order so slots come back out of sequence.
          if (held.length === 3 || n++ % 5 === 0) {
            const order = n % 2 ? held.splice(0) : held.splice(0).reverse();
            for (const l of order) {
              l.release();
              released.set(l.address, l);
            }
          }
        }
        for (const l of held) l.release();
        await sending.done;
        const stats = receiver.stats();
        receiver.close();
        return { seed, reused, crossed, stale, stats };
      }),
    );
    for (const { seed, reused, crossed, stale, stats } of results) {
      t.equal(stats.bytes, 8 * MiB, `${mode} seed ${seed}: whole stream`);
      t.equal(stats.mismatches, 0, `${mode} seed ${seed}: native verify: every byte is this connection's`);
      t.equal(crossed, 0, `${mode} seed ${seed}: JS verify: every byte is this connection's`);
      t.ok(reused > 0, `${mode} seed ${seed}: slots were reused (${reused} times)`);
      t.equal(stale, 0, `${mode} seed ${seed}: no old view reaches a reused slot`);
    }
  }
});

t.test('mapped pages are read-only wherever they are', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of ['zerocopy', 'flip'] as const) {
    const { client, server } = await pair(t, net);
    const receiver = new Receiver(server, { mode, chunkSize: 64 * 1024, maxLeases: 4, seed: 3 });
    const sending = sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed: 3 });
    let checked = 0;
    for await (const lease of receiver) {
      if (lease.mapped > 0 && checked < 20) {
        t.match(mappingAt(lease.address) ?? '', /^\S+ r--s /, `${mode}: lease at ${lease.address.toString(16)} is mapped r--s`);
        checked++;
      }
      lease.release();
    }
    t.ok(checked > 0, `${mode}: saw mapped leases`);
    await sending.done;
    receiver.close();
  }
});

t.test('a write into mapped pages kills only the writer (SIGSEGV); the parent lives on', { skip: netnsSkip }, async (t) => {
  for (const scenario of ['write-mapped', 'write-flipped']) {
    const child = await runChild(leaseChild, [scenario], { expectCrash: true });
    t.equal(child.signal, 'SIGSEGV', `${scenario}: the child died by SIGSEGV`);
    t.match(child.stdout, /writing into a/, `${scenario}: it got as far as the write`);
    t.notMatch(child.stdout, /write succeeded/, `${scenario}: and the write never completed`);
  }
  const copied = await runChild(leaseChild, ['write-copied']);
  t.equal(copied.code, 0, 'a copied lease is plain memory: the write succeeds');
  t.match(copied.stdout, /write succeeded/);
});

t.test('reading every old view after release, reuse and close never faults', { skip: netnsSkip }, async (t) => {
  const child = await runChild(leaseChild, ['read-stale']);
  t.equal(child.signal, null, 'no signal');
  t.equal(child.code, 0, `exit 0${child.code ? `: ${child.stderr.slice(-2000)}` : ''}`);
  t.match(child.stdout, /ok \d+/);
});

t.test('a transferred lease buffer is a copy: release still takes the pages away', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'zerocopy', chunkSize: 64 * 1024, seed: 4 });
  const sending = sendLoop(client, { mode: 'zerocopy', bytes: 4 * MiB, seed: 4 });
  let lease = (await receiver.read())!;
  while (lease.mapped === 0) {
    lease.release();
    lease = (await receiver.read())!;
  }
  const buffer = lease.bytes.buffer as ArrayBuffer;
  const clone = structuredClone(buffer, { transfer: [buffer] });
  t.equal(lease.bytes.byteLength, lease.length, 'the lease is not detached by a transfer attempt');
  const { port1, port2 } = new MessageChannel();
  const posted = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
  port1.postMessage(buffer, [buffer]);
  const received = await posted;
  port1.close();
  port2.close();
  const first = lease.bytes[0];
  lease.release();
  t.equal(lease.bytes.byteLength, 0, 'released');
  t.equal(new Uint8Array(clone)[0], first, 'structuredClone got its own copy, still readable');
  t.equal(new Uint8Array(received)[0], first, 'postMessage got its own copy, still readable');
  receiver.close();
  sending.stop();
  await sending.done.catch(() => undefined);
});

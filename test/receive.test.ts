// Receive × send modes over loopback inside private namespaces, at the paper's MTUs and with
// MSS emulation; every byte verified.
import t from 'tap';
import { Receiver, receiveLoop, sendLoop, capabilities } from '../lib/index.js';
import type { ReceiveMode, SendMode } from '../lib/index.js';
import { mappingAt, pageFrameNumbers } from './helpers/procfs.js';
import { netnsSkip, network, openFds, pair, patternByte } from './helpers/network.js';

const MiB = 1024 * 1024;
const receiveModes: ReceiveMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'];
const sendModes: SendMode[] = ['write', 'zerocopy', 'splice'];
const page = capabilities().pageSize;

// lo MTU 4148 and 8244 carry exactly one and two pages per segment (4096/8192 + 52 bytes of
// headers); at the default lo MTU (65536) the MSS is clamped to 4108 (payload 4096) instead.
const networks = [
  { name: 'MTU 4148', mtu: 4148, mss: undefined },
  { name: 'MTU 8244', mtu: 8244, mss: undefined },
  { name: 'default MTU, MSS 4108', mtu: 65536, mss: 4108 },
];

t.test('every receive mode × every send mode, 64 MiB verified', { skip: netnsSkip }, async (t) => {
  for (const { name, mtu, mss } of networks) {
    const net = network(t, mtu);
    for (const receive of receiveModes) {
      for (const send of sendModes) {
        const { client, server } = await pair(t, net, { mss });
        const seed = 1000 + mtu + receiveModes.indexOf(receive) * 10 + sendModes.indexOf(send);
        const rx = receiveLoop(server, { mode: receive, verify: true, seed });
        const tx = sendLoop(client, { mode: send, bytes: 64 * MiB, seed });
        const [r, s] = await Promise.all([rx.done, tx.done]);
        const label = `${name}: ${receive} ← ${send}`;
        t.equal(s.bytes, 64 * MiB, `${label}: sent 64 MiB`);
        t.equal(r.bytes, 64 * MiB, `${label}: received 64 MiB`);
        t.equal(r.verifiedBytes, 64 * MiB, `${label}: every byte verified`);
        t.equal(r.mismatches, 0, `${label}: no mismatches`);
        t.equal(r.mappedBytes + r.copiedBytes, r.bytes, `${label}: mapped + copied = received`);
        t.equal(r.mode, receive, `${label}: ran as ${receive}, no fallback`);
        if (send === 'zerocopy') t.equal(s.completions, s.zerocopySends, `${label}: every MSG_ZEROCOPY send completed`);
        client.close();
        server.close();
      }
    }
  }
});

t.test('page moving maps ≥ 99% with a MSG_ZEROCOPY sender, nothing with write', { skip: netnsSkip }, async (t) => {
  for (const mtu of [4148, 8244]) {
    const net = network(t, mtu);
    for (const receive of ['zerocopy', 'flip'] as const) {
      for (const send of ['zerocopy', 'write'] as const) {
        const { client, server } = await pair(t, net);
        const [r] = await Promise.all([
          receiveLoop(server, { mode: receive, verify: true, seed: 5 }).done,
          sendLoop(client, { mode: send, bytes: 64 * MiB, seed: 5 }).done,
        ]);
        const share = r.mappedBytes / r.bytes;
        const label = `MTU ${mtu} ${receive} ← ${send}`;
        if (send === 'zerocopy') t.ok(share >= 0.99, `${label}: ${(share * 100).toFixed(2)}% of bytes mapped`);
        else {
          // Plain send() builds 32 KiB compound-page frags, which the kernel refuses to map:
          // every byte arrives through recv_skip_hint copies, and is counted as copied.
          t.equal(r.mappedBytes, 0, `${label}: nothing mapped`);
          t.equal(r.copiedBytes, r.bytes, `${label}: all ${r.bytes} bytes counted as copied`);
        }
        t.equal(r.mismatches, 0);
        client.close();
        server.close();
      }
    }
  }
});

t.test('flip and copy-remap leave moved pages at the destination, not copies', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const pfnsVisible = pageFrameNumbers(BigInt(0x10000), 1, page) !== undefined || process.getuid?.() === 0;

  {
    const { client, server } = await pair(t, net);
    const receiver = new Receiver(server, { mode: 'flip', chunkSize: 64 * 1024, maxLeases: 4, verify: true, seed: 3 });
    const sending = sendLoop(client, { mode: 'zerocopy', bytes: 4 * MiB, seed: 3 });
    const layout = receiver.layout();
    let checked = 0;
    for await (const lease of receiver) {
      if (lease.mapped > 0) {
        const line = mappingAt(lease.address) ?? '';
        t.ok(lease.address >= layout.dest! && lease.address < layout.dest! + BigInt(4 * layout.slotBytes), 'lease lives in the destination buffers');
        t.match(line, /r--s .*socket:\[\d+\]/, 'destination now maps the socket\'s pages (read-only, shared)');
        checked++;
      }
      lease.release();
      if (checked >= 3) break;
    }
    t.ok(checked >= 3, 'saw flipped chunks');
    receiver.close();
    sending.stop();
    await sending.done.catch(() => undefined);
    client.close();
    server.close();
  }

  t.test('copy-remap: the staging pages move to the destination', { skip: pfnsVisible ? false : 'needs root for page frame numbers' }, async (t) => {
    const { client, server } = await pair(t, net);
    const receiver = new Receiver(server, { mode: 'copy-remap', chunkSize: 64 * 1024, maxLeases: 2, verify: true, seed: 4 });
    const sending = sendLoop(client, { mode: 'write', bytes: 4 * MiB, seed: 4 });
    const staging = receiver.layout().staging!;
    const lease = (await receiver.read())!;
    const pages = Math.ceil(lease.length / page);
    const destFrames = pageFrameNumbers(lease.address, pages, page)!;
    const stagingFrames = pageFrameNumbers(staging, pages, page) ?? [];
    t.ok(destFrames.every((pfn) => pfn !== 0n), 'destination pages are present');
    t.ok(stagingFrames.every((pfn) => pfn === 0n), 'staging pages are gone: they were moved, not copied');
    t.equal(lease.copied, lease.length, 'recv copied the bytes once');
    t.equal(lease.mismatches, 0);
    lease.release();
    receiver.close();
    sending.stop();
    await sending.done.catch(() => undefined);
    client.close();
    server.close();
  });
});

t.test('leases: JS chunk API in every mode, release detaches, bounded outstanding', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of receiveModes) {
    const { client, server } = await pair(t, net);
    const seed = 77;
    const receiver = new Receiver(server, { mode, chunkSize: 128 * 1024, maxLeases: 4, verify: true, seed });
    const sending = sendLoop(client, { mode: mode === 'zerocopy' || mode === 'flip' ? 'zerocopy' : 'write', bytes: 16 * MiB, seed });
    let total = 0;
    let jsChecked = 0;
    const held = [];
    for await (const lease of receiver) {
      t.equal(lease.offset, total, `${mode}: leases arrive in stream order`);
      total += lease.length;
      if (jsChecked < 3) {
        // Independent of the native verifier: check some bytes in JavaScript.
        for (let i = 0; i < lease.length; i += 4093) t.equal(lease.bytes[i], patternByte(lease.offset + i, seed));
        jsChecked++;
      }
      held.push(lease);
      if (held.length === 4) {
        t.equal(receiver.stats().outstandingLeases, 4, `${mode}: 4 leases outstanding`);
        for (const l of held.splice(0)) {
          l.release();
          t.equal(l.bytes.byteLength, 0, `${mode}: released view is detached`);
          t.equal(l.bytes[0], undefined, `${mode}: reading it is harmless`);
        }
      }
    }
    for (const l of held) l.release();
    const stats = receiver.stats();
    t.equal(total, 16 * MiB, `${mode}: all bytes`);
    t.equal(stats.mismatches, 0, `${mode}: verified`);
    t.equal(stats.verifiedBytes, 16 * MiB);
    t.equal(stats.mappedBytes + stats.copiedBytes, stats.bytes);
    t.equal(stats.outstandingLeases, 0);
    await sending.done;
    receiver.close();
    client.close();
    server.close();
  }
});

t.test('backpressure: a full receiver waits for a release', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'zerocopy', chunkSize: 64 * 1024, maxLeases: 2, seed: 1 });
  const sending = sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed: 1 });
  const a = (await receiver.read())!;
  const b = (await receiver.read())!;
  let third = false;
  const next = receiver.read().then((lease) => {
    third = true;
    return lease;
  });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(third, 'no third lease while two are outstanding');
  a.release();
  const c = await next;
  t.ok(third && c, 'released slot is reused');
  b.release();
  c!.release();
  receiver.close();
  sending.stop();
  await sending.done.catch(() => undefined);
});

t.test('faults: peer reset, peer close, close during a pending read', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const fdsBefore = openFds();

  for (const mode of receiveModes) {
    // Reset at a random offset: the receiver's error is ECONNRESET, with what it got so far.
    const { client, server } = await pair(t, net);
    const cut = (1 + Math.floor(Math.random() * 7)) * MiB + Math.floor(Math.random() * 4096);
    const receiving = receiveLoop(server, { mode, verify: true, seed: 2 }).done.then(
      () => undefined,
      (e: Error & { code?: string; stats?: { bytes: number; mismatches: number } }) => e,
    );
    await sendLoop(client, { mode: 'write', bytes: cut, shutdown: false, seed: 2 }).done;
    client.setOptions({ linger0: true });
    client.close();
    const error = await receiving;
    t.equal(error?.code, 'ECONNRESET', `${mode}: reset surfaces as ECONNRESET`);
    t.ok(error?.stats && error.stats.bytes <= cut && error.stats.mismatches === 0, `${mode}: partial stats attached, no corruption`);
    server.close();
  }

  {
    // Peer closes mid-stream: a clean EOF after exactly what was sent.
    const { client, server } = await pair(t, net);
    const sent = 3 * MiB + 123;
    const receiving = receiveLoop(server, { mode: 'zerocopy', verify: true, seed: 6 }).done;
    await sendLoop(client, { mode: 'zerocopy', bytes: sent, seed: 6 }).done;
    client.close();
    const r = await receiving;
    t.equal(r.endReason, 'eof');
    t.equal(r.bytes, sent, 'received exactly what was sent before the close');
    t.equal(r.mismatches, 0);
    server.close();
  }

  {
    // Receiver closed while a read waits for data.
    const { client, server } = await pair(t, net);
    const receiver = new Receiver(server, { mode: 'zerocopy' });
    const pending = receiver.read();
    setTimeout(() => receiver.close(), 50);
    await t.rejects(pending, { code: 'ERR_PAGEFLIP_CLOSED' }, 'pending read rejects');
    await t.rejects(receiver.read(), { code: 'ERR_PAGEFLIP_CLOSED' }, 'later reads reject');
    const loop = receiveLoop(server, { mode: 'copy' });
    setTimeout(() => loop.stop(), 50);
    t.equal((await loop.done).endReason, 'stopped', 'a native loop stops on request');
    client.close();
    server.close();
  }
  t.equal(openFds(), fdsBefore, 'no file descriptor left behind');
});

t.test('unsupported mode on this kernel: typed error, or a reported fallback', { skip: netnsSkip }, async (t) => {
  const { binding } = await import('../lib/native.js');
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  binding.setTestSwitch('noZerocopy', true);
  t.teardown(() => binding.setTestSwitch('noZerocopy', false));
  t.equal(capabilities().zerocopyReceive.supported, false, 'capabilities report it missing');
  t.throws(() => new Receiver(server, { mode: 'zerocopy' }), { code: 'ERR_PAGEFLIP_UNSUPPORTED' });
  await t.rejects(receiveLoop(server, { mode: 'flip' }).done, { code: 'ERR_PAGEFLIP_UNSUPPORTED' });
  const [r] = await Promise.all([
    receiveLoop(server, { mode: 'zerocopy', allowFallback: true, verify: true, seed: 9 }).done,
    sendLoop(client, { mode: 'zerocopy', bytes: 4 * MiB, seed: 9 }).done,
  ]);
  t.equal(r.mode, 'copy', 'ran as copy');
  t.equal(r.requestedMode, 'zerocopy');
  t.match(r.fallbackReason, /fell back to copy/, 'and says so');
  t.equal(r.mappedBytes, 0);
  t.equal(r.mismatches, 0);
});

t.test('bad arguments to receivers and loops', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { server } = await pair(t, net);
  t.throws(() => new Receiver(server, { mode: 'teleport' as ReceiveMode }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => new Receiver(server, { chunkSize: 0 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => new Receiver(server, { maxLeases: 1e9 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => new Receiver(server, { verify: 'yes' as unknown as boolean }), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  t.throws(() => receiveLoop(server, { seconds: -1 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => sendLoop(server, { mode: 'carrier-pigeon' as SendMode }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => sendLoop(server, { mode: 'splice', chunkSize: 1000 }), { code: 'ERR_PAGEFLIP_NOT_PAGE_MULTIPLE' });
  t.throws(() => receiveLoop(server, { cpu: 1.5 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  const closed = (await pair(t, net)).server;
  closed.close();
  t.throws(() => new Receiver(closed), { code: 'ERR_PAGEFLIP_CLOSED' });
});

t.test('leaving for-await over iterator({ closeOnReturn: false }) early keeps the receiver open: read() goes on where it stopped', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const total = 2 * MiB;
  const sending = sendLoop(client, { mode: 'write', bytes: total, seed: 21 }).done;
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: 64 * 1024, verify: true, seed: 21 });
  let bytes = 0;
  for await (const lease of receiver.iterator({ closeOnReturn: false })) {
    bytes += lease.length;
    lease.release();
    break;
  }
  t.ok(bytes > 0, 'the loop got a chunk before the break');
  for (let lease = await receiver.read(); lease; lease = await receiver.read()) {
    bytes += lease.length;
    lease.release();
  }
  await sending;
  t.equal(bytes, total, 'every byte arrived across the break');
  t.equal(receiver.stats().mismatches, 0, 'in order, none lost or repeated');
  receiver.close();
  client.close();
});

t.test('a timed sender ends with EOF; a stopped one leaves the connection open', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of ['write', 'zerocopy', 'splice'] as SendMode[]) {
    const { client, server } = await pair(t, net);
    const receiving = receiveLoop(server, { mode: 'copy', verify: true, seed: 5 }).done;
    const sent = await sendLoop(client, { mode, seconds: 0.2, seed: 5 }).done;
    t.equal(sent.endReason, 'time');
    const r = await receiving;
    t.equal(r.endReason, 'eof', `${mode}: the receiver saw EOF after the timed send`);
    t.equal(r.bytes, sent.bytes, `${mode}: and every byte sent`);
    t.equal(r.mismatches, 0);
    client.close();
    server.close();
  }
  const { client, server } = await pair(t, net);
  const sending = sendLoop(client, { mode: 'write', seconds: 30 });
  setTimeout(() => sending.stop(), 50);
  t.equal((await sending.done).endReason, 'stopped');
  const r = await receiveLoop(server, { mode: 'copy', seconds: 0.3 }).done;
  t.equal(r.endReason, 'time', 'no EOF after stop(): the caller decides what happens to the connection');
  client.close();
  server.close();
});

t.test('low water: SO_RCVLOWAT while reading, restored afterwards, pauses never stall', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  t.equal(server.info().rcvlowat, 1, 'a fresh socket wakes on any byte');
  t.equal(server.info().inq, false, 'and does not report what is left queued');
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: 64 * 1024, lowWater: 32 * 1024 });
  t.equal(server.info().rcvlowat, 32 * 1024, 'the receiver sets its low water');
  t.equal(server.info().inq, true, 'and TCP_INQ, so a copy read knows what it left');
  // A peer that sends less than the low water and pauses is still delivered.
  const small = sendLoop(client, { mode: 'write', bytes: 10_000, shutdown: false, seed: 8 });
  await small.done;
  const lease = await receiver.read();
  t.equal(lease?.length, 10_000, 'bytes below the low water arrive without waiting for more');
  lease?.release();
  receiver.close();
  t.equal(server.info().rcvlowat, 1, 'close() gives the socket its setting back');
  t.equal(server.info().inq, false, 'both settings');

  const rx = receiveLoop(server, { mode: 'copy', seconds: 0.2, chunkSize: 128 * 1024 });
  t.equal((await rx.done).endReason, 'time');
  t.equal(server.info().rcvlowat, 1, 'a native loop restores it too');
  t.throws(() => new Receiver(server, { lowWaterMs: -1 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => new Receiver(server, { lowWaterMs: '5' as unknown as number }), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  t.throws(() => new Receiver(server, { lowWater: -1 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  t.throws(() => receiveLoop(server, { lowWater: 2 ** 40 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
});

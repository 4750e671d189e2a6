// Issue 15 §1: every receive mode waits the same way. The blocking copy recv() waits for
// SO_RCVLOWAT (a whole chunk); zerocopy and flip must wait for the same low-water mark before they
// map, instead of mapping whatever is queued, and every syscall a mode makes is counted (the waits,
// mremap, mmap and madvise too). Short real runs on loopback in a private namespace.
import t, { type Test } from 'tap';
import { Receiver, capabilities, receiveLoop, sendLoop, type ReceiveMode } from '../lib/index.js';
import { network, netnsSkip, pair } from './helpers/network.js';
import { callsLessDisturbance, leastDisturbed } from './helpers/least-disturbed.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 256 * KiB;
const BYTES = 48 * MiB;
const caps = capabilities();
const zerocopySkip = netnsSkip || (caps.zerocopyReceive.supported && caps.msgZerocopy.supported ? false : 'needs TCP_ZEROCOPY_RECEIVE and MSG_ZEROCOPY');

async function run(t: Test, mode: ReceiveMode) {
  // MTU 4148: one page of payload per segment, so a MSG_ZEROCOPY sender's data is all mappable.
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const [r] = await Promise.all([
    receiveLoop(server, { mode, chunkSize: CHUNK, cpu: 0 }).done,
    sendLoop(client, { mode: 'zerocopy', bytes: BYTES, chunkSize: CHUNK, cpu: caps.cpus > 1 ? 1 : 0 }).done,
  ]);
  t.equal(r.bytes, BYTES, `${mode}: every byte arrived`);
  return r;
}

/** One mode's least-disturbed run by bytes per receive call (test/helpers/least-disturbed.ts says why). */
async function leastDisturbedRun(t: Test, mode: ReceiveMode) {
  const { best } = await leastDisturbed(async () => {
    const r = await run(t, mode);
    const calls = mode === 'copy' ? r.receiveCalls : callsLessDisturbance(r.receiveCalls, r.copiedBytes);
    return { ...r, calls, perMB: (calls * 1e6) / r.bytes, undisturbed: mode === 'copy' || r.copiedBytes === 0 };
  });
  return best;
}

t.test('every mode waits for the low-water mark: a receive call carries about a chunk', { skip: zerocopySkip }, async (t) => {
  const perCall: Record<string, number> = {};
  for (const mode of ['copy', 'zerocopy', 'flip'] as const) {
    const r = await leastDisturbedRun(t, mode);
    t.type(r.receiveCalls, 'number', `${mode}: receive calls are counted`);
    perCall[mode] = r.bytes / r.calls;
    t.comment(`${mode}: ${(r.bytes / r.receiveCalls / KiB).toFixed(1)} KiB per receive call, ${((r.syscalls * 1e6) / r.bytes).toFixed(2)} syscalls/MB ` +
      `(${r.receiveCalls} receive, ${r.waitCalls} wait, ${r.pageCalls} page-table)` +
      (mode === 'copy' ? '' : `; ${r.copiedBytes} bytes the kernel could not map, ${(perCall[mode] / KiB).toFixed(1)} KiB per call without the calls they cost`));
    // Every call a mode makes is in the total; nothing is counted twice.
    t.ok(r.syscalls >= r.receiveCalls + r.waitCalls + r.pageCalls, `${mode}: syscalls include receive, wait and page-table calls`);
  }
  // Copy's blocking recv() returns a whole chunk once SO_RCVLOWAT bytes are queued. Page moving
  // used to map ~70-90 KB per call (whatever was queued); it must now carry nearly as much as copy
  // (slack for the 100 ms wait that ends a pause below the mark, and the last partial chunk),
  // not counting the calls that pages the kernel could not map cost (callsLessDisturbance).
  t.ok(perCall.copy > 0.9 * CHUNK, `copy: ${perCall.copy.toFixed(0)} B per recv, about a chunk`);
  for (const mode of ['zerocopy', 'flip'])
    t.ok(perCall[mode] > 0.8 * perCall.copy, `${mode}: ${perCall[mode].toFixed(0)} B per call against copy's ${perCall.copy.toFixed(0)}`);
});

t.test('page-table calls are counted: flip moves every chunk, zerocopy releases with madvise', { skip: zerocopySkip }, async (t) => {
  // One mremap moves at most one chunk, so moving R bytes takes at least R / chunk page-table
  // calls (plus the mmap that plugs the hole when DONTUNMAP is refused), however the kernel split them.
  const flip = await run(t, 'flip');
  t.equal(flip.remappedBytes, flip.mappedBytes, `flip: every mapped byte was moved (${flip.remappedBytes})`);
  t.ok(flip.pageCalls >= flip.remappedBytes / CHUNK, `flip: ${flip.pageCalls} page-table calls for ${(flip.remappedBytes / CHUNK).toFixed(1)} chunks moved`);
  const zerocopy = await run(t, 'zerocopy');
  t.ok(zerocopy.pageCalls >= 1, `zerocopy: ${zerocopy.pageCalls} madvise calls`);
  const copyRemap = await run(t, 'copy-remap');
  t.equal(copyRemap.remappedBytes, copyRemap.bytes, `copy-remap: every byte was moved (${copyRemap.remappedBytes})`);
  t.ok(copyRemap.pageCalls >= copyRemap.remappedBytes / CHUNK, `copy-remap: ${copyRemap.pageCalls} page-table calls for ${(copyRemap.remappedBytes / CHUNK).toFixed(1)} chunks moved`);
  // Each chunk is a recv into the staging buffer and a move out of it.
  t.ok(copyRemap.syscalls >= 2 * (copyRemap.remappedBytes / CHUNK), `copy-remap: ${copyRemap.syscalls} syscalls, at least two per chunk`);
});


t.test('the JS copy Receiver waits for the low-water mark too: a read that leaves less queued makes the next one wait', { skip: netnsSkip }, async (t) => {
  // Without TCP_INQ a non-blocking recv cannot tell what it left: after a full chunk the next
  // read took the scrap queued so far at once (a lease of a few KiB, and a recv that met EAGAIN).
  // With it, the read after a full chunk that left less than lowWater waits first, as loops do.
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const CHUNK_BYTES = 64 * KiB;
  const SCRAP = 10_000;
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: CHUNK_BYTES, lowWaterMs: 5 });
  t.teardown(() => receiver.close());
  await sendLoop(client, { mode: 'write', bytes: CHUNK_BYTES + SCRAP, shutdown: false, seed: 3 }).done;
  // Everything queued before the first read, so what each read finds is fixed.
  for (const deadline = Date.now() + 10_000; server.info().receiveQueue < CHUNK_BYTES + SCRAP && Date.now() < deadline; )
    await new Promise((resolve) => setTimeout(resolve, 1));
  t.equal(server.info().receiveQueue, CHUNK_BYTES + SCRAP, 'a chunk and a scrap queued');
  const first = await receiver.read();
  t.equal(first?.length, CHUNK_BYTES, 'the first read fills its chunk');
  first?.release();
  const waitsBefore = receiver.stats().wouldBlock;
  const second = await receiver.read();
  t.equal(second?.length, SCRAP, 'the scrap arrives (after lowWaterMs, since no more came)');
  second?.release();
  t.ok(receiver.stats().wouldBlock > waitsBefore, `the read after the full chunk waited first (${receiver.stats().wouldBlock - waitsBefore} wait)`);
  t.equal(server.info().inq, true, 'TCP_INQ is on while the receiver is open');
});

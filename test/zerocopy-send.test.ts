// MSG_ZEROCOPY sends: completions accounted as ranges, large chunks, ENOBUFS without anything in
// flight (the pinned-page limit), waiting for completions on a shut-down socket, and a region that
// stays lent until the kernel has let go of its pages. Hanging cases run in a child process
// (test/fixtures/send-hang-child.ts) with a bounded time.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { binding } from '../lib/native.js';
import { PageRegion, Receiver, Sender, receiveLoop, sendLoop } from '../lib/index.js';
import type { Connection } from '../lib/index.js';
import { netnsSkip, network, pair } from './helpers/network.js';
import { runChild } from './helpers/reliability.js';

const MiB = 1024 * 1024;
const child = fileURLToPath(new URL('./fixtures/send-hang-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);

t.test('completion ranges may arrive out of order: bytes stay in flight until their own id completes', async (t) => {
  // Sends of 100, 200, 300 and 400 bytes take ids 0..3.
  t.same(binding.zerocopyLedgerReplay([100, 200, 300, 400], [[2, 2], [0, 0], [3, 3], [1, 1]]), [700, 600, 200, 0], 'out of order');
  t.same(binding.zerocopyLedgerReplay([100, 200, 300, 400], [[1, 3], [0, 0]]), [100, 0], 'a later range first');
  t.same(binding.zerocopyLedgerReplay([100, 200, 300], [[0, 1], [2, 2]]), [300, 0], 'in order');
  t.same(binding.zerocopyLedgerReplay([100, 200], [[0, 1], [0, 1], [5, 9]]), [0, 0, 0], 'repeated and unknown ids change nothing');
});

t.test('zero-copy sendLoop with chunks above 8 MiB and above 16 MiB sends every byte', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const chunkSize of [12 * MiB, 20 * MiB]) {
    const { client, server } = await pair(t, net);
    const bytes = 48 * MiB;
    const receiving = receiveLoop(server, { mode: 'copy', verify: true, seed: 5, seconds: 60 });
    const sending = sendLoop(client, { mode: 'zerocopy', chunkSize, bytes, seed: 5, seconds: 30 });
    const sent = await sending.done;
    const received = await receiving.done;
    t.equal(sent.endReason, 'bytes', `${chunkSize / MiB} MiB chunks: the loop ended on its byte count (not on time)`);
    t.equal(sent.bytes, bytes, `${chunkSize / MiB} MiB chunks: every byte sent`);
    t.equal(received.bytes, bytes, 'and received');
    t.equal(received.mismatches, 0, 'unchanged');
    client.close();
    server.close();
  }
});

t.test('ENOBUFS with nothing in flight (RLIMIT_MEMLOCK 64 KiB, no CAP_IPC_LOCK): a coded error or a reported copy, never a spin', { skip: netnsSkip }, async (t) => {
  const limited = { shell: 'ulimit -l 64', prefix: ['setpriv', '--inh-caps=-ipc_lock', '--bounding-set=-ipc_lock'], timeoutMs: 60_000 };
  const refused = await runChild(child, ['enobufs'], limited);
  t.equal(refused.code, 0, `the child finished (${refused.signal ?? ''} ${refused.stderr.slice(-500)})`);
  const r = JSON.parse(refused.stdout.trim().split('\n').pop() || '{}');
  t.equal(r.sent?.rejected?.code, 'ENOBUFS', 'without allowFallback the loop rejects with ENOBUFS');
  t.match(r.sent?.rejected?.message ?? '', /RLIMIT_MEMLOCK/, 'and says which limit');
  t.equal(r.sent?.rejected?.stats?.zerocopySends, 0, 'no zero-copy send went through');

  const copied = await runChild(child, ['enobufs', 'fallback'], limited);
  t.equal(copied.code, 0, `the child finished (${copied.signal ?? ''} ${copied.stderr.slice(-500)})`);
  const c = JSON.parse(copied.stdout.trim().split('\n').pop() || '{}');
  const stats = c.sent?.resolved;
  t.ok(stats, 'with allowFallback the loop completes');
  t.equal(stats?.endReason, 'time', 'on its time limit');
  t.ok(stats?.copiedSends > 0 && stats?.copiedBytes > 0, `the copies are counted: ${stats?.copiedSends} sends, ${stats?.copiedBytes} bytes`);
  t.ok(stats && stats.copiedBytes === stats.bytes, 'every byte went by copy');
  t.equal(c.received?.resolved?.mismatches, 0, 'the peer got the right bytes');
  t.equal(c.received?.resolved?.bytes, stats?.bytes, 'all of them');
});

t.test('waiting for completions on a socket shut down for both directions ends (no spin)', { skip: netnsSkip }, async (t) => {
  const result = await runChild(child, ['shutdown'], { timeoutMs: 30_000 });
  t.equal(result.signal, null, `the child was not killed (timeout) ${result.stderr.slice(-500)}`);
  t.equal(result.code, 0, 'and exited normally');
  const r = JSON.parse(result.stdout.trim().split('\n').pop() || '{}');
  const stats = r.sent?.resolved ?? r.sent?.rejected?.stats;
  t.ok(stats, 'the loop settled');
  t.ok(stats.cpuSeconds < stats.seconds / 2 + 0.1, `its thread did not spin: ${stats.cpuSeconds.toFixed(3)} s CPU in ${stats.seconds.toFixed(3)} s`);
});

async function collect(connection: Connection): Promise<Uint8Array> {
  const receiver = new Receiver(connection, { mode: 'copy', chunkSize: 256 * 1024 });
  const parts: Uint8Array[] = [];
  for await (const lease of receiver) {
    parts.push(Uint8Array.from(lease.bytes as Uint8Array));
    lease.release();
  }
  receiver.close();
  return Buffer.concat(parts);
}

for (const ending of ['close', 'error'] as const) {
  const how = ending === 'close' ? 'Sender.close()' : 'a send error (EPIPE after shutdown)';
  t.test(`${how} during MSG_ZEROCOPY sends: the region stays lent until its pages are released`, { skip: netnsSkip }, async (t) => {
    const net = network(t, 4148);
    const { client, server } = await pair(t, net);
    const size = 8 * MiB;
    const region = PageRegion.alloc(size);
    const bytes = region.bytes;
    for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 0xff;
    const expected = Uint8Array.from(bytes);
    const sender = new Sender(client, { mode: 'zerocopy' });
    // The peer does not read yet: its window fills and part of the region stays in flight.
    const sending = sender.send(region);
    let settled = false;
    const outcome = sending.then(
      () => 'resolved',
      (e: Error & { code?: string }) => e.code,
    );
    // As soon as the region is given back, its owner writes other bytes into it and ends the stream.
    const rewritten = outcome.then(() => {
      settled = true;
      region.bytes.fill(0xee);
      if (ending === 'close') client.shutdown('write');
    });
    await sleep(300);
    if (ending === 'close') sender.close();
    else client.shutdown('write'); // the send's next syscall fails with EPIPE
    await Promise.race([outcome, sleep(1000)]);
    t.notOk(settled, 'the send has not settled while its pages are in flight');
    t.throws(() => region.bytes, { code: 'ERR_PAGEFLIP_BUSY' }, 'the region is still lent');
    const received = await collect(server); // reading lets the completions arrive
    await rewritten;
    t.equal(await outcome, ending === 'close' ? 'ERR_PAGEFLIP_CLOSED' : 'EPIPE', 'the send rejects once its completions are in');
    t.ok(received.length > 0 && received.length < size, `the peer got part of the region (${received.length} bytes)`);
    let wrong = 0;
    for (let i = 0; i < received.length; i++) if (received[i] !== expected[i]) wrong++;
    t.equal(wrong, 0, `bytes the peer got that were written after the send settled: ${wrong} of ${received.length}`);
    region.close();
  });
}

t.test('one zero-copy send per connection at a time; the next one continues its notification ids', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiving = receiveLoop(server, { mode: 'copy', verify: true, seed: 9, seconds: 60 });
  const loop = sendLoop(client, { mode: 'zerocopy', seconds: 0.5, seed: 9, shutdown: false });
  await sleep(100);
  const region = PageRegion.alloc(MiB);
  await t.rejects(new Sender(client, { mode: 'zerocopy' }).send(region), { code: 'EBUSY' }, 'a second zero-copy send on the connection is refused');
  t.notOk(region.closed, 'and its region is given back');
  const first = await loop.done;
  t.ok(first.zerocopySends > 0, `the loop sent ${first.zerocopySends} zero-copy sends`);
  // Sends after it take the socket's next ids: each settles once its own completions arrive.
  for (let i = 0; i < 3; i++) {
    const stats = await within(new Sender(client, { mode: 'zerocopy' }).send(region), 10_000);
    t.equal(stats.completions, stats.zerocopySends, `send ${i + 1} after the loop: every completion accounted`);
  }
  region.close();
  client.shutdown('write');
  const received = await receiving.done;
  t.equal(received.bytes, first.bytes + 3 * MiB, 'the peer got the loop and the three sends');
});

// Fault injection: peer resets and stalls, closes during pending reads, running out of address
// space, the lease cap, signals (EINTR) and a kernel without zero-copy receive. Each must give a
// typed error or the documented fallback and leave no descriptor, mapping or pinned page behind.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Receiver, receiveLoop, sendLoop, capabilities, type ReceiveMode, type SendMode } from '../lib/index.js';
import { binding } from '../lib/native.js';
import { listen, connect } from '../lib/socket.js';
import type { PrivateNetwork } from '../lib/experiment/netns.js';
import { MALLOC_ARENA_BYTES, mappingCount } from './helpers/procfs.js';
import { netnsSkip, network, pair } from './helpers/network.js';
import { MiB, describeGrowth, growth, runChild, sanitizer, settle, sleep, usage } from './helpers/reliability.js';

const modes: ReceiveMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'];
const senderFor = (mode: ReceiveMode): SendMode => (mode === 'zerocopy' || mode === 'flip' ? 'zerocopy' : 'write');
const enomemChild = fileURLToPath(new URL('./fixtures/enomem-child.ts', import.meta.url));

/** Resolves to 'pending' if the promise has not settled after `ms` (a behavioural check, not a timing one). */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([promise, sleep(ms).then(() => 'pending' as const)]);
}

/** A baseline taken after one warm-up round trip, so lazily created process state is already there. */
// Native loops run on threads, and glibc gives each concurrently running thread its own malloc
// arena (64 MiB of address space, kept for reuse) and caches exited threads' stacks: the warm-up
// runs two loops at once so that memory already exists before the baseline.
async function baseline(net: PrivateNetwork): Promise<ReturnType<typeof usage>> {
  for (let i = 0; i < 2; i++) {
    const { client, server } = await net.connectedPair();
    const receiver = new Receiver(server, { mode: 'zerocopy' });
    const sending = sendLoop(client, { mode: 'zerocopy', bytes: 64 * 1024 });
    for await (const lease of receiver) lease.release();
    await sending.done;
    receiver.close();
    client.close();
    server.close();
    const other = await net.connectedPair();
    await Promise.all([receiveLoop(other.server, { mode: 'flip' }).done, sendLoop(other.client, { mode: 'zerocopy', bytes: MiB }).done]);
    other.client.close();
    other.server.close();
  }
  await settle();
  return usage();
}

// Tolerances: V8 grows its heap meanwhile (a few VMAs, some MiB of address space); a leaked
// receiver maps 2 MiB or more of slots and an fd, so leaks of even a few show.
async function checkNoLeak(t: Test, before: ReturnType<typeof usage>, label: string): Promise<void> {
  await settle();
  const g = growth(before);
  t.ok(g.fds <= 0, `${label}: no descriptor left behind (${describeGrowth(g)})`);
  // A new malloc arena is two VMAs (its head and its reserve); how many appear depends on how many
  // threads ran at once, which a busy machine changes: they are counted apart, as for vsize.
  const maps = g.maps - 2 * Math.max(0, g.mallocArenas);
  t.ok(maps <= 16, `${label}: no mapping left behind (${maps >= 0 ? '+' : ''}${maps} VMAs besides ${g.mallocArenas} new malloc arenas)`);
  t.equal(g.socketMaps, 0, `${label}: no socket mapping (zero-copy arena, flipped pages) left behind`);
  // New glibc arenas (64 MiB each) come from thread timing, not from us; they are counted apart.
  const vsize = g.vsize - Math.max(0, g.mallocArenas) * MALLOC_ARENA_BYTES;
  t.ok(vsize < 16 * MiB, `${label}: address space back at baseline (${Math.round(vsize / 1024)} KiB besides ${g.mallocArenas} new malloc arenas)`);
  t.equal(g.pinned, 0, `${label}: no pinned pages`);
}

t.test('peer RST at random offsets: ECONNRESET, verified bytes before it, nothing leaked', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const before = await baseline(net);
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...modes),
      fc.integer({ min: 1, max: 6 * MiB }), // (bytes: 0 would mean no limit)
      fc.boolean(),
      async (mode, cut, jsPath) => {
        runs++;
        const { client, server } = await net.connectedPair();
        const seed = 40 + cut;
        const tx = sendLoop(client, { mode: senderFor(mode), bytes: cut, shutdown: false, seed });
        let receiving: Promise<{ bytes: number; mismatches: number; code?: string }>;
        let receiver: Receiver | undefined;
        if (jsPath) {
          const rx = new Receiver(server, { mode, chunkSize: 64 * 1024, verify: true, seed });
          receiver = rx;
          receiving = (async () => {
            let bytes = 0;
            let mismatches = 0;
            try {
              for await (const lease of rx) {
                bytes += lease.length;
                mismatches += lease.mismatches;
                lease.release();
              }
              return { bytes, mismatches };
            } catch (error) {
              return { bytes, mismatches, code: (error as { code?: string }).code };
            }
          })();
        } else {
          receiving = receiveLoop(server, { mode, verify: true, seed }).done.then(
            (stats) => stats,
            (error: Error & { code?: string; stats: { bytes: number; mismatches: number } }) => ({ ...error.stats, code: error.code }),
          );
        }
        // Reset once everything is sent; if the receiver ended first (it must not), stop the sender.
        const early = await Promise.race([tx.done.then(() => undefined), receiving]);
        if (early) tx.stop();
        await tx.done.catch(() => undefined);
        client.setOptions({ linger0: true });
        client.close();
        const { bytes, mismatches, code } = await receiving;
        receiver?.close();
        server.close();
        const label = `${mode}/${jsPath ? 'js' : 'loop'} cut ${cut}`;
        if (early) throw new Error(`${label}: the receiver ended before the reset (${early.code ?? 'eof'} after ${early.bytes} bytes)`);
        // A reset discards what the receiver had not read yet, so fewer bytes may arrive than were
        // sent; what did arrive is exact.
        if (code !== 'ECONNRESET') throw new Error(`${label}: got ${code ?? 'no error'}`);
        if (bytes > cut || mismatches !== 0) throw new Error(`${label}: ${bytes} bytes, ${mismatches} mismatches`);
      },
    ),
    { numRuns: 30 },
  );
  t.equal(runs, 30, 'ran 30 random resets');
  await checkNoLeak(t, before, 'after the resets');
});

t.test('peer stall: a timed loop ends with "time"; a pending JS read can be closed', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const before = await baseline(net);
  for (const mode of modes) {
    for (const blocking of [true, false]) {
      const { client, server } = await pair(t, net);
      const stats = await receiveLoop(server, { mode, seconds: 0.3, blocking, verify: true }).done;
      t.equal(stats.endReason, 'time', `${mode} blocking=${blocking}: ended by the time limit`);
      t.equal(stats.bytes, 0, `${mode}: nothing arrived`);
      client.close();
      server.close();
    }
    // A read waiting for data, and a read waiting for a release ('full'), both end on close().
    const { client, server } = await pair(t, net);
    const waiting = new Receiver(server, { mode });
    const pending = waiting.read();
    t.equal(await settledWithin(pending, 50), 'pending', `${mode}: the read waits while the peer stalls`);
    waiting.close();
    await t.rejects(pending, { code: 'ERR_PAGEFLIP_CLOSED' }, `${mode}: closing fails the pending read`);

    const full = new Receiver(server, { mode, maxLeases: 1, chunkSize: 4096 });
    await sendLoop(client, { mode: senderFor(mode), bytes: 64 * 1024, shutdown: false }).done;
    const held = await full.read();
    t.ok(held, `${mode}: got one lease`);
    const blocked = full.read();
    t.equal(await settledWithin(blocked, 50), 'pending', `${mode}: the next read waits for a release`);
    full.close();
    await t.rejects(blocked, { code: 'ERR_PAGEFLIP_CLOSED' }, `${mode}: closing fails the read waiting for a release`);
    t.equal(held!.bytes.byteLength, 0, `${mode}: and detaches the held lease`);
    client.close();
    server.close();
  }
  await checkNoLeak(t, before, 'after the stalls');
});

t.test('maxLeases bounds every outstanding lease, mapped and copied together', { skip: netnsSkip }, async (t) => {
  // At lo MTU 65536 a MSG_ZEROCOPY sender's segments are a few pages plus a tail the kernel
  // cannot map, so reads alternate mapped and copied leases from two different pools.
  const net = network(t, 65536);
  for (const [mode, copybuf] of [['zerocopy', 0], ['flip', 0], ['zerocopy', 8192]] as const) {
    for (const maxLeases of [1, 2, 5]) {
      const { client, server } = await pair(t, net);
      const receiver = new Receiver(server, { mode, maxLeases, copybuf, chunkSize: 64 * 1024, verify: true, seed: 8 });
      const tx = sendLoop(client, { mode: 'zerocopy', bytes: 16 * MiB, seed: 8 });
      const held = [];
      const kinds = new Set<string>();
      // Waits on the data itself (16 MiB are on their way), never on a clock: a busy machine may
      // take long to deliver the first bytes.
      while (held.length < maxLeases) {
        const next = await receiver.read();
        if (next === null) break;
        held.push(next);
        kinds.add(next.mapped ? 'mapped' : 'copied');
        t.ok(receiver.stats().outstandingLeases <= maxLeases, `${mode} copybuf ${copybuf}: ${held.length} outstanding ≤ ${maxLeases}`);
      }
      t.equal(held.length, maxLeases, `${mode} copybuf ${copybuf} maxLeases ${maxLeases}: maxLeases leases while the data keeps coming`);
      // One more read must wait for a release, however long we look (more data is queued), and
      // a release must end that wait.
      const blocked = receiver.read();
      t.equal(await settledWithin(blocked, 200), 'pending', `${mode} maxLeases ${maxLeases}: the next read waits`);
      t.equal(receiver.stats().outstandingLeases, maxLeases, `${mode} maxLeases ${maxLeases}: still ${maxLeases} outstanding`);
      held.shift()!.release();
      const after = await blocked;
      t.ok(after !== null && after.length > 0, `${mode} maxLeases ${maxLeases}: a release lets the waiting read through`);
      if (after) held.push(after);
      t.ok(receiver.stats().outstandingLeases <= maxLeases, `${mode}: still within maxLeases`);
      if (maxLeases >= 2) t.ok(kinds.has('mapped') && kinds.has('copied'), `${mode}: held both kinds (${[...kinds]})`);
      receiver.close();
      tx.done.catch(() => undefined);
      client.close();
      server.close();
    }
  }
});

t.test('the flip cap: at most 1024 outstanding flips, mappings bounded and returned', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  t.throws(() => new Receiver(server, { mode: 'flip', maxLeases: 1025 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' }, 'maxLeases > 1024 is refused');
  await settle();
  const start = usage();
  const baseline = start.maps;
  const socketMaps = start.socketMaps;
  const receiver = new Receiver(server, { mode: 'flip', maxLeases: 1024, chunkSize: 4096, verify: true, seed: 12 });
  const tx = sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed: 12 });
  const held = [];
  // 8 MiB are on their way (2048 pages): wait on the data, never on a clock.
  while (held.length < 1024) {
    const next = await receiver.read();
    if (next === null) break;
    held.push(next);
  }
  const peak = mappingCount() - baseline;
  const flipped = held.filter((l) => l.mapped > 0).length;
  t.equal(held.length, 1024, '1024 outstanding leases while the data keeps coming');
  const blocked = receiver.read();
  t.equal(await settledWithin(blocked, 200), 'pending', 'the receiver stops there: the next read waits for a release');
  t.equal(receiver.stats().outstandingLeases, 1024, 'still 1024 outstanding');
  t.ok(flipped > 900, `${flipped} of them are flipped pages`);
  // Each flip is one socket VMA moved into the destination area (the notes: one VMA per move),
  // so the count is bounded by the cap, far below vm.max_map_count.
  t.ok(peak <= 2 * 1024 + 16, `mappings grew by ${peak} for ${flipped} flips (bounded by 2 per lease)`);
  t.equal(receiver.stats().mismatches, 0, 'every flipped byte verified');
  for (const lease of held) lease.release();
  t.ok(held.every((l) => l.bytes.byteLength === 0), 'all released leases are detached');
  const late = await blocked;
  t.ok(late !== null && late.length > 0, 'a release lets the waiting read through');
  late?.release();
  receiver.close();
  tx.done.catch(() => undefined);
  client.close();
  server.close();
  await settle();
  const g = growth(start);
  const after = g.maps - 2 * Math.max(0, g.mallocArenas); // new malloc arenas (the sender's thread) are not ours
  t.ok(after <= 16, `closing the receiver returns the mappings (${after >= 0 ? '+' : ''}${after} VMAs besides ${g.mallocArenas} new malloc arenas; V8 may add a few)`);
  t.equal(usage().socketMaps, socketMaps, 'no socket mapping left');
});

const enomemSkip = sanitizer
  ? `under ${sanitizer}: the sanitizer reserves terabytes of shadow address space, RLIMIT_AS cannot be lowered`
  : netnsSkip;

t.test('ENOMEM: typed errors under a low RLIMIT_AS, nothing leaked', { skip: enomemSkip }, async (t) => {
  // Leave 512 MiB above what a Node process like this one maps.
  const limit = usage().vsize + 512 * MiB;
  const child = await runChild(enomemChild, [String(limit)], { shell: `ulimit -v ${Math.floor(limit / 1024)}` });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  t.equal(child.signal, null, 'the child was not killed');
  t.equal(child.code, 0, `every allocation failed cleanly: ${line}${child.code ? child.stderr.slice(-1500) : ''}`);
  const report = JSON.parse(line || '{}') as { failures?: string[]; results?: Record<string, unknown> };
  t.same(report.failures, [], 'no failed check');
  t.match(report.results, { 'copy receiver slots': { code: 'ENOMEM', syscall: 'mmap' }, 'flip receiver destinations': { code: 'ENOMEM' } });
  t.ok((report.results?.regionsBeforeExhaustion as number) > 0, `exhausted after ${report.results?.regionsBeforeExhaustion} regions of 16 MiB`);
});

t.test('EINTR: signals flooding the process while loops and receivers run', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  let signals = 0;
  const onSignal = () => signals++;
  process.on('SIGUSR2', onSignal);
  let flooding = true;
  // kill() with a thread's id delivers the signal to that thread when it does not block it, so
  // every thread, the loops' and the JS thread, gets interrupted in whatever syscall it is in.
  const flood = (async () => {
    while (flooding) {
      for (const tid of readdirSync('/proc/self/task')) {
        try {
          process.kill(Number(tid), 'SIGUSR2');
        } catch {
          // the thread just exited
        }
      }
      await sleep(1);
    }
  })();
  try {
    for (const mode of modes) {
      for (const send of ['write', 'zerocopy', 'splice'] as const) {
        for (const blocking of [true, false]) {
          const { client, server } = await pair(t, net);
          const [r, s] = await Promise.all([
            receiveLoop(server, { mode, verify: true, seed: 13, blocking }).done,
            sendLoop(client, { mode: send, bytes: 8 * MiB, seed: 13, blocking }).done,
          ]);
          t.equal(s.bytes, 8 * MiB, `${mode} ← ${send} blocking=${blocking}: all sent despite signals`);
          t.equal(r.verifiedBytes, 8 * MiB, `${mode} ← ${send}: all verified`);
          t.equal(r.mismatches, 0);
          client.close();
          server.close();
        }
      }
      const { client, server } = await pair(t, net);
      const receiver = new Receiver(server, { mode, verify: true, seed: 14 });
      const tx = sendLoop(client, { mode: senderFor(mode), bytes: 8 * MiB, seed: 14 });
      let bytes = 0;
      for await (const lease of receiver) {
        bytes += lease.length;
        lease.release();
      }
      await tx.done;
      t.equal(bytes, 8 * MiB, `${mode}: JS receiver got everything`);
      t.equal(receiver.stats().mismatches, 0);
      receiver.close();
      client.close();
      server.close();
    }
  } finally {
    flooding = false;
    await flood;
    // Signals sent in the last round may still be pending; with no listener left, SIGUSR2's
    // default action would end the test process.
    await sleep(100);
    process.off('SIGUSR2', onSignal);
  }
  t.ok(signals > 100, `${signals} signals were delivered meanwhile`);
});

t.test('a kernel without zero-copy receive: typed error, or the reported fallback; nothing leaked', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const before = await baseline(net);
  binding.setTestSwitch('noZerocopy', true);
  t.teardown(() => binding.setTestSwitch('noZerocopy', false));
  t.equal(capabilities().zerocopyReceive.supported, false);
  for (let i = 0; i < 50; i++) {
    for (const mode of ['zerocopy', 'flip'] as const) {
      t.throws(() => new Receiver(server, { mode }), { code: 'ERR_PAGEFLIP_UNSUPPORTED' });
      await t.rejects(receiveLoop(server, { mode }).done, { code: 'ERR_PAGEFLIP_UNSUPPORTED' });
    }
  }
  await checkNoLeak(t, before, '100 refused receivers and 100 refused loops');
  for (const mode of ['zerocopy', 'flip'] as const) {
    const receiver = new Receiver(server, { mode, allowFallback: true, verify: true, seed: 15 });
    const tx = sendLoop(client, { mode: 'zerocopy', bytes: 2 * MiB, seed: 15, shutdown: false });
    let bytes = 0;
    while (bytes < 2 * MiB) {
      const lease = (await receiver.read())!;
      bytes += lease.length;
      t.equal(lease.mapped, 0);
      lease.release();
    }
    await tx.done;
    const stats = receiver.stats();
    t.equal(stats.mode, 'copy', `${mode}: ran as copy`);
    t.equal(stats.requestedMode, mode);
    t.match(stats.fallbackReason, /fell back to copy/, `${mode}: and says so`);
    t.equal(stats.mappedBytes, 0);
    t.equal(stats.mismatches, 0);
    receiver.close();
  }
  await checkNoLeak(t, before, 'after the fallbacks');
});

t.test('socket errors surface as themselves, not as a poll failure', { skip: netnsSkip }, async (t) => {
  // libuv reports POLLERR as EBADF; the waiters must let the real error through.
  const net = network(t, 4148);
  const port = net.run(() => {
    const listener = listen({ host: '127.0.0.1' });
    const free = listener.port;
    listener.close();
    return free;
  });
  await t.rejects(net.run(() => connect({ host: '127.0.0.1', port })), { code: 'ECONNREFUSED', syscall: 'connect' }, 'refused connect');
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'copy' });
  const pending = receiver.read(); // waiting in poll when the reset arrives
  await sleep(20);
  client.setOptions({ linger0: true });
  client.close();
  await t.rejects(pending, { code: 'ECONNRESET' }, 'a reset during a pending read');
  receiver.close();
});

/** Polls `condition` every few ms until it holds; fails after `ms` (a bound, not a timing assumption). */
async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

const resetDone = (c: { remoteAddress(): unknown }) => {
  try {
    c.remoteAddress();
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ENOTCONN'; // the kernel processed the RST
  }
};

t.test('bytes that arrived before a reset come first, then ECONNRESET: every mode, both paths', { skip: netnsSkip }, async (t) => {
  // The peer's bytes are all acknowledged (so they sit in our receive queue) and the reset has
  // been processed before the receiver starts: it must hand over every byte, then ECONNRESET.
  // 100: a tail shorter than a page (the kernel cannot map it); 3 pages + 100: mapped pages, then
  // a tail; 40000: several segments.
  const net = network(t, 4148);
  for (const mode of modes) {
    for (const path of ['js', 'loop'] as const) {
      for (const bytes of [100, 3 * 4096 + 100, 40_000]) {
        const { client, server } = await pair(t, net);
        const seed = 90 + bytes;
        await sendLoop(client, { mode: senderFor(mode), bytes, shutdown: false, seed }).done;
        await until(() => client.info().sendQueue === 0, 'the peer has all the bytes');
        client.setOptions({ linger0: true });
        client.close();
        await until(() => resetDone(server), 'the reset arrived');
        let outcome: { code?: string; bytes: number; mismatches: number } | 'pending';
        if (path === 'loop') {
          const loop = receiveLoop(server, { mode, verify: true, seed });
          outcome = await settledWithin(
            loop.done.then(
              (s) => ({ bytes: s.bytes, mismatches: s.mismatches }),
              (e: Error & { code?: string; stats: { bytes: number; mismatches: number } }) => ({ code: e.code, bytes: e.stats.bytes, mismatches: e.stats.mismatches }),
            ),
            20_000,
          );
          loop.stop();
        } else {
          const receiver = new Receiver(server, { mode, verify: true, seed });
          let got = 0;
          const reading = (async () => {
            try {
              for await (const lease of receiver) {
                got += lease.length;
                lease.release();
              }
              return { bytes: got, mismatches: receiver.stats().mismatches };
            } catch (error) {
              return { code: (error as { code?: string }).code, bytes: got, mismatches: receiver.stats().mismatches };
            }
          })();
          outcome = await settledWithin(reading, 20_000);
          receiver.close();
        }
        t.same(outcome, { code: 'ECONNRESET', bytes, mismatches: 0 }, `${mode} ${path}: ${bytes} bytes, then ECONNRESET`);
        server.close();
      }
    }
  }
});

t.test('two loops on one connection: a second of the same direction is refused, O_NONBLOCK comes back whatever ends first', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const reading = receiveLoop(server, { mode: 'copy' }); // blocking: clears O_NONBLOCK while it runs
  await until(() => !server.info().nonBlocking, 'the receive loop switched the socket to blocking');
  t.throws(() => receiveLoop(server, { mode: 'copy' }), { code: 'ERR_PAGEFLIP_BUSY' }, 'a second receive loop is refused');
  // The other direction of the same socket: a send loop that blocks until the peer reads.
  const sending = sendLoop(server, { bytes: 16 * MiB, shutdown: false });
  t.throws(() => sendLoop(server, { bytes: 1 }), { code: 'ERR_PAGEFLIP_BUSY' }, 'a second send loop is refused');
  await until(() => server.info().sendQueue > 0, 'the send loop is sending');
  reading.stop(); // the receive loop ends first, while the send loop still runs
  await reading.done;
  t.notOk(server.info().nonBlocking, 'the send loop still runs on a blocking socket');
  const draining = receiveLoop(client, { bytes: 16 * MiB });
  const [sent] = await Promise.all([sending.done, draining.done]);
  t.equal(sent.bytes, 16 * MiB, 'the send loop finished its bytes');
  t.ok(server.info().nonBlocking, 'the connection is non-blocking again');
  const again = receiveLoop(server, { mode: 'copy', seconds: 0.05 });
  t.equal((await again.done).endReason, 'time', 'a receive loop can run again once the first ended');
  t.ok(server.info().nonBlocking, 'and puts the flag back too');
});

t.test('a reset the kernel reports together with data is not lost (no endless read)', { skip: netnsSkip }, async (t) => {
  // With copybuf the kernel copies a small queue in the same TCP_ZEROCOPY_RECEIVE call that hands
  // over (and clears) the socket error: the error must still reach the caller once the data is
  // read, and an empty queue after a reset must not look like "nothing yet" forever.
  const net = network(t, 4148);
  for (const mode of ['zerocopy', 'flip'] as const) {
    for (const path of ['loop', 'js'] as const) {
      const { client, server } = await pair(t, net);
      await sendLoop(client, { mode: 'write', bytes: 100, shutdown: false, seed: 16 }).done;
      client.setOptions({ linger0: true });
      client.close();
      await sleep(20); // the reset is queued behind the data
      let outcome: { code?: string; bytes: number } | 'pending';
      if (path === 'loop') {
        const loop = receiveLoop(server, { mode, copybuf: 16384, verify: true, seed: 16 });
        outcome = await settledWithin(
          loop.done.then(
            (s) => ({ bytes: s.bytes }),
            (e: Error & { code?: string; stats: { bytes: number } }) => ({ code: e.code, bytes: e.stats.bytes }),
          ),
          3000,
        );
        loop.stop();
      } else {
        const receiver = new Receiver(server, { mode, copybuf: 16384, verify: true, seed: 16 });
        let bytes = 0;
        const reading = (async () => {
          try {
            for await (const lease of receiver) {
              bytes += lease.length;
              lease.release();
            }
            return { bytes };
          } catch (error) {
            return { code: (error as { code?: string }).code, bytes };
          }
        })();
        outcome = await settledWithin(reading, 3000);
        receiver.close();
      }
      t.same(outcome, { code: 'ECONNRESET', bytes: 100 }, `${mode} ${path}: the 100 bytes, then ECONNRESET`);
      server.close();
    }
  }
});

// iperf3 reference rows as compare records them, with runIperf3 replaced by a canned run (the
// real runs are in iperf3.test.ts, when iperf3 is installed): per-side CPU from the window's
// /proc/stat texts, so iperf3 competes in the receiver-host best table too.
import t from 'tap';
import type { Iperf3Run } from '../lib/experiment/iperf3.js';
import type { RunSettings } from '../lib/experiment/run-point.js';
import type { Testbed } from '../lib/experiment/testbed.js';

const stat = (cpu0: number[], cpu1: number[]) => {
  const all = cpu0.map((v, i) => v + cpu1[i]);
  return `cpu  ${all.join(' ')} 0 0\ncpu0 ${cpu0.join(' ')} 0 0\ncpu1 ${cpu1.join(' ')} 0 0\n`;
};

t.test('iperf3 rows carry per-side CPU and receiver-host efficiency', async (t) => {
  const run: Iperf3Run = {
    result: { version: '3.12', systemInfo: null, streams: 1, reverse: false, zerocopy: null, bytes: 1e9, seconds: 1, bitsPerSecond: 8e9, reportedBitsPerSecond: 8e9, senderBytes: 1e9, senderSeconds: 1, retransmits: 0, processCpu: null, congestion: null },
    cpu: { percent: 70, user: 10, nice: 0, system: 50, irq: 0, softirq: 10, steal: 0, idle: 30, usPerMB: 1400 },
    // 100 ticks per CPU: the receiver's CPU 0 was 80 % busy, the sender's CPU 1 60 %.
    stat: { before: stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]), after: stat([10, 0, 50, 20, 0, 0, 20, 0], [10, 0, 50, 40, 0, 0, 0, 0]) },
    wallSeconds: 1.05,
    zerocopy: false,
    clientArgs: [],
  };
  const { referenceRunners } = await t.mockImport<typeof import('../lib/experiment/references.js')>('../lib/experiment/references.js', {
    '../lib/experiment/iperf3.js': { iperf3Path: () => '/usr/bin/iperf3', iperf3Missing: () => 'missing', iperf3Unavailable: () => undefined, runIperf3: async () => run },
  });
  const runners = referenceRunners({}, () => t.fail('iperf3 is "installed"'));
  t.same([...runners.keys()], ['iperf3', 'iperf3-Z']);
  const testbed = { network: () => ({}) } as unknown as Testbed;
  const settings: RunSettings = { seconds: 1, bytes: null, chunkBytes: 262144, cpus: { rx: 0, tx: 1 }, perf: false, seed: 1 };
  const row = await runners.get('iperf3')!(testbed)('iperf3', 4148, 1, settings);
  t.equal(row.layout, 'iperf3');
  t.equal(row.pids, null);
  t.equal(row.sides!.receiver.percent, 80);
  t.equal(row.sides!.sender.percent, 60);
  t.equal(row.receiverEfficiency, 8000 / 80, 'Mbit/s ÷ receiver-side CPU %');
  const unpinned = await runners.get('iperf3')!(testbed)('iperf3', 4148, 1, { ...settings, cpus: null });
  t.equal(unpinned.sides, null);
  t.equal(unpinned.receiverEfficiency, null);
});

t.test("iperf3's length beside pageflip's: whole seconds, the nearest it can run, said in the method lines", async (t) => {
  const { iperf3Timing, iperf3MethodLine } = await import('../lib/experiment/references.js');
  const { resolveConfig } = await import('../lib/experiment/compare.js');
  t.same(iperf3Timing({ seconds: 0.6, bytes: null, warmupSeconds: 0.1 }), { omit: 1, seconds: 1, bytes: null }, 'quick: -O 1 -t 1 (iperf3 3.12 cannot run 0.6 s)');
  t.same(iperf3Timing({ seconds: 2, bytes: null, warmupSeconds: 0.3 }), { omit: 1, seconds: 2, bytes: null }, 'full: the same 2 s');
  t.same(iperf3Timing({ seconds: 2.6, bytes: null, warmupSeconds: 1.5 }), { omit: 2, seconds: 3, bytes: null }, 'warm-up rounded up, length to the nearest second');
  t.same(iperf3Timing({ seconds: null, bytes: 1e9, warmupSeconds: 0 }), { omit: 1, seconds: null, bytes: 1e9 }, '--bytes: -n the same count, still after a warm-up');
  const quick = iperf3MethodLine(resolveConfig({ quick: true }, 'netns', null));
  t.match(quick, /a 1 s warm-up \(-O 1\) against pageflip's 0\.1 s/);
  t.match(quick, /then 1 s \(-t 1\) against pageflip's 0\.6 s: iperf3 3\.12 takes whole seconds, so this is the nearest it can run/);
  t.match(quick, /data window only: it opens when the server prints that its warm-up is over/);
  t.match(iperf3MethodLine(resolveConfig({ seconds: 2, warmupSeconds: 1 }, 'netns', null)), /the same 1 s warm-up \(-O 1\) on the measured connection, then the same 2 s \(-t 2\)/);
  t.match(iperf3MethodLine(resolveConfig({ bytes: 2 ** 30 }, 'peer', 'h:1')), /server on this host, client on h:1 .* -n 1073741824 bytes sent after the warm-up.*the peer's CPU is \/proc\/stat over its client's whole life/);
});

t.test('a row says when its CPU window and iperf3 disagree on the length of the data phase', async (t) => {
  const run = (wallSeconds: number): Iperf3Run => ({
    result: { version: '3.12', systemInfo: null, streams: 1, reverse: false, zerocopy: null, bytes: 1e9, seconds: 1, bitsPerSecond: 8e9, reportedBitsPerSecond: 8e9, senderBytes: 1e9, senderSeconds: 1, retransmits: 0, processCpu: null, congestion: null },
    cpu: { percent: 70, user: 10, nice: 0, system: 50, irq: 0, softirq: 10, steal: 0, idle: 30, usPerMB: 1400 },
    stat: { before: stat([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]), after: stat([10, 0, 50, 20, 0, 0, 20, 0], [10, 0, 50, 40, 0, 0, 0, 0]) },
    wallSeconds,
    zerocopy: false,
    clientArgs: [],
  });
  const { iperf3Runner } = await import('../lib/experiment/references.js');
  const settings: RunSettings = { seconds: 1, bytes: null, chunkBytes: 262144, cpus: { rx: 0, tx: 1 }, perf: false, seed: 1 };
  const row = (wall: number) => iperf3Runner(async () => ({ ...run(wall), remoteCpu: null }), false, false)('iperf3', 4148, 1, settings);
  t.equal((await row(1.06)).note, null, 'within 20 ms + 5 %');
  t.match((await row(1.3)).note, /the CPU window lasted 1\.300 s against iperf3's own 1\.000 s/);
  // --peer: this whole box receives, the sender's CPU is the one serve measured.
  const remoteCpu = { percent: 42, user: 2, nice: 0, system: 30, irq: 0, softirq: 10, steal: 1, idle: 58, usPerMB: 99 };
  const peer = await iperf3Runner(async () => ({ ...run(1), remoteCpu }), true, true)('iperf3-Z', 4148, 1, settings);
  t.same(peer.remote, { cpu: remoteCpu });
  t.equal(peer.sides!.sender.percent, 42);
  t.equal(peer.sides!.receiver.cpus.length, (await import('../lib/experiment/cpu.js')).cpuCount());
});

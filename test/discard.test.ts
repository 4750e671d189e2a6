// The discard floor (issue 14 §3): recv(MSG_TRUNC) consumes TCP bytes without copying or mapping
// them; native loops only, never verifiable; and each mode's distance to it in the summary.
import t from 'tap';
import { Receiver, receiveLoop, sendLoop } from '../lib/index.js';
import type { ReceiveMode } from '../lib/index.js';
import { floorDistances, summarizePoints } from '../lib/experiment/stats.js';
import type { RowMode, RunResult } from '../lib/experiment/types.js';
import { netnsSkip, network, pair } from './helpers/network.js';
import { fixtureReport } from './fixtures/compare-report.js';
import { floorLines } from '../lib/report/table.js';
import { renderTable } from '../lib/report/index.js';

const MiB = 2 ** 20;

t.test('discard receives every byte, copies none, maps none', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const sender of ['write', 'zerocopy'] as const) {
    const { client, server } = await pair(t, net);
    const [received, sent] = await Promise.all([
      receiveLoop(server, { mode: 'discard', chunkSize: 256 * 1024 }).done,
      sendLoop(client, { mode: sender, bytes: 8 * MiB }).done,
    ]);
    t.equal(sent.bytes, 8 * MiB);
    t.equal(received.bytes, 8 * MiB, `${sender} sender: every byte consumed`);
    t.equal(received.mappedBytes, 0, 'nothing mapped');
    t.equal(received.copiedBytes, 0, 'nothing copied');
    t.equal(received.endReason, 'eof');
    t.ok(received.syscalls > 0 && received.syscalls <= 8 * MiB / 4096, 'one recv per chunk or less');
    // Counted like every other mode's calls (calls/MB compares the floor with them).
    t.ok(received.receiveCalls > 0, 'its recv(MSG_TRUNC) calls are receive calls');
    t.equal(received.syscalls, received.receiveCalls + received.waitCalls + received.pageCalls, 'every syscall counted by kind');
  }
});

t.test('discard refuses what it cannot do', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { server } = await pair(t, net);
  t.throws(() => receiveLoop(server, { mode: 'discard', verify: true }), { code: 'ERR_PAGEFLIP_INVALID_ARG_VALUE', message: /nothing to verify/ });
  // The chunk-by-chunk Receiver hands out bytes to read: discard has none.
  t.throws(() => new Receiver(server, { mode: 'discard' as ReceiveMode }), { name: 'RangeError', message: /mode must be copy, zerocopy, flip, copy-remap or splice, got 'discard'/ });
});

t.test('distance to the floor: median CPU-µs/MB above discard, same MTU and sender', async (t) => {
  const run = (mode: RowMode, usPerMB: number, receiver: number | null, touch = false, sender: RunResult['sender'] = 'zerocopy'): RunResult => ({
    repeat: 1, mode, mtu: 4148, touch, sender, bytes: 1e8, seconds: 1, gbps: 0.8, mbps: 800,
    cpu: { percent: 50, user: 0, nice: 0, system: 50, irq: 0, softirq: 0, steal: 0, idle: 50, usPerMB },
    efficiency: 16, receiverThread: null, senderThread: null, mappedBytes: 0, copiedBytes: 0, mappedPercent: 0, verifiedBytes: 0,
    mismatches: 0, syscalls: null, calls: null, perf: null, note: null, remote: null,
    sides: receiver === null ? null : { receiver: { cpus: [0], percent: 40, softirq: 0, steal: 0, usPerMB: receiver }, sender: { cpus: [1], percent: 60, softirq: 0, steal: 0, usPerMB: 1 } },
    receiverEfficiency: receiver === null ? null : 20,
  });
  const points = summarizePoints([run('discard', 100, 40), run('copy', 250, 130), run('zerocopy', 180, 70), run('copy', 400, 290, true), run('copy', 300, 200, false, 'write')]);
  const floor = floorDistances(points);
  t.same(
    floor.map((f) => [f.mode, f.touch, f.usPerMB, f.receiverUsPerMB]),
    [['copy', false, 150, 90], ['zerocopy', false, 80, 30], ['copy', true, 300, 250]],
    'copy←write has no floor of its own sender, discard none to itself',
  );
  // The table says it in one sentence per MTU and data, receiver side when every row has it.
  const report = fixtureReport();
  report.summary.floor = floor;
  t.same(floorLines(report), [
    'MTU 4148 notouch: copy 90.0, zerocopy 30.0 receiver-side CPU-µs/MB above the floor',
    'MTU 4148 touch: copy 250 receiver-side CPU-µs/MB above the floor (reading every byte included)',
  ]);
  report.summary.floor = floor.map((f) => ({ ...f, receiverUsPerMB: null }));
  t.match(floorLines(report)[0], /^MTU 4148 notouch: copy 150, zerocopy 80\.0 whole-box CPU-µs\/MB above the floor$/);
  t.match(renderTable(report), /Above the floor: discard = recv\(MSG_TRUNC\)/);
});

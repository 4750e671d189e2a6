// Issue 15 §1 and §3, real short runs: the warm-up happens on the measured connection (which
// then starts warm), verification continues the stream where the warm-up left off, and the calls
// per MB compare records for a mode equal what bench:receive's native loop makes with the same chunk.
import t, { type Test } from 'tap';
import { capabilities } from '../lib/index.js';
import { receiveLoopOptions, runPoint, localSender, type SenderSide } from '../lib/experiment/run-point.js';
import { localTestbed } from '../lib/experiment/testbed.js';
import { netnsSkip } from './helpers/network.js';
import { describeRuns, leastDisturbed } from './helpers/least-disturbed.js';

const MiB = 1024 * 1024;
const caps = capabilities();
const cpus = caps.cpus >= 2 ? { rx: 0, tx: 1 } : null;
const zerocopySkip = netnsSkip || (caps.zerocopyReceive.supported && caps.msgZerocopy.supported ? false : 'needs TCP_ZEROCOPY_RECEIVE and MSG_ZEROCOPY');

/** A local sender that counts the connections it opens and what each one sent. */
function countingSide(t: Test) {
  const testbed = localTestbed();
  t.teardown(() => testbed.close());
  const inner = localSender(testbed);
  const opened: Array<{ sent: number | null }> = [];
  const side: SenderSide = {
    async open(spec, settings) {
      const stream = await inner.open(spec, settings);
      const record = { sent: null as number | null };
      opened.push(record);
      return {
        ...stream,
        async finish() {
          const done = await stream.finish();
          record.sent = done.bytes;
          return done;
        },
      };
    },
  };
  return { side, opened };
}

t.test('the warm-up runs on the measured connection, and verify continues after it', { skip: zerocopySkip }, async (t) => {
  const { side, opened } = countingSide(t);
  const settings = { seconds: null, bytes: 16 * MiB, chunkBytes: 256 * 1024, cpus, perf: false, seed: 5, warmupSeconds: 0.2 };
  for (const mode of ['copy', 'zerocopy'] as const) {
    const result = await runPoint(side, { mode, mtu: 4148, touch: true, sender: 'zerocopy' }, settings, 1);
    const record = opened[opened.length - 1];
    t.ok(result.bytes >= 16 * MiB, `${mode}: the measured run read its byte count (${result.bytes})`);
    t.equal(result.mismatches, 0, `${mode}: every byte after the warm-up matched the pattern at its stream offset`);
    t.equal(result.verifiedBytes, result.bytes, `${mode}: every measured byte verified`);
    // The sender fed the warm-up and the measured run over this one connection.
    t.ok(record.sent! >= result.bytes + MiB, `${mode}: sent ${record.sent} bytes on the connection, measured ${result.bytes} after the warm-up`);
  }
  t.equal(opened.length, 2, 'one connection per measured run: no separate warm-up connection');
});

t.test("compare's calls per MB equal bench:receive's native loop for the same chunk", { skip: zerocopySkip }, async (t) => {
  // bench:receive (its default native loop) builds its loop options with receiveLoopOptions too;
  // here both are measured: compare's runPoint, and a bare loop with those options.
  //
  // What the wait decides is the floor: at most one chunk per receive call. Load only adds calls
  // (test/helpers/least-disturbed.ts), so each side is judged by its least-disturbed run.
  const { side } = countingSide(t);
  const settings = { seconds: null, bytes: 32 * MiB, chunkBytes: 256 * 1024, cpus, perf: false, seed: 9 };
  const { receiveLoop, sendLoop } = await import('../lib/index.js');
  const { PrivateNetwork } = await import('../lib/experiment/netns.js');
  const net = PrivateNetwork.create(4148);
  t.teardown(() => net.close());
  const perMB = (calls: number, bytes: number) => (calls * 1e6) / bytes;
  for (const mode of ['copy', 'zerocopy', 'flip'] as const) {
    const compared = await leastDisturbed(async () => {
      const c = await runPoint(side, { mode, mtu: 4148, touch: false, sender: 'zerocopy' }, settings, 1);
      return {
        perMB: perMB(c.calls!.receive, c.bytes),
        syscallsPerMB: perMB(c.syscalls!, c.bytes),
        undisturbed: mode === 'copy' || c.copiedBytes === 0,
        pageCallsCounted: c.syscalls! >= c.calls!.receive + c.calls!.wait + c.calls!.page,
      };
    });
    const benched = await leastDisturbed(async () => {
      const { client, server } = await net.connectedPair();
      const [b] = await Promise.all([
        receiveLoop(server, { ...receiveLoopOptions(mode, settings.chunkBytes), cpu: cpus?.rx }).done,
        sendLoop(client, { mode: 'zerocopy', bytes: settings.bytes, chunkSize: settings.chunkBytes, cpu: cpus?.tx }).done,
      ]);
      client.close();
      server.close();
      return { perMB: perMB(b.receiveCalls, b.bytes), syscallsPerMB: perMB(b.syscalls, b.bytes), undisturbed: mode === 'copy' || b.copiedBytes === 0 };
    });
    const [a, b] = [compared.best, benched.best];
    t.comment(
      `${mode}: receive calls/MB compare ${describeRuns(compared.runs)}, bench:receive loop ${describeRuns(benched.runs)}; ` +
        `all syscalls/MB of the least-disturbed runs ${a.syscallsPerMB.toFixed(2)} vs ${b.syscallsPerMB.toFixed(2)}`,
    );
    t.ok(Math.abs(a.perMB / b.perMB - 1) <= 0.1, `${mode}: receive calls/MB within 10% (${a.perMB.toFixed(2)} vs ${b.perMB.toFixed(2)}, least-disturbed runs)`);
    t.ok(compared.runs.every((s) => s.pageCallsCounted), `${mode}: compare's syscalls count every kind`);
  }
});

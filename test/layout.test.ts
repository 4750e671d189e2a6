// The experiment's layout (issue 14): the sender as its own process inside the namespace, driven
// over the serve control protocol; RPS on the namespace's lo; what happens when the sender dies
// mid-run. Real compares on loopback in private namespaces, a few MB per run.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, localEnvironment, type CompareOptions, type ProgressEvent } from '../lib/experiment/compare.js';
import { findExecutable } from '../lib/capabilities.js';
import { cpuCount } from '../lib/experiment/cpu.js';
import { rpsMask } from '../lib/experiment/rps.js';
import type { CompareReport } from '../lib/experiment/types.js';
import { netnsSkip } from './helpers/network.js';

const twoCpus = cpuCount() >= 2 ? false : 'needs 2 CPUs to pin sender and receiver apart';
const small: CompareOptions = { modes: ['copy', 'zerocopy'], mtus: [4148], touch: 'no', bytes: 4 * 2 ** 20, repeats: 1, warmupSeconds: 0, reference: 'none' };

/** A compare on this box with its own environment, closed afterwards. */
async function compareLocally(options: CompareOptions): Promise<CompareReport> {
  const env = localEnvironment(options, new Map());
  try {
    return await compare(options, env);
  } finally {
    await env.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every process whose network namespace is `inode` (e.g. "net:[4026532]"). */
function holders(inode: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === inode) pids.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

t.test('the sender runs in its own process; --layout threads keeps it in this one', { skip: netnsSkip }, async (t) => {
  let report = await compareLocally(small);
  t.equal(report.config.layout, 'processes');
  t.equal(report.error, undefined, 'ran to the end');
  t.equal(report.runs.length, 3, 'copy, zerocopy, copy ← write');
  for (const run of report.runs) {
    t.equal(run.layout, 'processes');
    t.equal(run.pids!.receiver, process.pid, 'the receiver is this process');
    t.not(run.pids!.sender, run.pids!.receiver, 'the sender is another process');
    t.equal(run.bytes, small.bytes, 'every byte arrived');
  }
  const sender = report.runs[0].pids!.sender!;
  t.ok(report.runs.every((run) => run.pids!.sender === sender), 'one sender process per namespace');
  t.notOk(alive(sender), 'the sender process is gone after close()');
  t.match(report.method.join('\n'), /layout: sender in its own process started inside the namespace/);

  const threads = { ...small, layout: 'threads' as const };
  report = await compareLocally(threads);
  t.equal(report.config.layout, 'threads');
  t.ok(report.runs.every((run) => run.layout === 'threads' && run.pids!.sender === process.pid), 'sender thread in this process');
  t.match(report.method.join('\n'), /layout: sender as a native thread of the receiving process/);
});

t.test('the layout pair (in the full default run): zerocopy and copy with the in-process layout', { skip: netnsSkip }, async (t) => {
  const options: CompareOptions = { ...small, touch: 'both', layoutPair: true };
  const report = await compareLocally(options);
  const threads = report.runs.filter((run) => run.layout === 'threads');
  // The run order is shuffled per repeat: compare the set of runs.
  t.same(threads.map((run) => [run.mode, run.mtu, run.touch]).sort(), [['copy', 4148, false], ['zerocopy', 4148, false]]);
  const processes = report.runs.filter((run) => run.layout === 'processes');
  t.equal(processes.length, 6, 'the plan itself is unchanged');
  const zc = report.summary.points.filter((p) => p.mode === 'zerocopy' && !p.touch);
  t.same(zc.map((p) => p.layout).sort(), ['processes', 'threads'], 'summarised apart');
  t.ok(zc.every((p) => p.vsCopy === null || p.vsCopy.efficiency > 0), 'each against the copy row of its own layout');
});

t.test('per-side CPU from per-CPU /proc/stat, in the receive loop\'s window', { skip: netnsSkip || twoCpus }, async (t) => {
  const options: CompareOptions = { ...small, bytes: null, seconds: 0.5, modes: ['zerocopy'], cpus: { rx: 0, tx: 1 } };
  const report = await compareLocally(options);
  for (const run of report.runs) {
    t.same(run.sides!.receiver.cpus, [0]);
    t.same(run.sides!.sender.cpus, [1]);
    t.ok(run.sides!.receiver.percent > 0 && run.sides!.sender.percent > 0, 'both sides were busy');
    t.equal(run.receiverEfficiency, run.mbps / run.sides!.receiver.percent, 'receiver-host efficiency = Mbit/s ÷ receiver-side CPU %');
    t.ok(typeof run.otherCpu === 'number' && run.otherCpu >= 0 && run.otherCpu <= 100, 'other processes measured');
    // The sender's loop thread, read in the same window as the receiver's loop: it cannot have
    // run longer than the window (one thread, one CPU), give or take one scheduler tick.
    t.ok(run.senderThread!.seconds <= run.seconds + 0.02, `sender thread ${run.senderThread!.seconds} s within the ${run.seconds} s window`);
  }
  t.ok(report.summary.receiverVerdict && report.summary.receiverBest, 'receiver-host verdict and best table');
  t.match(report.method.join('\n'), /window: every CPU figure of a run .* sampled by the receive loop thread at its first and last instant/);
  t.match(report.method.join('\n'), /10 ms ticks, so a 0\.5 s run resolves whole-box CPU % to 1\.00 points and one side's CPU % to 2\.00 points/);
});

const unshareSkip = netnsSkip || twoCpus || (findExecutable('unshare') ? false : 'unshare (util-linux) not found');

t.test('RPS steers the namespace\'s lo to the receiver\'s CPU, and only there', { skip: unshareSkip }, async (t) => {
  const hostMask = readFileSync('/sys/class/net/lo/queues/rx-0/rps_cpus', 'utf8');
  const options: CompareOptions = { ...small, modes: ['copy'], cpus: { rx: 1, tx: 0 }, rps: 'on' };
  const env = localEnvironment(options, new Map());
  let seen = '';
  try {
    const report = await compare(options, env, (event: ProgressEvent) => {
      // Read the namespace's own lo from a fresh mount namespace, independently of the runner.
      if (event.kind === 'result' && !seen) seen = rpsOfNamespace(event.result.pids!.sender!);
    });
    t.same(report.config.rps, { cpus: [1], reason: null });
    t.match(report.method.join('\n'), /RPS on the namespace's lo rx queue set to CPU 1/);
  } finally {
    await env.close();
  }
  t.equal(BigInt(`0x${seen.trim().replace(/,/g, '')}`), 2n, `the namespace's lo steers to CPU 1 (mask ${seen.trim()})`);
  t.equal(readFileSync('/sys/class/net/lo/queues/rx-0/rps_cpus', 'utf8'), hostMask, 'the host\'s lo is untouched');
  t.equal(rpsMask([0]), '00000001');
  t.equal(rpsMask([1, 33]), '00000002,00000002');
});

/** rps_cpus of the lo in the network namespace of process `pid`, read through nsenter + a private sysfs. */
function rpsOfNamespace(pid: number): string {
  const r = spawnSync('nsenter', ['-t', String(pid), '-n', 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t sysfs sysfs /sys && cat /sys/class/net/lo/queues/rx-0/rps_cpus'], { encoding: 'utf8' });
  return r.stdout;
}

t.test('RPS unavailable: auto says why and runs on, on fails naming the cause', { skip: netnsSkip || twoCpus }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-rps-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  const path = process.env.PATH;
  process.env.PATH = dir; // no unshare on PATH
  t.teardown(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });
  const auto: CompareOptions = { ...small, modes: ['copy'], cpus: { rx: 0, tx: 1 } };
  let env = localEnvironment(auto, new Map());
  let report;
  try {
    report = await compare(auto, env);
  } finally {
    await env.close();
  }
  t.equal(report.error, undefined);
  t.equal(report.runs.length, 2);
  t.same(report.config.rps, { cpus: null, reason: 'not set: unshare (util-linux) not found: it mounts the namespace\'s sysfs to reach lo\'s rps_cpus' });
  t.match(report.warnings.join('\n'), /receive steering \(RPS\) not set: unshare \(util-linux\) not found/);
  t.match(report.method.join('\n'), /RPS not set: unshare .* the receiver-side CPU misses it/);

  const on: CompareOptions = { ...auto, rps: 'on' };
  env = localEnvironment(on, new Map());
  let failed;
  try {
    failed = await compare(on, env).then(() => null, (error: Error & { code?: string; report?: CompareReport }) => error);
  } finally {
    await env.close();
  }
  t.equal(failed?.code, 'ERR_PAGEFLIP_RPS', 'compare rejects with the RPS error');
  t.equal(failed?.report?.error, 'run 1 of 2 failed: unshare (util-linux) not found: it mounts the namespace\'s sysfs to reach lo\'s rps_cpus (ERR_PAGEFLIP_RPS)');
  t.equal(failed?.report?.runs.length, 0);
});

t.test('the sender process dies mid-run: a named error, earlier runs kept, nothing left behind', { skip: netnsSkip }, async (t) => {
  const options: CompareOptions = { ...small, bytes: null, seconds: 1.5, modes: ['copy', 'zerocopy'] };
  const env = localEnvironment(options, new Map());
  let sender = 0;
  let namespace = '';
  let first = '';
  let failed;
  try {
    failed = await compare(options, env, (event: ProgressEvent) => {
      if (event.kind === 'result' && !sender) {
        first = event.result.mode;
        sender = event.result.pids!.sender!;
        namespace = readlinkSync(`/proc/${sender}/ns/net`);
      }
      // The second measured run: kill the sender once it is under way.
      if (event.kind === 'run' && event.index === 2 && !event.warmup) setTimeout(() => process.kill(sender, 'SIGKILL'), 300);
    }).then(() => null, (error: Error & { code?: string; report?: CompareReport }) => error);
  } finally {
    await env.close();
  }
  // One mechanism for a compare cut short: the error (with its code) carries the partial report, whose "error" says why.
  t.equal(failed?.code, 'ERR_PAGEFLIP_SENDER_DIED');
  const report = failed!.report!;
  t.match(report.error, new RegExp(`^run 2 of 3 failed: the sender process \\(pid ${sender}\\) was killed by SIGKILL during the run.*\\(ERR_PAGEFLIP_SENDER_DIED\\)$`));
  t.equal(report.runs.length, 1, 'the run measured before is kept');
  t.equal(report.runs[0].mode, first, 'the first run of the (shuffled) order');
  t.notOk(alive(sender), 'no sender process left');
  t.same(holders(namespace), [], 'no process left in the namespace');
  t.notOk(readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === namespace;
    } catch {
      return false;
    }
  }), 'no descriptor of ours holds the namespace');
});

t.test('with --perf, efficiency comes from a run without perf and the counters from their own run', { skip: netnsSkip }, async (t) => {
  const options: CompareOptions = { ...small, modes: ['copy'], sender: 'write', perf: true };
  const env = localEnvironment(options, new Map());
  const opened: boolean[] = [];
  const side = env.side;
  env.side = { open: (spec, settings) => (opened.push(settings.perf), side.open(spec, settings)) };
  let report;
  try {
    report = await compare(options, env);
  } finally {
    await env.close();
  }
  if (!report.config.perf) {
    t.match(report.warnings.join('\n'), /running without perf counters/);
    t.same(opened, [false], 'one run, without perf');
    return;
  }
  t.same(opened, [false, true], 'the measured run without perf, then a counters run');
  t.equal(report.runs.length, 1, 'one result per point');
  t.ok(report.runs[0].perf!.some((c) => c.event === 'context-switches' && c.available), 'counters from the perf run');
  t.match(report.method.join('\n'), /perf: `perf stat -a` in a separate run of each point/);
});

t.test('--flows 2 on a timed run: each flow has its own sender thread\'s CPU, in the run\'s window', { skip: netnsSkip }, async (t) => {
  // Timed, so the send threads are still running when the window opens (a byte-bound 2 MiB
  // flow can be sent and its thread gone before then).
  const options: CompareOptions = { ...small, bytes: undefined, modes: ['copy'], sender: 'write', flows: 2, seconds: 0.4, warmupSeconds: 0.1 };
  const report = await compareLocally(options);
  const [run] = report.runs;
  const senders = run.flows!.map((f) => f.senderThread);
  t.ok(senders.every((s) => s !== null && s.seconds > 0), `each flow has its sender thread's CPU (${JSON.stringify(senders)})`);
  const sum = senders.reduce((total, s) => total + (s?.seconds ?? 0), 0);
  t.ok(run.senderThread && Math.abs(sum - run.senderThread.seconds) < 1e-9, `the flows' sender seconds add up to the run's (${sum} vs ${run.senderThread?.seconds})`);
});

t.test('--flows N: N connections, each with its own receive and send thread; per-flow and aggregate figures', { skip: netnsSkip }, async (t) => {
  const options: CompareOptions = { ...small, modes: ['zerocopy'], sender: 'zerocopy', flows: 2, bytes: 2 * 2 ** 20 };
  const report = await compareLocally(options);
  t.equal(report.config.flows, 2);
  t.equal(report.runs.length, 1, 'one zerocopy run');
  for (const run of report.runs) {
    t.equal(run.flows!.length, 2, 'two flows');
    t.ok(run.flows!.every((f) => f.bytes === options.bytes && f.receiverThread.seconds >= 0), 'each flow received its bytes');
    t.equal(run.bytes, 2 * options.bytes!, 'aggregate bytes');
    t.equal(run.seconds, Math.max(...run.flows!.map((f) => f.seconds)), 'aggregate lasts as long as the longest flow');
    t.equal(run.mismatches, 0);

  }
  t.ok(report.summary.points.every((p) => p.flows === 2), 'summarised as 2-flow points');
  t.ok(report.summary.verdict.length > 0, 'the verdict is about the run\'s own flows');
});

t.test('the full default run adds 2-flow points beside the 1-flow ones, reported apart', { skip: netnsSkip }, async (t) => {
  const options: CompareOptions = { ...small, modes: ['copy', 'zerocopy'], flowsPair: true, bytes: 2 * 2 ** 20 };
  const report = await compareLocally(options);
  const two = report.runs.filter((run) => run.flows?.length === 2);
  t.same(two.map((run) => run.mode).sort(), ['copy', 'zerocopy'], 'copy and zerocopy with 2 flows (in the shuffled order)');
  t.ok(report.summary.best.every((b) => b.moving === null || b.moving.gbps > 0), 'best table built');
  const { renderTable } = await import('../lib/report/index.js');
  t.match(renderTable(report, { width: 160 }), /Parallel flows: each flow its own connection/);
  t.match(renderTable(report, { width: 160 }), /tx thread µs\/MB/, 'with the sender threads\' CPU beside the receiver\'s');
});

t.test('bad flow counts and CPU sets are refused before anything starts', async (t) => {
  for (const [options, message] of [
    [{ flows: 0 }, /flows must be an integer from 1 to 64, got 0/],
    [{ flows: 1000 }, /flows must be an integer from 1 to 64, got 1000/],
    [{ flows: 1.5 }, /flows must be an integer from 1 to 64, got 1.5/],
    [{ cpuSets: { rx: [0, 4096], tx: [1] } }, /CPU 4096 does not exist/],
    [{ cpuSets: { rx: [0], tx: [0] } }, /CPU 0 is on both sides/],
    [{ cpuSets: { rx: [], tx: [0] } }, /at least one receiver CPU and one sender CPU/],
  ] as Array<[CompareOptions, RegExp]>) {
    const env = { side: { open: () => Promise.reject(new Error('must not open')) }, network: 'netns' as const, networkDescription: '', peer: null, remoteHost: null, references: new Map(), close() {} };
    await t.rejects(compare({ ...small, ...options }, env), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE', message }, JSON.stringify(options));
  }
});

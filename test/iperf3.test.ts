// iperf3 reference rows: the -J parser on real iperf3 3.12 output, the "not installed" path,
// and short real runs inside a private namespace. Absolute speeds are never asserted.
//
// Fixtures (test/fixtures/iperf3-*.json) are unedited client `-J` outputs of iperf3 3.12 on the
// development VM, in `unshare -n` with lo at MTU 4148; 1-second tests, so `intervals` holds one
// entry and nothing needed trimming:
//   plain     iperf3 -c 127.0.0.1 -t 1 -J -A 1,0
//   zerocopy  iperf3 -c 127.0.0.1 -t 1 -J -Z -A 1,0
//   refused   iperf3 -c 127.0.0.1 -t 1 -J          (no server)
//   killed    iperf3 -c 127.0.0.1 -t 3 -J          (server SIGKILLed after 1.5 s)
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iperf3Missing, iperf3Path, iperf3Unavailable, parseIperf3Json, runIperf3, type Iperf3Run, type Iperf3Timing } from '../lib/experiment/iperf3.js';
import { cpuCount } from '../lib/experiment/cpu.js';
import type { PrivateNetwork } from '../lib/experiment/netns.js';
import { listen } from '../lib/socket.js';
import { netnsSkip, network } from './helpers/network.js';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];
type Json = Record<string, any>; // fixtures are edited freely in the negative tests

const fixture = (name: string) => readFileSync(new URL(`./fixtures/iperf3-${name}.json`, import.meta.url), 'utf8');
const mutated = (name: string, change: (doc: Json) => void) => {
  const doc = JSON.parse(fixture(name)) as Json;
  change(doc);
  return JSON.stringify(doc);
};
const iperf3Error = (message: RegExp) => ({ code: 'ERR_PAGEFLIP_IPERF3', message });

t.test('parses real iperf3 3.12 client reports', async (t) => {
  for (const name of ['plain', 'zerocopy']) {
    const raw = JSON.parse(fixture(name)) as Json;
    const r = parseIperf3Json(fixture(name));
    t.equal(r.version, '3.12', `${name}: version`);
    t.match(r.systemInfo, /^Linux /, `${name}: system info`);
    t.equal(r.bytes, raw.end.sum_received.bytes, `${name}: bytes from end.sum_received`);
    t.equal(r.seconds, raw.end.sum_received.seconds, `${name}: seconds from end.sum_received`);
    t.ok(r.bytes > 0 && r.seconds > 0.9 && r.seconds < 1.1, `${name}: ${r.bytes} B in ${r.seconds} s`);
    t.equal(r.bitsPerSecond, (r.bytes * 8) / r.seconds, `${name}: bps = bytes * 8 / seconds`);
    t.ok(Math.abs(r.bitsPerSecond / r.reportedBitsPerSecond - 1) < 1e-3, `${name}: within 0.1% of iperf3's own receiver figure`);
    t.equal(r.senderBytes, raw.end.sum_sent.bytes, `${name}: sender bytes`);
    t.ok(r.senderBytes >= r.bytes, `${name}: the sender sent at least what arrived`);
    t.equal(r.senderSeconds, raw.end.sum_sent.seconds);
    t.equal(r.retransmits, raw.end.sum_sent.retransmits, `${name}: retransmits`);
    t.same(r.processCpu, { sender: raw.end.cpu_utilization_percent.host_total, receiver: raw.end.cpu_utilization_percent.remote_total });
    t.same(r.congestion, { sender: raw.end.sender_tcp_congestion, receiver: raw.end.receiver_tcp_congestion });
    t.equal(r.streams, 1);
    t.equal(r.reverse, false, `${name}: client sends, server receives`);
    // iperf3 3.12 does not write -Z into its JSON: the two reports cannot be told apart by it.
    t.equal(r.zerocopy, null, `${name}: -Z not recorded by 3.12`);
  }
});

t.test('reads optional fields when a report has them, and leaves them null when not', async (t) => {
  t.equal(parseIperf3Json(mutated('zerocopy', (d) => (d.start.test_start.zerocopy = 1))).zerocopy, true, 'zerocopy: 1');
  t.equal(parseIperf3Json(mutated('plain', (d) => (d.start.test_start.zerocopy = false))).zerocopy, false, 'zerocopy: false');
  t.equal(parseIperf3Json(mutated('plain', (d) => (d.start.test_start.reverse = 1))).reverse, true, '-R');
  const bare = parseIperf3Json(
    mutated('plain', (d) => {
      delete d.end.sum_sent.retransmits;
      delete d.end.cpu_utilization_percent;
      delete d.end.sender_tcp_congestion;
      delete d.start.system_info;
      d.start.version = 'iperf3-custom';
    }),
  );
  t.equal(bare.retransmits, null);
  t.equal(bare.processCpu, null);
  t.equal(bare.congestion, null);
  t.equal(bare.systemInfo, null);
  t.equal(bare.version, 'iperf3-custom', 'an unusual version string is kept whole');
});

t.test('rejects iperf3 errors, garbage and partial reports with a typed error', async (t) => {
  // iperf3 3.12 exits 0 with -J even when it failed: the error field is the only signal.
  t.throws(() => parseIperf3Json(fixture('refused')), iperf3Error(/^iperf3 failed: unable to connect to server: Connection refused$/));
  t.throws(() => parseIperf3Json(fixture('killed')), iperf3Error(/control socket has closed unexpectedly/), 'error after data flowed');
  t.throws(() => parseIperf3Json(''), iperf3Error(/printed no JSON/));
  t.throws(() => parseIperf3Json('  \n'), iperf3Error(/printed no JSON/));
  t.throws(() => parseIperf3Json('iperf3: error - unable to connect'), iperf3Error(/not valid JSON.*starts "iperf3: error/));
  const text = fixture('plain');
  t.throws(() => parseIperf3Json(text.slice(0, text.length / 2)), iperf3Error(/not valid JSON \(truncated/), 'cut in half');
  t.throws(() => parseIperf3Json('[1, 2]'), iperf3Error(/not a JSON object/));
  t.throws(() => parseIperf3Json('{}'), iperf3Error(/start\.test_start should be a object but is missing/));
  t.throws(() => parseIperf3Json(mutated('plain', (d) => delete d.end.sum_received)), iperf3Error(/end\.sum_received\.bytes should be a number but is missing/));
  t.throws(() => parseIperf3Json(mutated('plain', (d) => (d.end.sum_received.seconds = '1'))), iperf3Error(/end\.sum_received\.seconds should be a number but is "1"/));
  t.throws(() => parseIperf3Json(mutated('plain', (d) => (d.end.sum_received.seconds = 0))), iperf3Error(/no usable measurement/));
  t.throws(() => parseIperf3Json(mutated('plain', (d) => (d.start.test_start.protocol = 'UDP'))), iperf3Error(/UDP test; only TCP/));
  t.throws(() => parseIperf3Json(mutated('plain', (d) => (d.start.version = 3.12))), iperf3Error(/start\.version should be a string but is 3\.12/));
  t.throws(() => parseIperf3Json(42 as unknown as string), { name: 'TypeError', code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
});

t.test('without iperf3 on PATH: undefined, the hint, and a typed rejection', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'pageflip-nopath-'));
  const saved = process.env.PATH;
  t.teardown(() => {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  });
  process.env.PATH = empty;
  t.equal(iperf3Path(), undefined);
  t.equal(iperf3Missing(), 'iperf3 not found: apt-get install iperf3 (Debian/Ubuntu) to add reference rows');
  // The executable is looked up before the network is touched, so no namespace is needed here.
  await t.rejects(runIperf3({} as PrivateNetwork, { seconds: 1, zerocopy: false }), { code: 'ERR_PAGEFLIP_IPERF3_MISSING', message: iperf3Missing() });
});

t.test('iperf3 without stdbuf: the rows cannot window their CPU, and say so', { skip: iperf3Path() === undefined ? iperf3Missing() : false }, async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'pageflip-nostdbuf-'));
  const saved = process.env.PATH;
  t.teardown(() => {
    process.env.PATH = saved;
    rmSync(bin, { recursive: true, force: true });
  });
  symlinkSync(iperf3Path()!, join(bin, 'iperf3'));
  process.env.PATH = bin;
  t.match(iperf3Unavailable(), /stdbuf \(coreutils\) not found: iperf3 rows need it/);
  await t.rejects(runIperf3({} as PrivateNetwork, { seconds: 1, zerocopy: false }), { code: 'ERR_PAGEFLIP_IPERF3_MISSING', message: /stdbuf/ });
  process.env.PATH = saved;
  t.equal(iperf3Unavailable(), undefined, 'with both on PATH the rows run');
});

t.test('option checks', async (t) => {
  const net = {} as PrivateNetwork;
  const range = { name: 'RangeError', code: 'ERR_PAGEFLIP_OUT_OF_RANGE' };
  const type = { name: 'TypeError', code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' };
  await t.rejects(runIperf3(net, null as never), type);
  for (const seconds of [0, 0.5, -1, NaN, 86401, '1'])
    await t.rejects(runIperf3(net, { seconds: seconds as number, zerocopy: false }), { ...range, message: /whole number/ }, `seconds ${String(seconds)}`);
  await t.rejects(runIperf3(net, { seconds: 1, bytes: 1e6, zerocopy: false }), { ...range, message: /exactly one of seconds \(-t\) and bytes \(-n\)/ });
  await t.rejects(runIperf3(net, { zerocopy: false }), { ...range, message: /exactly one of seconds/ });
  for (const bytes of [0, 1.5, -1]) await t.rejects(runIperf3(net, { bytes, zerocopy: false }), { ...range, message: /bytes must be a whole number/ }, `bytes ${bytes}`);
  for (const omit of [0, 0.5, 61]) await t.rejects(runIperf3(net, { seconds: 1, omit, zerocopy: false }), { ...range, message: /omit must be a whole number from 1 to 60/ }, `omit ${omit}`);
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: 'yes' as unknown as boolean }), type);
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, cpus: 3 as never }), type);
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, cpus: { rx: -1, tx: 0 } }), { ...range, message: /cpus\.rx/ });
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, cpus: { rx: 0, tx: 1.5 } }), { ...range, message: /cpus\.tx/ });
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, port: 0 }), { ...range, message: /port/ });
  await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, graceSeconds: -1 }), { ...range, message: /graceSeconds/ });
});

// ---------------------------------------------------------------------------------------------
// Real runs

const realSkip: string | false = netnsSkip || (iperf3Path() === undefined ? iperf3Missing() : false);

/** iperf3 processes that are children of this test process, zombies included. */
function iperf3Children(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'iperf3' && ppid === process.pid) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function checkRun(t: Test, run: Iperf3Run & { timing: Iperf3Timing }, zerocopy: boolean): void {
  const { result, cpu } = run;
  t.ok(result.bytes > 0, `received ${result.bytes} bytes`);
  t.ok(result.seconds > 0.5 && result.seconds < 3, `iperf3 measured ${result.seconds} s`);
  t.ok(cpu.percent > 0 && cpu.percent <= 100, `system CPU ${cpu.percent.toFixed(1)}% in (0, 100]`);
  t.ok(cpu.usPerMB > 0, 'CPU-µs per MB > 0');
  // The window is the data phase: within 0.15 s + 10 % of iperf3's own seconds (the server's lines
  // reach us through a pipe and an event loop on a busy machine), so it leaves out the 1 s -O
  // warm-up, start-up and result exchange that a window around the client would include.
  const slack = 0.15 + 0.1 * result.seconds;
  t.ok(Math.abs(run.wallSeconds - result.seconds) <= slack, `the CPU window (${run.wallSeconds.toFixed(3)} s) is iperf3's data phase (${result.seconds.toFixed(3)} s) within ${slack.toFixed(3)} s`);
  t.ok(run.wallSeconds < run.timing.omit + result.seconds - slack, 'and leaves the warm-up out');
  t.ok(run.stat.before.startsWith('cpu ') && run.stat.after.startsWith('cpu '), 'the window\'s /proc/stat texts, for per-side CPU');
  t.equal(run.zerocopy, zerocopy);
  t.equal(run.clientArgs.includes('-Z'), zerocopy, '-Z passed exactly when asked');
  t.same(iperf3Children(), [], 'no iperf3 process left');
  const gbps = result.bitsPerSecond / 1e9;
  t.comment(`${zerocopy ? 'iperf3 -Z' : 'iperf3'} at MTU 4148: ${gbps.toFixed(2)} Gbit/s, CPU ${cpu.percent.toFixed(1)}%, ${(gbps * 1000 / cpu.percent).toFixed(0)} Mbit/s per CPU%`);
}

t.test('a short real run, plain and -Z, pinned like pageflip runs', { skip: realSkip }, async (t) => {
  const net = network(t, 4148);
  const cpus = cpuCount() >= 2 ? { rx: 0, tx: 1 } : null;
  const plain = await runIperf3(net, { seconds: 1, zerocopy: false, cpus });
  checkRun(t, plain, false);
  t.same(plain.clientArgs, ['-c', '127.0.0.1', '-p', '5201', '-t', '1', '-O', '1', '-i', '0', '-J', ...(cpus ? ['-A', '1'] : [])]);
  const zc = await runIperf3(net, { seconds: 1, zerocopy: true, cpus, port: 5202 });
  checkRun(t, zc, true);
  t.equal(zc.clientArgs[3], '5202', 'the chosen port');
  // --bytes runs: -n counts the bytes sent after the warm-up (iperf3 zeroes its counters there).
  const counted = await runIperf3(net, { bytes: 50_000_000, zerocopy: false, cpus, port: 5203 });
  const sent = counted.result.senderBytes;
  t.ok(sent >= 50_000_000 && sent < 50_000_000 + 131072, `the client sent -n bytes after the warm-up, rounded up to its 128 KiB blocks (${sent})`);
  t.ok(counted.clientArgs.includes('-n') && !counted.clientArgs.includes('-t'), '-n instead of -t');
  t.ok(Math.abs(counted.wallSeconds - counted.result.seconds) <= 0.15 + 0.1 * counted.result.seconds, `window ${counted.wallSeconds.toFixed(3)} s, iperf3 ${counted.result.seconds.toFixed(3)} s`);
});

t.test('failures clean up both processes', { skip: realSkip }, async (t) => {
  const net = network(t, 4148);

  await t.test('port taken: the server cannot listen', async (t) => {
    const other = net.run(() => listen({ host: '127.0.0.1', port: 5201 }));
    t.teardown(() => other.close());
    await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false }), iperf3Error(/server exited with status 1 before listening.*Address already in use/));
    t.same(iperf3Children(), [], 'no iperf3 process left');
  });

  await t.test('client fails without a report (bad CPU for -A)', async (t) => {
    await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, cpus: { rx: 0, tx: 4095 } }), iperf3Error(/^iperf3 client exited with status 1: iperf3: .*unable to set CPU affinity.*no usable -J report/));
    t.same(iperf3Children(), [], 'the still-listening server was killed');
  });

  await t.test('timeout', async (t) => {
    const started = Date.now();
    await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, graceSeconds: 0 }), { code: 'ERR_PAGEFLIP_IPERF3_TIMEOUT', message: /within 1 \+ 1 \+ 0 s/ });
    t.ok(Date.now() - started < 5000, 'stopped at the deadline');
    t.same(iperf3Children(), [], 'no iperf3 process left');
  });

  await t.test('abort while running and before starting', async (t) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user pressed ^C')), 300);
    const started = Date.now();
    await t.rejects(runIperf3(net, { seconds: 5, zerocopy: false, signal: controller.signal }), { name: 'AbortError', code: 'ABORT_ERR', cause: { message: 'user pressed ^C' } });
    t.ok(Date.now() - started < 3000, 'stopped well before the 5 s test would have ended');
    t.same(iperf3Children(), [], 'no iperf3 process left');
    await t.rejects(runIperf3(net, { seconds: 1, zerocopy: false, signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
  });
});

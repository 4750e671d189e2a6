// Bench (not a test): what receiving costs through each door, measured side by side in one run.
// For receive modes copy and zerocopy at several chunk sizes it compares the native receive loop
// (receiveLoop), the JS chunk API (Receiver + for await + release per lease), Node's own
// net.Socket and a plain C recv() loop (bench/plain_recv.c), all fed by the same native sender,
// on loopback inside a private network namespace. `--help` lists the knobs.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { capabilities, Receiver, receiveLoop, sendLoop, type Connection, type SendLoopStats, type SendMode } from '../lib/index.js';
import { binding } from '../lib/native.js';
import { PrivateNetwork } from '../lib/experiment/netns.js';
import { cpuCount, cpuUsage, readCpu } from '../lib/experiment/cpu.js';
import { receiveLoopOptions } from '../lib/experiment/run-point.js';
import { columns, fixed, median } from './args.js';

const KiB = 1024;
const MB = 1e6;

const { values: args } = parseArgs({
  options: {
    mtu: { type: 'string', default: '4148' },
    seconds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '5' },
    chunks: { type: 'string', default: '256,1024,4096' },
    'send-chunk': { type: 'string', default: '256' },
    'rx-cpu': { type: 'string', default: '0' },
    'tx-cpu': { type: 'string', default: '1' },
    'no-write': { type: 'boolean', default: false },
    'quiet-gate': { type: 'string', default: '15' },
    receivers: { type: 'string', default: 'native-lw,js,c,node' },
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench:receive -- [options]
  --mtu N          lo MTU of the private namespace (default 4148: one page of payload per segment)
  --seconds S      sender duration per run (default 1; --quick 0.5)
  --repeats N      interleaved repeats, median reported (default 5; --quick 3)
  --chunks LIST    receive chunk sizes in KiB (default 256,1024,4096: the JS API's targets)
  --send-chunk K   sender bytes per send() in KiB (default 256)
  --rx-cpu / --tx-cpu N   CPUs for receiver and sender (default 0 and 1; -1: no pinning)
  --no-write       skip the copy rows fed by the write() sender
  --quiet-gate P   before each run wait (up to 20 s, 30 s in all) until the machine is below P% busy (default 15; 100: off)
  --receivers LIST which receivers to run (default native-lw,js,c,node; native = the loop with lowWater 0)
  --json FILE      also write every group's medians (Gbit/s, mapped %, calls per MB) as JSON`);
  process.exit(0);
}

const quick = args.quick;
const mtu = Number(args.mtu);
const seconds = Number(quick && args.seconds === '1' ? '0.5' : args.seconds);
const repeats = Number(quick && args.repeats === '5' ? '3' : args.repeats);
const chunks = args.chunks.split(',').map((k) => Number(k) * KiB);
const sendChunk = Number(args['send-chunk']) * KiB;
const cores = cpuCount();
const pin = cores >= 2 && Number(args['rx-cpu']) >= 0 && Number(args['tx-cpu']) >= 0;
const rxCpu = pin ? Number(args['rx-cpu']) : undefined;
const txCpu = pin ? Number(args['tx-cpu']) : undefined;
const caps = capabilities();
// Kernels without MSG_ZEROCOPY or TCP_ZEROCOPY_RECEIVE get the rows they can run, and a note.
const senders: SendMode[] = [...(caps.msgZerocopy.supported ? ['zerocopy' as const] : []), ...(args['no-write'] && caps.msgZerocopy.supported ? [] : ['write' as const])];
const zerocopyReceive = caps.zerocopyReceive.supported;
const quietGate = Number(args['quiet-gate']);
const wanted = new Set<string>(args.receivers.split(','));
for (const [name, v] of Object.entries({ mtu, seconds, repeats, sendChunk, quietGate })) {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`bad --${name}: ${v}`);
}

type RxKind = 'native' | 'native-lw' | 'js' | 'node' | 'c';
type RxMode = 'copy' | 'zerocopy';
const RX_LABEL: Record<RxKind, string> = {
  native: 'native loop, lowWater 0',
  'native-lw': 'native loop (default)',
  js: 'JS Receiver',
  node: 'net.Socket',
  c: 'plain C recv()',
};

interface Config {
  sender: SendMode;
  mode: RxMode;
  chunk: number;
  rx: RxKind;
}

interface Run {
  bytes: number; // received (checked against the sender's count)
  seconds: number; // receiver wall time, from ready to EOF
  gbps: number;
  threadCpu: number; // CPU seconds of the receiving thread
  processCpu: number; // CPU seconds of the receiving process, sender thread excluded
  sysPercent: number; // /proc/stat busy share of all cores over the run
  sysUsPerMB: number;
  otherPercent: number; // of that, CPU not used by this bench (its process and the C child)
  mappedPct: number;
  receiveCalls: number | null; // recv / TCP_ZEROCOPY_RECEIVE calls (null: not counted, e.g. net.Socket, C)
  syscalls: number | null; // every receiver syscall (poll, madvise, ... too)
}

/** What one receiver reports back to runOnce. */
interface Received {
  sent: Promise<SendLoopStats>;
  bytes: number;
  seconds: number;
  threadCpu: number;
  processCpu: number;
  mapped: number;
  childCpu?: number; // CPU seconds spent outside this process (the C program)
  receiveCalls?: number;
  syscalls?: number;
}

type Start = () => Promise<SendLoopStats>;

// ---- measurement helpers ------------------------------------------------------------------------

/** On-CPU nanoseconds of every thread of this process (/proc/self/task/<tid>/schedstat). */
function taskTimes(): Map<number, number> {
  const times = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      times.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return times;
}

/** CPU seconds threads that existed at `before` spent since (threads born meanwhile are left out). */
function cpuSince(before: Map<number, number>, after: Map<number, number>, only?: number): number {
  let ns = 0;
  for (const [tid, start] of before) {
    if (only !== undefined && tid !== only) continue;
    const end = after.get(tid);
    if (end !== undefined) ns += end - start;
  }
  return ns / 1e9;
}

function compilePlainRecv(): { binary: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-bench-'));
  const binary = join(dir, 'plain_recv');
  const source = fileURLToPath(new URL('./plain_recv.c', import.meta.url));
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source], { stdio: 'inherit' });
  if (cc.status !== 0) throw new Error(`cc -O2 ${source} failed (${cc.error?.message ?? `exit ${cc.status}`})`);
  return { binary, dir };
}

// ---- one run ------------------------------------------------------------------------------------

let net: PrivateNetwork;
let plainRecv: string;

function startSender(client: Connection, config: Config, duration: number) {
  return sendLoop(client, { mode: config.sender, seconds: duration, cpu: txCpu, chunkSize: sendChunk });
}

async function receiveNative(server: Connection, config: Config, start: Start): Promise<Received> {
  // The default loop wakes once min(chunk, 256 KiB) is queued (SO_RCVLOWAT), like the JS
  // Receiver; lowWater 0 is the plain loop that wakes on any data.
  const tasks = taskTimes();
  // The loop options are compare's (receiveLoopOptions), so the two report the same calls per MB.
  const rx = receiveLoop(server, { ...receiveLoopOptions(config.mode, config.chunk), cpu: rxCpu, ...(config.rx === 'native' ? { lowWater: 0 } : {}) });
  const sent = start();
  const r = await rx.done;
  const rest = cpuSince(tasks, taskTimes()); // the main thread and V8's helpers meanwhile
  return { sent, bytes: r.bytes, seconds: r.seconds, threadCpu: r.cpuSeconds, processCpu: r.cpuSeconds + rest, mapped: r.mappedBytes, receiveCalls: r.receiveCalls, syscalls: r.syscalls };
}

async function receiveJs(server: Connection, config: Config, start: Start): Promise<Received> {
  const receiver = new Receiver(server, { mode: config.mode, chunkSize: config.chunk });
  const tasks = taskTimes();
  const t0 = performance.now();
  const sent = start();
  let bytes = 0;
  for await (const lease of receiver) {
    bytes += lease.length;
    lease.release();
  }
  const elapsed = (performance.now() - t0) / 1e3;
  const after = taskTimes();
  const stats = receiver.stats();
  receiver.close();
  return { sent, bytes, seconds: elapsed, threadCpu: cpuSince(tasks, after, process.pid), processCpu: cpuSince(tasks, after), mapped: stats.mappedBytes, receiveCalls: stats.receiveCalls, syscalls: stats.syscalls };
}

async function receiveNode(server: Connection, _config: Config, start: Start): Promise<Received> {
  // Node owns (and closes) its own duplicate of the descriptor.
  const socket = new Socket({ fd: binding.dupFd(server.fd), readable: true, writable: false });
  let bytes = 0;
  socket.on('data', (data: Buffer) => {
    bytes += data.length;
  });
  const ended = once(socket, 'end');
  const tasks = taskTimes();
  const t0 = performance.now();
  const sent = start();
  await ended;
  const elapsed = (performance.now() - t0) / 1e3;
  const after = taskTimes();
  socket.destroy();
  return { sent, bytes, seconds: elapsed, threadCpu: cpuSince(tasks, after, process.pid), processCpu: cpuSince(tasks, after), mapped: 0 };
}

async function receiveC(server: Connection, config: Config, start: Start): Promise<Received> {
  // The socket goes to the child as fd 3; the child runs inside the namespace too.
  const child: ChildProcess = net.spawn(plainRecv, ['3', String(config.chunk), String(rxCpu ?? -1)], {
    stdio: ['ignore', 'pipe', 'inherit', server.fd],
  });
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ready = await lines.next();
  if (ready.value !== 'ready') throw new Error(`plain_recv did not start: ${ready.value ?? 'no output'}`);
  const sent = start();
  const result = await lines.next();
  const [code] = await exited;
  if (code !== 0 || result.done) throw new Error(`plain_recv failed (exit ${code})`);
  const r = JSON.parse(result.value) as { bytes: number; seconds: number; userSeconds: number; systemSeconds: number };
  const cpu = r.userSeconds + r.systemSeconds;
  return { sent, bytes: r.bytes, seconds: r.seconds, threadCpu: cpu, processCpu: cpu, mapped: 0, childCpu: cpu };
}

const RECEIVERS = { native: receiveNative, 'native-lw': receiveNative, js: receiveJs, node: receiveNode, c: receiveC };

let gateWaits = 0; // seconds spent waiting for a quiet machine
let gateTimeouts = 0; // runs started although the machine never got quiet
// On a shared machine that never gets quiet the gate would add 20 s to every run: past this
// many seconds of waiting in all, runs start at once (the report says from which run on).
const GATE_BUDGET_S = 30;
let gateSpentAt: number | null = null; // runs started when the budget ran out
let runsStarted = 0;

/** Waits (up to 20 s) until the whole machine is below `percent` busy over 300 ms. */
async function quiet(percent: number): Promise<void> {
  runsStarted++;
  if (percent >= 100) return;
  if (gateWaits >= GATE_BUDGET_S) {
    gateSpentAt ??= runsStarted;
    return;
  }
  const begin = Date.now();
  for (;;) {
    const before = readCpu();
    await new Promise((resolve) => setTimeout(resolve, 300));
    if (cpuUsage(before, readCpu(), 0, 0.3).percent < percent) break;
    if (Date.now() - begin > 20_000) {
      gateTimeouts++;
      break;
    }
  }
  gateWaits += (Date.now() - begin) / 1e3 - 0.3;
}

async function runOnce(config: Config, duration: number): Promise<Run> {
  await quiet(quietGate);
  const { client, server } = await net.connectedPair();
  try {
    const cpu0 = readCpu();
    const own0 = process.cpuUsage();
    const w0 = performance.now();
    const start = () => startSender(client, config, duration).done;
    const r = await RECEIVERS[config.rx](server, config, start);
    const sent = await r.sent;
    const wall = (performance.now() - w0) / 1e3;
    const sys = cpuUsage(cpu0, readCpu(), r.bytes, wall);
    const own = process.cpuUsage(own0);
    if (sent.bytes !== r.bytes) throw new Error(`${label(config)}: sent ${sent.bytes} bytes but received ${r.bytes}`);
    // Busy CPU on the machine that was not this bench's (its process, with the sender, and the C child).
    const busy = (sys.percent / 100) * wall * cores;
    const ours = (own.user + own.system) / 1e6 + (r.childCpu ?? 0);
    return {
      bytes: r.bytes,
      seconds: r.seconds,
      gbps: (r.bytes * 8) / r.seconds / 1e9,
      threadCpu: r.threadCpu,
      processCpu: r.processCpu,
      sysPercent: sys.percent,
      sysUsPerMB: sys.usPerMB,
      otherPercent: Math.max(0, ((busy - ours) / (wall * cores)) * 100),
      mappedPct: r.bytes > 0 ? (r.mapped / r.bytes) * 100 : 0,
      receiveCalls: r.receiveCalls ?? null,
      syscalls: r.syscalls ?? null,
    };
  } finally {
    client.close();
    server.close();
  }
}

// ---- plan ---------------------------------------------------------------------------------------

function label(c: Config): string {
  return `${c.sender}→${c.mode} ${c.chunk / KiB} KiB ${RX_LABEL[c.rx]}`;
}

// A group is what one ratio compares: the receivers of one sender/mode/chunk, run back to back.
interface Group {
  sender: SendMode;
  mode: RxMode;
  chunk: number;
  rx: RxKind[];
}

const groups: Group[] = [];
for (const sender of senders) {
  for (const chunk of chunks) {
    // net.Socket always reads 64 KiB at a time (libuv's read size): it runs once, in the smallest chunk's group.
    const rx: RxKind[] = ['native', 'native-lw', 'js', 'c'];
    groups.push({ sender, mode: 'copy', chunk, rx: (chunk === Math.min(...chunks) ? [...rx, 'node' as const] : rx).filter((k) => wanted.has(k)) });
  }
  // With write() the kernel cannot map anything (compound-page frags): zerocopy only with MSG_ZEROCOPY.
  if (sender === 'zerocopy' && zerocopyReceive)
    for (const chunk of chunks) groups.push({ sender, mode: 'zerocopy', chunk, rx: (['native', 'native-lw', 'js'] as RxKind[]).filter((k) => wanted.has(k)) });
}
for (let i = groups.length - 1; i >= 0; i--) if (groups[i].rx.length === 0) groups.splice(i, 1);
const key = (c: Config) => `${c.sender}/${c.mode}/${c.chunk}/${c.rx}`;

/** Rotates a list by n (interleaving without randomness, so reruns are comparable). */
const rotate = <T>(xs: T[], n: number) => xs.map((_, i) => xs[(i + n) % xs.length]);

// ---- output -------------------------------------------------------------------------------------

const range = (xs: number[], digits = 1) => `${fixed(Math.min(...xs), digits)}–${fixed(Math.max(...xs), digits)}`;

// ---- main ---------------------------------------------------------------------------------------

const { binary, dir } = compilePlainRecv();
plainRecv = binary;
net = PrivateNetwork.create(mtu);
let mainPinned = 'not pinned';
if (pin) {
  // taskset -p on our pid moves only the main thread (tid = pid): the JS receiver runs there.
  const t = spawnSync('taskset', ['-pc', String(rxCpu), String(process.pid)], { encoding: 'utf8' });
  mainPinned = t.status === 0 ? `pinned to CPU ${rxCpu} (taskset -p)` : `not pinned (taskset: ${t.error?.message ?? t.stderr.trim()})`;
}

const results = new Map<string, Run[]>();
const total = groups.reduce((n, g) => n + g.rx.length, 0) * repeats;
let warmups = 0;
const began = performance.now();
try {
  // Warm-up: every receiver kind and mode once (JIT, page tables, the C binary in the page cache).
  process.stderr.write('warming up…\n');
  for (const g of groups.filter((g) => g.chunk === chunks[0] || g.rx.includes('node'))) {
    for (const rx of g.rx) {
      await runOnce({ sender: g.sender, mode: g.mode, chunk: g.chunk, rx }, Math.min(seconds, 0.3));
      warmups++;
    }
  }
  let done = 0;
  for (let rep = 0; rep < repeats; rep++) {
    // Groups in a rotated order per repeat, receivers within a group too: each ratio pairs
    // runs made seconds apart, and no configuration always goes first.
    for (const g of rotate(groups, rep % groups.length)) {
      for (const rx of rotate(g.rx, rep % g.rx.length)) {
        const config: Config = { sender: g.sender, mode: g.mode, chunk: g.chunk, rx };
        const run = await runOnce(config, seconds);
        const list = results.get(key(config)) ?? [];
        list.push(run);
        results.set(key(config), list);
        done++;
        process.stderr.write(`[${done}/${total}] repeat ${rep + 1}: ${label(config)}: ${fixed(run.gbps, 2)} Gbit/s\n`);
      }
    }
  }
} finally {
  net.close();
  rmSync(dir, { recursive: true, force: true });
}
const elapsedMin = (performance.now() - began) / 60e3;

const runsOf = (c: Config) => results.get(key(c)) ?? [];

console.log(`pageflip bench:receive — ${new Date().toISOString()}`);
console.log(
  `host: Linux ${caps.kernelRelease} ${caps.machine}, ${cores} CPUs, page ${caps.pageSize} B, Node ${process.version}; ` +
    `loopback in a private netns at lo MTU ${mtu}; zero-copy receive ${caps.zerocopyReceive.supported ? `ABI ${caps.zerocopyReceive.abi}` : 'unsupported'}`,
);
console.log(
  `runs: sender ${seconds} s per run (${sendChunk / KiB} KiB per send), ${repeats} interleaved repeats after a warm-up, ` +
    `${pin ? `receiver CPU ${rxCpu}, sender CPU ${txCpu}` : 'no pinning'}; JS main thread ${mainPinned}; wall time ${fixed(elapsedMin, 1)} min`,
);
if (!caps.msgZerocopy.supported) console.log(`no MSG_ZEROCOPY sender rows: ${caps.msgZerocopy.reason}`);
if (!zerocopyReceive) console.log(`no zerocopy receive rows: ${caps.zerocopyReceive.reason}`);
console.log(
  quietGate >= 100
    ? 'quiet gate: off'
    : `quiet gate: each run waited for < ${quietGate}% machine-wide busy (${fixed(gateWaits / 60, 1)} min waited in all; ` +
        `${gateTimeouts} of ${total + warmups} runs started after 20 s without it` +
        `${gateSpentAt !== null ? `; the ${GATE_BUDGET_S} s budget ran out at run ${gateSpentAt}, the rest started at once` : ''})`,
);
console.log('');

const header = ['chunk', 'receiver', 'Gbit/s', 'min–max', 'rx-thr µs/MB', 'rx-proc µs/MB', 'sys CPU %', 'sys µs/MB', 'others %', 'mapped %', 'recv calls/MB', 'syscalls/MB'];
/** Median of per-run counts per MB (10^6 bytes), or null where the receiver does not count them. */
const callsPerMB = (runs: Run[], count: (r: Run) => number | null): number | null => {
  const values = runs.map((r) => count(r)).filter((v): v is number => v !== null);
  return values.length === runs.length && runs.length ? median(runs.map((r) => (count(r)! * MB) / r.bytes)) : null;
};
for (const sender of senders) {
  for (const mode of ['copy', 'zerocopy'] as const) {
    const gs = groups.filter((g) => g.sender === sender && g.mode === mode);
    if (gs.length === 0) continue;
    console.log(`${sender === 'zerocopy' ? 'MSG_ZEROCOPY' : 'write()'} sender → ${mode} receive`);
    const rows: string[][] = [];
    for (const g of gs) {
      for (const rx of g.rx) {
        const runs = runsOf({ ...g, rx });
        const perMB = (cpu: (r: Run) => number) => median(runs.map((r) => (cpu(r) * 1e6) / (r.bytes / MB)));
        rows.push([
          rx === g.rx[0] ? `${g.chunk / KiB} KiB` : '',
          RX_LABEL[rx] + (rx === 'node' ? ' (64 KiB reads)' : ''),
          fixed(median(runs.map((r) => r.gbps)), 2),
          range(runs.map((r) => r.gbps), 2),
          fixed(perMB((r) => r.threadCpu), 1),
          fixed(perMB((r) => r.processCpu), 1),
          fixed(median(runs.map((r) => r.sysPercent)), 1),
          fixed(median(runs.map((r) => r.sysUsPerMB)), 1),
          fixed(median(runs.map((r) => r.otherPercent)), 1),
          fixed(median(runs.map((r) => r.mappedPct)), 1),
          callsPerMB(runs, (r) => r.receiveCalls) === null ? 'n/a' : fixed(callsPerMB(runs, (r) => r.receiveCalls)!, 2),
          callsPerMB(runs, (r) => r.syscalls) === null ? 'n/a' : fixed(callsPerMB(runs, (r) => r.syscalls)!, 2),
        ]);
      }
    }
    console.log(columns(header, rows, { left: [0, 1], rule: true, trim: true }));
    console.log('');
  }
}

// Ratios: per repeat, the two runs of the same group (made seconds apart), then the median and
// range of those per-repeat ratios.
function pairedRatio(g: Group, a: RxKind, b: RxKind): number[] {
  const ra = runsOf({ ...g, rx: a });
  const rb = runsOf({ ...g, rx: b });
  return ra.map((r, i) => r.gbps / rb[i].gbps);
}

if (args.json) {
  const rows = groups.flatMap((g) =>
    g.rx.map((rx) => {
      const runs = runsOf({ ...g, rx });
      return {
        sender: g.sender,
        mode: g.mode,
        chunk: g.chunk,
        receiver: rx,
        gbps: median(runs.map((r) => r.gbps)),
        mappedPct: median(runs.map((r) => r.mappedPct)),
        receiveCallsPerMB: callsPerMB(runs, (r) => r.receiveCalls),
        syscallsPerMB: callsPerMB(runs, (r) => r.syscalls),
      };
    }),
  );
  writeFileSync(args.json, `${JSON.stringify({ mtu, seconds, repeats, rows }, null, 2)}\n`);
}

const pairable = (g: Group, ...kinds: RxKind[]) => kinds.every((k) => g.rx.includes(k));
console.log('ratios of throughput (median of per-repeat paired ratios, min–max)');
const ratioRows: string[][] = [];
for (const g of groups) {
  const at = `${g.sender === 'zerocopy' ? 'MSG_ZEROCOPY' : 'write()'} → ${g.mode}`;
  if (pairable(g, 'js', 'native-lw')) {
    const js = pairedRatio(g, 'js', 'native-lw');
    const jsTarget = g.chunk >= 256 * KiB ? (median(js) >= 0.9 ? 'met (≥ 0.9)' : 'MISSED (< 0.9)') : 'no target below 256 KiB';
    ratioRows.push([at, `${g.chunk / KiB} KiB`, 'JS Receiver ÷ native loop (default)', fixed(median(js), 3), range(js, 3), jsTarget]);
  }
  if (pairable(g, 'js', 'native')) {
    const plain = pairedRatio(g, 'js', 'native');
    ratioRows.push(['', '', 'JS Receiver ÷ native loop, lowWater 0', fixed(median(plain), 3), range(plain, 3), '(no target)']);
  }
  if (pairable(g, 'native-lw', 'c')) {
    const c = pairedRatio(g, 'native-lw', 'c');
    // ≈ 1.0: a median within 3%, or below that with the per-repeat range reaching 1.0 (noise).
    const cTarget = median(c) >= 0.97 ? 'met (≈ 1.0 or better)' : Math.max(...c) >= 1 ? 'within noise (range spans 1.0)' : 'MISSED (< 0.97)';
    ratioRows.push(['', '', 'native copy (default) ÷ plain C recv()', fixed(median(c), 3), range(c, 3), cTarget]);
  }
  if (pairable(g, 'js', 'node')) {
    const n = pairedRatio(g, 'js', 'node');
    ratioRows.push(['', '', 'JS Receiver ÷ net.Socket', fixed(median(n), 3), range(n, 3), '']);
  }
}
console.log(columns(['sender → mode', 'chunk', 'ratio', 'median', 'min–max', 'target'], ratioRows, { left: [0, 1, 2, 5], rule: true, trim: true }));
console.log('');

console.log(`method
- Network: one private network namespace (unshare CLONE_NEWNET), lo up at MTU ${mtu}; every run uses a fresh
  connected TCP pair on 127.0.0.1 in it, so no traffic leaves the namespace. At MTU 4148 each segment carries
  exactly one page of payload, the case TCP_ZEROCOPY_RECEIVE can map.
- Sender: always the native sendLoop on its own thread${pin ? ` pinned to CPU ${txCpu}` : ''}, ${sendChunk / KiB} KiB per send(), for ${seconds} s,
  then shutdown(SHUT_WR). MSG_ZEROCOPY feeds both receive modes (on loopback its pages are copied once into
  order-0 pages in the sender's softirq, which is what makes them mappable); write() feeds extra copy rows.
- Receivers, reading to EOF, each on CPU ${pin ? rxCpu : '(unpinned)'}:
  native loop (default)
                  receiveLoop() with compare's options: blocking recv() (copy), or a poll() until
                  SO_RCVLOWAT bytes are queued, TCP_ZEROCOPY_RECEIVE and madvise(MADV_DONTNEED) per 4
                  chunks (zerocopy), on a native thread; it sets SO_RCVLOWAT = min(chunkSize, 256 KiB),
                  so every mode wakes once that much is queued, like the JS Receiver by default.
  native loop, lowWater 0
                  the same loop waking on any data (the socket's own SO_RCVLOWAT of 1).
  JS Receiver     new Receiver(conn, { mode, chunkSize }) and \`for await (const lease of receiver)
                  lease.release()\` on the JS main thread, with the defaults (maxLeases 8; lowWater =
                  chunkSize up to 256 KiB, i.e. SO_RCVLOWAT, every wait bounded to lowWaterMs = 1 ms; zero-copy releases dropped 4 at a time, releaseBatch).
  net.Socket      new net.Socket({ fd: dup(fd) }) with a 'data' listener counting bytes; libuv reads 64 KiB.
  plain C recv()  bench/plain_recv.c built with cc -O2 at run time, spawned inside the namespace with the
                  socket as fd 3, pinned with sched_setaffinity; blocking recv() into one page-aligned,
                  pre-faulted buffer of the chunk size.
- Gbit/s: bytes received ÷ the receiver's wall time from being ready (loop started, for-await entered, 'data'
  listener attached, C program printed "ready") to EOF; the sender is started right after that point.
  Received bytes are checked against the sender's count.
- rx-thr µs/MB: CPU time of the receiving thread per 10^6 bytes: the loop thread's getrusage(RUSAGE_THREAD)
  (native loop), the main thread's /proc/self/task/<pid>/schedstat on-CPU ns (JS Receiver, net.Socket), the
  child's getrusage(RUSAGE_SELF) (C, one thread). All three count the same thing (scheduler run time,
  user + system, including softirq work done in that thread's context).
- rx-proc µs/MB: the receiving process minus the sender: rx-thr plus every other thread of the Node process
  that existed before the run (main thread, V8 GC/compiler helpers, libuv) from schedstat deltas; the
  sender thread is excluded (it is born for the run). Equal to rx-thr for C.
- sys CPU %: /proc/stat deltas over the run, user+nice+system+irq+softirq of all ${cores} cores (0–100, steal
  excluded); sys µs/MB is that busy time in CPU-µs per 10^6 bytes. It includes the sender and anything else
  running on this shared machine; others % is the part that was not this bench (busy CPU minus this process's
  getrusage, sender included, minus the C child's), i.e. how much the neighbours ran during the run.
- Quiet gate: before each run the bench waits until the machine is below ${quietGate}% busy over 300 ms (at most
  20 s, and ${GATE_BUDGET_S} s over the whole bench so a machine that never gets quiet does not stretch it), so runs
  start on an idle machine when there is one; it cannot keep neighbours from starting later.
- mapped %: bytes that arrived by page mapping (receiver stats), of all bytes received.
- recv calls/MB: the receiver's recv() / TCP_ZEROCOPY_RECEIVE calls per 10^6 bytes (native loop and JS Receiver
  counters; n/a for net.Socket and C). The native loop runs with compare's loop options (receiveLoopOptions), so
  for the same chunk this is the figure \`pageflip compare\` reports. Every mode waits for SO_RCVLOWAT: recv()
  in the kernel, zero-copy receive after a poll() that returns once that much is queued. syscalls/MB counts every
  receiver syscall: those, the polls, and madvise/mremap/mmap.
- Each cell: median over ${repeats} repeats (min–max for Gbit/s). Groups and receivers run in a rotated order
  per repeat; ratios are computed per repeat between runs of the same group, then summarised.
- Reading the numbers: sender and receiver share one kernel. When a receiver falls behind, the sender blocks
  and the receiver's CPU ends up doing the sender's transmit work (the window-update ACK is processed there),
  and for MSG_ZEROCOPY also the deferred copy; so small per-byte differences show up amplified in Gbit/s.
  Under CPU contention a receiver that sleeps often (the blocking native loop) loses more than one that stays
  runnable. Compare rx-thr µs/MB and others % alongside the ratios.`);

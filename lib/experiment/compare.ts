// `pageflip compare`: the paper's experiment as a matrix of points, each run `repeats` times
// in a freshly shuffled (seeded) order per repeat, a warm-up on the measured connection before
// every measured run, and one sender for every receive mode.
import { capabilities } from '../capabilities.js';
import { abortError, pageflipRangeError, throwIfAborted } from '../errors.js';
import { DEFAULT_CHUNK_BYTES, IPV4_TCP_HEADERS, MAX_MTU, MIN_MTU, MOVING, PMD_BYTES, RECEIVE_MODES, type RowMode } from '../vocabulary.js';
import { hostInfo } from './host.js';
import { paperFigures } from './paper.js';
import { perfUnusableReason } from './perf.js';
import { IPERF3_SHORT } from './iperf3.js';
import { iperf3MethodLine, iperf3Timing } from './references.js';
import { runPoint, type PointSpec, type RunSettings } from './run-point.js';
import { MAX_FLOWS } from './control.js';
import { summarize } from './stats.js';
import { localSenders } from './sender-process.js';
import type { CompareEnvironment, CompareOptions, ProgressEvent, ReferenceRunner, SendPlan } from './plan.js';
export type { CompareEnvironment, CompareOptions, ProgressEvent, ReferenceRunner, SendPlan } from './plan.js';
import { localTestbed, type Testbed } from './testbed.js';
import type { CompareConfig, CompareReport, RunResult } from './types.js';
import { TICK_MS } from './window.js';

/** The rows a compare can run (--modes): pageflip's receive modes, Node's reader, the discard floor. */
export const RECEIVE_ROWS: readonly RowMode[] = [...RECEIVE_MODES, 'node', 'discard'];
// discard is the floor (recv(MSG_TRUNC): no copy, no mapping), run in notouch only.
export const DEFAULT_MODES: RowMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'discard'];
export const QUICK_MODES: RowMode[] = ['copy', 'zerocopy', 'flip', 'discard'];

/** The SendPlan of `points` (one repeat's) through the sender side; `references`: reference points whose clients it runs too (--peer iperf3). */
export function sendPlan(config: CompareConfig, points: readonly PointSpec[], references: readonly PointSpec[] = []): SendPlan {
  // One sender per flow of every measured run (and of its --perf run); its warm-up runs on the
  // same connection, before the measured part. Each sender draws its own seconds and bytes.
  const runsOf = (count: number) => count * config.repeats * (config.perf ? 2 : 1);
  const senders = runsOf(points.reduce((sum, spec) => sum + (spec.flows ?? 1), 0));
  // An iperf3 client: its -O warm-up and its -t (or -n bytes), drawn like a sender's.
  const clients = runsOf(references.length);
  const timing = iperf3Timing(config);
  return {
    runs: senders + clients,
    seconds: senders * (config.warmupSeconds + (config.seconds ?? 0)) + clients * (timing.omit + (timing.seconds ?? 0)),
    bytes: (config.bytes === null ? 0 : senders * config.bytes) + clients * (timing.bytes ?? 0),
  };
}

/** The fewest repeats a compare accepts (the CLI checks its arguments against the same). */
export const MIN_REPEATS = 1;
/** Parallel flows a compare accepts (each is a receive thread here and a send thread in the
 * sender, and a run in flight on the sender's control session). */
export { MAX_FLOWS } from './control.js';
/** Seconds per measured run with --quick (18 points × 3 repeats, with warm-ups, stay under a minute). */
export const QUICK_SECONDS = 0.6;

/** The largest MTU the full matrix runs: 61492 − 52 = 61440 B = 15 whole pages of payload over IPv4
 * (61512 leaves 15 pages + 20 B, so every packet has a tail the kernel must copy instead of map). */
export const LARGE_MTU = 61492;

/** A deterministic generator in [0, 1) (mulberry32): the same seed gives the same run order. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy of items (Fisher-Yates with `random`). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** MTUs whose IPv4 payload is not whole pages: page moving must copy every packet's tail there. */
export function mtuWarnings(config: Pick<CompareConfig, 'mtus' | 'modes'>, pageSize = 4096): string[] {
  if (!config.modes.some((m) => MOVING.has(m))) return [];
  return config.mtus
    .filter((mtu) => (mtu - IPV4_TCP_HEADERS) % pageSize !== 0)
    .map((mtu) => {
      const payload = mtu - IPV4_TCP_HEADERS;
      const aligned = Math.max(1, Math.floor(payload / pageSize)) * pageSize + IPV4_TCP_HEADERS;
      return `MTU ${mtu}: ${payload} B of payload per packet over IPv4 is not a whole number of ${pageSize} B pages, so page moving copies each packet's last ${payload % pageSize} B instead of mapping it (an MTU of 52 + a multiple of ${pageSize}, e.g. ${aligned}, maps whole pages)`;
    });
}

export function resolveConfig(options: CompareOptions, network: CompareConfig['network'], peer: string | null): CompareConfig {
  const quick = options.quick ?? false;
  const cpus = capabilities().cpus;
  const config: CompareConfig = {
    modes: options.modes ?? (quick ? QUICK_MODES : DEFAULT_MODES),
    mtus: options.mtus ?? (quick ? [4148, 8244] : [4148, 8244, LARGE_MTU]),
    touch: options.touch === 'yes' ? [true] : options.touch === 'no' ? [false] : [false, true],
    chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    // A quick run's 10 ms tick is 1.7 points of one busy side's CPU % (~2 % of it; 0.8 points of a
    // 2-CPU box's), a fifth of the smallest (10 %) efficiency gap between modes seen so far, and
    // the quick plan stays under 60 s.
    seconds: options.bytes ? null : (options.seconds ?? (quick ? QUICK_SECONDS : 2)),
    bytes: options.bytes ?? null,
    warmupSeconds: options.warmupSeconds ?? (quick ? 0.1 : 0.3),
    repeats: options.repeats ?? 3,
    sender: options.sender ?? 'zerocopy',
    cpus: options.cpus === undefined ? (cpus >= 2 ? { rx: 0, tx: 1 } : null) : options.cpus,
    perf: options.perf ?? false,
    network,
    peer,
    quick,
    layout: options.layout ?? 'processes',
    flows: options.flows ?? 1,
    orderSeed: options.orderSeed ?? Math.floor(Math.random() * 2 ** 31),
  };
  if (!Number.isInteger(config.orderSeed) || config.orderSeed < 0) throw pageflipRangeError(`orderSeed must be a non-negative integer, got ${config.orderSeed}`);
  if (!Number.isInteger(config.flows) || config.flows! < 1 || config.flows! > MAX_FLOWS)
    throw pageflipRangeError(`flows must be an integer from 1 to ${MAX_FLOWS}, got ${String(options.flows)}`);
  if (options.cpuSets) {
    const { rx, tx } = options.cpuSets;
    const missing = [...rx, ...tx].filter((cpu) => !Number.isInteger(cpu) || cpu < 0 || cpu >= cpus);
    if (!rx.length || !tx.length) throw pageflipRangeError('cpu sets need at least one receiver CPU and one sender CPU');
    if (missing.length) throw pageflipRangeError(`CPU ${missing.join(', ')} does not exist: this machine has CPUs 0..${cpus - 1}`);
    const both = rx.filter((cpu) => tx.includes(cpu));
    if (both.length) throw pageflipRangeError(`CPU ${both.join(', ')} is on both sides: receiver and sender CPUs must differ, so each side's CPU is its own`);
    config.cpus = { rx: rx[0], tx: tx[0] };
    config.cpuSets = { rx: [...rx], tx: [...tx] };
  }
  if (config.repeats < MIN_REPEATS) throw pageflipRangeError(`repeats must be at least ${MIN_REPEATS}`);
  for (const mtu of config.mtus) if (!(mtu >= MIN_MTU && mtu <= MAX_MTU)) throw pageflipRangeError(`MTU ${mtu} is outside ${MIN_MTU}..${MAX_MTU}`);
  if (config.cpus && Math.max(config.cpus.rx, config.cpus.tx) >= cpus)
    throw pageflipRangeError(`--cpus ${config.cpus.rx},${config.cpus.tx}: this machine has CPUs 0..${cpus - 1}`);
  return config;
}

/** The points of one repeat, in run order: per MTU and touch, every mode, then the references. */
export function plan(config: CompareConfig, references: readonly RowMode[], layoutPair = false, flowsPair = false, pmdRows = false): PointSpec[] {
  const points: PointSpec[] = [];
  const receiveModes = config.modes.filter((m) => RECEIVE_ROWS.includes(m));
  for (const mtu of config.mtus) {
    for (const touch of config.touch) {
      // discard never has bytes to read: like iperf3 it belongs to the notouch view only.
      for (const mode of receiveModes) if (!(touch && mode === 'discard')) points.push({ mode, mtu, touch, sender: config.sender });
      // The best copy path: copy receive fed by plain write(), beside the same-sender rows.
      if (config.sender !== 'write' && receiveModes.includes('copy')) points.push({ mode: 'copy', mtu, touch, sender: 'write' });
      // iperf3 never reads its payload: it belongs to the notouch view only.
      if (!touch) for (const mode of references) points.push({ mode, mtu, touch, sender: 'write' });
    }
  }
  // The full default run keeps the in-process layout measurable: zerocopy and copy with the
  // sender as a thread of the receiving process, at the first MTU, notouch.
  const pairMtu = config.mtus[0];
  if (layoutPair && config.layout === 'processes' && config.network !== 'peer' && receiveModes.includes('copy') && receiveModes.includes('zerocopy') && config.touch.includes(false))
    for (const mode of ['zerocopy', 'copy'] as const) points.push({ mode, mtu: pairMtu, touch: false, sender: config.sender, layout: 'threads' });
  // The full default run also measures parallel flows: 2 connections for copy, zerocopy and flip at the first MTU.
  if (flowsPair && (config.flows ?? 1) === 1)
    for (const touch of config.touch)
      for (const mode of receiveModes.filter((m) => m === 'copy' || m === 'zerocopy' || m === 'flip')) points.push({ mode, mtu: pairMtu, touch, sender: config.sender, flows: 2 });
  // And flips of whole 2 MiB slots (page tables moved, not PTEs) beside copy and zerocopy with the same chunk.
  if (pmdRows && config.chunkBytes !== PMD_BYTES)
    for (const mtu of config.mtus.filter((m) => paperFigures.some((f) => f.mtu === m)))
      for (const touch of config.touch)
        for (const mode of receiveModes.filter((m) => m === 'copy' || m === 'zerocopy' || m === 'flip')) points.push({ mode, mtu, touch, sender: config.sender, chunkBytes: PMD_BYTES });
  for (const point of points) {
    if (references.includes(point.mode)) continue;
    if (config.layout === 'threads') point.layout = 'threads';
    if ((config.flows ?? 1) > 1) point.flows = config.flows;
  }
  return points;
}

export function localEnvironment(options: CompareOptions, references: Map<RowMode, (testbed: Testbed) => ReferenceRunner>): CompareEnvironment {
  const testbed = localTestbed({ forceMss: options.mssEmulation });
  const runners = new Map<RowMode, ReferenceRunner>();
  const warnings: string[] = [];
  if (testbed.kind === 'netns') for (const [mode, make] of references) runners.set(mode, make(testbed));
  else if (references.size)
    warnings.push(`${[...references.keys()].join(' and ')} reference rows skipped: iperf3 runs only inside a private network namespace, and this run has none (MTUs emulated with TCP_MAXSEG; root gives namespaces)`);
  const senders = localSenders(testbed, options.rps ?? 'auto');
  return {
    warnings,
    side: senders.side,
    begin: async (plan) => senders.begin(plan),
    network: testbed.kind,
    networkDescription: testbed.description,
    peer: null,
    remoteHost: null,
    references: runners,
    rps: senders.rps,
    async close() {
      // The sender processes first: they hold the namespaces too.
      await senders.close();
      testbed.close();
    },
  };
}

/** Other processes' share of the box above which a run is marked and warned about. */
export const OTHER_CPU_WARN = 3;

/** One tick in a run's window, in points of CPU %, for the whole box and for one side's CPU. */
export function tickResolution(seconds: number, cores: number): { box: number; side: number } {
  const ticks = seconds * (1000 / TICK_MS);
  return { box: 100 / (ticks * cores), side: 100 / ticks };
}

function resolutionText(config: CompareConfig): string {
  if (config.seconds === null) return 'runs of a fixed byte count have a resolution of one tick over their own length';
  const r = tickResolution(config.seconds, capabilities().cpus);
  return `so a ${config.seconds} s run resolves whole-box CPU % to ${r.box.toFixed(2)} points and one side's CPU % to ${r.side.toFixed(2)} points per run (medians over ${config.repeats} repeats)`;
}

function sidesLine(config: CompareConfig): string {
  const measure = "receiver-host efficiency = Mbit/s ÷ receiver-side CPU % (what sar on a receiving host gives: the paper's measurement)";
  if (config.network === 'peer')
    return `per side: the receiving host is this whole box (all its CPUs, /proc/stat); the sending host's CPU is what pageflip serve measured over its send loop; ${measure}`;
  if (!config.cpus) return 'per side: not measured (sender and receiver are not pinned apart); only whole-box figures';
  const set = (cpus: number[]) => `CPU${cpus.length > 1 ? 's' : ''} ${cpus.join(',')}`;
  const rx = config.cpuSets?.rx ?? [config.cpus.rx];
  const tx = config.cpuSets?.tx ?? [config.cpus.tx];
  return `per side: /proc/stat per-CPU deltas; receiver side = ${set(rx)}, sender side = ${set(tx)}, busy % of each side's non-stolen time; ${measure}; whole-box efficiency bills the sender too`;
}

function layoutLine(config: CompareConfig, runs: RunResult[]): string {
  if (config.network === 'peer') return `layout: the sender is pageflip serve on ${config.peer}; its CPU figures come from that host`;
  const pair = config.layout === 'processes' && runs.some((r) => r.layout === 'threads') ? '; one zerocopy/copy pair at the first MTU runs with the sender as a thread of the receiving process (layout "threads") to show what sharing an address space costs' : '';
  return config.layout === 'threads'
    ? 'layout: sender as a native thread of the receiving process (--layout threads): both share one address space, so each side\'s page-table changes (zap, mremap, TLB shootdowns, mmap lock) also land on the other'
    : `layout: sender in its own process started ${config.network === 'netns' ? 'inside the namespace' : 'on the host loopback'} (pid in each run's JSON), driven over the pageflip serve control protocol like a second host${pair}`;
}

const PMD_METHOD =
  'flips of whole 2 MiB slots (chunk a multiple of 2 MiB): the slots and the destination are 2 MiB-aligned and the flip waits for a whole slot (SO_RCVLOWAT = the slot, not 256 KiB), so a receive that fills it is moved by one mremap that meets the kernel\'s conditions for moving the page table itself (one PMD entry instead of 512 PTEs); a partial fill is moved PTE by PTE. PMD share = such whole-slot moves × 2 MiB ÷ bytes remapped; TLB flushes per MB come from perf\'s tlb:tlb_flush tracepoint (with --perf only)';

function methodLines(config: CompareConfig, env: CompareEnvironment, runs: RunResult[]): string[] {
  const lines = [
    `network: ${env.networkDescription}`,
    `sender: one native send loop (${config.sender}) feeds every receive mode; 'copy ← write' is the best-copy reference; sender and receiver threads ${config.cpus ? `pinned to CPUs ${config.cpus.tx} and ${config.cpus.rx}` : 'not pinned (one CPU)'}`,
    layoutLine(config, runs),
    ...(config.rps ? [`receive steering: ${config.rps.cpus ? `RPS on the namespace's lo rx queue set to CPU ${config.rps.cpus.join(',')} (the receiver's), so the loopback receive softirq (TCP processing, and the deferred copy of MSG_ZEROCOPY pages) runs where a receiving host would run it; the ACKs going back to the sender are processed there too` : `RPS ${config.rps.reason}: the loopback receive softirq runs on the sending CPU, so the receiver-side CPU misses it`}`] : []),
    sidesLine(config),
    `window: every CPU figure of a run (/proc/stat, per side, the receiver thread's getrusage, the sender threads' schedstat, other processes' user time) is sampled by the receive loop thread at its first and last instant, excluding thread start, setup, unmapping and the promise hop; /proc/stat counts in ${TICK_MS} ms ticks, ${resolutionText(config)}; other processes' user time above ${OTHER_CPU_WARN}% of the box marks a run`,
    `runs: ${config.repeats} repeats, the run order shuffled afresh in every repeat (seed ${config.orderSeed}), a ${config.warmupSeconds}s warm-up on the measured connection itself before every measured run; each run ${config.seconds !== null ? `receives for ${config.seconds}s` : `transfers ${config.bytes} bytes`}, chunk ${config.chunkBytes} bytes${runs.some((r) => r.chunkBytes !== undefined && r.chunkBytes !== config.chunkBytes) ? `, except the rows labelled with their own chunk (both ends use it)` : ''}`,
    `waits: every receive mode waits for the same low-water mark (SO_RCVLOWAT = min(chunk, 256 KiB)): recv() inside the kernel, TCP_ZEROCOPY_RECEIVE and splice after a poll() that returns once that much is queued (each wait bounded to 100 ms); calls/MB counts every receiver syscall (receive, poll, mremap, mmap, madvise)`,
    ...(runs.some((r) => r.mode === 'flip' && r.chunkBytes !== undefined && r.chunkBytes % PMD_BYTES === 0) ? [PMD_METHOD] : []),
    'throughput: bytes received by the receiver ÷ its own elapsed time (CLOCK_MONOTONIC inside the receive loop)',
    'CPU %: /proc/stat deltas over the receiver\'s run, all cores (user+nice+system+irq+softirq ÷ all non-stolen time, 0-100 like sar "all"); steal recorded apart as a share of all time; CPU-µs/MB = busy ticks × 10 ms ÷ MB (10^6 bytes)',
    'efficiency: Mbit/s ÷ CPU % (the paper\'s figure of merit); ratios are paired by repeat: the median of the per-repeat ratios against copy with the same sender, with their min–max (for whole-box and receiver-host efficiency alike); the verdict calls a difference only when all of at least 3 paired repeats lie on one side of parity, otherwise "no measurable difference"',
    'thread CPU: getrusage(RUSAGE_THREAD) of the receive loop thread and /proc schedstat (ns) of the send loop threads, over the same window (softirq work is charged to whichever thread it interrupted)',
    'touch: the receiver checks every byte against the deterministic stream pattern; notouch never reads the payload',
    '% mapped: bytes the kernel mapped into the receiver (TCP_ZEROCOPY_RECEIVE) ÷ bytes received; the rest was copied (recv_skip_hint reads, fallback)',
  ];
  if (config.perf)
    lines.push('perf: `perf stat -a` in a separate run of each point right after the measured one (so perf\'s overhead stays out of CPU % and efficiency), counters enabled/disabled over its control pipe exactly around that receiver run; per MB of received data; counters perf cannot count are shown unavailable');
  if (env.references.size) lines.push(iperf3MethodLine(config));
  return lines;
}

export async function compare(
  options: CompareOptions,
  env: CompareEnvironment,
  onProgress: (event: ProgressEvent) => void = () => {},
): Promise<CompareReport> {
  const startedAt = new Date().toISOString();
  const config = resolveConfig(options, env.network, env.peer);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    onProgress({ kind: 'warning', message });
  };
  for (const message of env.warnings ?? []) warn(message);
  if (env.network === 'mss-emulation') warn(`MTUs are emulated with TCP_MAXSEG: ${env.networkDescription}`);
  if (config.perf) {
    const reason = await perfUnusableReason();
    if (reason) {
      warn(`${reason}: running without perf counters`);
      config.perf = false;
    }
  }
  for (const message of mtuWarnings(config)) warn(message);
  if (!config.cpus) warn('fewer than 2 CPUs: sender and receiver share a CPU, so the figures include their competition');

  const references = options.reference === 'none' ? [] : [...env.references.keys()];
  const fullDefault = !config.quick && !options.modes && !options.mtus && !options.touch;
  const points = plan(config, references, options.layoutPair ?? fullDefault, options.flowsPair ?? fullDefault, options.pmdRows ?? fullDefault);
  const total = points.length * config.repeats;
  const isReference = (spec: PointSpec) => env.references.has(spec.mode);
  await env.begin?.(sendPlan(config, points.filter((spec) => !isReference(spec)), env.peerReferences ? points.filter(isReference) : []));
  onProgress({ kind: 'start', total, config });

  const settings: RunSettings = {
    seconds: config.seconds,
    bytes: config.bytes,
    chunkBytes: config.chunkBytes,
    cpus: config.cpus,
    cpuSets: config.cpuSets ?? null,
    perf: config.perf,
    seed: 1,
    warmupSeconds: config.warmupSeconds,
  };
  const runs: RunResult[] = [];
  let failure: unknown;
  try {
    let index = 0;
    // A fixed order would give every mode the same place in every repeat (copy first, iperf3 last):
    // drifts in the machine's state would then look like differences between modes.
    const random = seededRandom(config.orderSeed);
    for (let repeat = 1; repeat <= config.repeats; repeat++) {
      for (const spec of shuffled(points, random)) {
        throwIfAborted(options.signal);
        index++;
        const seed = index; // a different stream pattern for every run
        const reference = env.references.get(spec.mode);
        onProgress({ kind: 'run', index, total, repeat, spec, warmup: false });
        // Efficiency comes from a run without perf; perf's counters (and its mode-dependent
        // overhead: flip fires tens of tracepoints per MB) from their own run right after.
        const measure = (perf: boolean) =>
          reference ? reference(spec.mode, spec.mtu, repeat, { ...settings, perf, seed }) : runPoint(env.side, spec, { ...settings, perf, seed }, repeat);
        let result: RunResult;
        try {
          result = await measure(false);
          if (config.perf) result.perf = (await measure(true)).perf;
        } catch (error) {
          // A reference too short to measure (iperf3 -n with a tiny --bytes) leaves its row out, said why.
          if (!reference || (error as { code?: unknown }).code !== IPERF3_SHORT) throw error;
          warn(`${spec.mode} at MTU ${spec.mtu}, repeat ${repeat}: row left out: ${(error as Error).message}`);
          continue;
        }
        runs.push(result);
        onProgress({ kind: 'result', index, total, result });
      }
    }
  } catch (error) {
    failure = error;
  }
  config.rps = env.rps?.() ?? undefined;
  if (config.rps === undefined) delete config.rps;
  if (config.rps?.reason && config.rps.cpus === null && env.network === 'netns') warn(`receive steering (RPS) ${config.rps.reason}`);
  const short = runs.filter((r) => r.seconds < 0.5).length;
  if (short)
    warn(`${short} runs lasted under 0.5 s: /proc/stat counts CPU in 10 ms ticks, so their CPU % and efficiency are coarse (use --seconds or a larger --bytes)`);
  if (runs.some((r) => r.cpu.percent === 0)) warn('some runs were too short to register any CPU time: their efficiency is shown as 0 and they have no ratio to copy');
  if (runs.some((r) => r.cpu.steal > 5)) warn('the hypervisor stole more than 5% of CPU time in some runs: figures are noisy');
  const busy = runs.filter((r) => (r.otherCpu ?? 0) > OTHER_CPU_WARN);
  if (busy.length) {
    const worst = Math.max(...busy.map((r) => r.otherCpu ?? 0));
    for (const r of busy) r.note = [r.note, `other processes used over ${OTHER_CPU_WARN}% of the box during the run (otherCpu in the JSON)`].filter(Boolean).join('; ');
    warn(`other processes used more than ${OTHER_CPU_WARN}% of the box (up to ${worst.toFixed(0)}%) in ${busy.length} of ${runs.length} runs: their CPU and efficiency include that load (marked in each run's note)`);
  }
  if (config.perf && runs.some((r) => r.perf?.some((c) => !c.available)))
    warn('some perf counters are unavailable on this machine (typically hardware counters in a VM); they are shown as n/a');

  const report: CompareReport = {
    schema: 'pageflip-compare/1',
    startedAt,
    finishedAt: new Date().toISOString(),
    host: hostInfo(),
    remoteHost: env.remoteHost,
    config,
    method: methodLines(config, env, runs),
    warnings,
    runs,
    summary: summarize(runs, config.chunkBytes),
    paper: paperFigures,
  };
  if (failure === undefined) return report;
  // Cut short: the runs measured so far travel with the error, as a report that says why.
  const error = failure instanceof Error ? failure : new Error(String(failure));
  const code = (error as Error & { code?: unknown }).code;
  report.error = options.signal?.aborted
    ? `interrupted after ${runs.length} of ${total} runs`
    : `run ${runs.length + 1} of ${total} failed: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`;
  throw Object.assign(options.signal?.aborted ? abortError(options.signal) : error, { report });
}

// `pageflip compare`: the paper's experiment as a matrix of points, each run `repeats` times
// with the modes interleaved inside every repeat, a warm-up before every measured run, and one
// sender for every receive mode.
import { capabilities } from '../capabilities.js';
import { pageflipRangeError } from '../errors.js';
import type { SendMode } from '../native.js';
import { hostInfo } from './host.js';
import { paperFigures } from './paper.js';
import { perfUnusableReason } from './perf.js';
import { iperf3Seconds } from './references.js';
import { localSender, runPoint, type PointSpec, type RunSettings, type SenderSide } from './run-point.js';
import { summarize } from './stats.js';
import { localTestbed, type Testbed } from './testbed.js';
import type { CompareConfig, CompareReport, HostInfo, RowMode, RunResult } from './types.js';

export const RECEIVE_ROWS: readonly RowMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice', 'node'];
export const DEFAULT_MODES: RowMode[] = ['copy', 'zerocopy', 'flip', 'copy-remap'];
export const QUICK_MODES: RowMode[] = ['copy', 'zerocopy', 'flip'];

export interface CompareOptions {
  modes?: RowMode[];
  mtus?: number[];
  touch?: 'both' | 'yes' | 'no';
  chunkBytes?: number;
  seconds?: number | null;
  bytes?: number | null;
  repeats?: number;
  sender?: SendMode;
  cpus?: { rx: number; tx: number } | null;
  perf?: boolean;
  quick?: boolean;
  /** iperf3 reference rows: 'auto' = when iperf3 is installed (local runs only). */
  reference?: 'auto' | 'iperf3' | 'none';
  warmupSeconds?: number;
  mssEmulation?: boolean;
}

export type ProgressEvent =
  | { kind: 'start'; total: number; config: CompareConfig }
  | { kind: 'run'; index: number; total: number; repeat: number; spec: PointSpec; warmup: boolean }
  | { kind: 'result'; index: number; total: number; result: RunResult }
  | { kind: 'warning'; message: string };

/** A reference row runner (iperf3) for one MTU; returns a finished RunResult. */
export type ReferenceRunner = (mode: RowMode, mtu: number, repeat: number, settings: RunSettings) => Promise<RunResult>;

export interface CompareEnvironment {
  side: SenderSide;
  network: CompareConfig['network'];
  networkDescription: string;
  peer: string | null;
  remoteHost: HostInfo | null;
  references: Map<RowMode, ReferenceRunner>;
  close(): void;
}

/** The MTU range and the fewest repeats a compare accepts (the CLI checks its arguments against the same). */
export const MIN_MTU = 576;
export const MAX_MTU = 65536;
export const MIN_REPEATS = 1;

export function resolveConfig(options: CompareOptions, network: CompareConfig['network'], peer: string | null): CompareConfig {
  const quick = options.quick ?? false;
  const cpus = capabilities().cpus;
  const config: CompareConfig = {
    modes: options.modes ?? (quick ? QUICK_MODES : DEFAULT_MODES),
    mtus: options.mtus ?? (quick ? [4148, 8244] : [4148, 8244, 61512]),
    touch: options.touch === 'yes' ? [true] : options.touch === 'no' ? [false] : [false, true],
    chunkBytes: options.chunkBytes ?? 256 * 1024,
    seconds: options.bytes ? null : (options.seconds ?? (quick ? 0.5 : 2)),
    bytes: options.bytes ?? null,
    warmupSeconds: options.warmupSeconds ?? (quick ? 0.1 : 0.3),
    repeats: options.repeats ?? 3,
    sender: options.sender ?? 'zerocopy',
    cpus: options.cpus === undefined ? (cpus >= 2 ? { rx: 0, tx: 1 } : null) : options.cpus,
    perf: options.perf ?? false,
    network,
    peer,
    quick,
  };
  if (config.repeats < MIN_REPEATS) throw pageflipRangeError(`repeats must be at least ${MIN_REPEATS}`);
  for (const mtu of config.mtus) if (!(mtu >= MIN_MTU && mtu <= MAX_MTU)) throw pageflipRangeError(`MTU ${mtu} is outside ${MIN_MTU}..${MAX_MTU}`);
  if (config.cpus && Math.max(config.cpus.rx, config.cpus.tx) >= cpus)
    throw pageflipRangeError(`--cpus ${config.cpus.rx},${config.cpus.tx}: this machine has CPUs 0..${cpus - 1}`);
  return config;
}

/** The points of one repeat, in run order: per MTU and touch, every mode, then the references. */
export function plan(config: CompareConfig, references: readonly RowMode[]): PointSpec[] {
  const points: PointSpec[] = [];
  const receiveModes = config.modes.filter((m) => RECEIVE_ROWS.includes(m));
  for (const mtu of config.mtus) {
    for (const touch of config.touch) {
      for (const mode of receiveModes) points.push({ mode, mtu, touch, sender: config.sender });
      // The best copy path: copy receive fed by plain write(), beside the same-sender rows.
      if (config.sender !== 'write' && receiveModes.includes('copy')) points.push({ mode: 'copy', mtu, touch, sender: 'write' });
      // iperf3 never reads its payload: it belongs to the notouch view only.
      if (!touch) for (const mode of references) points.push({ mode, mtu, touch, sender: 'write' });
    }
  }
  return points;
}

export function localEnvironment(options: CompareOptions, references: Map<RowMode, (testbed: Testbed) => ReferenceRunner>): CompareEnvironment {
  const testbed = localTestbed({ forceMss: options.mssEmulation });
  const runners = new Map<RowMode, ReferenceRunner>();
  if (testbed.kind === 'netns') for (const [mode, make] of references) runners.set(mode, make(testbed));
  return {
    side: localSender(testbed),
    network: testbed.kind,
    networkDescription: testbed.description,
    peer: null,
    remoteHost: null,
    references: runners,
    close: () => testbed.close(),
  };
}

function methodLines(config: CompareConfig, env: CompareEnvironment): string[] {
  const lines = [
    `network: ${env.networkDescription}`,
    `sender: one native send loop (${config.sender}) feeds every receive mode; 'copy ← write' is the best-copy reference; sender and receiver threads ${config.cpus ? `pinned to CPUs ${config.cpus.tx} and ${config.cpus.rx}` : 'not pinned (one CPU)'}`,
    `runs: ${config.repeats} repeats, modes interleaved within each repeat, a ${config.warmupSeconds}s warm-up on a fresh connection before every measured run; each run ${config.seconds !== null ? `receives for ${config.seconds}s` : `transfers ${config.bytes} bytes`}, chunk ${config.chunkBytes} bytes`,
    'throughput: bytes received by the receiver ÷ its own elapsed time (CLOCK_MONOTONIC inside the receive loop)',
    'CPU %: /proc/stat deltas over the receiver\'s run, all cores (user+nice+system+irq+softirq ÷ all time, 0-100 like sar "all"); steal recorded apart; CPU-µs/MB = CPU % × cores × seconds ÷ MB (10^6 bytes)',
    'efficiency: Mbit/s ÷ CPU % (the paper\'s figure of merit); ratios compare medians against copy with the same sender',
    'thread CPU: getrusage(RUSAGE_THREAD) of the receive and send loop threads (tick-based; softirq work is charged to whichever thread it interrupted)',
    'touch: the receiver checks every byte against the deterministic stream pattern; notouch never reads the payload',
    '% mapped: bytes the kernel mapped into the receiver (TCP_ZEROCOPY_RECEIVE) ÷ bytes received; the rest was copied (recv_skip_hint reads, fallback)',
  ];
  if (config.perf)
    lines.push('perf: `perf stat -a` with counters enabled/disabled over its control pipe exactly around each receiver run; per MB of received data; counters perf cannot count are shown unavailable');
  if (env.references.size)
    lines.push(`iperf3: server and client in the same namespace and MTU, pinned like pageflip (-A), for ${iperf3Seconds(config.seconds)}s (iperf3 -t takes whole seconds); CPU (and perf counters) from the same /proc/stat sampling window around the client process (includes its start-up, not the server's); iperf3 never reads its payload, so its rows are notouch only`);
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
  if (env.network === 'mss-emulation') warn(`MTUs are emulated with TCP_MAXSEG: ${env.networkDescription}`);
  if (config.perf) {
    const reason = await perfUnusableReason();
    if (reason) {
      warn(`${reason}: running without perf counters`);
      config.perf = false;
    }
  }
  if (!config.cpus) warn('fewer than 2 CPUs: sender and receiver share a CPU, so the figures include their competition');

  const references = options.reference === 'none' ? [] : [...env.references.keys()];
  const points = plan(config, references);
  const total = points.length * config.repeats;
  onProgress({ kind: 'start', total, config });

  const settings: RunSettings = { seconds: config.seconds, bytes: config.bytes, chunkBytes: config.chunkBytes, cpus: config.cpus, perf: config.perf, seed: 1 };
  const runs: RunResult[] = [];
  let index = 0;
  for (let repeat = 1; repeat <= config.repeats; repeat++) {
    for (const spec of points) {
      index++;
      const seed = index; // a different stream pattern for every run
      const reference = env.references.get(spec.mode);
      if (config.warmupSeconds > 0 && !reference) {
        onProgress({ kind: 'run', index, total, repeat, spec, warmup: true });
        await runPoint(env.side, spec, { ...settings, seconds: config.warmupSeconds, bytes: null, perf: false, seed }, repeat);
      }
      onProgress({ kind: 'run', index, total, repeat, spec, warmup: false });
      const result = reference
        ? await reference(spec.mode, spec.mtu, repeat, { ...settings, seed })
        : await runPoint(env.side, spec, { ...settings, seed }, repeat);
      runs.push(result);
      onProgress({ kind: 'result', index, total, result });
    }
  }
  const short = runs.filter((r) => r.seconds < 0.5).length;
  if (short)
    warn(`${short} runs lasted under 0.5 s: /proc/stat counts CPU in 10 ms ticks, so their CPU % and efficiency are coarse (use --seconds or a larger --bytes)`);
  if (runs.some((r) => r.cpu.percent === 0)) warn('some runs were too short to register any CPU time: their efficiency is shown as 0 and they have no ratio to copy');
  if (runs.some((r) => r.cpu.steal > 5)) warn('the hypervisor stole more than 5% of CPU time in some runs: figures are noisy');
  if (config.perf && runs.some((r) => r.perf?.some((c) => !c.available)))
    warn('some perf counters are unavailable on this machine (typically hardware counters in a VM); they are shown as n/a');

  return {
    schema: 'pageflip-compare/1',
    startedAt,
    finishedAt: new Date().toISOString(),
    host: hostInfo(),
    remoteHost: env.remoteHost,
    config,
    method: methodLines(config, env),
    warnings,
    runs,
    summary: summarize(runs),
    paper: paperFigures,
  };
}

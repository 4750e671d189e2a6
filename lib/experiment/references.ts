// Reference rows measured beside pageflip's own: iperf3 (plain write/read) and iperf3 -Z
// (sendfile sender), in the same namespace, MTU and pinning (or, with --peer, between the same two
// hosts: the server here, the client on serve's host), with a warm-up on the measured connection
// and a CPU window over the data phase only, like pageflip's runs.
import { iperf3Missing, iperf3Path, iperf3Unavailable, runIperf3, type Iperf3Run, type Iperf3Timing } from './iperf3.js';
import { withPerf, type PerfWindow } from './perf.js';
import { rowFigures, type RunSettings } from './run-point.js';
import { sideFigures } from './window.js';
import type { CompareOptions, ReferenceRunner } from './plan.js';
import type { Testbed } from './testbed.js';
import type { CompareConfig, CpuUsage, RowMode, RunResult } from './types.js';
import { cpuCount } from './cpu.js';

/** One line for `pageflip info`: whether iperf3 rows will appear. */
export function referenceNote(): string {
  const path = iperf3Path();
  return path ? `${path}: compare adds iperf3 and iperf3 -Z reference rows` : iperf3Missing();
}

/**
 * iperf3's length beside pageflip's, in whole seconds (iperf3 3.12 parses -t and -O with atoi):
 * the warm-up rounded up (at least 1: the CPU window opens at its end), the run the nearest whole
 * second (at least 1), or the same byte count for --bytes runs.
 */
export function iperf3Timing(config: Pick<CompareConfig, 'seconds' | 'bytes' | 'warmupSeconds'>): Iperf3Timing {
  return {
    omit: Math.max(1, Math.ceil(config.warmupSeconds)),
    seconds: config.bytes === null ? Math.max(1, Math.round(config.seconds ?? 1)) : null,
    bytes: config.bytes,
  };
}

/** What the method lines say about iperf3's rows: its length against pageflip's, and what its CPU window covers. */
export function iperf3MethodLine(config: CompareConfig): string {
  const timing = iperf3Timing(config);
  const warmup =
    timing.omit === config.warmupSeconds ? `the same ${timing.omit} s warm-up (-O ${timing.omit})` : `a ${timing.omit} s warm-up (-O ${timing.omit}) against pageflip's ${config.warmupSeconds} s`;
  const length =
    timing.seconds === null
      ? `then -n ${timing.bytes} bytes sent after the warm-up (pageflip receives ${config.bytes}; iperf3 counts what arrived)`
      : timing.seconds === config.seconds
        ? `then the same ${timing.seconds} s (-t ${timing.seconds})`
        : `then ${timing.seconds} s (-t ${timing.seconds}) against pageflip's ${config.seconds} s: iperf3 3.12 takes whole seconds, so this is the nearest it can run`;
  const where =
    config.network === 'peer'
      ? `server on this host, client on ${config.peer} started by pageflip serve with arguments it builds itself, MSS = MTU - 40 (-M) like the other rows`
      : 'server and client in the same namespace and MTU';
  const peerCpu =
    config.network === 'peer'
      ? "; the peer's CPU is /proc/stat over its client's whole life (its start-up and warm-up included: iperf3 -J prints nothing before the end), so it overstates the sender's share a little"
      : '';
  return (
    `iperf3: ${where}, pinned like pageflip (server -A on the receiver's CPU, client -A on the sender's); ${warmup} on the measured connection, ${length}; ` +
    `CPU (and perf counters) from /proc/stat over the data window only: it opens when the server prints that its warm-up is over (where it zeroes its counters) and closes at the server's next line, printed when the client's end-of-test arrives, so start-up, connection set-up, warm-up and the result exchange stay outside (a row's note says when the window's wall time differs from iperf3's own seconds by more than ${WINDOW_SLACK.seconds * 1000} ms + ${WINDOW_SLACK.share * 100} %)${peerCpu}; iperf3 never reads its payload, so its rows are notouch only`
  );
}

/** How far the CPU window's wall time may stray from iperf3's own seconds before the row says so. */
export const WINDOW_SLACK = { seconds: 0.02, share: 0.05 };

/** The row's note when its CPU window and iperf3's own measurement disagree on the length of the data phase. */
function windowNote(run: Iperf3Run): string | null {
  const own = run.result.seconds;
  if (Math.abs(run.wallSeconds - own) <= WINDOW_SLACK.seconds + WINDOW_SLACK.share * own) return null;
  return `the CPU window lasted ${run.wallSeconds.toFixed(3)} s against iperf3's own ${own.toFixed(3)} s (a busy machine delays the server's lines)`;
}

/** An iperf3 run as a compare row: whole-box CPU over the window, per-side CPU when the sides are apart, the peer's CPU when it ran there. */
function iperf3Row(run: Iperf3Run, mode: RowMode, mtu: number, repeat: number, counters: RunResult['perf'], sideCpus: { rx: number[]; tx: number[] } | null, remoteCpu: CpuUsage | null): RunResult {
  const { bytes, seconds } = run.result;
  const { mbps, gbps, efficiency } = rowFigures(bytes, seconds, run.cpu);
  const sides = sideFigures(run.stat.before, run.stat.after, bytes, seconds, sideCpus);
  // Two hosts: the sending host's CPU is the one serve measured.
  if (sides && remoteCpu) sides.sender = { cpus: [], percent: remoteCpu.percent, softirq: remoteCpu.softirq, steal: remoteCpu.steal, usPerMB: remoteCpu.usPerMB };
  const receiverPercent = sides?.receiver.percent ?? 0;
  return {
    repeat,
    mode,
    mtu,
    touch: false,
    sender: 'iperf3',
    bytes,
    seconds,
    gbps,
    mbps,
    cpu: run.cpu,
    efficiency,
    receiverThread: null,
    senderThread: null,
    mappedBytes: 0,
    copiedBytes: bytes,
    mappedPercent: 0,
    verifiedBytes: 0,
    mismatches: 0,
    syscalls: null,
    calls: null,
    perf: counters,
    note: windowNote(run),
    remote: remoteCpu ? { cpu: remoteCpu } : null,
    layout: 'iperf3',
    pids: null,
    sides,
    receiverEfficiency: sides ? (receiverPercent > 0 ? mbps / receiverPercent : 0) : null,
    otherCpu: null,
    flows: null,
  };
}

/** Runs one iperf3 measurement (here, or with the client on the peer) within a perf window. */
export type Iperf3Measure = (zerocopy: boolean, mtu: number, settings: RunSettings, window: PerfWindow) => Promise<Iperf3Run & { remoteCpu: CpuUsage | null }>;

/** A reference row runner over `measure`: `peer` bills this whole box as the receiving host, like the other --peer rows. */
export function iperf3Runner(measure: Iperf3Measure, zerocopy: boolean, peer: boolean): ReferenceRunner {
  return async (mode, mtu, repeat, settings) => {
    const { result: run, counters } = await withPerf(settings.perf, (window) => measure(zerocopy, mtu, settings, window), (r) => r.result.bytes);
    // iperf3 is pinned like pageflip: its server (receiver) on rx, its client on tx.
    const sideCpus = peer ? { rx: [...Array(cpuCount()).keys()], tx: [] } : settings.cpus ? { rx: [settings.cpus.rx], tx: [settings.cpus.tx] } : null;
    return iperf3Row(run, mode, mtu, repeat, counters, sideCpus, run.remoteCpu);
  };
}

function localMeasure(testbed: Testbed): Iperf3Measure {
  return async (zerocopy, mtu, settings, window) => {
    const network = testbed.network(mtu);
    if (!network) throw new Error('iperf3 rows need a private namespace');
    const timing = iperf3Timing({ seconds: settings.seconds, bytes: settings.bytes, warmupSeconds: settings.warmupSeconds ?? 0 });
    return { ...(await runIperf3(network, { ...timing, zerocopy, cpus: settings.cpus, window })), remoteCpu: null };
  };
}

/** The iperf3 rows a compare runs: both when not --quick, plain iperf3 only with it. */
export function iperf3Modes(options: CompareOptions): RowMode[] {
  return options.quick ? ['iperf3'] : ['iperf3', 'iperf3-Z'];
}

/** iperf3 rows when wanted and installed; otherwise a one-line hint through `say`. */
export function referenceRunners(options: CompareOptions, say: (message: string) => void): Map<RowMode, (testbed: Testbed) => ReferenceRunner> {
  const runners = new Map<RowMode, (testbed: Testbed) => ReferenceRunner>();
  if (options.reference === 'none') return runners;
  const unavailable = iperf3Unavailable();
  if (unavailable) {
    say(unavailable);
    return runners;
  }
  for (const mode of iperf3Modes(options)) runners.set(mode, (testbed) => iperf3Runner(localMeasure(testbed), mode === 'iperf3-Z', false));
  return runners;
}

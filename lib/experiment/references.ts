// Reference rows measured beside pageflip's own: iperf3 (plain write/read) and iperf3 -Z
// (sendfile sender), in the same namespace, MTU, pinning and duration.
import { iperf3Missing, iperf3Path, runIperf3 } from './iperf3.js';
import { withPerf } from './perf.js';
import { rowFigures } from './run-point.js';
import type { CompareOptions, ReferenceRunner } from './compare.js';
import type { Testbed } from './testbed.js';
import type { RowMode, RunResult } from './types.js';

/** One line for `pageflip info`: whether iperf3 rows will appear. */
export function referenceNote(): string {
  const path = iperf3Path();
  return path ? `${path}: compare adds iperf3 and iperf3 -Z reference rows` : iperf3Missing();
}

export function iperf3Seconds(seconds: number | null): number {
  return Math.max(1, Math.round(seconds ?? 1));
}

function iperf3Runner(testbed: Testbed, zerocopy: boolean): ReferenceRunner {
  return async (mode: RowMode, mtu: number, repeat: number, settings) => {
    const network = testbed.network(mtu);
    if (!network) throw new Error('iperf3 rows need a private namespace');
    // iperf3 -t takes whole seconds: the nearest, at least 1 (also for --bytes runs).
    const { result: run, counters } = await withPerf(
      settings.perf,
      // Counted over the client's /proc/stat window only, not the server's start-up and exit.
      (window) => runIperf3(network, { seconds: iperf3Seconds(settings.seconds), zerocopy, cpus: settings.cpus, window }),
      (r) => r.result.bytes,
    );
    const { bytes, seconds } = run.result;
    const { mbps, gbps, efficiency } = rowFigures(bytes, seconds, run.cpu);
    const result: RunResult = {
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
      perf: counters,
      note: null,
      remote: null,
    };
    return result;
  };
}

/** iperf3 rows when wanted and installed; otherwise a one-line hint through `say`. */
export function referenceRunners(options: CompareOptions, say: (message: string) => void): Map<RowMode, (testbed: Testbed) => ReferenceRunner> {
  const runners = new Map<RowMode, (testbed: Testbed) => ReferenceRunner>();
  if (options.reference === 'none') return runners;
  if (!iperf3Path()) {
    say(iperf3Missing());
    return runners;
  }
  runners.set('iperf3', (testbed) => iperf3Runner(testbed, false));
  if (!options.quick) runners.set('iperf3-Z', (testbed) => iperf3Runner(testbed, true));
  return runners;
}


// The experiment as one call, for the CLI and for programs that script it: builds the local
// testbed (or reaches `pageflip serve` with `peer`), runs compare(), and always tears down.
import type { CalibrationResult } from './calibration-file.js';
import { compare, localEnvironment, type CompareOptions, type ProgressEvent } from './compare.js';
import { modelReport } from './model-report.js';
import { peerEnvironment } from './peer.js';
import { referenceRunners } from './references.js';
import type { CompareReport } from './types.js';

export interface RunCompareOptions extends CompareOptions {
  /** HOST:PORT of a `pageflip serve` to receive from instead of the local testbed. */
  peer?: string;
  /** The token `pageflip serve` was started with (see `pageflip serve --token`). */
  token?: string;
  /** This host's calibration (`pageflip calibrate`): the report then carries the cost model's prediction. */
  calibration?: { result: CalibrationResult; source: string } | null;
  /** Progress events (the CLI prints them on stderr). */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Runs the experiment and resolves with the report. When it is cut short (options.signal, or a
 * run that fails) it rejects with an error whose `report` holds the runs measured so far and an
 * `error` field saying why.
 */
export async function runCompare(options: RunCompareOptions = {}): Promise<CompareReport> {
  const { peer, token, calibration, onProgress, ...compareOptions } = options;
  // What the run leaves out (no iperf3 here) goes into the report's warnings.
  const skipped: string[] = [];
  const env = peer ? await peerEnvironment(peer, { token, compare: compareOptions }) : localEnvironment(compareOptions, referenceRunners(compareOptions, (m) => skipped.push(m)));
  env.warnings = [...skipped, ...(env.warnings ?? [])];
  try {
    const report = await compare(compareOptions, env, onProgress);
    if (calibration) report.model = modelReport(report, calibration.result, calibration.source);
    return report;
  } finally {
    await env.close();
  }
}

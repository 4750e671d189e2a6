// System-wide CPU use from /proc/stat deltas (all cores, like sar "all"): the paper measured
// CPU this way, and on loopback it is the only honest view (softirq work lands on whichever
// CPU ran the sender; receiver-thread time alone misses it).
import { readFileSync } from 'node:fs';
import type { CpuUsage } from './types.js';

export interface CpuSnapshot {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** All fields above (guest time is already inside user/nice). */
  total: number;
}

/** The aggregate "cpu" line of /proc/stat, in clock ticks. */
export function readCpu(stat: string = readFileSync('/proc/stat', 'utf8')): CpuSnapshot {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { user, nice, system, idle, iowait, irq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/**
 * CPU over [before, after] as percentages of all cores (0-100). `percent` counts
 * user+nice+system+irq+softirq; steal (time the hypervisor gave elsewhere) is reported apart.
 * usPerMB: CPU-microseconds (all cores) per 10^6 bytes moved in `seconds`.
 */
export function cpuUsage(before: CpuSnapshot, after: CpuSnapshot, bytes: number, seconds: number): CpuUsage {
  const total = after.total - before.total;
  const pct = (field: keyof CpuSnapshot) => (total > 0 ? ((after[field] - before[field]) / total) * 100 : 0);
  // Clamped: float rounding must not push a share of the whole past 100.
  const percent = Math.min(100, pct('user') + pct('nice') + pct('system') + pct('irq') + pct('softirq'));
  // Busy share of the wall time across every core, converted to CPU-µs.
  const cores = cpuCount();
  const busyUs = (percent / 100) * seconds * cores * 1e6;
  return {
    percent,
    user: pct('user'),
    nice: pct('nice'),
    system: pct('system'),
    irq: pct('irq'),
    softirq: pct('softirq'),
    steal: pct('steal'),
    idle: pct('idle') + pct('iowait'),
    usPerMB: bytes > 0 ? busyUs / (bytes / 1e6) : 0,
  };
}

let cores: number | undefined;
/** CPUs counted in /proc/stat's aggregate line (online CPUs). */
export function cpuCount(): number {
  cores ??= readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
  return cores;
}

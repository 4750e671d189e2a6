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

function snapshot(line: string): CpuSnapshot {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { user, nice, system, idle, iowait, irq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** The aggregate "cpu" line of /proc/stat, in clock ticks. */
export function readCpu(stat: string = readFileSync('/proc/stat', 'utf8')): CpuSnapshot {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  return snapshot(line);
}

/** The per-CPU "cpuN" lines of /proc/stat, by CPU number. */
export function readPerCpu(stat: string): Map<number, CpuSnapshot> {
  const cpus = new Map<number, CpuSnapshot>();
  for (const line of stat.split('\n')) {
    const m = /^cpu(\d+) /.exec(line);
    if (m) cpus.set(Number(m[1]), snapshot(line));
  }
  return cpus;
}

/** Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ: 100 on every Linux ABI). */
export const TICKS_PER_SECOND = 100;

/**
 * CPU over [before, after] as percentages (0-100) of the time the CPUs were not stolen: `percent`
 * counts user+nice+system+irq+softirq out of all time minus steal (time the hypervisor gave to
 * another guest, which this guest could not have used), so steal does not dilute it; `steal` is
 * the stolen share of all time, reported apart. usPerMB: busy CPU-microseconds per 10^6 bytes.
 */
export function cpuUsage(before: CpuSnapshot, after: CpuSnapshot, bytes: number, seconds: number): CpuUsage {
  const total = after.total - before.total;
  const stolen = after.steal - before.steal;
  const usable = total - stolen;
  const pct = (field: keyof CpuSnapshot) => (usable > 0 ? ((after[field] - before[field]) / usable) * 100 : 0);
  // Clamped: float rounding must not push a share of the whole past 100.
  const percent = Math.min(100, pct('user') + pct('nice') + pct('system') + pct('irq') + pct('softirq'));
  // Busy ticks converted to CPU-µs (the same busy time the percentage counts).
  const busy = ['user', 'nice', 'system', 'irq', 'softirq'].reduce((sum, f) => sum + after[f as keyof CpuSnapshot] - before[f as keyof CpuSnapshot], 0);
  const busyUs = seconds >= 0 ? (busy / TICKS_PER_SECOND) * 1e6 : 0;
  return {
    percent,
    user: pct('user'),
    nice: pct('nice'),
    system: pct('system'),
    irq: pct('irq'),
    softirq: pct('softirq'),
    steal: total > 0 ? (stolen / total) * 100 : 0,
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

/** The CPUs `cpus` of two per-CPU snapshots summed into one snapshot pair (a side of the box). */
export function sumCpus(before: Map<number, CpuSnapshot>, after: Map<number, CpuSnapshot>, cpus: readonly number[]): [CpuSnapshot, CpuSnapshot] {
  const sum = (map: Map<number, CpuSnapshot>) => {
    const out: CpuSnapshot = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, total: 0 };
    for (const cpu of cpus) {
      const s = map.get(cpu);
      if (!s) throw new Error(`/proc/stat has no line for CPU ${cpu}`);
      for (const key of Object.keys(out) as (keyof CpuSnapshot)[]) out[key] += s[key];
    }
    return out;
  };
  return [sum(before), sum(after)];
}

/** utime and stime of a /proc/PID/stat (all threads of the process), in clock ticks; null if unreadable. */
export function processTicks(stat: string): { user: number; system: number } | null {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
  const user = Number(rest[11]);
  const system = Number(rest[12]);
  return stat && Number.isFinite(user) && Number.isFinite(system) ? { user, system } : null;
}

/** Seconds a task has run, from its /proc/PID/task/TID/schedstat (nanoseconds on CPU); null if unreadable. */
export function schedstatSeconds(text: string): number | null {
  const ns = Number(text.trim().split(/\s+/)[0]);
  return text && Number.isFinite(ns) ? ns / 1e9 : null;
}

// The measurement window of a run: files the receive loop thread reads at its first and last
// instant (native/run_loop.cc, options.window), turned into every CPU figure of the run, so
// system, per-side, per-thread and other processes' CPU all cover the same span: the loop, not
// thread start, engine setup, unmapping or the promise hop.
import { readdirSync, readFileSync } from 'node:fs';
import { pageflipError } from '../errors.js';
import { cpuUsage, processTicks, readCpu, readPerCpu, schedstatSeconds, sumCpus, TICKS_PER_SECOND } from './cpu.js';
import type { CpuUsage, SideCpu } from './types.js';

/** The name native/run_loop.cc gives send loop threads (comm). */
const SEND_THREAD = 'pageflip-send';
const FIND_THREADS_MS = 2000;

export interface WindowPlan {
  paths: string[];
  senderPid: number | null;
  senderTids: number[];
}

/** Send loop threads of `pid`: waits up to 2 s until exactly `count` are named (a previous run's
 * thread may still be leaving, a new one not yet named), then takes what is there, in the order
 * they were started (ascending tids): a run opens its flows one by one, each starting its loop
 * before the next is opened, so thread i sends flow i. */
export async function sendThreads(pid: number, count: number): Promise<number[]> {
  const deadline = Date.now() + FIND_THREADS_MS;
  for (;;) {
    const tids: number[] = [];
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      throw pageflipError('ERR_PAGEFLIP_SENDER_DIED', `the sender process (pid ${pid}) is gone`);
    }
    for (const tid of tasks) {
      try {
        if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === SEND_THREAD) tids.push(Number(tid));
      } catch {
        // the task ended meanwhile
      }
    }
    if (tids.length === count || Date.now() > deadline) return tids.sort((a, b) => a - b);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What to read at the window's edges: /proc/stat, this process, and the sender (process and loop threads) when it runs here. */
export async function planWindow(senderPid: number | null, flows: number): Promise<WindowPlan> {
  const paths = ['/proc/stat', `/proc/${process.pid}/stat`];
  if (senderPid === null) return { paths, senderPid, senderTids: [] };
  if (senderPid !== process.pid) paths.push(`/proc/${senderPid}/stat`);
  const senderTids = await sendThreads(senderPid, flows);
  for (const tid of senderTids) paths.push(`/proc/${senderPid}/task/${tid}/schedstat`);
  return { paths, senderPid, senderTids };
}

/** Reads the window's files here (for readers that are not a native loop, e.g. Node's own). */
export function readWindow(plan: WindowPlan): string[] {
  return plan.paths.map((path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  });
}

export interface WindowFigures {
  cpu: CpuUsage;
  sides: { receiver: SideCpu; sender: SideCpu } | null;
  /** CPU seconds of the sender's loop threads inside the window; null when they could not be read. */
  senderSeconds: number | null;
  /** The same per loop thread, in the plan's order (flow order); null when any could not be read. */
  senderThreadSeconds: number[] | null;
  otherCpu: number | null;
}

function side(before: string, after: string, cpus: number[], bytes: number, seconds: number): SideCpu {
  const [b, a] = sumCpus(readPerCpu(before), readPerCpu(after), cpus);
  const usage = cpuUsage(b, a, bytes, seconds);
  return { cpus, percent: usage.percent, softirq: usage.softirq, steal: usage.steal, usPerMB: usage.usPerMB };
}

/** Both sides' CPU between two /proc/stat texts, or null when the sides are not pinned apart. */
export function sideFigures(before: string, after: string, bytes: number, seconds: number, cpus: { rx: number[]; tx: number[] } | null): WindowFigures['sides'] {
  return cpus ? { receiver: side(before, after, cpus.rx, bytes, seconds), sender: side(before, after, cpus.tx, bytes, seconds) } : null;
}

/** Every CPU figure of a run from its window; sides need the receiver's and sender's CPUs apart. */
export function windowFigures(
  plan: WindowPlan,
  start: string[],
  end: string[],
  bytes: number,
  seconds: number,
  cpus: { rx: number[]; tx: number[] } | null,
): WindowFigures {
  const [statStart, statEnd] = [start[0], end[0]];
  const before = readCpu(statStart);
  const after = readCpu(statEnd);
  const cpu = cpuUsage(before, after, bytes, seconds);
  const sides = sideFigures(statStart, statEnd, bytes, seconds, cpus);
  // Other processes: the box's user time minus ours (receiver and sender processes). User time
  // only: kernel threads doing our softirq work (ksoftirqd) must not count as someone else.
  let ours = 0;
  let known = true;
  const processes = plan.senderPid !== null && plan.senderPid !== process.pid ? 2 : 1;
  for (let i = 1; i <= processes; i++) {
    const [b, a] = [processTicks(start[i]), processTicks(end[i])];
    if (!b || !a) known = false;
    else ours += a.user - b.user;
  }
  const usable = after.total - before.total - (after.steal - before.steal);
  const boxUser = after.user + after.nice - before.user - before.nice;
  const otherCpu = known && usable > 0 ? (Math.max(0, boxUser - ours) / usable) * 100 : null;
  let senderThreadSeconds: number[] | null = plan.senderTids.length ? [] : null;
  for (let i = 0; i < plan.senderTids.length && senderThreadSeconds !== null; i++) {
    const index = 1 + processes + i;
    const [b, a] = [schedstatSeconds(start[index]), schedstatSeconds(end[index])];
    senderThreadSeconds = b === null || a === null ? null : [...senderThreadSeconds, a - b];
  }
  const senderSeconds = senderThreadSeconds && senderThreadSeconds.reduce((total, s) => total + s, 0);
  return { cpu, sides, senderSeconds, senderThreadSeconds, otherCpu };
}

/** The tick length of /proc/stat, for the method lines. */
export const TICK_MS = 1000 / TICKS_PER_SECOND;

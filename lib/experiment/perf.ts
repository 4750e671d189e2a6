// perf stat alongside a run, system-wide (-a). perf starts with its counters disabled and we
// enable/disable them over its control pipe (--control=fd:3,4) exactly around the measured
// window, so perf's own start-up and shutdown are not counted.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { findExecutable } from '../capabilities.js';
import { pageflipError } from '../errors.js';
import type { PerfCounter } from './types.js';
import { TLB_FLUSH } from './stats.js';

/** Software events and tracepoints first (work in VMs), hardware counters last (often absent). */
export const PERF_EVENTS = [
  'page-faults',
  'context-switches',
  'cpu-migrations',
  TLB_FLUSH,
  'skb:skb_copy_datagram_iovec',
  'cycles',
  'instructions',
  'cache-misses',
  'dTLB-load-misses',
] as const;

export function perfPath(): string | undefined {
  return findExecutable('perf');
}

/** Parses `perf stat -x,` lines; events perf could not count are unavailable, never 0. */
export function parsePerfStat(text: string, events: readonly string[], bytes: number): PerfCounter[] {
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const fields = line.split(',');
    if (fields.length >= 3 && events.includes(fields[2])) rows.set(fields[2], fields[0]);
  }
  return events.map((event) => {
    const raw = rows.get(event);
    const value = raw === undefined ? NaN : Number(raw);
    if (!Number.isFinite(value)) {
      const reason = raw === undefined ? 'perf printed no value' : `perf: ${raw.replace(/[<>]/g, '')}`;
      return { event, available: false, value: null, perMB: null, reason };
    }
    return { event, available: true, value, perMB: bytes > 0 ? value / (bytes / 1e6) : null };
  });
}

export class PerfSession {
  #counting = false;
  readonly #child: ChildProcess;
  readonly #events: readonly string[];
  #stderr = '';

  private constructor(child: ChildProcess, events: readonly string[]) {
    this.#child = child;
    this.#events = events;
    child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    // perf may exit at once (e.g. refused by perf_event_paranoid): its pipes then reset. That
    // surfaces through 'exit' in #command; the stream errors themselves carry nothing more.
    for (const stream of [child.stdio[3], child.stdio[4]]) (stream as Readable | Writable).on('error', () => {});
    child.on('error', (error) => (this.#stderr += error.message));
  }

  static start(events: readonly string[] = PERF_EVENTS): PerfSession {
    const perf = perfPath();
    if (!perf) throw pageflipError('ERR_PAGEFLIP_NO_PERF', 'perf not found (Debian: apt-get install linux-perf)');
    const child = spawn(perf, ['stat', '-a', '-x,', '-D', '-1', '--control=fd:3,4', '-e', events.join(',')], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    return new PerfSession(child, events);
  }

  async #command(command: 'enable' | 'disable'): Promise<void> {
    const ack = this.#child.stdio[4] as Readable;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(pageflipError('ERR_PAGEFLIP_PERF', `perf did not acknowledge '${command}': ${this.#stderr.trim().replace(/\s+/g, ' ')}`)), 5000);
      ack.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#child.once('exit', (code) => {
        clearTimeout(timer);
        reject(pageflipError('ERR_PAGEFLIP_PERF', `perf exited (${code}): ${this.#stderr.trim().replace(/\s+/g, ' ')}`));
      });
    });
    (this.#child.stdio[3] as Writable).write(`${command}\n`);
    await acked;
  }

  async enable(): Promise<void> {
    await this.#command('enable');
    this.#counting = true;
  }

  async disable(): Promise<void> {
    if (!this.#counting) return;
    this.#counting = false;
    await this.#command('disable');
  }

  /** Disables the counters (if still counting), ends perf and returns the counts (per MB of `bytes`). */
  async finish(bytes: number): Promise<PerfCounter[]> {
    await this.disable();
    const closed = new Promise<void>((resolve) => this.#child.once('close', () => resolve()));
    this.#child.kill('SIGINT');
    await closed;
    return parsePerfStat(this.#stderr, this.#events, bytes);
  }

  /** Ends perf without reading it (error paths). */
  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

/** The span perf counts, opened and closed by a measurement around exactly what it measures
 * (the same span as its /proc/stat sampling); both do nothing when perf is off. */
export interface PerfWindow {
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Runs `measure` with system-wide perf counters when `enabled`: perf is started before, counts
 * only inside the window `measure` opens, is finished (per MB of the measured bytes) after and
 * killed if anything fails. Without `enabled`, counters are null. */
export async function withPerf<T>(
  enabled: boolean,
  measure: (window: PerfWindow) => Promise<T>,
  bytes: (result: T) => number,
): Promise<{ result: T; counters: PerfCounter[] | null }> {
  let perf = enabled ? PerfSession.start() : undefined;
  const window: PerfWindow = { open: async () => perf?.enable(), close: async () => perf?.disable() };
  try {
    const result = await measure(window);
    const counters = perf ? await perf.finish(bytes(result)) : null;
    perf = undefined;
    return { result, counters };
  } finally {
    perf?.kill();
  }
}

/** Why perf cannot count system-wide here (missing, or refused by perf_event_paranoid), or undefined. */
export async function perfUnusableReason(): Promise<string | undefined> {
  if (!perfPath()) return 'perf not found (Debian: apt-get install linux-perf)';
  let session: PerfSession | undefined;
  try {
    session = PerfSession.start(['context-switches']);
    await session.enable();
    const [counter] = await session.finish(0);
    session = undefined;
    return counter.available ? undefined : `perf could not count system-wide (${counter.reason}); see /proc/sys/kernel/perf_event_paranoid`;
  } catch (error) {
    return `perf failed: ${(error as Error).message}`;
  } finally {
    session?.kill();
  }
}

/** Which of PERF_EVENTS this machine can count system-wide (a 50 ms probe), or why none. */
export async function probePerfEvents(): Promise<{ events: PerfCounter[]; reason?: string }> {
  const reason = await perfUnusableReason();
  if (reason) return { events: [], reason };
  const session = PerfSession.start();
  try {
    await session.enable();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { events: await session.finish(0) };
  } catch (error) {
    session.kill();
    return { events: [], reason: (error as Error).message };
  }
}

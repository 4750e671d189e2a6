// iperf3 as a reference row for `pageflip compare`: the same loopback, MTU, CPU pinning and
// system-wide CPU window as pageflip's own runs, so its efficiency is comparable. iperf3's
// default direction (client sends, server receives) matches pageflip's receive-side focus.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { findExecutable } from '../capabilities.js';
import { pageflipError, pageflipRangeError, pageflipTypeError } from '../errors.js';
import { cpuUsage, readCpu } from './cpu.js';
import type { PrivateNetwork } from './netns.js';
import type { PerfWindow } from './perf.js';
import type { CpuUsage } from './types.js';

/** What one iperf3 client `-J` report says about a TCP test. */
export interface Iperf3Result {
  /** iperf3's version, e.g. "3.12" (from start.version "iperf 3.12"). */
  version: string;
  systemInfo: string | null;
  streams: number;
  /** true for -R (server sends); pageflip's runs never use it. */
  reverse: boolean;
  /** -Z as recorded in the JSON; null when this iperf3 does not record it (3.12 does not). */
  zerocopy: boolean | null;
  /** Bytes the receiver got (end.sum_received.bytes) over `seconds` (end.sum_received.seconds). */
  bytes: number;
  seconds: number;
  /** bytes * 8 / seconds, so it agrees with bytes and seconds exactly. */
  bitsPerSecond: number;
  /** iperf3's own receiver figure; it divides by the sender's seconds, so it can differ slightly. */
  reportedBitsPerSecond: number;
  senderBytes: number;
  senderSeconds: number;
  /** TCP retransmits seen by the sender; null when iperf3 does not report them. */
  retransmits: number | null;
  /**
   * iperf3's own cpu_utilization_percent: per-process getrusage (user + system) over the test, in
   * percent of ONE core, for the client (sender, host_total) and server (receiver, remote_total).
   * Not system-wide: softirq work charged to other tasks and CPUs is missing. Null when absent.
   */
  processCpu: { sender: number; receiver: number } | null;
  congestion: { sender: string; receiver: string } | null;
}

/** One iperf3 run inside a private namespace, with the system-wide CPU over it. */
export interface Iperf3Run {
  result: Iperf3Result;
  /** /proc/stat deltas from just before the client started to just after it exited. */
  cpu: CpuUsage;
  /** Wall time of that CPU window. */
  wallSeconds: number;
  /** Whether -Z was passed (iperf3 3.12's JSON does not record it). */
  zerocopy: boolean;
  /** The client's argv after the executable, for the report's method notes. */
  clientArgs: string[];
}

export interface Iperf3Options {
  /** Test length in whole seconds (iperf3 -t takes an integer; 0 would mean "forever"). */
  seconds: number;
  /** -Z: the client sends with sendfile(). */
  zerocopy: boolean;
  /** Pin the sender (client) to `tx` and the receiver (server) to `rx`, like pageflip's runs. */
  cpus?: { rx: number; tx: number } | null;
  /** Server port inside the namespace; default 5201. */
  port?: number;
  signal?: AbortSignal;
  /** Extra time beyond `seconds` before both processes are killed; default 10. */
  graceSeconds?: number;
  /** Opened just before and closed just after the CPU window around the client (perf counting). */
  window?: PerfWindow;
}

type Iperf3ErrorCode = 'ERR_PAGEFLIP_IPERF3' | 'ERR_PAGEFLIP_IPERF3_MISSING' | 'ERR_PAGEFLIP_IPERF3_TIMEOUT';

function iperf3Error(message: string, code: Iperf3ErrorCode = 'ERR_PAGEFLIP_IPERF3') {
  return pageflipError(code, message);
}

/** Absolute path of iperf3 on PATH, or undefined. Not cached: PATH may change. */
export function iperf3Path(): string | undefined {
  return findExecutable('iperf3');
}

/** The one-line hint shown when iperf3 is absent. */
export function iperf3Missing(): string {
  return 'iperf3 not found: apt-get install iperf3 (Debian/Ubuntu) to add reference rows';
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks a dotted path, failing with the path that is missing or of the wrong type. */
function field(root: Json, path: string, type: 'object'): Json;
function field(root: Json, path: string, type: 'number'): number;
function field(root: Json, path: string, type: 'string'): string;
function field(root: Json, path: string, type: 'object' | 'number' | 'string'): unknown {
  let value: unknown = root;
  for (const key of path.split('.')) value = isObject(value) ? value[key] : undefined;
  const ok = type === 'object' ? isObject(value) : type === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === 'string';
  if (!ok) {
    const found = value === undefined ? 'missing' : `${JSON.stringify(value)}`.slice(0, 40);
    throw iperf3Error(`iperf3 -J output is incomplete: ${path} should be a ${type} but is ${found} (was the client killed before its final report?)`);
  }
  return value;
}

function optionalNumber(root: Json, path: string): number | null {
  let value: unknown = root;
  for (const key of path.split('.')) value = isObject(value) ? value[key] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * Parses an iperf3 client's `-J` output. An `error` in it (iperf3 3.12 still exits 0 then),
 * non-JSON, truncated JSON or a report without the end sums all throw an Error with
 * code 'ERR_PAGEFLIP_IPERF3' that says which.
 */
export function parseIperf3Json(text: string): Iperf3Result {
  if (typeof text !== 'string') throw pageflipTypeError('parseIperf3Json expects the text iperf3 -J printed');
  if (text.trim() === '') throw iperf3Error('iperf3 printed no JSON (did it start? run it with -J)');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    const start = JSON.stringify(text.trim().slice(0, 60));
    throw Object.assign(iperf3Error(`iperf3 output is not valid JSON (truncated, or not -J output?): ${(error as Error).message}; it starts ${start}`), { cause: error });
  }
  if (!isObject(doc)) throw iperf3Error('iperf3 -J output is not a JSON object');
  if (doc.error !== undefined) throw iperf3Error(`iperf3 failed: ${String(doc.error)}`);

  const testStart = field(doc, 'start.test_start', 'object');
  const protocol = field(testStart, 'protocol', 'string');
  if (protocol !== 'TCP') throw iperf3Error(`iperf3 ran a ${protocol} test; only TCP results are supported`);
  const versionText = field(doc, 'start.version', 'string');

  const bytes = field(doc, 'end.sum_received.bytes', 'number');
  const seconds = field(doc, 'end.sum_received.seconds', 'number');
  if (bytes < 0 || seconds <= 0) throw iperf3Error(`iperf3 reports ${bytes} bytes received in ${seconds} s: no usable measurement`);
  const zerocopy = testStart.zerocopy;

  const hostCpu = optionalNumber(doc, 'end.cpu_utilization_percent.host_total');
  const remoteCpu = optionalNumber(doc, 'end.cpu_utilization_percent.remote_total');
  const end = field(doc, 'end', 'object');
  const sender = optionalString(end.sender_tcp_congestion);
  const receiver = optionalString(end.receiver_tcp_congestion);

  return {
    version: /^iperf\s+(\S+)/.exec(versionText)?.[1] ?? versionText,
    systemInfo: optionalString(field(doc, 'start', 'object').system_info),
    streams: field(testStart, 'num_streams', 'number'),
    reverse: optionalNumber(testStart, 'reverse') === 1,
    zerocopy: typeof zerocopy === 'boolean' || typeof zerocopy === 'number' ? Boolean(zerocopy) : null,
    bytes,
    seconds,
    bitsPerSecond: (bytes * 8) / seconds,
    reportedBitsPerSecond: field(doc, 'end.sum_received.bits_per_second', 'number'),
    senderBytes: field(doc, 'end.sum_sent.bytes', 'number'),
    senderSeconds: field(doc, 'end.sum_sent.seconds', 'number'),
    retransmits: optionalNumber(doc, 'end.sum_sent.retransmits'),
    processCpu: hostCpu !== null && remoteCpu !== null ? { sender: hostCpu, receiver: remoteCpu } : null,
    congestion: sender !== null && receiver !== null ? { sender, receiver } : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Running

const HOST = '127.0.0.1';
const DEFAULT_PORT = 5201;
const POLL_MS = 5;
/** After the client exits, a one-off server normally exits at once; past this we just kill it. */
const SERVER_EXIT_GRACE_MS = 2000;
/** Server output is only kept for error messages. */
const KEEP_SERVER_OUTPUT = 4096;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error: Error | null; // spawn failure
}

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
  done: () => boolean;
}

function watch(proc: ChildProcess, keep: number = Infinity): Child {
  const out = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = proc[name];
    stream?.setEncoding('utf8');
    // Always drained, so a chatty child never blocks on a full pipe.
    stream?.on('data', (chunk: string) => {
      out[name] = (out[name] + chunk).slice(-keep);
    });
  }
  let finished = false;
  const exited = new Promise<Exit>((resolve) => {
    proc.on('error', (error) => {
      // A spawn failure emits no 'exit'; a kill failure (already gone) changes nothing.
      if (proc.pid === undefined) {
        finished = true;
        resolve({ code: null, signal: null, error });
      }
    });
    // 'close' rather than 'exit': the output is complete and the child has been reaped.
    proc.once('close', (code, signal) => {
      finished = true;
      resolve({ code, signal, error: null });
    });
  });
  return { proc, stdout: () => out.stdout, stderr: () => out.stderr, exited, done: () => finished };
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
}

function describeExit(exit: Exit): string {
  if (exit.error) return `could not start: ${exit.error.message}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
}

/**
 * True once the server process holds a listening TCP socket on `port`. Read from the server's own
 * /proc view (its namespace), matching socket inodes to its descriptors: probing with a connect()
 * would be taken by `iperf3 -s -1` as its one test, and another listener on the port must not count.
 */
function serverListens(pid: number, port: number): boolean {
  let table: string;
  try {
    table = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return false; // gone or not yet visible
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // cols: sl local_address rem_address st ... inode (index 9); 0A = LISTEN
    if (cols.length > 9 && cols[3] === '0A' && cols[1].endsWith(`:${portHex}`)) inodes.add(cols[9]);
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '');
    } catch {
      return false;
    }
  });
}

function checkOptions(options: Iperf3Options): { port: number; graceSeconds: number } {
  if (!isObject(options)) throw pageflipTypeError('runIperf3 options must be an object');
  const { seconds, zerocopy, cpus, port = DEFAULT_PORT, graceSeconds = 10 } = options;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 86400)
    throw pageflipRangeError(`iperf3 seconds must be a whole number from 1 to 86400 (iperf3 -t takes an integer), got ${String(seconds)}`);
  if (typeof zerocopy !== 'boolean') throw pageflipTypeError(`iperf3 zerocopy must be a boolean, got ${typeof zerocopy}`);
  if (cpus !== undefined && cpus !== null) {
    if (!isObject(cpus)) throw pageflipTypeError('iperf3 cpus must be { rx, tx } or null');
    for (const key of ['rx', 'tx'] as const) {
      const cpu = cpus[key];
      if (typeof cpu !== 'number' || !Number.isInteger(cpu) || cpu < 0) throw pageflipRangeError(`iperf3 cpus.${key} must be a CPU number >= 0, got ${String(cpu)}`);
    }
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw pageflipRangeError(`iperf3 port must be 1-65535, got ${String(port)}`);
  if (typeof graceSeconds !== 'number' || !Number.isFinite(graceSeconds) || graceSeconds < 0)
    throw pageflipRangeError(`iperf3 graceSeconds must be >= 0, got ${String(graceSeconds)}`);
  return { port, graceSeconds };
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('the iperf3 run was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * Runs `iperf3 -s -1` and `iperf3 -c ... -J` inside `network` (client sends, server receives) and
 * measures system-wide CPU from /proc/stat around the client. Both processes are killed and reaped
 * on every path: success, iperf3 error, timeout (seconds + graceSeconds) and abort.
 * Rejects with code ERR_PAGEFLIP_IPERF3_MISSING, ERR_PAGEFLIP_IPERF3 or ERR_PAGEFLIP_IPERF3_TIMEOUT,
 * or with an AbortError (code ABORT_ERR) when `signal` fires.
 */
export async function runIperf3(network: PrivateNetwork, options: Iperf3Options): Promise<Iperf3Run> {
  const { port, graceSeconds } = checkOptions(options);
  const { seconds, zerocopy, cpus, signal } = options;
  const path = iperf3Path();
  if (path === undefined) throw iperf3Error(iperf3Missing(), 'ERR_PAGEFLIP_IPERF3_MISSING');
  if (signal?.aborted) throw abortError(signal);

  const children: Child[] = [];
  const limitMs = (seconds + graceSeconds) * 1000;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // Settles (rejects) only when the run must stop early; every wait below races against it.
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(iperf3Error(`iperf3 did not finish within ${seconds} + ${graceSeconds} s; both processes were killed`, 'ERR_PAGEFLIP_IPERF3_TIMEOUT')), limitMs);
    if (signal) {
      onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  stopped.catch(() => {}); // observed through the races below
  const until = <T>(promise: Promise<T>) => Promise.race([promise, stopped]);

  try {
    const server = watch(network.spawn(path, ['-s', '-1', '-p', String(port), '-B', HOST], { stdio: ['ignore', 'pipe', 'pipe'] }), KEEP_SERVER_OUTPUT);
    children.push(server);
    for (;;) {
      if (server.done()) {
        const exit = await server.exited;
        throw iperf3Error(`iperf3 server ${describeExit(exit)} before listening on ${HOST}:${port}: ${lastLine(server.stderr() || server.stdout()) || 'no output'}`);
      }
      if (server.proc.pid !== undefined && serverListens(server.proc.pid, port)) break;
      await until(new Promise((resolve) => setTimeout(resolve, POLL_MS)));
    }

    const clientArgs = ['-c', HOST, '-p', String(port), '-t', String(seconds), '-J'];
    if (zerocopy) clientArgs.push('-Z');
    // -A n,m: the client (sender) on n, and it tells the server (receiver) to pin itself to m.
    if (cpus) clientArgs.push('-A', `${cpus.tx},${cpus.rx}`);

    // The CPU window spans client start-up, the control and data connection set-up and the
    // result exchange besides the test itself: tens of milliseconds against multi-second runs.
    await until(options.window?.open() ?? Promise.resolve());
    const before = readCpu();
    const started = performance.now();
    const client = watch(network.spawn(path, clientArgs, { stdio: ['ignore', 'pipe', 'pipe'] }));
    children.push(client);
    const exit = await until(client.exited);
    const after = readCpu();
    await until(options.window?.close() ?? Promise.resolve());
    const wallSeconds = (performance.now() - started) / 1000;

    let result: Iperf3Result;
    try {
      result = parseIperf3Json(client.stdout());
    } catch (error) {
      // A failing client says why on stderr (and may print its usage text on stdout): lead with that.
      const detail = lastLine(client.stderr());
      const message =
        exit.code === 0 && !detail
          ? (error as Error).message
          : `iperf3 client ${describeExit(exit)}: ${detail || 'no output on stderr'} (no usable -J report: ${(error as Error).message})`;
      throw Object.assign(iperf3Error(message), { cause: error });
    }
    if (exit.code !== 0) throw iperf3Error(`iperf3 client ${describeExit(exit)} despite a complete report: ${lastLine(client.stderr()) || 'no output'}`);

    // Let the one-off server finish on its own (the finally block kills it if it lingers).
    await until(Promise.race([server.exited, new Promise((resolve) => setTimeout(resolve, SERVER_EXIT_GRACE_MS).unref())]));

    return { result, cpu: cpuUsage(before, after, result.bytes, result.seconds), wallSeconds, zerocopy, clientArgs };
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    for (const child of children) if (!child.done()) child.proc.kill('SIGKILL');
    // Wait for the reaping too, so no iperf3 (not even a zombie) outlives the call.
    await Promise.all(children.map((child) => child.exited));
  }
}

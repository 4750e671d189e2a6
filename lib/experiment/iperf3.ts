// iperf3 as a reference row for `pageflip compare`: the same loopback, MTU, CPU pinning and
// system-wide CPU window as pageflip's own runs, so its efficiency is comparable. iperf3's
// default direction (client sends, server receives) matches pageflip's receive-side focus.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
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

type Iperf3ErrorCode = 'ERR_PAGEFLIP_IPERF3' | 'ERR_PAGEFLIP_IPERF3_MISSING' | 'ERR_PAGEFLIP_IPERF3_TIMEOUT' | typeof IPERF3_SHORT;

/** A -n run whose bytes were through before the server's own warm-up timer ran out: too short to measure. */
export const IPERF3_SHORT = 'ERR_PAGEFLIP_IPERF3_SHORT';
/** The share of -n bytes the server must count for a counted run to be a measurement of them. */
const COUNTED_SHARE = 0.9;

function iperf3Error(message: string, code: Iperf3ErrorCode = 'ERR_PAGEFLIP_IPERF3') {
  return pageflipError(code, message);
}

/** Absolute path of iperf3 on PATH, or undefined. Not cached: PATH may change. */
export function iperf3Path(): string | undefined {
  return findExecutable('iperf3');
}

/** Why iperf3 rows cannot run on this host (the server side needs stdbuf too), or undefined when they can. */
export function iperf3Unavailable(): string | undefined {
  if (!iperf3Path()) return iperf3Missing();
  if (!findExecutable('stdbuf')) return STDBUF_MISSING;
  return undefined;
}

const STDBUF_MISSING = "stdbuf (coreutils) not found: iperf3 rows need it to read the iperf3 server's lines as they happen (the CPU window opens and closes on them)";

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
/** The longest -O warm-up and the longest -t either end accepts. */
export const MAX_IPERF3_OMIT = 60;
export const MAX_IPERF3_SECONDS = 86400;
/**
 * The line a verbose one-off server prints when its -O warm-up ends and it resets its counters
 * (iperf3's report_omit_done): the data window opens there, and closes at its next line, which it
 * prints when the client's TEST_END arrives (the data phase is over).
 */
const OMIT_DONE = 'Finished omit period, starting real test';

/** How long iperf3 runs: a -O warm-up on the measured connection, then -t seconds or -n bytes (whole numbers: iperf3 3.12 parses them with atoi). */
export interface Iperf3Timing {
  omit: number;
  seconds: number | null;
  bytes: number | null;
}

/**
 * The client's argv after the executable: the one place it is built, for local runs and for
 * `pageflip serve` (which builds it itself from checked numbers, never from text off the wire).
 * -i 0: no interval reports, so the -J report stays a few KB whatever the length.
 */
export function iperf3ClientArgs(host: string, port: number, timing: Iperf3Timing, options: { zerocopy: boolean; cpu: number | null; mss?: number | null }): string[] {
  const length = timing.bytes !== null ? ['-n', String(timing.bytes)] : ['-t', String(timing.seconds)];
  const args = ['-c', host, '-p', String(port), ...length, '-O', String(timing.omit), '-i', '0', '-J'];
  if (options.zerocopy) args.push('-Z');
  if (options.cpu !== null) args.push('-A', String(options.cpu));
  if (options.mss) args.push('-M', String(options.mss));
  return args;
}

/** One iperf3 run's figures: the client's report, and the receiving host's CPU over the data window. */
export interface Iperf3Run {
  result: Iperf3Result;
  /** /proc/stat deltas over the data window (see OMIT_DONE): after the warm-up, until the data phase ends. */
  cpu: CpuUsage;
  /** The /proc/stat texts at both ends of that window (for per-side CPU). */
  stat: { before: string; after: string };
  /** Wall time of that window (compare with result.seconds, iperf3's own). */
  wallSeconds: number;
  /** Whether -Z was passed (iperf3 3.12's JSON does not record it). */
  zerocopy: boolean;
  /** The client's argv after the executable, for the report's method notes. */
  clientArgs: string[];
}

export interface Iperf3Options {
  /** Test length in whole seconds (iperf3 -t takes an integer; 0 would mean "forever"); or `bytes`. */
  seconds?: number | null;
  /** -n: bytes to send after the warm-up, instead of `seconds`. */
  bytes?: number | null;
  /** -O: whole seconds of warm-up on the measured connection before the counters (and the CPU window) start; default 1. */
  omit?: number;
  /** -Z: the client sends with sendfile(). */
  zerocopy: boolean;
  /** Pin the sender (client) to `tx` and the receiver (server) to `rx`, like pageflip's runs. */
  cpus?: { rx: number; tx: number } | null;
  /** Server port inside the namespace; default 5201. */
  port?: number;
  signal?: AbortSignal;
  /** Extra time beyond the warm-up and `seconds` before both processes are killed; default 10. */
  graceSeconds?: number;
  /** Opened at the data window's start and closed at its end (perf counting). */
  window?: PerfWindow;
}

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

function watch(proc: ChildProcess, keep: number = Infinity, onLine?: (line: string) => void): Child {
  const out = { stdout: '', stderr: '' };
  let partial = '';
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = proc[name];
    stream?.setEncoding('utf8');
    // Always drained, so a chatty child never blocks on a full pipe.
    stream?.on('data', (chunk: string) => {
      out[name] = (out[name] + chunk).slice(-keep);
      if (name !== 'stdout' || !onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
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
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // gone, not yet visible, or no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local_address rem_address st ... inode (index 9); 0A = LISTEN
      if (cols.length > 9 && cols[3] === '0A' && cols[1].endsWith(`:${portHex}`)) inodes.add(cols[9]);
    }
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

const wholeNumber = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/** Checks `options` and resolves the run's timing (exactly one of seconds and bytes). */
export function checkIperf3Options(options: Iperf3Options): { port: number; graceSeconds: number; timing: Iperf3Timing } {
  if (!isObject(options)) throw pageflipTypeError('runIperf3 options must be an object');
  const { seconds = null, bytes = null, omit = 1, zerocopy, cpus, port = DEFAULT_PORT, graceSeconds = 10 } = options;
  if ((seconds === null) === (bytes === null)) throw pageflipRangeError('iperf3 needs exactly one of seconds (-t) and bytes (-n)');
  if (seconds !== null && !wholeNumber(seconds, 1, MAX_IPERF3_SECONDS))
    throw pageflipRangeError(`iperf3 seconds must be a whole number from 1 to ${MAX_IPERF3_SECONDS} (iperf3 -t takes an integer), got ${String(seconds)}`);
  if (bytes !== null && !wholeNumber(bytes, 1, Number.MAX_SAFE_INTEGER)) throw pageflipRangeError(`iperf3 bytes must be a whole number >= 1, got ${String(bytes)}`);
  // At least 1: the data window opens at the end of the warm-up (OMIT_DONE).
  if (!wholeNumber(omit, 1, MAX_IPERF3_OMIT)) throw pageflipRangeError(`iperf3 omit must be a whole number from 1 to ${MAX_IPERF3_OMIT} (iperf3 -O takes an integer), got ${String(omit)}`);
  if (typeof zerocopy !== 'boolean') throw pageflipTypeError(`iperf3 zerocopy must be a boolean, got ${typeof zerocopy}`);
  if (cpus !== undefined && cpus !== null) {
    if (!isObject(cpus)) throw pageflipTypeError('iperf3 cpus must be { rx, tx } or null');
    for (const key of ['rx', 'tx'] as const) {
      const cpu = cpus[key];
      if (typeof cpu !== 'number' || !Number.isInteger(cpu) || cpu < 0) throw pageflipRangeError(`iperf3 cpus.${key} must be a CPU number >= 0, got ${String(cpu)}`);
    }
  }
  if (!wholeNumber(port, 1, 65535)) throw pageflipRangeError(`iperf3 port must be 1-65535, got ${String(port)}`);
  if (typeof graceSeconds !== 'number' || !Number.isFinite(graceSeconds) || graceSeconds < 0)
    throw pageflipRangeError(`iperf3 graceSeconds must be >= 0, got ${String(graceSeconds)}`);
  return { port, graceSeconds, timing: { omit, seconds, bytes } };
}

export function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('the iperf3 run was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

type Spawn = (command: string, args: string[], options: SpawnOptions) => ChildProcess;

/** What runs the client: here (in the namespace), or on the peer host, which returns its -J text. */
export type Iperf3Client = (args: string[], until: <T>(promise: Promise<T>) => Promise<T>) => Promise<{ json: string; failure: string | null }>;

/**
 * Runs a one-off iperf3 server where `spawnServer` starts processes and a client through `client`
 * (client sends, server receives), with the /proc/stat window over the data phase as the server
 * sees it. The server process is killed and reaped on every path: success, iperf3 error, timeout
 * and abort. Rejects with code ERR_PAGEFLIP_IPERF3, _MISSING or _TIMEOUT, or an AbortError.
 */
export async function measureIperf3(
  spawnServer: Spawn,
  host: string,
  options: Iperf3Options,
  client: (timing: Iperf3Timing, port: number) => Iperf3Client,
): Promise<Iperf3Run & { timing: Iperf3Timing }> {
  const { port, graceSeconds, timing } = checkIperf3Options(options);
  const { zerocopy, cpus, signal } = options;
  const path = iperf3Path();
  if (path === undefined) throw iperf3Error(iperf3Missing(), 'ERR_PAGEFLIP_IPERF3_MISSING');
  // Line-buffered stdout: iperf3 writes its lines through stdio, which a pipe would hold until exit.
  const stdbuf = findExecutable('stdbuf');
  if (stdbuf === undefined) throw iperf3Error(STDBUF_MISSING, 'ERR_PAGEFLIP_IPERF3_MISSING');
  if (signal?.aborted) throw abortError(signal);

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  // Counted runs (-n) get a second per 10 MB (80 Mbit/s, slower than any path worth measuring).
  const length = timing.seconds ?? Math.ceil((timing.bytes ?? 0) / 1e7);
  // Settles (rejects) only when the run must stop early; every wait below races against it.
  const stopped = new Promise<never>((_, reject) => {
    const text = `${timing.omit} + ${length} + ${graceSeconds} s`;
    timer = setTimeout(() => reject(iperf3Error(`iperf3 did not finish within ${text}; it was killed`, 'ERR_PAGEFLIP_IPERF3_TIMEOUT')), (timing.omit + length + graceSeconds) * 1000);
    if (signal) {
      onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  stopped.catch(() => {}); // observed through the races below
  const until = <T>(promise: Promise<T>) => Promise.race([promise, stopped]);

  // The data window, opened and closed by the server's own lines as they arrive.
  let opened: { stat: string; at: number } | undefined;
  let closed: { stat: string; at: number } | undefined;
  let late = false;
  let perf = Promise.resolve();
  const onLine = (line: string) => {
    if (closed) return;
    if (!opened) {
      // Each end runs its own warm-up timer: a short -n run can be over before the server's ends.
      if (line.startsWith('Test Complete')) late = true;
      if (line.trim() !== OMIT_DONE || late) return;
      opened = { stat: readFileSync('/proc/stat', 'utf8'), at: performance.now() };
      if (options.window) perf = perf.then(() => options.window!.open());
    } else {
      closed = { stat: readFileSync('/proc/stat', 'utf8'), at: performance.now() };
      if (options.window) perf = perf.then(() => options.window!.close());
    }
  };
  const serverArgs = ['-oL', path, '-s', '-1', '-p', String(port), '-B', host, '-V', '-i', '0', ...(cpus ? ['-A', String(cpus.rx)] : [])];
  let server: Child | undefined;
  try {
    server = watch(spawnServer(stdbuf, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] }), KEEP_SERVER_OUTPUT, onLine);
    for (;;) {
      if (server.done()) {
        const exit = await server.exited;
        throw iperf3Error(`iperf3 server ${describeExit(exit)} before listening on ${host}:${port}: ${lastLine(server.stderr() || server.stdout()) || 'no output'}`);
      }
      if (server.proc.pid !== undefined && serverListens(server.proc.pid, port)) break;
      await until(new Promise((resolve) => setTimeout(resolve, POLL_MS)));
    }

    const clientArgs = iperf3ClientArgs(host, port, timing, { zerocopy, cpu: cpus ? cpus.tx : null });
    const { json, failure } = await client(timing, port)(clientArgs, until);
    let result: Iperf3Result;
    try {
      result = parseIperf3Json(json);
    } catch (error) {
      throw Object.assign(iperf3Error(failure ? `${failure} (no usable -J report: ${(error as Error).message})` : (error as Error).message), { cause: error });
    }
    if (failure) throw iperf3Error(`${failure} despite a complete report`);
    // The server's last lines come as it exits; the finally block kills it if it lingers.
    await until(Promise.race([server.exited, new Promise((resolve) => setTimeout(resolve, SERVER_EXIT_GRACE_MS).unref())]));
    await until(perf);
    const short = `the -n ${timing.bytes} byte run was too short for iperf3: its server`;
    if (timing.bytes !== null && late) throw iperf3Error(`${short} ended its ${timing.omit} s warm-up after the data had arrived (use a larger --bytes)`, IPERF3_SHORT);
    if (timing.bytes !== null && result.bytes < COUNTED_SHARE * timing.bytes)
      throw iperf3Error(`${short} counted ${result.bytes} of them after its warm-up ended (use a larger --bytes)`, IPERF3_SHORT);
    if (!opened || !closed)
      throw iperf3Error(`the iperf3 server never said ${opened ? 'that the data phase ended' : `'${OMIT_DONE}'`}, so the run has no CPU window: ${lastLine(server.stdout()) || 'no output'}`);
    const [before, after] = [readCpu(opened.stat), readCpu(closed.stat)];
    return {
      result,
      cpu: cpuUsage(before, after, result.bytes, result.seconds),
      stat: { before: opened.stat, after: closed.stat },
      wallSeconds: (closed.at - opened.at) / 1000,
      zerocopy,
      clientArgs,
      timing,
    };
  } finally {
    clearTimeout(timer);
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    if (server && !server.done()) server.proc.kill('SIGKILL');
    // Wait for the reaping too, so no iperf3 (not even a zombie) outlives the call.
    await server?.exited;
  }
}

/**
 * Runs an iperf3 client where `spawn` starts processes, killed and reaped on every path (`until`
 * rejecting included); its -J text, and why it failed when it did.
 */
export async function runIperf3Client(spawn: Spawn, args: string[], until: <T>(promise: Promise<T>) => Promise<T>): Promise<{ json: string; failure: string | null }> {
  const path = iperf3Path();
  if (path === undefined) throw iperf3Error(iperf3Missing(), 'ERR_PAGEFLIP_IPERF3_MISSING');
  const client = watch(spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    const exit = await until(client.exited);
    // A failing client says why on stderr (and may print its usage text on stdout): lead with that.
    const detail = lastLine(client.stderr());
    return { json: client.stdout(), failure: exit.code === 0 && !detail ? null : `iperf3 client ${describeExit(exit)}: ${detail || 'no output on stderr'}` };
  } finally {
    if (!client.done()) client.proc.kill('SIGKILL');
    await client.exited;
  }
}

/**
 * Runs `iperf3 -s -1` and `iperf3 -c ... -J` inside `network` (client sends, server receives): a
 * -O warm-up on the measured connection, then the measured part, with system-wide CPU from
 * /proc/stat over the data window (see measureIperf3).
 */
export function runIperf3(network: PrivateNetwork, options: Iperf3Options): Promise<Iperf3Run & { timing: Iperf3Timing }> {
  const spawn: Spawn = (command, args, opts) => network.spawn(command, args, opts);
  return measureIperf3(spawn, HOST, options, () => (args, until) => runIperf3Client(spawn, args, until));
}

// `pageflip serve`: the sending host of a two-host compare (the protocol is in control.ts). Safe
// to leave running: only holders of the token drive it, one compare at a time, within the limits
// it announces; a stranger's connection costs at most a line's worth of memory and the handshake
// timeout, and nothing a client sends (or fails to send) keeps the next client waiting longer
// than the timeouts.
import { spawn } from 'node:child_process';
import { createServer, isIP, type Socket } from 'node:net';
import { capabilities } from '../capabilities.js';
import type { SendLoopStats } from '../loop.js';
import { MAX_CHUNK_BYTES, MAX_MTU, MIN_MTU, SEND_MODES, type SendMode } from '../vocabulary.js';
import { adopt, type Connection } from '../socket.js';
import { boolean, ControlChannel, describe, field, integer, newNonce, number, oneOf, orNull, peerError, proofMatches, PROTOCOL, refuse, text, type Message } from './control.js';
import { cpuUsage, readCpu } from './cpu.js';
import { hostInfo, pageflipVersion } from './host.js';
import { iperf3ClientArgs, iperf3Path, MAX_IPERF3_OMIT, MAX_IPERF3_SECONDS, parseIperf3Json, runIperf3Client, type Iperf3Timing } from './iperf3.js';
import { startSender, threadCpu, type RunSettings } from './run-point.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** The shared secret clients prove they hold; null serves anyone (the CLI allows that on loopback, or with --no-auth). */
  token: string | null;
  /** Wall-clock seconds one compare may hold this host; its plan's run time must fit. */
  maxSeconds: number;
  /** Bytes the counted (--bytes) runs of one compare may ask for in all. */
  maxBytes: number;
  /** Seconds a client has from connecting to a valid hello. */
  handshakeSeconds: number;
  /** Seconds of silence after which a client is taken for dead. */
  idleSeconds: number;
  /** Where data ports listen, and the only address they take a connection from (default: the
   * control connection's local and remote addresses; the local sender process's socketpair has none). */
  dataAddress?: string;
}

export const SERVE_DEFAULTS = {
  // The full default matrix asks for 310.5 s (135 senders of 2 s, each after a 0.3 s warm-up: 99
  // one-flow runs and 18 two-flow runs), and 54 s more for its 18 iperf3 clients (1 s warm-up and
  // 2 s each): 900 s leaves room for per-run set-up, --perf and a few more
  // repeats; 160 GiB is those 135 senders with --bytes 1g.
  maxSeconds: 900,
  maxBytes: 160 * 2 ** 30,
  handshakeSeconds: 10,
  idleSeconds: 30,
} as const;

/** Handshakes in progress at once; more connections are turned away until one ends. */
const MAX_HANDSHAKES = 8;
const MAX_RUNS = 100_000;
/** Slack when drawing a run's seconds from the plan (sums of decimal seconds are not exact). */
const EPSILON = 1e-6;

type Log = (message: string) => void;

interface Budget {
  runs: number;
  seconds: number;
  bytes: number;
}

function validHello(message: Message, nonce: string, token: string | null): void {
  if (message.type !== 'hello') throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `expected 'hello', got ${describe(message.type)}`);
  if (message.protocol !== PROTOCOL) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `client speaks ${describe(message.protocol)}, this serve speaks ${PROTOCOL}: use the same pageflip version on both hosts`);
  field(message, 'version', text(/^[\x21-\x7e]{1,64}$/, 'a version string'));
  const host = message.host as Message | undefined;
  if (typeof host !== 'object' || host === null) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `hello.host must be an object, got ${describe(host)}`);
  field(host, 'hostname', text(/^[\x21-\x7e]{1,255}$/, 'a printable host name'), 'hello.host');
  if (token === null) return;
  if (message.proof === undefined) throw peerError('ERR_PAGEFLIP_PEER_AUTH', 'this serve requires a token: pass compare --token, or set PAGEFLIP_TOKEN');
  const claimed = field<string>(message, 'proof', text(/^[0-9a-f]{64}$/, 'a hex HMAC-SHA256'));
  if (!proofMatches(token, nonce, claimed)) throw peerError('ERR_PAGEFLIP_PEER_AUTH', 'wrong token');
}

function validPlan(message: Message, options: ServeOptions): Budget {
  if (message.type !== 'plan') throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `expected 'plan', got ${describe(message.type)}`);
  const budget: Budget = {
    runs: field(message, 'runs', integer(1, MAX_RUNS)),
    seconds: field(message, 'seconds', number(0, Number.MAX_VALUE)),
    bytes: field(message, 'bytes', integer(0, Number.MAX_SAFE_INTEGER)),
  };
  if (budget.seconds > options.maxSeconds)
    throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `the compare asks for ${+budget.seconds.toFixed(3)} s of runs; this serve allows ${options.maxSeconds} s per compare (--max-duration)`);
  if (budget.bytes > options.maxBytes)
    throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `the compare asks for ${budget.bytes} bytes; this serve allows ${options.maxBytes} bytes per compare (--max-bytes)`);
  return budget;
}

/** The run an 'open' asks for, drawn from what is left of the plan. */
function validRun(message: Message, budget: Budget): { id: number; sender: SendMode; settings: RunSettings } {
  if (message.type !== 'open') throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `expected 'open', got ${describe(message.type)}`);
  const id = field<number>(message, 'id', integer(1, MAX_RUNS));
  const sender = field<SendMode>(message, 'sender', oneOf(...SEND_MODES));
  const seconds = field<number | null>(message, 'seconds', orNull(number(Number.MIN_VALUE, Number.MAX_VALUE)));
  const bytes = field<number | null>(message, 'bytes', orNull(integer(1, Number.MAX_SAFE_INTEGER)));
  if ((seconds === null) === (bytes === null)) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `open: exactly one of seconds and bytes must be set, got ${describe(seconds)} and ${describe(bytes)}`);
  const chunkBytes = field<number>(message, 'chunkBytes', integer(1, MAX_CHUNK_BYTES));
  const cpus = message.cpus === null ? null : (message.cpus as Message | undefined);
  if (cpus !== null && (typeof cpus !== 'object' || Array.isArray(cpus))) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `open.cpus must be {rx, tx} or null, got ${describe(cpus)}`);
  const pinned = cpus && {
    rx: field<number>(cpus, 'rx', integer(0, 65535), 'open.cpus'),
    tx: field<number>(cpus, 'tx', integer(0, capabilities().cpus - 1), 'open.cpus'),
  };
  const seed = field<number>(message, 'seed', integer(0, 2 ** 32 - 1));
  if (budget.runs < 1) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', 'run beyond the plan: all its runs are done');
  if (seconds !== null && seconds > budget.seconds + EPSILON)
    throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `run ${id} asks for ${seconds} s; the plan has ${+budget.seconds.toFixed(3)} s left`);
  if (bytes !== null && bytes > budget.bytes) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `run ${id} asks for ${bytes} bytes; the plan has ${budget.bytes} left`);
  budget.runs -= 1;
  budget.seconds -= seconds ?? 0;
  budget.bytes -= bytes ?? 0;
  return { id, sender, settings: { seconds, bytes, chunkBytes, cpus: pinned, perf: false, seed } };
}

/** The fields an iperf3 request may carry: nothing else (no command, no arguments) is taken. */
const IPERF3_FIELDS = new Set(['type', 'id', 'port', 'mtu', 'omit', 'seconds', 'bytes', 'zerocopy', 'cpu']);
/** Seconds past its warm-up and -t a timed iperf3 client may take before it is killed. */
const IPERF3_GRACE_SECONDS = 10;

interface Iperf3Request {
  id: number;
  port: number;
  timing: Iperf3Timing;
  zerocopy: boolean;
  cpu: number | null;
  mss: number;
}

/** The iperf3 client an 'iperf3' message asks for, checked field by field and drawn from what is left of the plan. */
function validIperf3(message: Message, budget: Budget): Iperf3Request {
  const extra = Object.keys(message).filter((key) => !IPERF3_FIELDS.has(key));
  if (extra.length) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `iperf3.${extra[0]} is not a field of an iperf3 request: serve builds iperf3's arguments itself`);
  const id = field<number>(message, 'id', integer(1, MAX_RUNS));
  // The client's own server: an unprivileged port of the control connection's far end (the host is never taken from the message).
  const port = field<number>(message, 'port', integer(1024, 65535));
  const mtu = field<number>(message, 'mtu', integer(MIN_MTU, MAX_MTU));
  const omit = field<number>(message, 'omit', integer(1, MAX_IPERF3_OMIT));
  const seconds = field<number | null>(message, 'seconds', orNull(integer(1, MAX_IPERF3_SECONDS)));
  const bytes = field<number | null>(message, 'bytes', orNull(integer(1, Number.MAX_SAFE_INTEGER)));
  if ((seconds === null) === (bytes === null)) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `iperf3: exactly one of seconds and bytes must be set, got ${describe(seconds)} and ${describe(bytes)}`);
  const zerocopy = field<boolean>(message, 'zerocopy', boolean);
  const cpu = field<number | null>(message, 'cpu', orNull(integer(0, capabilities().cpus - 1)));
  const wanted = omit + (seconds ?? 0);
  if (budget.runs < 1) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', 'iperf3 run beyond the plan: all its runs are done');
  if (wanted > budget.seconds + EPSILON) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `iperf3 run ${id} asks for ${wanted} s; the plan has ${+budget.seconds.toFixed(3)} s left`);
  if (bytes !== null && bytes > budget.bytes) throw peerError('ERR_PAGEFLIP_PEER_LIMIT', `iperf3 run ${id} asks for ${bytes} bytes; the plan has ${budget.bytes} left`);
  budget.runs -= 1;
  budget.seconds -= wanted;
  budget.bytes -= bytes ?? 0;
  return { id, port, timing: { omit, seconds, bytes }, zerocopy, cpu, mss: mtu - 40 };
}

/** Rejects with the channel's failure as soon as it has one (so no wait outlives the session). */
function unlessEnded<T>(channel: ControlChannel, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, channel.ended.then((error) => Promise.reject(error))]);
}

/** Listens on a fresh port for the run's data connection, and takes the first from the client's address. */
async function dataConnection(channel: ControlChannel, control: Socket, id: number, log: Log, address: string | undefined): Promise<Connection> {
  const server = createServer({ pauseOnConnect: true });
  let taken: Socket | undefined;
  const client = address ?? control.remoteAddress;
  const accepted = new Promise<Socket>((resolve) =>
    server.on('connection', (socket: Socket) => {
      if (!taken && socket.remoteAddress === client) return resolve((taken = socket));
      log(`run ${id}: data connection from ${socket.remoteAddress}:${socket.remotePort} refused (not the compare's)`);
      socket.destroy();
    }),
  );
  try {
    await unlessEnded(channel, new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, address ?? control.localAddress, resolve)));
    channel.send({ type: 'listening', id, port: (server.address() as { port: number }).port });
    return adopt(await unlessEnded(channel, accepted));
  } catch (error) {
    taken?.destroy(); // accepted just as the session ended
    throw error;
  } finally {
    server.close();
  }
}

/** One run: checked and routed as soon as its 'open' is read (before any await), so its 'finish' reaches it. */
async function run(channel: ControlChannel, control: Socket, open: Message, budget: Budget, options: ServeOptions, log: Log): Promise<void> {
  const { id, sender: mode, settings } = validRun(open, budget);
  channel.route(id);
  try {
    const connection = await dataConnection(channel, control, id, log, options.dataAddress);
    const before = readCpu();
    const sender = startSender(connection, mode, settings);
    let result: SendLoopStats | Error;
    try {
      channel.send({ type: 'sending', id });
      await channel.expect('finish', id);
      result = await sender.finish().catch((error: Error) => error);
    } finally {
      // Also when the session ends mid-run (a timeout, the peer gone, a bad message): never leave a sender running.
      sender.stop();
      await sender.settled;
      connection.close();
    }
    const after = readCpu();
    if (result instanceof Error) {
      channel.send({ type: 'error', id, message: result.message, code: (result as Error & { code?: string }).code });
      return;
    }
    channel.send({ type: 'finished', id, bytes: result.bytes, thread: threadCpu(result.cpuSeconds, result.bytes), cpu: cpuUsage(before, after, result.bytes, result.seconds) });
  } finally {
    channel.unroute(id);
  }
}

/**
 * One iperf3 client, sending to the compare host's own server: the iperf3 found on PATH, with
 * arguments built here, killed when the session ends or its time is up. This host's /proc/stat is
 * read around the client's life (iperf3 -J prints nothing before the end).
 */
async function iperf3Run(channel: ControlChannel, control: Socket, message: Message, budget: Budget, options: ServeOptions, log: Log): Promise<void> {
  const request = validIperf3(message, budget);
  const { id, timing } = request;
  channel.route(id);
  let timer: NodeJS.Timeout | undefined;
  try {
    const host = (options.dataAddress ?? control.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (!isIP(host)) throw peerError('ERR_PAGEFLIP_PEER', `iperf3 run ${id}: the control connection has no address to send to`);
    const args = iperf3ClientArgs(host, request.port, timing, { zerocopy: request.zerocopy, cpu: request.cpu, mss: request.mss });
    // Counted runs are bounded by the session (--max-duration), timed ones also by their length.
    const late = new Promise<never>((_, reject) => {
      if (timing.seconds !== null)
        timer = setTimeout(() => reject(peerError('ERR_PAGEFLIP_PEER_TIMEOUT', `iperf3 run ${id} did not finish within ${timing.omit} + ${timing.seconds} + ${IPERF3_GRACE_SECONDS} s`)), (timing.omit + timing.seconds + IPERF3_GRACE_SECONDS) * 1000);
    });
    late.catch(() => {});
    const until = <T>(promise: Promise<T>) => unlessEnded(channel, Promise.race([promise, late]));
    log(`iperf3 run ${id}: ${iperf3Path() ?? 'iperf3 (not found)'} ${args.join(' ')}`);
    const before = readCpu();
    const started = performance.now();
    let outcome: { json: string; failure: string | null } | Error = await runIperf3Client(spawn, args, until).catch((error: Error) => error);
    const after = readCpu();
    if (!(outcome instanceof Error)) {
      try {
        const result = parseIperf3Json(outcome.json);
        if (outcome.failure) throw peerError('ERR_PAGEFLIP_PEER', outcome.failure);
        channel.send({ type: 'iperf3-finished', id, report: outcome.json, cpu: cpuUsage(before, after, result.senderBytes, (performance.now() - started) / 1000) });
        return;
      } catch (error) {
        outcome = error as Error;
      }
    }
    // The session itself ending is not this run's failure to report.
    if (channel.failure) throw channel.failure;
    channel.send({ type: 'error', id, message: outcome.message, code: (outcome as Error & { code?: string }).code });
  } finally {
    clearTimeout(timer);
    channel.unroute(id);
  }
}

interface ServerState {
  handshakes: number;
  busy: boolean;
}

async function session(socket: Socket, options: ServeOptions, state: ServerState, log: Log): Promise<void> {
  const who = `${socket.remoteAddress}:${socket.remotePort}`;
  const channel = new ControlChannel(socket);
  let stage: 'handshake' | 'compare' | 'done' = 'handshake';
  state.handshakes += 1;
  const handshakeTimer = setTimeout(() => channel.fail(peerError('ERR_PAGEFLIP_PEER_TIMEOUT', `no valid hello within ${options.handshakeSeconds} s (--handshake-timeout)`)), options.handshakeSeconds * 1000);
  let deadline: NodeJS.Timeout | undefined;
  // Runs go on concurrently (a run with --flows N opens N before finishing any); the first run
  // that fails ends the session, as a failed run did when they went one at a time.
  const running = new Set<Promise<void>>();
  try {
    const nonce = newNonce();
    channel.send({ type: 'challenge', protocol: PROTOCOL, nonce, auth: options.token === null ? 'none' : 'hmac-sha256' });
    const hello = await channel.next();
    validHello(hello, nonce, options.token);
    if (state.busy) throw peerError('ERR_PAGEFLIP_PEER_BUSY', 'busy with another compare; try again when it is done');
    state.busy = true;
    state.handshakes -= 1;
    stage = 'compare';
    clearTimeout(handshakeTimer);
    socket.setTimeout(options.idleSeconds * 1000, () => channel.fail(peerError('ERR_PAGEFLIP_PEER_TIMEOUT', `no word from the client for ${options.idleSeconds} s (--idle-timeout)`)));
    channel.send({ type: 'hello', protocol: PROTOCOL, version: pageflipVersion(), host: hostInfo(), pid: process.pid, limits: { maxSeconds: options.maxSeconds, maxBytes: options.maxBytes, idleSeconds: options.idleSeconds }, iperf3: iperf3Path() !== undefined });
    log(`compare from ${who} (${(hello.host as { hostname: string }).hostname})`);
    const budget = validPlan(await channel.next(), options);
    deadline = setTimeout(() => channel.fail(peerError('ERR_PAGEFLIP_PEER_LIMIT', `this compare has run for ${options.maxSeconds} s (--max-duration)`)), options.maxSeconds * 1000);
    channel.send({ type: 'accepted' });
    let runFailure: Error | undefined;
    for (;;) {
      // The client closing (or dropping) the connection between runs is how a compare ends.
      const open = await channel.next().catch((error: Error & { code?: string }) => {
        if (error.code === 'ERR_PAGEFLIP_PEER' && !runFailure) return undefined;
        throw runFailure ?? error;
      });
      if (!open) break;
      const going: Promise<void> = (open.type === 'iperf3' ? iperf3Run : run)(channel, socket, open, budget, options, log).catch((error: Error) => {
        runFailure ??= error;
        channel.fail(error);
      });
      running.add(going);
      void going.finally(() => running.delete(going));
    }
    await Promise.all(running);
    if (runFailure) throw runFailure;
    stage = 'done';
    channel.close();
    log(`compare from ${who} finished`);
  } catch (error) {
    // What ended it first: a flood the channel saw may come before the message it broke off.
    const e = (channel.failure ?? error) as Error & { code?: string };
    // Its runs see the failure and stop their senders; only then is the client told (and, in the
    // finally, the next compare let in), as when runs went one at a time.
    channel.fail(e);
    await Promise.all(running);
    channel.refuse(e);
    log(`${stage === 'handshake' ? 'refused' : 'ended compare from'} ${who}: ${e.code ?? 'ERR_PAGEFLIP_PEER'} ${e.message}`);
  } finally {
    clearTimeout(handshakeTimer);
    clearTimeout(deadline);
    if (stage === 'handshake') state.handshakes -= 1;
    else state.busy = false;
  }
}

/** Serves the one compare on `socket` (the local sender process's socketpair), then returns. */
export function serveOne(socket: Socket, options: ServeOptions, log: Log): Promise<void> {
  return session(socket, options, { handshakes: 0, busy: false }, log);
}

/** Serves compares one at a time until the process is interrupted (or `signal` aborts). */
export async function serve(options: ServeOptions, log: Log, signal?: AbortSignal): Promise<void> {
  const state: ServerState = { handshakes: 0, busy: false };
  const server = createServer((socket) => {
    socket.on('error', () => {}); // the session reports how a connection ended
    if (state.handshakes >= MAX_HANDSHAKES) {
      const error = peerError('ERR_PAGEFLIP_PEER_BUSY', `${MAX_HANDSHAKES} clients are already connecting; try again shortly`);
      log(`refused ${socket.remoteAddress}:${socket.remotePort}: ${error.code} ${error.message}`);
      return refuse(socket, error);
    }
    void session(socket, options, state, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const bound = server.address();
  log(`pageflip serve listening on ${typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : String(bound)}`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    signal?.addEventListener('abort', stop, { once: true });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Whether `host` (a listen address) is only reachable from this machine. */
export function isLoopback(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/i.test(host);
}

// Two real hosts: `pageflip serve` on one acts as the sender (serve.ts), `pageflip compare --peer`
// on the other receives and measures (here). A control connection (control.ts) proves the shared
// token, declares the plan, opens and finishes each run, and brings back the sender host's CPU
// figures. Data flows on a fresh TCP connection per run, with the MTU emulated by
// TCP_MAXSEG = MTU - 40. The local sender process (sender-process.ts) is driven the same way.
import { spawn } from 'node:child_process';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { startConnect, type Connection } from '../socket.js';
import type { CompareEnvironment, CompareOptions, ReferenceRunner, SendPlan } from './plan.js';
import { ControlChannel, describe, field, integer, MAX_TIMEOUT_SECONDS, peerError, proof, PROTOCOL, text, type Message } from './control.js';
import { hostInfo, pageflipVersion } from './host.js';
import { iperf3Unavailable, measureIperf3 } from './iperf3.js';
import { iperf3Modes, iperf3Runner, iperf3Timing, type Iperf3Measure } from './references.js';
import type { OpenedStream, PointSpec, RunSettings, SenderSide } from './run-point.js';
import type { CpuUsage, HostInfo, RowMode, ThreadCpu } from './types.js';

/** How long serve has to answer the connection with its challenge. */
const HANDSHAKE_SECONDS = 10;

function parseHostPort(text: string): { host: string; port: number } {
  const m = text.match(/^\[?([^\]]+)\]?:(\d+)$/);
  if (!m) throw peerError('ERR_PAGEFLIP_PEER', `expected HOST:PORT, got '${text}'`);
  return { host: m[1], port: Number(m[2]) };
}

/** The client's half of the handshake with `peer` (a serve, or the local sender process): its host, idle timeout and pid. */
export async function handshake(
  channel: ControlChannel,
  peer: string,
  token: string | undefined,
  seconds = HANDSHAKE_SECONDS,
): Promise<{ host: HostInfo; idleSeconds: number; pid: unknown; iperf3: boolean }> {
  const timer = setTimeout(
    () => channel.fail(peerError('ERR_PAGEFLIP_PEER_TIMEOUT', `no challenge from ${peer} within ${seconds} s: is it 'pageflip serve' speaking ${PROTOCOL}?`)),
    seconds * 1000,
  );
  try {
    const challenge = await channel.expect('challenge');
    if (challenge.protocol !== PROTOCOL) throw peerError('ERR_PAGEFLIP_PEER_PROTOCOL', `${peer} speaks ${describe(challenge.protocol)}, we speak ${PROTOCOL}: use the same pageflip version on both hosts`);
    // No token, or a serve without one: no proof, and serve says whether it wanted one.
    const signed = challenge.auth === 'hmac-sha256' && token !== undefined ? { proof: proof(token, String(challenge.nonce)) } : {};
    channel.send({ type: 'hello', protocol: PROTOCOL, version: pageflipVersion(), host: hostInfo(), ...signed });
    const hello = await channel.expect('hello');
    const limits = (hello.limits ?? {}) as Record<string, unknown>;
    return { host: hello.host as HostInfo, idleSeconds: field(limits, 'idleSeconds', integer(1, MAX_TIMEOUT_SECONDS), 'hello.limits'), pid: hello.pid, iperf3: hello.iperf3 === true };
  } finally {
    clearTimeout(timer);
  }
}

/** Tells the sender the compare's plan and waits until it accepts it. */
export async function declarePlan(channel: ControlChannel, plan: SendPlan): Promise<void> {
  channel.send({ type: 'plan', ...plan });
  await channel.expect('accepted');
}

/**
 * The receiving end of the runs: each open asks the sender to listen, connects to it with
 * `connect` (across the network, or into the local sender's namespace), and waits until it is
 * sending. Several opens may be in flight at once (--flows), each read under its own id.
 */
export function controlledSender(channel: ControlChannel, connect: (port: number, spec: PointSpec) => Promise<Connection>, nextId = counter()): SenderSide {
  return {
    async open(spec: PointSpec, settings: RunSettings): Promise<OpenedStream> {
      const id = nextId();
      const { seconds, bytes, chunkBytes, cpus, seed } = settings;
      // Without a byte count the sender runs until finish(): ask serve for the warm-up and the run.
      const timed = bytes === null ? (seconds ?? 0) + (settings.warmupSeconds ?? 0) : null;
      channel.route(id);
      let connection: Connection | undefined;
      try {
        channel.send({ type: 'open', id, sender: spec.sender, seconds: timed, bytes, chunkBytes, cpus, seed });
        const dataPort = field<number>(await channel.expect('listening', id), 'port', integer(1, 65535));
        connection = await connect(dataPort, spec);
        await channel.expect('sending', id);
      } catch (error) {
        connection?.close();
        channel.unroute(id);
        throw error;
      }
      const opened = connection;
      return {
        connection: opened,
        senderPid: null,
        layout: 'peer',
        async finish() {
          try {
            channel.send({ type: 'finish', id });
            const done = (await channel.expect('finished', id)) as Message & { thread: ThreadCpu; cpu: CpuUsage; bytes: number };
            return { thread: done.thread, remoteCpu: done.cpu, bytes: done.bytes };
          } finally {
            channel.unroute(id);
          }
        },
        close() {
          opened.close();
        },
      };
    },
  };
}

/** Run ids of one session: 1, 2, ... */
function counter(): () => number {
  let next = 1;
  return () => next++;
}

/** The largest iperf3 -J report a serve may send back (a -i 0 report is a few KB). */
const MAX_IPERF3_REPORT = 32 * 1024;

/** A free TCP port on `host`, for this host's iperf3 server (released just before iperf3 takes it). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject).listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * iperf3 rows between the two hosts: this host's server on `address` (the control connection's own
 * address, which serve sends to), serve's client asked for over the control connection.
 */
function peerIperf3(channel: ControlChannel, address: string, nextId: () => number): Iperf3Measure {
  return async (zerocopy, mtu, settings, window) => {
    const timing = iperf3Timing({ seconds: settings.seconds, bytes: settings.bytes, warmupSeconds: settings.warmupSeconds ?? 0 });
    let remoteCpu: CpuUsage | null = null;
    const run = await measureIperf3(spawn, address, { ...timing, zerocopy, cpus: settings.cpus, port: await freePort(address), window }, (_, port) => async (_args, until) => {
      const id = nextId();
      channel.route(id);
      try {
        channel.send({ type: 'iperf3', id, port, mtu, ...timing, zerocopy, cpu: settings.cpus?.tx ?? null });
        const done = await until(channel.expect('iperf3-finished', id));
        remoteCpu = done.cpu as CpuUsage;
        return { json: field<string>(done, 'report', text(new RegExp(`^[\\s\\S]{1,${MAX_IPERF3_REPORT}}$`), `an iperf3 -J report of at most ${MAX_IPERF3_REPORT} characters`)), failure: null };
      } finally {
        channel.unroute(id);
      }
    });
    return { ...run, remoteCpu };
  };
}

export interface PeerOptions {
  /** The token `pageflip serve` was started with (compare --token, or PAGEFLIP_TOKEN). */
  token?: string;
  /** Which iperf3 rows to add (compare's reference, quick); default: auto. */
  compare?: CompareOptions;
}

export async function peerEnvironment(peer: string, options: PeerOptions = {}): Promise<CompareEnvironment> {
  const { host, port } = parseHostPort(peer);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host, port }, () => resolve(s));
    s.once('error', (error) => reject(Object.assign(peerError('ERR_PAGEFLIP_PEER', `cannot reach pageflip serve at ${peer}: ${error.message}`), { cause: error })));
  });
  const channel = new ControlChannel(socket, { client: true });
  let server: Awaited<ReturnType<typeof handshake>>;
  try {
    server = await handshake(channel, peer, options.token);
  } catch (error) {
    channel.close();
    throw error;
  }
  // serve takes silence for a dead client: speak a few times per idle timeout, also mid-run.
  const keepalive = setInterval(() => channel.send({ type: 'alive' }), (server.idleSeconds * 1000) / 3);
  keepalive.unref();
  const dataHost = (socket.remoteAddress ?? host).replace(/^::ffff:/, '');
  const nextId = counter();
  // iperf3 rows need iperf3 at both ends: the server here, the client there.
  const references = new Map<RowMode, ReferenceRunner>();
  const warnings: string[] = [];
  if (options.compare?.reference !== 'none') {
    const missing = iperf3Unavailable() ?? (!server.iperf3 ? `iperf3 reference rows skipped: pageflip serve at ${peer} cannot run iperf3 (not installed there, or an older pageflip)` : null);
    if (missing) warnings.push(missing);
    else {
      const measure = peerIperf3(channel, (socket.localAddress ?? '').replace(/^::ffff:/, ''), nextId);
      for (const mode of iperf3Modes(options.compare ?? {})) references.set(mode, iperf3Runner(measure, mode === 'iperf3-Z', true));
    }
  }
  return {
    warnings,
    side: controlledSender(channel, (dataPort, spec) => startConnect({ host: dataHost, port: dataPort, mss: spec.mtu - 40 }).ready, nextId),
    network: 'peer',
    networkDescription: `a real network path to ${peer} (pageflip serve sends, this host receives); MTU emulated with TCP_MAXSEG = MTU - 40 on each data connection (the path MTU still applies)`,
    peer,
    remoteHost: server.host,
    references,
    peerReferences: true,
    begin: (plan: SendPlan) => declarePlan(channel, plan),
    close: () => {
      clearInterval(keepalive);
      channel.close();
    },
  };
}

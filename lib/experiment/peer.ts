// Two real hosts: `pageflip serve` on one acts as the sender, `pageflip compare --peer` on the
// other receives and measures. A control connection (newline-delimited JSON over TCP) carries
// the plan, opens and finishes each run, and brings back the sender host's CPU figures. Data
// flows on a fresh TCP connection per run, with the MTU emulated by TCP_MAXSEG = MTU - 40.
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { pageflipError } from '../errors.js';
import type { SendLoopStats } from '../loop.js';
import type { SendMode } from '../native.js';
import { listen, startConnect, type Connection } from '../socket.js';
import type { CompareEnvironment } from './compare.js';
import { cpuUsage, readCpu } from './cpu.js';
import { hostInfo, pageflipVersion } from './host.js';
import { startSender, threadCpu, type OpenedStream, type PointSpec, type RunSettings, type SenderSide } from './run-point.js';
import type { CpuUsage, HostInfo, ThreadCpu } from './types.js';

const PROTOCOL = 'pageflip-peer/1';

type Message = { type: string; id?: number; [key: string]: unknown };

/** Newline-delimited JSON messages over a socket, awaited by type. */
class ControlChannel {
  readonly #socket: Socket;
  #buffer = '';
  readonly #queue: Message[] = [];
  #waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void; reject: (e: Error) => void }> = [];
  #closed: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let newline;
      while ((newline = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        let message: Message;
        try {
          message = JSON.parse(line) as Message;
        } catch {
          this.#fail(pageflipError('ERR_PAGEFLIP_PEER', `bad control message: ${line.slice(0, 80)}`));
          return;
        }
        this.#deliver(message);
      }
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(pageflipError('ERR_PAGEFLIP_PEER', 'the peer closed the control connection')));
  }

  #deliver(message: Message): void {
    const waiter = this.#waiters.find((w) => w.match(message));
    if (waiter) {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      waiter.resolve(message);
    } else this.#queue.push(message);
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  send(message: Message): void {
    this.#socket.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message of `type` (for run `id`); a peer 'error' for that run rejects. */
  next(type: string, id?: number): Promise<Message> {
    const match = (m: Message) => (m.type === type || m.type === 'error') && (id === undefined || m.id === id);
    const queued = this.#queue.findIndex(match);
    const settle = (m: Message) => {
      if (m.type === 'error') throw Object.assign(pageflipError('ERR_PAGEFLIP_PEER', `peer: ${String(m.message)}`), { peerCode: m.code });
      return m;
    };
    if (queued >= 0) return Promise.resolve(this.#queue.splice(queued, 1)[0]).then(settle);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<Message>((resolve, reject) => this.#waiters.push({ match, resolve, reject })).then(settle);
  }

  close(): void {
    this.#socket.destroy();
  }
}

function parseHostPort(text: string): { host: string; port: number } {
  const m = text.match(/^\[?([^\]]+)\]?:(\d+)$/);
  if (!m) throw pageflipError('ERR_PAGEFLIP_PEER', `expected HOST:PORT, got '${text}'`);
  return { host: m[1], port: Number(m[2]) };
}

// ---- receiving side (compare --peer) ----

export async function peerEnvironment(peer: string): Promise<CompareEnvironment> {
  const { host, port } = parseHostPort(peer);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host, port }, () => resolve(s));
    s.once('error', (error) => reject(Object.assign(pageflipError('ERR_PAGEFLIP_PEER', `cannot reach pageflip serve at ${peer}: ${error.message}`), { cause: error })));
  });
  const channel = new ControlChannel(socket);
  channel.send({ type: 'hello', protocol: PROTOCOL, version: pageflipVersion(), host: hostInfo() });
  const hello = await channel.next('hello');
  if (hello.protocol !== PROTOCOL) {
    channel.close();
    throw pageflipError('ERR_PAGEFLIP_PEER', `peer speaks ${String(hello.protocol)}, we speak ${PROTOCOL}`);
  }
  const dataHost = socket.remoteAddress ?? host;
  let nextId = 1;
  const side: SenderSide = {
    async open(spec: PointSpec, settings: RunSettings): Promise<OpenedStream> {
      const id = nextId++;
      channel.send({ type: 'open', id, sender: spec.sender, settings });
      const { port: dataPort } = (await channel.next('listening', id)) as Message & { port: number };
      const connection = await startConnect({ host: dataHost.replace(/^::ffff:/, ''), port: dataPort, mss: spec.mtu - 40 }).ready;
      await channel.next('sending', id);
      return {
        connection,
        async finish() {
          channel.send({ type: 'finish', id });
          const done = (await channel.next('finished', id)) as Message & { thread: ThreadCpu; cpu: CpuUsage; bytes: number };
          return { thread: done.thread, remoteCpu: done.cpu, bytes: done.bytes };
        },
        close() {
          connection.close();
        },
      };
    },
  };
  return {
    side,
    network: 'peer',
    networkDescription: `a real network path to ${peer} (pageflip serve sends, this host receives); MTU emulated with TCP_MAXSEG = MTU - 40 on each data connection (the path MTU still applies)`,
    peer,
    remoteHost: hello.host as HostInfo,
    references: new Map(),
    close: () => channel.close(),
  };
}

// ---- sending side (serve) ----

async function handleRun(channel: ControlChannel, localAddress: string, message: Message): Promise<void> {
  const id = message.id as number;
  const settings = message.settings as RunSettings;
  const listener = listen({ host: localAddress, port: 0 });
  let connection: Connection | undefined;
  try {
    channel.send({ type: 'listening', id, port: listener.port });
    connection = await listener.accept();
  } finally {
    listener.close();
  }
  const before = readCpu();
  const sender = startSender(connection, message.sender as SendMode, settings);
  let result: SendLoopStats | Error;
  try {
    channel.send({ type: 'sending', id });
    await channel.next('finish', id);
    result = await sender.finish().catch((error: Error) => error);
  } finally {
    // Also when the control connection dies mid-run: never leave a sender running.
    sender.stop();
    await sender.settled;
    connection.close();
  }
  const after = readCpu();
  if (result instanceof Error) {
    channel.send({ type: 'error', id, message: result.message, code: (result as Error & { code?: string }).code });
    return;
  }
  channel.send({
    type: 'finished',
    id,
    bytes: result.bytes,
    thread: threadCpu(result.cpuSeconds, result.bytes),
    cpu: cpuUsage(before, after, result.bytes, result.seconds),
  });
}

async function session(socket: Socket, log: (message: string) => void): Promise<void> {
  const channel = new ControlChannel(socket);
  const who = `${socket.remoteAddress}:${socket.remotePort}`;
  try {
    const hello = await channel.next('hello');
    if (hello.protocol !== PROTOCOL) throw pageflipError('ERR_PAGEFLIP_PEER', `client speaks ${String(hello.protocol)}`);
    channel.send({ type: 'hello', protocol: PROTOCOL, version: pageflipVersion(), host: hostInfo() });
    log(`compare from ${who} (${(hello.host as HostInfo).hostname})`);
    const localAddress = (socket.localAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
    for (;;) {
      const open = await channel.next('open').catch(() => undefined);
      if (!open) break;
      await handleRun(channel, localAddress, open).catch((error: Error) => channel.send({ type: 'error', id: open.id, message: error.message }));
    }
  } catch (error) {
    log(`session ${who} ended: ${(error as Error).message}`);
  } finally {
    channel.close();
    log(`compare from ${who} finished`);
  }
}

/** Serves compares one at a time until the process is interrupted (or `signal` aborts). */
export async function serve(address: { host: string; port: number }, log: (message: string) => void, signal?: AbortSignal): Promise<void> {
  let busy = false;
  const server = createServer((socket) => {
    if (busy) {
      socket.end(`${JSON.stringify({ type: 'error', message: 'busy with another compare' })}\n`);
      return;
    }
    busy = true;
    void session(socket, log).finally(() => (busy = false));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
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

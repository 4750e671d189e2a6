// Shared by the `pageflip serve` tests: this test process moves into a private network namespace
// (Node's net module creates its sockets on later ticks, so a run-and-return window would not
// do), a live `serve` runs there as a child process (lib/cli.ts, so its coverage counts), and
// raw clients say whatever a test wants to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { proof, PROTOCOL } from '../../lib/experiment/control.js';
import { binding } from '../../lib/native.js';

const cliSource = fileURLToPath(new URL('../../lib/cli.ts', import.meta.url));

let entered = false;
/** Moves this process's JS thread into a new namespace with `lo` up, for the rest of the test file. */
export function enterPrivateNetwork(): void {
  if (entered) return;
  binding.netnsEnter(binding.netnsCreate());
  binding.linkConfigure('lo', { up: true });
  entered = true;
}

/** Resolves with `promise`, or rejects after `ms` saying what did not happen. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface LiveServe {
  child: ChildProcess;
  port: number;
  address: string;
  /** Everything serve wrote to stderr so far. */
  log(): string;
  /** Resolves once the log matches (after `from` characters), e.g. a refusal line. */
  waitLog(pattern: RegExp, from?: number, ms?: number): Promise<string>;
  /** VmRSS of the serve process, bytes. */
  rss(): number;
  /** Resolves with the exit code/signal when it ends (it should not, until the teardown). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `pageflip serve --listen 127.0.0.1:0 ...args` in this namespace; killed at teardown. */
export async function startServe(t: Test, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LiveServe> {
  enterPrivateNetwork();
  const child = spawn(process.execPath, [...process.execArgv, cliSource, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, PAGEFLIP_TOKEN: undefined, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // SIGTERM: serve closes its listener and exits, so its coverage is written; SIGKILL if it does not.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exit = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exit;
    clearTimeout(timer);
  });
  let text = '';
  const listeners = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const waitLog = (pattern: RegExp, from = 0, ms = 30_000) =>
    within(
      ms,
      `serve log ${pattern}`,
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = text.slice(from).match(pattern);
          if (m) {
            listeners.delete(check);
            resolve(m[0]);
          }
        };
        listeners.add(check);
        check();
        void exited.then(({ code, signal }) => reject(new Error(`serve exited (${code ?? signal}): ${text}`)));
      }),
    );
  const listening = await waitLog(/listening on \S+:\d+/, 0, 60_000);
  const port = Number(listening.split(':').pop());
  return {
    child,
    port,
    address: `127.0.0.1:${port}`,
    log: () => text,
    waitLog,
    rss: () => Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m)?.[1]) * 1024,
    exited,
  };
}

/** A client that sends raw bytes and collects the server's lines until the server closes. */
export class RawClient {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  /** Resolves when the connection is closed (by either side), with ms since it connected. */
  readonly closed: Promise<number>;
  #received = Buffer.alloc(0);
  #waiters = new Set<() => void>();
  #openedAt = 0;

  constructor(port: number, localAddress?: string) {
    this.socket = connect({ host: '127.0.0.1', port, localAddress });
    this.socket.on('error', () => {}); // a reset by the server is an ending like any other
    this.connected = new Promise((resolve) => this.socket.once('connect', () => ((this.#openedAt = performance.now()), resolve())));
    this.socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      for (const w of this.#waiters) w();
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        resolve(performance.now() - this.#openedAt);
        for (const w of this.#waiters) w();
      }),
    );
  }

  /** Every complete line received so far, parsed where it is JSON. */
  messages(): Array<Record<string, unknown>> {
    const text = this.#received.toString('utf8');
    return text
      .split('\n')
      .slice(0, -1)
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return { unparsed: line };
        }
      });
  }

  /** The first message matching `match` (waits for it; rejects once the connection closed without it). */
  next(match: (m: Record<string, unknown>) => boolean, ms = 30_000): Promise<Record<string, unknown>> {
    return within(
      ms,
      'a message from serve',
      new Promise((resolve, reject) => {
        const check = () => {
          const found = this.messages().find(match);
          if (found) {
            this.#waiters.delete(check);
            resolve(found);
          } else if (this.socket.destroyed) {
            this.#waiters.delete(check);
            reject(new Error(`serve closed the connection without it; it sent ${JSON.stringify(this.messages()).slice(0, 500)}`));
          }
        };
        this.#waiters.add(check);
        check();
      }),
    );
  }

  send(data: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }
}

export const line = (message: unknown) => `${JSON.stringify(message)}\n`;

/** A raw client through the handshake (proving `token` when given), waiting for serve's hello. */
export async function helloClient(port: number, token?: string, extra: Record<string, unknown> = {}): Promise<RawClient> {
  const client = new RawClient(port);
  await client.connected;
  const challenge = await client.next((m) => m.type === 'challenge');
  client.send(line({ type: 'hello', protocol: PROTOCOL, version: 'test', host: { hostname: 'raw-client' }, ...(token && { proof: proof(token, String(challenge.nonce)) }), ...extra }));
  await client.next((m) => m.type === 'hello' || m.type === 'error');
  return client;
}

/** A valid open for a run of `bytes` bytes. */
export const openBytes = (id: number, bytes: number) => ({ type: 'open', id, sender: 'write', seconds: null, bytes, chunkBytes: 65536, cpus: null, seed: id });

// The sender as its own process, like the paper's sending host: sender-child.ts is started inside
// the run's network namespace and driven over the `pageflip serve` control protocol (a socketpair
// instead of TCP), so local and two-host runs share one code path. Sharing no address space with
// the receiver, its page-table work (and the receiver's) stays on its own side.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageflipError } from '../errors.js';
import { startConnect } from '../socket.js';
import type { PrivateNetwork } from './netns.js';
import type { RpsMode, SendPlan } from './plan.js';
import { ControlChannel, MAX_TIMEOUT_SECONDS } from './control.js';
import { controlledSender, declarePlan, handshake } from './peer.js';
import { steerReceive } from './rps.js';
import { localSender, type RunSettings, type SenderSide } from './run-point.js';
import type { Testbed } from './testbed.js';

const CHILD = fileURLToPath(new URL(`./sender-child${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
/** How long a failed control exchange waits for the child's exit status, to name the cause. */
const EXIT_GRACE_MS = 1000;
const KEEP_STDERR = 2048;
/** How long the sender process has to start and greet. */
const START_SECONDS = 60;

export class SenderProcess {
  readonly pid: number;
  readonly side: SenderSide;
  readonly #child: ChildProcess;
  readonly #channel: ControlChannel;
  readonly #exited: Promise<string>;
  #stderr = '';

  private constructor(child: ChildProcess, channel: ControlChannel, mss: number | undefined, network: PrivateNetwork | undefined) {
    this.#child = child;
    this.#channel = channel;
    this.pid = child.pid!;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-KEEP_STDERR)));
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with status ${code}`)));
    const within = <T>(fn: () => T): T => (network ? network.run(fn) : fn());
    const inner = controlledSender(channel, (port) => within(() => startConnect({ host: '127.0.0.1', port, mss })).ready);
    // Every failure of the control exchange is reported with the child's fate when it died.
    this.side = {
      open: async (spec, settings) => {
        const stream = await inner.open(spec, settings).catch((error: Error) => this.#explain(error));
        return { ...stream, senderPid: this.pid, layout: 'processes' as const, finish: () => stream.finish().catch((error: Error) => this.#explain(error)) };
      },
    };
  }

  /** Starts the sender inside `network` (or here, for MSS emulation), completes the handshake and declares `plan`. */
  static async start(network: PrivateNetwork | undefined, mss: number | undefined, plan: SendPlan): Promise<SenderProcess> {
    const args = [...process.execArgv, CHILD];
    const options = { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[] };
    const child = network ? network.spawn(process.execPath, args, options) : spawn(process.execPath, args, options);
    if (child.pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw Object.assign(pageflipError('ERR_PAGEFLIP_SENDER', `cannot start the sender process: ${error.message}`), { cause: error });
    }
    const channel = new ControlChannel(child.stdio[3] as Socket, { client: true });
    const sender = new SenderProcess(child, channel, mss, network);
    try {
      // A fresh Node process on a loaded machine can take a while to start; a dead one is caught sooner (#explain).
      const hello = await handshake(channel, 'the sender process', undefined, START_SECONDS).catch((error: Error) => sender.#explain(error));
      if (hello.pid !== sender.pid) throw pageflipError('ERR_PAGEFLIP_SENDER', `the sender process said pid ${String(hello.pid)}, it is ${sender.pid}`);
      await declarePlan(channel, plan).catch((error: Error) => sender.#explain(error));
    } catch (error) {
      await sender.close();
      throw error;
    }
    return sender;
  }

  /** The error to report for a failed exchange: the child's death when it died, else `error`. */
  async #explain(error: Error): Promise<never> {
    const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), EXIT_GRACE_MS).unref());
    const fate = this.#child.exitCode !== null || this.#child.signalCode !== null ? await this.#exited : await Promise.race([this.#exited, timer]);
    if (fate === undefined) throw error;
    const said = this.#stderr.split('\n').filter((line) => line.trim() && !/^Node\.js v/.test(line)).slice(-1)[0];
    throw Object.assign(pageflipError('ERR_PAGEFLIP_SENDER_DIED', `the sender process (pid ${this.pid}) ${fate} during the run${said ? ` (${said})` : ''}`), { cause: error });
  }

  /** Ends the session and the process (SIGKILL if it does not leave on its own) and waits for its exit. */
  async close(): Promise<void> {
    this.#channel.close();
    const gone = this.#child.exitCode !== null || this.#child.signalCode !== null;
    if (!gone) {
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_GRACE_MS);
      await this.#exited;
      clearTimeout(timer);
    }
  }
}


/** The plan a sender process gets when nobody declared one (runPoint driven directly, as by
 * bench:layout and the tests): as much as its protocol allows. */
const OPEN_PLAN: SendPlan = { runs: 100_000, seconds: MAX_TIMEOUT_SECONDS, bytes: Number.MAX_SAFE_INTEGER };

export interface LocalSenders {
  side: SenderSide;
  /** The compare's plan, declared to every sender process (each serves the runs of its MTU, within it). */
  begin(plan: SendPlan): void;
  /** What was done about RPS: the CPUs steered to, or why not (null before the first run). */
  rps(): { cpus: number[] | null; reason: string | null } | null;
  close(): Promise<void>;
}

/**
 * The local sender side: a sender process per MTU's namespace, started on its first run (after
 * RPS is set there), or the in-process send thread for points with layout 'threads'.
 */
export function localSenders(testbed: Testbed, rpsMode: RpsMode): LocalSenders {
  const processes = new Map<number, Promise<SenderProcess>>();
  const threads = localSender(testbed);
  const steered = new Set<number>();
  let rps: { cpus: number[] | null; reason: string | null } | null = null;
  let plan = OPEN_PLAN;
  const steer = (mtu: number, settings: RunSettings) => {
    const network = testbed.network(mtu);
    if (rpsMode === 'off') return void (rps = { cpus: null, reason: 'not set (--rps off)' });
    if (!network) return void (rps = { cpus: null, reason: 'not set: no private namespace (MSS emulation on the host loopback, whose settings are left alone)' });
    if (!settings.cpus) return void (rps = { cpus: null, reason: 'not set: sender and receiver are not pinned apart' });
    try {
      steerReceive(network, [settings.cpus.rx]);
      rps = { cpus: [settings.cpus.rx], reason: rps?.reason ?? null };
    } catch (error) {
      if (rpsMode === 'on') throw error;
      rps = { cpus: null, reason: `not set: ${(error as Error).message}` };
    }
  };
  return {
    side: {
      async open(spec, settings) {
        if (!steered.has(spec.mtu)) {
          steer(spec.mtu, settings);
          steered.add(spec.mtu);
        }
        if (spec.layout === 'threads') return threads.open(spec, settings);
        let sender = processes.get(spec.mtu);
        if (!sender) {
          sender = SenderProcess.start(testbed.network(spec.mtu), testbed.kind === 'netns' ? undefined : spec.mtu - 40, plan);
          processes.set(spec.mtu, sender);
        }
        return (await sender).side.open(spec, settings);
      },
    },
    begin(declared) {
      plan = declared;
    },
    rps: () => rps,
    async close() {
      const started = [...processes.values()];
      processes.clear();
      for (const sender of started) await (await sender.catch(() => undefined))?.close();
    },
  };
}

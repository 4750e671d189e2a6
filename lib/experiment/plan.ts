// What a compare is asked for and what it asks of the parts below it (the sender side, the
// reference rows, the progress listener): types only, so that those parts need not import
// compare.ts, which imports them.
import type { RowMode, SendMode } from '../vocabulary.js';
import type { PointSpec, RunSettings, SenderSide } from './run-point.js';
import type { CompareConfig, HostInfo, Layout, RunResult } from './types.js';

/** Receive packet steering for local namespaces: 'auto' sets it where it can and says why not
 * elsewhere, 'on' makes failing to set it an error, 'off' leaves lo as it is. */
export type RpsMode = 'auto' | 'on' | 'off';

export interface CompareOptions {
  modes?: RowMode[];
  mtus?: number[];
  touch?: 'both' | 'yes' | 'no';
  chunkBytes?: number;
  seconds?: number | null;
  bytes?: number | null;
  repeats?: number;
  sender?: SendMode;
  cpus?: { rx: number; tx: number } | null;
  perf?: boolean;
  quick?: boolean;
  /** iperf3 reference rows: 'auto' = when iperf3 is installed (here, and on the peer with --peer). */
  reference?: 'auto' | 'iperf3' | 'none';
  warmupSeconds?: number;
  mssEmulation?: boolean;
  /** Sender in its own process (default) or as a thread of this one. */
  layout?: Layout;
  /** Receive packet steering onto the receiver's CPU in local namespaces (default auto). */
  rps?: RpsMode;
  /** Add one zerocopy/copy pair with the in-process layout (default: in the full default run,
   * i.e. not --quick and no --modes, --mtu or --touch). */
  layoutPair?: boolean;
  /** Parallel connections per run (default 1). */
  flows?: number;
  /** CPU sets instead of one pinned pair: flows are spread over them, and each side's CPU is its set's. */
  cpuSets?: { rx: number[]; tx: number[] };
  /** Add 2-flow points (copy, zerocopy, flip at the first MTU) beside the 1-flow ones (default: in the full default run). */
  flowsPair?: boolean;
  /** Add 2 MiB-chunk points (copy, zerocopy, flip at the paper's MTUs, touch and notouch), where flip can move whole page tables (default: in the full default run). */
  pmdRows?: boolean;
  /** Seed of the per-repeat shuffle of the run order; default a random one (recorded in the report). */
  orderSeed?: number;
  /** Stops the experiment after the run in progress; compare() then rejects with an AbortError carrying `report`. */
  signal?: AbortSignal;
}

export type ProgressEvent =
  | { kind: 'start'; total: number; config: CompareConfig }
  | { kind: 'run'; index: number; total: number; repeat: number; spec: PointSpec; warmup: boolean }
  | { kind: 'result'; index: number; total: number; result: RunResult }
  | { kind: 'warning'; message: string };

/** A reference row runner (iperf3) for one MTU; returns a finished RunResult. */
export type ReferenceRunner = (mode: RowMode, mtu: number, repeat: number, settings: RunSettings) => Promise<RunResult>;

export interface CompareEnvironment {
  side: SenderSide;
  network: CompareConfig['network'];
  networkDescription: string;
  peer: string | null;
  remoteHost: HostInfo | null;
  references: Map<RowMode, ReferenceRunner>;
  /** The reference rows' clients run on the sender side (--peer: pageflip serve runs iperf3), so they are part of its plan. */
  peerReferences?: boolean;
  /** What the environment did about RPS (local runs), for the config and method lines. */
  rps?: () => CompareConfig['rps'] | null;
  /** Told the whole plan before the first run (`pageflip serve`, and the local sender processes, check it against their limits). */
  begin?(plan: SendPlan): Promise<void>;
  /** What the environment had to leave out, and why (reported like compare's own warnings). */
  warnings?: string[];
  /** Ends the environment (the local sender processes are awaited). */
  close(): void | Promise<void>;
}

/** What a compare asks of its sender side: runs, seconds of its timed runs (warm-ups included), bytes of its counted runs. */
export interface SendPlan {
  runs: number;
  seconds: number;
  bytes: number;
}

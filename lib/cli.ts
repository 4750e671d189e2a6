#!/usr/bin/env node
// pageflip command line: parses arguments, hands off to the experiment, prints and writes
// reports. It never measures anything itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { capabilities, zerocopyReceiveCveWarning, type Feature } from './capabilities.js';
import { formatCalibration, runCalibration, type CalibrationResult } from './experiment/calibrate.js';
import { parseCalibration } from './experiment/calibration-file.js';
import { virtualizationInfo } from './experiment/virtualization.js';
import { pageflipError } from './errors.js';
import { MAX_FLOWS, MIN_REPEATS, RECEIVE_ROWS, type CompareOptions } from './experiment/compare.js';
import { runCompare } from './experiment/run.js';
import { referenceNote } from './experiment/references.js';
import { probePerfEvents } from './experiment/perf.js';
import { progressReporter } from './experiment/progress.js';
import { netnsUnavailableReason } from './experiment/netns.js';
import { isLoopback, serve, SERVE_DEFAULTS } from './experiment/serve.js';
import { MAX_TIMEOUT_SECONDS } from './experiment/control.js';
import { pageflipVersion } from './experiment/host.js';
import type { CompareReport } from './experiment/types.js';
import { parseReport, renderCsv, renderHtml, renderJson, renderMarkdown, renderTable } from './report/index.js';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MAX_MTU, MIN_MTU, SEND_MODES, type RowMode, type SendMode } from './vocabulary.js';

/** Exit statuses, documented in USAGE and the README. */
const EXIT = { ok: 0, failure: 1, usage: 2, mismatch: 3, interrupted: 130 } as const;

/** The port 'pageflip serve' listens on and 'compare --peer HOST' connects to by default. */
const PEER_PORT = 7470;

class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

const USAGE = `Usage: pageflip <command> [options]

Rerun the 2004 page-flip experiment (page-moving receive vs one copy) on this Linux box.

Commands:
  compare     run the experiment and print the paper-style table (try: pageflip compare --quick)
  calibrate   memcpy vs page-move (mremap) costs on this machine, and the crossover
  info        what this kernel, CPU and runtime support, and what it means for the experiment
  serve       act as the sending host for 'compare --peer' on another machine
  report      re-render a saved JSON report as a table, CSV or HTML

Options:
  -V, --version  print the version
  -h, --help     this text

Run 'pageflip <command> --help' for a command's options.

Exit status: 0 success; 1 a runtime failure; 2 bad usage; 3 'compare' received bytes that did not
match what was sent; 130 interrupted (Ctrl-C). 'compare' cut short by a failure or Ctrl-C still
writes its reports with the runs measured so far and an "error" field.
Colour: on when stdout is a terminal that has colours; NO_COLOR turns it off, FORCE_COLOR on.`;

const COMPARE_USAGE = `Usage: pageflip compare [options]

Runs page-moving receive against the copy path at the paper's MTUs, touch and notouch, and reports
throughput, system-wide CPU, efficiency (Mbit/s ÷ CPU %) and, with --perf, kernel counters.
Local runs use private network namespaces (root); otherwise MTUs are emulated with TCP_MAXSEG.

Options:
  --quick               ≤ 60 s: copy, zerocopy, flip (and the discard floor) at MTU 4148
                        and 8244, touch and notouch
  --modes LIST          receive modes: copy,zerocopy,flip,copy-remap,splice,node,discard
                        (default copy,zerocopy,flip,copy-remap,discard; discard is the
                        floor: recv(MSG_TRUNC) drops the bytes uncopied, notouch only)
  --mtu LIST            MTUs (default 4148,8244,61492; the paper's are 4148 and 8244;
                        61492 carries 15 whole pages over IPv4, 61512 would leave a 20 B tail)
  --touch both|yes|no   verify every byte (touch) and/or never read it (notouch); default both
  --sender MODE         zerocopy (default: MSG_ZEROCOPY, what makes loopback pages mappable),
                        write or splice; 'copy ← write' always runs as the best-copy reference
  --seconds N           seconds per measured run (default 2, quick 0.6)
  --bytes N             bytes per run instead of a duration (suffixes k, m, g)
  --chunk N             bytes per receive call (default ${DEFAULT_CHUNK_BYTES / 1024}k)
  --repeats N           repeats per point (default 3; median and min-max reported)
  --warmup N            warm-up seconds on each run's connection before it is measured
                        (default 0.3, quick 0.1)
  --order-seed N        seed of the per-repeat shuffle of the run order (default random;
                        recorded in the report)
  --cpus RX,TX          pin receiver and sender to these CPUs (default 0,1), or 'none';
                        each side may be a set (0+2,1+3): flows are spread over it
  --flows N             N parallel connections per run, each with its own receive and
                        send thread (default 1; the full default run adds 2-flow points)
  --layout MODE         processes (default: the sender is its own process, like a second
                        host) or threads (sender thread inside the receiving process)
  --rps MODE            steer loopback receive processing onto the receiver's CPU (RPS on
                        the namespace's lo): auto (default; skipped with the reason if it
                        cannot be set), on (an error if it cannot), off
  --perf                perf stat counters per MB alongside each run
  --reference MODE      iperf3 rows: auto (default: when installed), iperf3, none
  --peer HOST[:PORT]    receive here from 'pageflip serve' on another host (port ${PEER_PORT})
  --token TOKEN         the token that serve was started with (default $PAGEFLIP_TOKEN)
  --mss-emulation       use the host loopback with TCP_MAXSEG instead of namespaces
  --calibration FILE    cost model from a saved 'pageflip calibrate --json' file; 'none' skips
                        the model; default: calibrate first (a few seconds, quick with --quick)
  --json FILE           write the full report (schema pageflip-compare/1); '-' for stdout
                        (the table and progress then go to stderr)
  --csv FILE            write one row per run ('-': stdout)
  --html FILE           write a self-contained page of charts ('-': stdout)
  --markdown FILE       write the summary tables as Markdown ('-': stdout)
  -h, --help            this text

Exit status 0, or 1 on a failure, 2 on bad usage, 3 when bytes did not match, 130 on Ctrl-C.
Ctrl-C stops after the run in progress and writes what was measured (a second Ctrl-C quits now).`;

const CALIBRATE_USAGE = `Usage: pageflip calibrate [--quick] [--json]

Measures memcpy bandwidth (cache-hot and cold), the cost of moving pages with mremap, alone and
with a second thread (TLB shootdowns), and what a socket receive pays (recv copy, zero-copy map,
zap, page faults, a real flow's floor); then predicts each receive mode's CPU per MB with the cost
model (README "The cost model") and the chunk size from which moving pages pays. --json writes a
file 'compare --calibration FILE' can read.`;

const INFO_USAGE = `Usage: pageflip info [--json]

Prints kernel, CPU and runtime capabilities relevant to page-moving receive, and what they mean
for 'pageflip compare'.`;

const SERVE_USAGE = `Usage: pageflip serve [--listen ADDR:PORT] [--token TOKEN | --no-auth] [limits]

Waits for 'pageflip compare --peer ADDR' from another host and acts as its sender: the control
connection carries the run plan, starts and stops each run, and returns this host's CPU figures.
Serves one compare at a time until interrupted.

Options:
  --listen ADDR:PORT       default 0.0.0.0:${PEER_PORT}
  --token TOKEN            shared secret a client must prove it holds (HMAC over a fresh nonce; the
                           token never crosses the wire); default $PAGEFLIP_TOKEN; 16+ characters
  --no-auth                serve anyone: required to listen beyond loopback without a token
  --max-duration SECONDS   wall clock one compare may take; its plan must fit (default ${SERVE_DEFAULTS.maxSeconds})
  --max-bytes N            bytes the --bytes runs of one compare may ask for (default ${SERVE_DEFAULTS.maxBytes / 2 ** 30}g)
  --handshake-timeout S    from connecting to a valid hello (default ${SERVE_DEFAULTS.handshakeSeconds})
  --idle-timeout S         client silence after which its compare is ended (default ${SERVE_DEFAULTS.idleSeconds})`;

const REPORT_USAGE = `Usage: pageflip report FILE.json [--html FILE] [--csv FILE] [--markdown FILE] [--table]

Re-renders a saved 'compare --json' report. Without an output option, prints the table.`;

type Values = Record<string, string | boolean | undefined>;

function parse(
  args: string[],
  usage: string,
  options: Record<string, { type: 'string' | 'boolean' }>,
  positionals = false,
): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: positionals });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

function sizeArg(name: string, text: string, usage: string): number {
  const m = text.trim().toLowerCase().match(/^(\d+(?:\.\d+)?)([kmg]i?b?)?$/);
  if (!m) throw new UsageError(`--${name} must be a size like 65536, 256k or 1m, got '${text}'`, usage);
  const unit = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]?.[0] as 'k' | 'm' | 'g'] ?? 1;
  const value = Math.round(Number(m[1]) * unit);
  if (value <= 0) throw new UsageError(`--${name} must be positive`, usage);
  return value;
}

function numberArg(name: string, text: string, usage: string, min: number, integer = false, max = Infinity): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value)))
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min}${max < Infinity ? ` to ${max}` : ''}, got '${text}'`, usage);
  return value;
}

function listArg<T extends string>(name: string, text: string, allowed: readonly T[], usage: string): T[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((item) => !allowed.includes(item as T));
  if (!items.length || bad.length) throw new UsageError(`--${name}: unknown ${bad.join(', ') || 'empty list'} (choose from ${allowed.join(', ')})`, usage);
  return items as T[];
}

/** One value of `allowed`: a list ('write,splice') is refused, never cut to its first item. */
function oneOf<T extends string>(name: string, text: string, allowed: readonly T[], usage: string): T {
  if (text.includes(',')) throw new UsageError(`--${name} takes one value, got the list '${text}' (choose one of ${allowed.join(', ')})`, usage);
  return listArg(name, text, allowed, usage)[0];
}

/** HOST, HOST:PORT, [IPv6] or [IPv6]:PORT, as HOST:PORT with the default port filled in. */
function peerArg(text: string, usage: string): string {
  const withPort = text.match(/^(\[[^\]\s]+\]|[^\s:[\]]+):(\d+)$/);
  if (withPort) return `${withPort[1]}:${numberArg('peer', withPort[2], usage, 1, true, 65535)}`;
  if (/^\[[^\]\s]+\]$/.test(text) || /^[^\s:[\]]+$/.test(text)) return `${text}:${PEER_PORT}`;
  if (isIP(text) === 6) return `[${text}]:${PEER_PORT}`;
  throw new UsageError(`--peer must be HOST or HOST:PORT, got '${text}'`, usage);
}

type Outputs = { json?: string; csv?: string; html?: string; markdown?: string };

function compareOptions(values: Values): CompareOptions & Outputs & { peer?: string } {
  const u = COMPARE_USAGE;
  const str = (name: string) => values[name] as string | undefined;
  const options: CompareOptions & Outputs & { peer?: string } = { quick: values.quick === true, perf: values.perf === true };
  if (str('modes')) options.modes = listArg<RowMode>('modes', str('modes')!, RECEIVE_ROWS, u);
  if (str('mtu')) options.mtus = str('mtu')!.split(',').map((m) => numberArg('mtu', m, u, MIN_MTU, true, MAX_MTU));
  if (str('touch')) options.touch = oneOf('touch', str('touch')!, ['both', 'yes', 'no'] as const, u);
  if (str('sender')) options.sender = oneOf<SendMode>('sender', str('sender')!, SEND_MODES, u);
  if (str('seconds') && str('bytes')) throw new UsageError('--seconds and --bytes are exclusive', u);
  if (str('seconds')) options.seconds = numberArg('seconds', str('seconds')!, u, 0.05);
  if (str('bytes')) options.bytes = sizeArg('bytes', str('bytes')!, u);
  if (str('chunk')) options.chunkBytes = sizeArg('chunk', str('chunk')!, u);
  if (options.chunkBytes !== undefined && options.chunkBytes > MAX_CHUNK_BYTES) throw new UsageError(`--chunk must be at most ${MAX_CHUNK_BYTES / 2 ** 20}m`, u);
  if (str('repeats')) options.repeats = numberArg('repeats', str('repeats')!, u, MIN_REPEATS, true);
  if (str('warmup')) options.warmupSeconds = numberArg('warmup', str('warmup')!, u, 0);
  if (str('order-seed')) options.orderSeed = numberArg('order-seed', str('order-seed')!, u, 0, true);
  if (str('cpus')) {
    if (str('cpus') === 'none') options.cpus = null;
    else {
      const parts = str('cpus')!.split(',');
      if (parts.length !== 2) throw new UsageError(`--cpus must be RX,TX (e.g. 0,1 or 0+2,1+3) or none, got '${str('cpus')}'`, u);
      const last = capabilities().cpus - 1;
      const [rx, tx] = parts.map((part) => part.split('+').map((p) => numberArg('cpus', p, u, 0, true)));
      const missing = [...rx, ...tx].filter((cpu) => cpu > last);
      if (missing.length) throw new UsageError(`--cpus: CPU ${missing.join(', ')} does not exist (this machine has CPUs 0..${last})`, u);
      if (rx.some((cpu) => tx.includes(cpu))) throw new UsageError(`--cpus: CPU ${rx.filter((cpu) => tx.includes(cpu)).join(', ')} is on both sides; receiver and sender CPUs must differ`, u);
      options.cpus = { rx: rx[0], tx: tx[0] };
      if (rx.length > 1 || tx.length > 1) options.cpuSets = { rx, tx };
    }
  }
  if (str('flows')) options.flows = numberArg('flows', str('flows')!, u, 1, true, MAX_FLOWS);
  if (str('layout')) options.layout = oneOf('layout', str('layout')!, ['processes', 'threads'] as const, u);
  if (str('rps')) options.rps = oneOf('rps', str('rps')!, ['auto', 'on', 'off'] as const, u);
  if (str('reference')) options.reference = oneOf('reference', str('reference')!, ['auto', 'iperf3', 'none'] as const, u);
  options.mssEmulation = values['mss-emulation'] === true;
  Object.assign(options, outputsArg(values, u));
  if (str('peer') !== undefined) options.peer = peerArg(str('peer')!, u);
  return options;
}

/** The report files asked for; at most one of them may be '-' (stdout). */
function outputsArg(values: Values, usage: string): Outputs {
  const outputs: Outputs = {};
  for (const kind of ['json', 'csv', 'html', 'markdown'] as const) if (typeof values[kind] === 'string') outputs[kind] = values[kind] as string;
  const toStdout = Object.entries(outputs).filter(([, file]) => file === '-');
  if (toStdout.length > 1) throw new UsageError(`only one report can go to stdout ('-'), got --${toStdout.map(([k]) => k).join(' - and --')} -`, usage);
  return outputs;
}

const RENDER: Record<keyof Outputs, (report: CompareReport) => string> = { json: renderJson, csv: renderCsv, html: renderHtml, markdown: renderMarkdown };

function writeOutputs(report: CompareReport, outputs: Outputs): void {
  for (const [kind, file] of Object.entries(outputs) as Array<[keyof Outputs, string | undefined]>) {
    if (!file) continue;
    if (file === '-') process.stdout.write(RENDER[kind](report));
    else {
      writeFileSync(file, RENDER[kind](report));
      process.stderr.write(`wrote ${kind.toUpperCase()} report: ${file}\n`);
    }
  }
}

/** Colour like other CLIs: NO_COLOR (set, non-empty) turns it off, FORCE_COLOR on (0/false off), else the stream decides. */
function useColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR);
  return stream.isTTY === true && typeof stream.hasColors === 'function' && stream.hasColors();
}

/** The table goes to stdout unless a report does; then to stderr, beside the progress. */
function printTable(report: CompareReport, outputs: Outputs = {}): void {
  const stream = Object.values(outputs).includes('-') ? process.stderr : process.stdout;
  stream.write(`${renderTable(report, { color: useColor(stream), width: stream.columns })}\n`);
}

async function compareCommand(args: string[]): Promise<number> {
  const { values } = parse(args, COMPARE_USAGE, {
    quick: { type: 'boolean' }, modes: { type: 'string' }, mtu: { type: 'string' }, touch: { type: 'string' },
    sender: { type: 'string' }, seconds: { type: 'string' }, bytes: { type: 'string' }, chunk: { type: 'string' },
    repeats: { type: 'string' }, warmup: { type: 'string' }, 'order-seed': { type: 'string' }, cpus: { type: 'string' }, perf: { type: 'boolean' },
    reference: { type: 'string' }, peer: { type: 'string' }, 'mss-emulation': { type: 'boolean' },
    layout: { type: 'string' }, rps: { type: 'string' }, flows: { type: 'string' },
    json: { type: 'string' }, csv: { type: 'string' }, html: { type: 'string' }, markdown: { type: 'string' },
    token: { type: 'string' }, calibration: { type: 'string' },
  });
  if (values.help) {
    console.log(COMPARE_USAGE);
    return EXIT.ok;
  }
  const { json, csv, html, markdown, ...options } = compareOptions(values);
  const outputs = { json, csv, html, markdown };
  if (values.token !== undefined && !options.peer) throw new UsageError('--token goes with --peer', COMPARE_USAGE);
  const token = (values.token as string | undefined) ?? process.env.PAGEFLIP_TOKEN;
  const calibration = await compareCalibration(values.calibration as string | undefined, options.quick === true);
  // Ctrl-C: finish the run in progress, then write what was measured; a second one quits now.
  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('\npageflip: interrupted: stopping after the run in progress (Ctrl-C again to quit now)\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const started = performance.now();
    const report = await runCompare({ ...options, token, calibration, signal: interrupt.signal, onProgress: progressReporter() });
    printTable(report, outputs);
    writeOutputs(report, outputs);
    process.stderr.write(`compare took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return report.runs.some((r) => r.mismatches > 0) ? EXIT.mismatch : EXIT.ok;
  } catch (error) {
    const report = (error as { report?: CompareReport }).report;
    if (!report) throw error;
    if (report.runs.length) printTable(report, outputs);
    writeOutputs(report, outputs);
    process.stderr.write(`pageflip: ${report.error}\n`);
    if (interrupt.signal.aborted) return EXIT.interrupted;
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The calibration compare's model uses: a file, none, or a run now (before any traffic). */
async function compareCalibration(file: string | undefined, quick: boolean): Promise<{ result: CalibrationResult; source: string } | null> {
  if (file === 'none') return null;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw pageflipError('ERR_PAGEFLIP_BAD_CALIBRATION', `${file}: cannot read it (${(error as Error).message})`);
    }
    return { result: parseCalibration(text, file), source: `file ${file}` };
  }
  process.stderr.write(`calibrating the cost model (${quick ? 'a few seconds' : 'about 10 s'})...\n`);
  return { result: await runCalibration({ quick }), source: `'pageflip calibrate${quick ? ' --quick' : ''}' run just before compare` };
}

async function calibrateCommand(args: string[]): Promise<number> {
  const { values } = parse(args, CALIBRATE_USAGE, { quick: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) {
    console.log(CALIBRATE_USAGE);
    return 0;
  }
  if (!values.json) process.stderr.write(`calibrating (${values.quick ? 'a few seconds' : 'about 10 s'})...\n`);
  const result = await runCalibration({ quick: values.quick === true });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatCalibration(result));
  return 0;
}

/** The first sentence of a tool's message (perf explains its paranoia settings at length). */
function brief(text: string): string {
  const first = text.replace(/\s+/g, ' ').match(/^.*?(?=[.!](\s|$))/)?.[0] ?? text;
  return first.length > 160 ? `${first.slice(0, 157)}...` : first;
}

function line(name: string, feature: Feature): string {
  return `  ${name.padEnd(22)} ${feature.supported ? 'yes' : 'no '}  ${feature.reason}`;
}

async function infoCommand(args: string[]): Promise<number> {
  const { values } = parse(args, INFO_USAGE, { json: { type: 'boolean' } });
  if (values.help) {
    console.log(INFO_USAGE);
    return 0;
  }
  const caps = capabilities();
  const { hostInfo } = await import('./experiment/host.js');
  const host = hostInfo(caps);
  const netns = netnsUnavailableReason();
  const iperf3 = referenceNote();
  // iperf3 rows run only inside private namespaces: without them compare skips the rows, say so.
  const iperf3Line = netns && !/not found/.test(iperf3) ? `${iperf3.replace(/:.*$/, '')}: iperf3 rows skipped, they need a private network namespace (run as root)` : iperf3;
  const perf = await probePerfEvents();
  const perfEvents = perf.events.map(({ event, available, reason }) => ({ event, available, reason: reason ?? null }));
  const cve = caps.zerocopyReceive.supported ? zerocopyReceiveCveWarning(caps.kernelRelease) : undefined;
  const virtualization = virtualizationInfo();
  if (values.json) {
    console.log(JSON.stringify({ host, capabilities: caps, warnings: cve ? [cve] : [], virtualization, experiment: { netns: netns ?? null, iperf3: iperf3Line, perf: { usable: !perf.reason, reason: perf.reason ?? null, events: perfEvents } } }, null, 2));
    return 0;
  }
  console.log(`${host.hostname}: Linux ${caps.kernelRelease} (${caps.machine}), ${host.cpuModel}, ${caps.cpus} CPUs, page size ${caps.pageSize}`);
  console.log(`  virtualization         ${virtualization.summary}`);
  console.log('\nmechanisms');
  console.log(line('zero-copy receive', caps.zerocopyReceive));
  if (cve) console.log(`  ${''.padEnd(22)} warning: ${cve}`);
  console.log(line('MSG_ZEROCOPY send', caps.msgZerocopy));
  console.log(line('splice / vmsplice', caps.splice));
  console.log(line('mremap DONTUNMAP', caps.mremapDontUnmap));
  console.log(line('external buffers', caps.externalBuffers));
  console.log(line('transparent hugepages', caps.transparentHugePages));
  console.log(line('network namespaces', caps.networkNamespaces));
  // The binary being there is not enough: say whether this user may count (perf_event_paranoid).
  console.log(line('perf', perf.reason ? { supported: false, reason: brief(perf.reason) } : caps.perf));
  console.log('\nfor pageflip compare');
  console.log(`  network      ${netns ? `MSS emulation on the host loopback (${netns})` : 'private namespaces, lo MTU set per run'}`);
  console.log(`  modes        ${caps.zerocopyReceive.supported ? 'copy, zerocopy, flip, copy-remap, splice, node' : 'copy, copy-remap, splice, node (no zero-copy receive: zerocopy/flip unavailable)'}`);
  console.log(`  pinning      ${caps.cpus >= 2 ? 'receiver on CPU 0, sender on CPU 1' : 'one CPU: sender and receiver share it'}`);
  if (perf.reason) console.log(`  perf         ${brief(perf.reason)}: --perf runs without counters`);
  else {
    const counted = perfEvents.filter((e) => e.available).map((e) => e.event);
    const missing = perfEvents.filter((e) => !e.available).map((e) => e.event);
    console.log(`  perf         --perf counts ${counted.join(', ')}`);
    if (missing.length) console.log(`               unavailable here (reported as n/a, never 0): ${missing.join(', ')}`);
  }
  console.log(`  iperf3       ${iperf3Line}`);
  return 0;
}

async function serveCommand(args: string[]): Promise<number> {
  const u = SERVE_USAGE;
  const { values } = parse(args, u, {
    listen: { type: 'string' }, token: { type: 'string' }, 'no-auth': { type: 'boolean' }, 'max-duration': { type: 'string' },
    'max-bytes': { type: 'string' }, 'handshake-timeout': { type: 'string' }, 'idle-timeout': { type: 'string' },
  });
  if (values.help) {
    console.log(u);
    return 0;
  }
  const str = (name: string) => values[name] as string | undefined;
  const listen = str('listen') ?? `0.0.0.0:${PEER_PORT}`;
  const m = listen.match(/^(.+):(\d+)$/);
  if (!m) throw new UsageError(`--listen must be ADDR:PORT, got '${listen}'`, u);
  const host = m[1].replace(/^\[(.*)\]$/, '$1');
  const token = str('token') ?? process.env.PAGEFLIP_TOKEN ?? null;
  if (token !== null && values['no-auth']) throw new UsageError('--no-auth and a token (--token or PAGEFLIP_TOKEN) are exclusive', u);
  if (token !== null && token.length < 16) throw new UsageError('the token must have at least 16 characters (e.g. openssl rand -hex 16)', u);
  if (token === null && !isLoopback(host)) {
    if (!values['no-auth'])
      throw new UsageError(`serving on ${host} without a token lets anyone who reaches it drive this host: pass --token (or set PAGEFLIP_TOKEN), or --no-auth to accept that`, u);
    process.stderr.write(`warning: serving on ${host} without a token (--no-auth): anyone who reaches port ${m[2]} can make this host send, within the limits\n`);
  }
  const seconds = (name: string, fallback: number) => (str(name) ? numberArg(name, str(name)!, u, 1, true, MAX_TIMEOUT_SECONDS) : fallback);
  await serve(
    {
      host,
      port: numberArg('listen', m[2], u, 0, true, 65535),
      token,
      maxSeconds: seconds('max-duration', SERVE_DEFAULTS.maxSeconds),
      maxBytes: str('max-bytes') ? sizeArg('max-bytes', str('max-bytes')!, u) : SERVE_DEFAULTS.maxBytes,
      handshakeSeconds: seconds('handshake-timeout', SERVE_DEFAULTS.handshakeSeconds),
      idleSeconds: seconds('idle-timeout', SERVE_DEFAULTS.idleSeconds),
    },
    (message) => process.stderr.write(`${message}\n`),
  );
  return 0;
}

async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, REPORT_USAGE, { html: { type: 'string' }, csv: { type: 'string' }, markdown: { type: 'string' }, table: { type: 'boolean' } }, true);
  if (values.help) {
    console.log(REPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('report needs exactly one FILE.json', REPORT_USAGE);
  const outputs = outputsArg(values, REPORT_USAGE);
  const report = parseReport(readFileSync(positionals[0], 'utf8'));
  if (values.table || Object.keys(outputs).length === 0) printTable(report, outputs);
  writeOutputs(report, outputs);
  return EXIT.ok;
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  compare: compareCommand,
  calibrate: calibrateCommand,
  info: infoCommand,
  serve: serveCommand,
  report: reportCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (command === '--version' || command === '-V') {
    console.log(pageflipVersion());
    return EXIT.ok;
  }
  if (!command) throw new UsageError('no command given', USAGE);
  const run = commands[command];
  if (!run) throw new UsageError(`unknown command '${command}'`, USAGE);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`pageflip: ${error.message}\n\n${error.usage}`);
      process.exitCode = EXIT.usage;
      return;
    }
    const e = error as Error & { code?: string };
    console.error(`pageflip: ${e.code ? `${e.code}: ` : ''}${e.message}`);
    process.exitCode = EXIT.failure;
  },
);

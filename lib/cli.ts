#!/usr/bin/env node
// pageflip command line: parses arguments, hands off to the experiment, prints and writes
// reports. It never measures anything itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { capabilities, type Feature } from './capabilities.js';
import { formatCalibration, runCalibration } from './experiment/calibrate.js';
import { compare, localEnvironment, MAX_MTU, MIN_MTU, MIN_REPEATS, RECEIVE_ROWS, type CompareOptions } from './experiment/compare.js';
import { referenceRunners, referenceNote } from './experiment/references.js';
import { probePerfEvents } from './experiment/perf.js';
import { progressReporter } from './experiment/progress.js';
import { netnsUnavailableReason } from './experiment/netns.js';
import { peerEnvironment, serve } from './experiment/peer.js';
import type { CompareReport, RowMode } from './experiment/types.js';
import { parseReport, renderCsv, renderHtml, renderJson, renderTable } from './report/index.js';
import type { SendMode } from './native.js';

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

Run 'pageflip <command> --help' for a command's options.`;

const COMPARE_USAGE = `Usage: pageflip compare [options]

Runs page-moving receive against the copy path at the paper's MTUs, touch and notouch, and reports
throughput, system-wide CPU, efficiency (Mbit/s ÷ CPU %) and, with --perf, kernel counters.
Local runs use private network namespaces (root); otherwise MTUs are emulated with TCP_MAXSEG.

Options:
  --quick               ≤ 60 s: copy, zerocopy, flip at MTU 4148 and 8244, touch and notouch
  --modes LIST          receive modes: copy,zerocopy,flip,copy-remap,splice,node
                        (default copy,zerocopy,flip,copy-remap)
  --mtu LIST            MTUs (default 4148,8244,61512; the paper's are 4148 and 8244)
  --touch both|yes|no   verify every byte (touch) and/or never read it (notouch); default both
  --sender MODE         zerocopy (default: MSG_ZEROCOPY, what makes loopback pages mappable),
                        write or splice; 'copy ← write' always runs as the best-copy reference
  --seconds N           seconds per measured run (default 2, quick 0.5)
  --bytes N             bytes per run instead of a duration (suffixes k, m, g)
  --chunk N             bytes per receive call (default 256k)
  --repeats N           repeats per point (default 3; median and min-max reported)
  --warmup N            warm-up seconds before each run (default 0.3, quick 0.1)
  --cpus RX,TX          pin receiver and sender to these CPUs (default 0,1), or 'none'
  --perf                perf stat counters per MB alongside each run
  --reference MODE      iperf3 rows: auto (default: when installed), iperf3, none
  --peer HOST:PORT      receive here from 'pageflip serve' on another host
  --mss-emulation       use the host loopback with TCP_MAXSEG instead of namespaces
  --json FILE           write the full report (schema pageflip-compare/1)
  --csv FILE            write one row per run
  --html FILE           write a self-contained page of charts
  -h, --help            this text`;

const CALIBRATE_USAGE = `Usage: pageflip calibrate [--quick] [--json]

Measures memcpy bandwidth (cache-hot and cold) and the cost of moving pages with mremap, alone and
with a second thread (TLB shootdowns), and the page count per call from which moving beats copying.`;

const INFO_USAGE = `Usage: pageflip info [--json]

Prints kernel, CPU and runtime capabilities relevant to page-moving receive, and what they mean
for 'pageflip compare'.`;

const SERVE_USAGE = `Usage: pageflip serve [--listen ADDR:PORT]

Waits for 'pageflip compare --peer ADDR:PORT' from another host and acts as its sender: the control
connection carries the run plan, starts and stops each run, and returns this host's CPU figures.
Default --listen 0.0.0.0:7470. Serves one compare at a time until interrupted.`;

const REPORT_USAGE = `Usage: pageflip report FILE.json [--html FILE] [--csv FILE] [--table]

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

function compareOptions(values: Values): CompareOptions & { json?: string; csv?: string; html?: string; peer?: string } {
  const u = COMPARE_USAGE;
  const str = (name: string) => values[name] as string | undefined;
  const options: CompareOptions & { json?: string; csv?: string; html?: string; peer?: string } = { quick: values.quick === true, perf: values.perf === true };
  if (str('modes')) options.modes = listArg<RowMode>('modes', str('modes')!, RECEIVE_ROWS, u);
  if (str('mtu')) options.mtus = str('mtu')!.split(',').map((m) => numberArg('mtu', m, u, MIN_MTU, true, MAX_MTU));
  if (str('touch')) options.touch = listArg('touch', str('touch')!, ['both', 'yes', 'no'] as const, u)[0];
  if (str('sender')) options.sender = listArg<SendMode>('sender', str('sender')!, ['write', 'zerocopy', 'splice'], u)[0];
  if (str('seconds') && str('bytes')) throw new UsageError('--seconds and --bytes are exclusive', u);
  if (str('seconds')) options.seconds = numberArg('seconds', str('seconds')!, u, 0.05);
  if (str('bytes')) options.bytes = sizeArg('bytes', str('bytes')!, u);
  if (str('chunk')) options.chunkBytes = sizeArg('chunk', str('chunk')!, u);
  if (options.chunkBytes !== undefined && options.chunkBytes > 64 * 2 ** 20) throw new UsageError('--chunk must be at most 64m', u);
  if (str('repeats')) options.repeats = numberArg('repeats', str('repeats')!, u, MIN_REPEATS, true);
  if (str('warmup')) options.warmupSeconds = numberArg('warmup', str('warmup')!, u, 0);
  if (str('cpus')) {
    if (str('cpus') === 'none') options.cpus = null;
    else {
      const parts = str('cpus')!.split(',');
      if (parts.length !== 2) throw new UsageError(`--cpus must be RX,TX (e.g. 0,1) or none, got '${str('cpus')}'`, u);
      const last = capabilities().cpus - 1;
      const [rx, tx] = parts.map((p) => numberArg('cpus', p, u, 0, true, last));
      options.cpus = { rx, tx };
    }
  }
  if (str('reference')) options.reference = listArg('reference', str('reference')!, ['auto', 'iperf3', 'none'] as const, u)[0];
  options.mssEmulation = values['mss-emulation'] === true;
  options.json = str('json');
  options.csv = str('csv');
  options.html = str('html');
  options.peer = str('peer');
  if (options.peer && !/^[^\s]+:\d+$/.test(options.peer)) throw new UsageError(`--peer must be HOST:PORT, got '${options.peer}'`, u);
  return options;
}

function writeOutputs(report: CompareReport, outputs: { json?: string; csv?: string; html?: string }): void {
  if (outputs.json) writeFileSync(outputs.json, renderJson(report));
  if (outputs.csv) writeFileSync(outputs.csv, renderCsv(report));
  if (outputs.html) writeFileSync(outputs.html, renderHtml(report));
  for (const [kind, file] of Object.entries(outputs)) if (file) process.stderr.write(`wrote ${kind.toUpperCase()} report: ${file}\n`);
}

function table(report: CompareReport): string {
  return renderTable(report, { color: process.stdout.isTTY === true, width: process.stdout.columns });
}

async function compareCommand(args: string[]): Promise<number> {
  const { values } = parse(args, COMPARE_USAGE, {
    quick: { type: 'boolean' }, modes: { type: 'string' }, mtu: { type: 'string' }, touch: { type: 'string' },
    sender: { type: 'string' }, seconds: { type: 'string' }, bytes: { type: 'string' }, chunk: { type: 'string' },
    repeats: { type: 'string' }, warmup: { type: 'string' }, cpus: { type: 'string' }, perf: { type: 'boolean' },
    reference: { type: 'string' }, peer: { type: 'string' }, 'mss-emulation': { type: 'boolean' },
    json: { type: 'string' }, csv: { type: 'string' }, html: { type: 'string' },
  });
  if (values.help) {
    console.log(COMPARE_USAGE);
    return 0;
  }
  const options = compareOptions(values);
  // referenceRunners() itself honours --reference none.
  const references = options.peer ? new Map() : referenceRunners(options, (m: string) => process.stderr.write(`${m}\n`));
  const env = options.peer ? await peerEnvironment(options.peer) : localEnvironment(options, references);
  try {
    const report = await compare(options, env, progressReporter());
    console.log(table(report));
    writeOutputs(report, { json: options.json, csv: options.csv, html: options.html });
    return report.runs.some((r) => r.mismatches > 0) ? 1 : 0;
  } finally {
    env.close();
  }
}

async function calibrateCommand(args: string[]): Promise<number> {
  const { values } = parse(args, CALIBRATE_USAGE, { quick: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) {
    console.log(CALIBRATE_USAGE);
    return 0;
  }
  if (!values.json) process.stderr.write(`calibrating (${values.quick ? 'under a second' : 'a few seconds'})...\n`);
  const result = await runCalibration({ quick: values.quick === true });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatCalibration(result));
  return 0;
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
  const perf = await probePerfEvents();
  const perfEvents = perf.events.map(({ event, available, reason }) => ({ event, available, reason: reason ?? null }));
  if (values.json) {
    console.log(JSON.stringify({ host, capabilities: caps, experiment: { netns: netns ?? null, iperf3, perf: { usable: !perf.reason, reason: perf.reason ?? null, events: perfEvents } } }, null, 2));
    return 0;
  }
  console.log(`${host.hostname}: Linux ${caps.kernelRelease} (${caps.machine}), ${host.cpuModel}, ${caps.cpus} CPUs, page size ${caps.pageSize}`);
  console.log('\nmechanisms');
  console.log(line('zero-copy receive', caps.zerocopyReceive));
  console.log(line('MSG_ZEROCOPY send', caps.msgZerocopy));
  console.log(line('splice / vmsplice', caps.splice));
  console.log(line('mremap DONTUNMAP', caps.mremapDontUnmap));
  console.log(line('external buffers', caps.externalBuffers));
  console.log(line('transparent hugepages', caps.transparentHugePages));
  console.log(line('network namespaces', caps.networkNamespaces));
  console.log(line('perf', caps.perf));
  console.log('\nfor pageflip compare');
  console.log(`  network      ${netns ? `MSS emulation on the host loopback (${netns})` : 'private namespaces, lo MTU set per run'}`);
  console.log(`  modes        ${caps.zerocopyReceive.supported ? 'copy, zerocopy, flip, copy-remap, splice, node' : 'copy, copy-remap, splice, node (no zero-copy receive: zerocopy/flip unavailable)'}`);
  console.log(`  pinning      ${caps.cpus >= 2 ? 'receiver on CPU 0, sender on CPU 1' : 'one CPU: sender and receiver share it'}`);
  if (perf.reason) console.log(`  perf         ${perf.reason}: --perf runs without counters`);
  else {
    const counted = perfEvents.filter((e) => e.available).map((e) => e.event);
    const missing = perfEvents.filter((e) => !e.available).map((e) => e.event);
    console.log(`  perf         --perf counts ${counted.join(', ')}`);
    if (missing.length) console.log(`               unavailable here (reported as n/a, never 0): ${missing.join(', ')}`);
  }
  console.log(`  iperf3       ${iperf3}`);
  return 0;
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(args, SERVE_USAGE, { listen: { type: 'string' } });
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  const listen = (values.listen as string | undefined) ?? '0.0.0.0:7470';
  const m = listen.match(/^(.+):(\d+)$/);
  if (!m) throw new UsageError(`--listen must be ADDR:PORT, got '${listen}'`, SERVE_USAGE);
  await serve({ host: m[1], port: numberArg('listen', m[2], SERVE_USAGE, 0, true) }, (message) => process.stderr.write(`${message}\n`));
  return 0;
}

async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, REPORT_USAGE, { html: { type: 'string' }, csv: { type: 'string' }, table: { type: 'boolean' } }, true);
  if (values.help) {
    console.log(REPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('report needs exactly one FILE.json', REPORT_USAGE);
  const report = parseReport(readFileSync(positionals[0], 'utf8'));
  if (values.table || (!values.html && !values.csv)) console.log(table(report));
  writeOutputs(report, { html: values.html as string | undefined, csv: values.csv as string | undefined });
  return 0;
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
    return 0;
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
      process.exitCode = 2;
      return;
    }
    const e = error as Error & { code?: string };
    console.error(`pageflip: ${e.code ? `${e.code}: ` : ''}${e.message}`);
    process.exitCode = 1;
  },
);

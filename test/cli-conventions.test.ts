// The CLI follows the conventions of iperf3, hyperfine and friends, checked through the spawned
// dist/cli.js: --version, --json - on stdout (table and progress on stderr), --markdown,
// NO_COLOR / FORCE_COLOR / a terminal's colours, documented exit codes (3: bytes did not match,
// 130: Ctrl-C), reports that survive Ctrl-C and a failure mid-run, --peer's default port, one
// value where one is expected, and what a non-root run skips said on the terminal and in JSON.
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';
import { parseReport } from '../lib/report/index.js';
import { findExecutable } from '../lib/capabilities.js';
import { netnsSkip, network } from './helpers/network.js';

const cli = join(packageRoot, 'dist', 'cli.js');
const distSkip = existsSync(cli) ? false : 'dist/cli.js missing: run `npm run compile` (npm test does)';
const version = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
// The smallest compare: one run of 1 MiB per point.
const tiny = ['--bytes', '1m', '--repeats', '1', '--mtu', '4148', '--touch', 'no', '--warmup', '0', '--reference', 'none'];

function run(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-conv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Collects a child's stderr; `until(text)` resolves once it has appeared. */
function watch(child: ChildProcess) {
  let text = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters.filter((w) => w.pattern.test(text))) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    get text() {
      return text;
    },
    exited,
    until: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(text)) return resolve();
        waiters.push({ pattern, resolve });
        void exited.then(() => reject(new Error(`exited before ${pattern}: ${text}`)));
      }),
  };
}

t.test('--version and -V print the package version', { skip: distSkip }, async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = run([flag]);
    t.equal(r.code, 0);
    t.equal(r.stdout, `${version}\n`, `${flag} prints ${version}`);
  }
  t.match(run(['--help']).stdout, /-V, --version[\s\S]*Exit status: 0 success; 1 a runtime failure; 2 bad usage; 3 .*did not\s+match.*130 interrupted/, 'exit codes documented in --help');
});

t.test('one value where one is expected; one report on stdout', { skip: distSkip }, async (t) => {
  const bad: Array<[string[], RegExp]> = [
    [['compare', '--sender', 'write,splice'], /--sender takes one value, got the list 'write,splice'/],
    [['compare', '--touch', 'yes,no'], /--touch takes one value/],
    [['compare', '--reference', 'none,iperf3'], /--reference takes one value/],
    [['compare', '--json', '-', '--csv', '-'], /only one report can go to stdout/],
    [['compare', '--peer', 'a:b:c'], /--peer must be HOST or HOST:PORT, got 'a:b:c'/],
    [['compare', '--peer', 'host:99999'], /--peer must be an integer from 1 to 65535/],
    [['report', 'x.json', '--markdown', '-', '--html', '-'], /only one report can go to stdout/],
  ];
  for (const [args, message] of bad) {
    const r = run(args);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr.split('\n')[0], message);
  }
});

t.test('--json - writes the report to stdout; table and progress go to stderr; --markdown; colour', { skip: distSkip || netnsSkip }, async (t) => {
  const dir = tempDir(t);
  const markdown = join(dir, 'r.md');
  const r = run(['compare', ...tiny, '--modes', 'copy', '--json', '-', '--markdown', markdown]);
  t.equal(r.code, 0, r.stderr);
  const report = parseReport(r.stdout); // stdout is the JSON and nothing else
  t.equal(report.runs.length, 2, 'copy and copy ← write');
  t.match(r.stderr, /pageflip compare: 2 runs/, 'progress on stderr');
  t.match(r.stderr, /MTU 4148 .*\n[\s\S]*Verdict/, 'the table on stderr');
  t.match(r.stderr, /wrote MARKDOWN report/);
  const md = readFileSync(markdown, 'utf8');
  t.match(md, /^# pageflip compare — /);
  t.match(md, /## MTU 4148, notouch\n\n\| mode \| Gbit\/s \(min–max\) \| CPU % \| CPU-µs\/MB \| efficiency \| mapped % \| eff ÷ copy \|\n\|:---\|---:/);
  t.match(md, /\n\| copy \| [\d.]+ \([\d.]+–[\d.]+\) \| /, 'a row per point');
  t.match(md, /## Verdict\n\n\S/);

  // Colour: report re-renders the saved file, so each case costs no measuring.
  const saved = join(dir, 'r.json');
  writeFileSync(saved, r.stdout);
  const ansi = /\x1b\[/;
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  delete env.NODE_DISABLE_COLORS; // Node's own switch: hasColors() is false under it
  t.notMatch(run(['report', saved], env).stdout, ansi, 'no colour into a pipe');
  t.match(run(['report', saved], { ...env, FORCE_COLOR: '1' }).stdout, ansi, 'FORCE_COLOR forces it');
  t.notMatch(run(['report', saved], { ...env, FORCE_COLOR: '0' }).stdout, ansi, 'FORCE_COLOR=0 does not');
  t.notMatch(run(['report', saved], { ...env, FORCE_COLOR: '1', NO_COLOR: '1' }).stdout, ansi, 'NO_COLOR wins');
  const md2 = run(['report', saved, '--markdown', '-']);
  t.equal(md2.stdout.replace(/^# .*\n/, ''), md.replace(/^# .*\n/, ''), 'report --markdown - gives the same Markdown on stdout');
  const terminal = probeTerminal(env);
  t.test('a real terminal: hasColors() decides', { skip: terminal.missing }, async (t) => terminalColour(t, saved, env, terminal.node));
});

/** Node's own view of its stdout, printed inside a pseudo-terminal. */
function ttyProbeCommand() {
  return `${process.execPath} -p "'isTTY=' + process.stdout.isTTY + ' hasColors=' + process.stdout.hasColors?.()"`;
}

/** script(1) gives the CLI a pseudo-terminal and runs `command` there. */
function inPty(command: string, env: NodeJS.ProcessEnv, term: string, extra: NodeJS.ProcessEnv = {}) {
  return spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...terminalEnv(env), TERM: term, ...extra }, timeout: 60_000 });
}

/**
 * The environment of a plain interactive terminal: Node's colour rule (tty.getColorDepth) also reads
 * CI and TEAMCITY_VERSION (a CI job gets no colour even on a pty) and TMUX, COLORTERM, TERM_PROGRAM
 * (more colour), so the cases below would test the runner's environment instead of TERM.
 */
function terminalEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of ['CI', 'TEAMCITY_VERSION', 'TMUX', 'COLORTERM', 'TERM_PROGRAM']) delete clean[name];
  return clean;
}

/** Node's answer inside a pty, or why no terminal test can run here (a sandbox without devpts). */
function probeTerminal(env: NodeJS.ProcessEnv): { missing: string | false; node: string } {
  if (!findExecutable('script')) return { missing: 'script(1) (util-linux) is not installed', node: '' };
  const probe = inPty(ttyProbeCommand(), env, 'xterm-256color');
  const node = (probe.stdout ?? '').trim();
  if (/isTTY=true/.test(node)) return { missing: false, node };
  return { missing: `script(1) could not give a terminal here: ${(probe.stderr || node || String(probe.error)).trim()}`, node };
}

function terminalColour(t: Test, saved: string, env: NodeJS.ProcessEnv, node: string) {
  const report = (term: string, extra: NodeJS.ProcessEnv = {}) => {
    const out = inPty(`${process.execPath} ${cli} report ${saved}`, env, term, extra).stdout ?? '';
    t.match(out, /Verdict/, `TERM=${term}${extra.NO_COLOR ? ' NO_COLOR=1' : ''}: the report was printed`);
    return out;
  };
  const ansi = /\x1b\[/;
  t.match(report('xterm-256color'), ansi, `a colour terminal gets colour (Node's own answer there: ${node})`);
  t.notMatch(report('dumb'), ansi, 'a dumb terminal does not');
  t.notMatch(report('xterm-256color', { NO_COLOR: '1' }), ansi, 'NO_COLOR turns it off on a terminal');
  t.end();
}

/** serve inside a namespace: `proxy` puts a line-rewriting relay in front of its control port. */
async function peerSetup(t: Test) {
  const net = network(t, 4148);
  // --no-auth: the namespace is private to this test; the token path has its own tests (serve.test.ts).
  const server = net.spawn(process.execPath, [cli, 'serve', '--no-auth'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => server.kill('SIGKILL'));
  const serverLog = watch(server);
  await serverLog.until(/listening/);
  const compare = (args: string[]) => {
    const child = net.spawn(process.execPath, [cli, 'compare', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    return { child, log: watch(child), stdout: () => stdout };
  };
  return { net, server, serverLog, compare };
}

t.test('--peer HOST uses port 7470; a failure mid-run still writes the runs measured, with "error"', { skip: distSkip || netnsSkip }, async (t) => {
  const { server, compare } = await peerSetup(t);
  const dir = tempDir(t);
  const ok = compare(['--peer', '127.0.0.1', ...tiny, '--modes', 'copy', '--json', join(dir, 'ok.json')]);
  t.equal(await ok.log.exited, 0, ok.log.text);
  const report = parseReport(readFileSync(join(dir, 'ok.json'), 'utf8'));
  t.equal(report.config.peer, '127.0.0.1:7470', 'the default port was used');
  t.equal(report.error, undefined, 'a finished run has no error field');

  const json = join(dir, 'cut.json');
  const cut = compare(['--peer', '127.0.0.1:7470', ...tiny, '--repeats', '20', '--modes', 'copy', '--json', json]);
  await cut.log.until(/\[1\/\d+\]/); // the first run is measured
  server.kill('SIGKILL');
  t.equal(await cut.log.exited, 1, 'a failure exits 1');
  const partial = parseReport(readFileSync(json, 'utf8'));
  t.ok(partial.runs.length >= 1 && partial.runs.length < 40, `${partial.runs.length} runs measured before the failure are in the report`);
  t.match(partial.error, /^run \d+ of 40 failed: \S/, 'and "error" says what happened');
  t.match(cut.log.text, /pageflip: run \d+ of 40 failed: /, 'so does the terminal');
});

t.test('exit 3 when bytes do not match; Ctrl-C writes the report and exits 130', { skip: distSkip || netnsSkip }, async (t) => {
  const { net, compare } = await peerSetup(t);
  // A relay in front of serve that changes the seed of every run plan: the sender's pattern then
  // differs from the one the receiver checks, so every touched byte mismatches.
  const relayScript = `
    const { createServer, createConnection } = require('node:net');
    createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: 7470 });
      let buffer = '';
      client.on('data', (chunk) => {
        buffer += chunk.toString();
        let newline;
        while ((newline = buffer.indexOf('\\n')) >= 0) {
          upstream.write(buffer.slice(0, newline).replace(/"seed":(\\d+)/, (_, n) => '"seed":' + (Number(n) + 1000)) + '\\n');
          buffer = buffer.slice(newline + 1);
        }
      });
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    }).listen(7471, '127.0.0.1', () => console.error('relay listening'));`;
  const relay = net.spawn(process.execPath, ['-e', relayScript], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => relay.kill('SIGKILL'));
  await watch(relay).until(/relay listening/);
  const dir = tempDir(t);
  const bad = compare(['--peer', '127.0.0.1:7471', ...tiny, '--touch', 'yes', '--modes', 'copy', '--json', join(dir, 'bad.json')]);
  t.equal(await bad.log.exited, 3, bad.log.text);
  const report = parseReport(readFileSync(join(dir, 'bad.json'), 'utf8'));
  t.ok(report.runs.every((r) => r.mismatches > 0), 'the report shows the mismatches');
  t.match(run(['--help']).stdout, /3 'compare' received bytes that did not\nmatch/);

  const json = join(dir, 'int.json');
  const interrupted = compare(['--peer', '127.0.0.1', ...tiny, '--repeats', '20', '--modes', 'copy', '--json', '-']);
  await interrupted.log.until(/\[1\/\d+\]/);
  interrupted.child.kill('SIGINT');
  t.equal(await interrupted.log.exited, 130, 'Ctrl-C exits 130');
  writeFileSync(json, interrupted.stdout());
  const partial = parseReport(interrupted.stdout());
  t.ok(partial.runs.length >= 1 && partial.runs.length < 40, `the ${partial.runs.length} runs measured are on stdout`);
  t.match(partial.error, /^interrupted after \d+ of 40 runs$/);
  t.match(interrupted.log.text, /interrupted: stopping after the run in progress/);
});

t.test('without root: what is skipped is said on the terminal and in the JSON warnings', { skip: distSkip || (process.getuid?.() === 0 && findExecutable('setpriv') ? false : 'needs root and setpriv to run as nobody') }, async (t) => {
  // A stand-in iperf3 (never run: its rows are skipped without namespaces) makes the rows wanted.
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-nobody-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o777);
  const bin = join(dir, 'bin');
  spawnSync('mkdir', [bin]);
  symlinkSync(process.execPath, join(bin, 'node'));
  writeFileSync(join(bin, 'iperf3'), '#!/bin/sh\necho "iperf 3.12"\n');
  chmodSync(join(bin, 'iperf3'), 0o755);
  // And stdbuf, which iperf3 rows also need (their CPU window reads the server's lines as they come).
  writeFileSync(join(bin, 'stdbuf'), '#!/bin/sh\nexec "$@"\n');
  chmodSync(join(bin, 'stdbuf'), 0o755);
  const json = join(dir, 'r.json');
  const asNobody = (args: string[]) =>
    spawnSync('env', ['-u', 'NODE_OPTIONS', `PATH=${bin}`, findExecutable('setpriv')!, '--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, cli, ...args], { encoding: 'utf8', timeout: 120_000 });
  const r = asNobody(['compare', '--bytes', '1m', '--repeats', '1', '--mtu', '4148', '--touch', 'no', '--warmup', '0', '--modes', 'copy', '--perf', '--json', json]);
  t.equal(r.status, 0, r.stderr);
  const report = parseReport(readFileSync(json, 'utf8'));
  t.notOk(report.runs.some((run) => run.mode.startsWith('iperf3')), 'no iperf3 rows');
  for (const [what, pattern] of [
    ['iperf3', /iperf3 and iperf3-Z reference rows skipped: iperf3 runs only inside a private network namespace/],
    ['MSS emulation', /MTUs are emulated with TCP_MAXSEG.*needs root \(CAP_SYS_ADMIN\)/],
    ['perf', /perf.*running without perf counters/],
  ] as const) {
    t.match(report.warnings.join('\n'), pattern, `${what}: in the JSON warnings`);
    t.match(r.stderr, pattern, `${what}: on the terminal`);
  }
  const info = asNobody(['info']);
  t.equal(info.status, 0, info.stderr);
  t.match(info.stdout, /network namespaces\s+no /);
  t.match(info.stdout, /iperf3 rows skipped, they need a private network namespace/, 'info says the iperf3 rows will not run');
  const perfLine = info.stdout.match(/^ {2}perf {19}(yes|no) /m)?.[1];
  const perfUsable = !/^ {2}perf {9}.*runs without counters/m.test(info.stdout);
  t.equal(perfLine === 'yes', perfUsable, 'the perf mechanism line agrees with what compare --perf will do');
});

// End-to-end runs of the pageflip CLI (the compiled dist/cli.js users run), with tiny byte
// counts: every option, the reports it writes, bad options, missing tools and privileges, and
// serve/compare between two namespaces joined by a veth pair.
import t, { type Test } from 'tap';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';
import { parseReport } from '../lib/report/index.js';
import { findExecutable } from '../lib/capabilities.js';
import { netnsSkip } from './helpers/network.js';

const cli = join(packageRoot, 'dist', 'cli.js');
const distSkip = existsSync(cli) ? false : 'dist/cli.js missing: run `npm run compile` (npm test does)';

function run(args: string[], options: { env?: NodeJS.ProcessEnv; user?: number } = {}) {
  // `env -u NODE_OPTIONS`: tap injects its process-info hook into children, which an
  // unprivileged child could not write; it is dropped after the spawn, just before node starts.
  const command = options.user === undefined ? process.execPath : 'env';
  const argv = options.user === undefined ? [cli, ...args] : ['-u', 'NODE_OPTIONS', 'setpriv', '--reuid', String(options.user), '--regid', String(options.user), '--clear-groups', process.execPath, cli, ...args];
  const r = spawnSync(command, argv, { encoding: 'utf8', env: options.env ?? process.env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Minimal RFC 4180 reader for the CSV checks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else if (c !== '\r') field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

t.test('help and usage errors', { skip: distSkip }, async (t) => {
  const help = run(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /compare .*\n.*calibrate/s);
  for (const command of ['compare', 'calibrate', 'info', 'serve', 'report']) {
    const r = run([command, '--help']);
    t.equal(r.code, 0, `${command} --help exits 0`);
    t.match(r.stdout, new RegExp(`Usage: pageflip ${command}`));
  }
  const bad: Array<[string[], RegExp]> = [
    [[], /no command given/],
    [['teleport'], /unknown command 'teleport'/],
    [['compare', '--mtu', 'nine'], /--mtu must be an integer from 576 to 65536, got 'nine'/],
    [['compare', '--mtu', '100'], /--mtu must be an integer from 576/],
    [['compare', '--touch', 'maybe'], /--touch: unknown maybe/],
    [['compare', '--modes', 'copy,teleport'], /--modes: unknown teleport/],
    [['compare', '--sender', 'pigeon'], /--sender: unknown pigeon/],
    [['compare', '--seconds', '1', '--bytes', '1m'], /exclusive/],
    [['compare', '--bytes', 'lots'], /--bytes must be a size/],
    [['compare', '--chunk', '1g'], /--chunk must be at most 64m/],
    [['compare', '--repeats', '0'], /--repeats must be an integer from 1/],
    [['compare', '--cpus', '0'], /--cpus must be RX,TX/],
    [['compare', '--cpus', '0,4096'], /--cpus: CPU 4096 does not exist \(this machine has CPUs 0\.\./],
    [['compare', '--cpus', '0+7,1'], /--cpus: CPU 7 does not exist/],
    [['compare', '--cpus', '0+1,1'], /--cpus: CPU 1 is on both sides/],
    [['compare', '--cpus', '0,x'], /--cpus must be an integer from 0, got 'x'/],
    [['compare', '--flows', '0'], /--flows must be an integer from 1 to 64, got '0'/],
    [['compare', '--flows', '1000'], /--flows must be an integer from 1 to 64, got '1000'/],
    [['compare', '--layout', 'sideways'], /--layout: unknown sideways \(choose from processes, threads\)/],
    [['compare', '--layout', 'processes,threads'], /--layout takes one value/],
    [['compare', '--rps', 'maybe'], /--rps: unknown maybe \(choose from auto, on, off\)/],
    [['compare', '--peer', 'no:where:at:all'], /--peer must be HOST or HOST:PORT/],
    [['compare', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['serve', '--listen', 'nope'], /--listen must be ADDR:PORT/],
    [['compare', '--token', '0123456789abcdef'], /--token goes with --peer/],
    [['serve'], /serving on 0\.0\.0\.0 without a token lets anyone .* or --no-auth/],
    [['serve', '--token', 'short'], /token must have at least 16 characters/],
    [['serve', '--token', '0123456789abcdef', '--no-auth'], /--no-auth and a token .* are exclusive/],
    [['serve', '--listen', '127.0.0.1:0', '--max-duration', '0'], /--max-duration must be an integer from 1/],
    [['serve', '--listen', '127.0.0.1:0', '--max-bytes', 'lots'], /--max-bytes must be a size/],
    [['report'], /exactly one FILE.json/],
  ];
  for (const [args, message] of bad) {
    const r = run(args);
    t.equal(r.code, 2, `${args.join(' ') || '(nothing)'} exits 2`);
    t.match(r.stderr.split('\n')[0], message, 'with a one-line message');
    t.match(r.stderr, /Usage: pageflip/, 'and the usage');
  }
});

t.test('info and calibrate', { skip: distSkip }, async (t) => {
  const info = run(['info', '--json']);
  t.equal(info.code, 0);
  const parsed = JSON.parse(info.stdout);
  t.equal(parsed.capabilities.pageSize, 4096);
  t.type(parsed.capabilities.zerocopyReceive.supported, 'boolean');
  t.type(parsed.experiment.perf.usable, 'boolean');
  if (parsed.experiment.perf.usable) t.ok(parsed.experiment.perf.events.some((e: { event: string; available: boolean }) => e.event === 'context-switches' && e.available), 'perf events probed');
  t.match(run(['info']).stdout, /for pageflip compare/);
  const cal = run(['calibrate', '--quick', '--json']);
  t.equal(cal.code, 0, cal.stderr);
  const result = JSON.parse(cal.stdout);
  t.ok(Array.isArray(result.crossover) && result.method.length > 0, 'calibration JSON has crossover and method');
  t.equal(result.schema, 'pageflip-calibrate/1', 'a calibration file says what it is');
  // As nobody, MSG_ZEROCOPY sends are bounded by RLIMIT_MEMLOCK and fail with EAGAIN/ENOBUFS until
  // completions return: the calibration flow's sender waits and sends again instead of failing.
  if (process.getuid?.() === 0 && findExecutable('setpriv')) {
    const nobody = run(['calibrate', '--quick', '--json'], { user: 65534 });
    t.equal(nobody.code, 0, `calibrate as nobody: ${nobody.stderr}`);
  }
  t.match(run(['calibrate', '--quick']).stdout, /predicted receiver CPU-µs per MB.*predicted crossover/s, 'calibrate prints the prediction');
  t.match(run(['info']).stdout, /virtualization\s+.*page fault costs/, 'info says what page faults cost here');

  // compare --calibration: bad files are refused with a code before any traffic.
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const good = write('good.json', cal.stdout);
  const bad: Array<[string, RegExp]> = [
    [join(dir, 'absent.json'), /cannot read it/],
    [write('torn.json', cal.stdout.slice(0, 200)), /not JSON/],
    [write('report.json', JSON.stringify({ schema: 'pageflip-compare/1' })), /a "pageflip-compare\/1" file; expected the output of 'pageflip calibrate --json'/],
    [write('nothing.json', '[1, 2]'), /not a calibration file/],
    [write('edited.json', JSON.stringify({ ...result, socket: { ...result.socket, recvCopy: [] } })), /invalid calibration at \$\.socket\.recvCopy: expected at least 1 items/],
  ];
  for (const [file, message] of bad) {
    const r = run(['compare', '--bytes', '1m', '--repeats', '1', '--calibration', file]);
    t.equal(r.code, 1, `${file}: exit 1`);
    t.match(r.stderr, /ERR_PAGEFLIP_BAD_CALIBRATION/, `${file}: coded error`);
    t.match(r.stderr, message, `${file}: says what is wrong`);
    t.notMatch(r.stderr, /\[\d+\/\d+\]/, `${file}: refused before any run`);
  }
  if (!netnsSkip) {
    const json = join(dir, 'r.json');
    const r = run(['compare', '--bytes', '1m', '--repeats', '1', '--mtu', '4148', '--modes', 'copy,zerocopy', '--touch', 'no', '--warmup', '0', '--reference', 'none', '--calibration', good, '--json', json]);
    t.equal(r.code, 0, r.stderr);
    const model = parseReport(readFileSync(json, 'utf8')).model;
    t.equal(model?.source, `file ${good}`, 'the model names its calibration file');
    t.same(model?.rows.map((row) => row.mode), ['copy', 'zerocopy'], 'a model row per compared mode');
  }
});

t.test('compare with every option, writing JSON, CSV and HTML', { skip: distSkip || netnsSkip }, async (t) => {
  const dir = tempDir(t);
  const files = { json: join(dir, 'r.json'), csv: join(dir, 'r.csv'), html: join(dir, 'r.html') };
  const r = run([
    'compare', '--modes', 'copy,zerocopy,flip,copy-remap,splice,node', '--mtu', '4148,8244', '--touch', 'both',
    '--sender', 'zerocopy', '--bytes', '8m', '--chunk', '128k', '--repeats', '2', '--warmup', '0', '--cpus', '0,1',
    '--perf', '--reference', 'auto', '--json', files.json, '--csv', files.csv, '--html', files.html,
  ]);
  t.equal(r.code, 0, r.stderr);
  const report = parseReport(readFileSync(files.json, 'utf8')); // validates against the schema
  t.equal(report.config.network, 'netns');
  t.same(report.config.mtus, [4148, 8244]);
  t.equal(report.config.bytes, 8 * 1024 * 1024);
  const pageflipRuns = report.runs.filter((run) => !run.mode.startsWith('iperf3'));
  // 6 modes + copy←write, × 2 MTUs × touch/notouch × 2 repeats
  t.equal(pageflipRuns.length, 7 * 2 * 2 * 2, 'one run per point and repeat');
  t.ok(pageflipRuns.every((run) => run.bytes === 8 * 1024 * 1024), 'each run received exactly --bytes');
  t.ok(report.runs.every((run) => run.mismatches === 0), 'no mismatches');
  t.ok(pageflipRuns.filter((run) => run.touch).every((run) => run.verifiedBytes === run.bytes), 'touch runs verified every byte');
  t.ok(pageflipRuns.filter((run) => !run.touch).every((run) => run.verifiedBytes === 0), 'notouch runs never read');
  t.ok(report.runs.filter((run) => run.mode === 'zerocopy' || run.mode === 'flip').every((run) => run.mappedPercent > 90), 'page-moving rows mapped their bytes');
  if (report.config.perf) {
    const counters = report.runs[0].perf!;
    t.ok(counters.some((c) => c.event === 'tlb:tlb_flush' && c.available), 'tracepoints counted');
    t.ok(counters.filter((c) => !c.available).every((c) => c.value === null && c.reason), 'unavailable counters are null with a reason');
  } else t.match(report.warnings.join('\n'), /perf/, 'perf missing is a warning, not a failure');
  t.ok(report.summary.points.some((p) => p.vsCopy !== null), 'ratios to copy computed');
  t.ok(report.summary.verdict.length > 50, 'a verdict');
  // No --calibration: compare calibrated first, and predicts every page-moving mode it ran.
  t.match(report.model?.source ?? '', /run just before compare/);
  t.same([...new Set(report.model?.rows.map((row) => row.mode))], ['copy', 'zerocopy', 'flip', 'copy-remap']);
  t.ok(report.model?.rows.filter((row) => row.mode !== 'copy').every((row) => row.measuredRatio !== null && (row.predictedRatio !== null || row.missing.length > 0)), 'each ratio predicted (or its missing terms named) beside the measured one');
  t.match(r.stdout, /Cost model: predicted vs measured/);
  t.match(readFileSync(files.html, 'utf8'), /<section id="model">/);
  t.match(r.stdout, /MTU 4148/);
  t.match(r.stdout, /MTU 8244/);

  const csv = parseCsv(readFileSync(files.csv, 'utf8'));
  t.equal(csv.length, report.runs.length + 1, 'CSV: header + one row per run');
  t.ok(csv.every((row) => row.length === csv[0].length), 'CSV rows have equal width');
  t.ok(csv[0].includes('efficiency'));

  const html = readFileSync(files.html, 'utf8');
  t.match(html, /^<!DOCTYPE html>/i);
  t.ok((html.match(/<svg/g) ?? []).length >= 8, 'HTML has the charts');
  t.equal((html.match(/<svg/g) ?? []).length, (html.match(/<\/svg>/g) ?? []).length, 'every chart closed');
  t.notMatch(html, /(src|href)\s*=\s*["']?https?:/i, 'no network resources');

  const again = run(['report', files.json, '--html', join(dir, 'again.html'), '--csv', join(dir, 'again.csv')]);
  t.equal(again.code, 0, again.stderr);
  t.equal(readFileSync(join(dir, 'again.csv'), 'utf8'), readFileSync(files.csv, 'utf8'), 'report re-renders the same CSV');
  const broken = join(dir, 'broken.json');
  execFileSync('sh', ['-c', `echo '{"schema":"nope"}' > ${broken}`]);
  const bad = run(['report', broken]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /ERR_PAGEFLIP_BAD_REPORT/);
});

t.test('missing tools and privileges: named fallbacks, not failures', { skip: distSkip }, async (t) => {
  const dir = tempDir(t);
  // A PATH with node only: no perf, no iperf3, no ip.
  const bin = join(dir, 'bin');
  execFileSync('mkdir', [bin]);
  symlinkSync(process.execPath, join(bin, 'node'));
  const json = join(dir, 'r.json');
  const r = run(['compare', '--bytes', '1m', '--repeats', '1', '--mtu', '4148', '--modes', 'copy,zerocopy', '--touch', 'no', '--perf', '--warmup', '0', '--calibration', 'none', '--json', json], {
    env: { ...process.env, PATH: bin },
  });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /perf not found \(Debian: apt-get install linux-perf\)/);
  t.match(r.stderr, /iperf3 not found/);
  const report = parseReport(readFileSync(json, 'utf8'));
  t.equal(report.config.perf, false, 'report says perf was off');
  t.ok(report.runs.every((run) => run.perf === null));

  const unprivileged = process.getuid?.() === 0 && findExecutable('setpriv') ? false : 'needs root and setpriv to run as nobody';
  t.test('without the rights for a namespace: MSS emulation, said in the report', { skip: unprivileged }, async (t) => {
    const out = join(tmpdir(), `pageflip-nobody-${process.pid}.json`);
    t.teardown(() => rmSync(out, { force: true }));
    const r = run(['compare', '--bytes', '1m', '--repeats', '1', '--mtu', '4148', '--modes', 'copy,zerocopy', '--touch', 'no', '--warmup', '0', '--reference', 'none', '--calibration', 'none', '--json', out], { user: 65534 });
    t.equal(r.code, 0, r.stderr);
    const report = parseReport(readFileSync(out, 'utf8'));
    t.equal(report.config.network, 'mss-emulation');
    t.match(report.warnings.join('\n'), /TCP_MAXSEG.*CAP_SYS_ADMIN/s);
    t.match(report.method.join('\n'), /emulated by TCP_MAXSEG/);
    t.ok(report.runs.find((run) => run.mode === 'zerocopy')!.mappedPercent > 90, 'MSS 4108 still lets pages map');
  });
});

const ipSkip = netnsSkip || (findExecutable('ip') ? false : 'ip (iproute2) not found: apt-get install iproute2');

t.test('serve and compare --peer across two namespaces joined by veth', { skip: distSkip || ipSkip }, async (t) => {
  const tag = `pf${process.pid}`;
  const [a, b] = [`${tag}a`, `${tag}b`];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', a);
  ip('netns', 'add', b);
  t.teardown(() => {
    for (const ns of [a, b]) spawnSync('ip', ['netns', 'del', ns]);
  });
  ip('link', 'add', `${tag}x`, 'netns', a, 'type', 'veth', 'peer', 'name', `${tag}y`, 'netns', b);
  ip('-n', a, 'addr', 'add', '10.201.0.1/24', 'dev', `${tag}x`);
  ip('-n', b, 'addr', 'add', '10.201.0.2/24', 'dev', `${tag}y`);
  for (const [ns, dev] of [[a, `${tag}x`], [b, `${tag}y`]]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up', 'mtu', '9000');
  }
  // A non-loopback address: serve needs a token (issue 17); the compare proves it holds the same one.
  const token = 'veth-test-token-0123456789';
  const server = spawn('ip', ['netns', 'exec', a, process.execPath, cli, 'serve', '--listen', '10.201.0.1:7470'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PAGEFLIP_TOKEN: token } });
  t.teardown(() => server.kill('SIGKILL'));
  let serverLog = '';
  await new Promise<void>((resolve, reject) => {
    server.stderr.on('data', (chunk: Buffer) => {
      serverLog += chunk.toString();
      if (serverLog.includes('listening')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`serve exited ${code}: ${serverLog}`)));
  });
  const dir = tempDir(t);
  const json = join(dir, 'peer.json');
  const peerCompare = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
    spawnSync('ip', ['netns', 'exec', b, process.execPath, cli, 'compare', '--peer', '10.201.0.1:7470', '--bytes', '2m', '--repeats', '1', '--mtu', '4148', '--modes', 'copy,zerocopy', '--touch', 'both', '--warmup', '0', '--calibration', 'none', ...extra], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PAGEFLIP_TOKEN: undefined, ...env } });
  const r = peerCompare({ PAGEFLIP_TOKEN: token }, '--json', json, '--reference', 'none');
  t.equal(r.status, 0, r.stderr);
  const report = parseReport(readFileSync(json, 'utf8'));
  t.equal(report.config.network, 'peer');
  t.equal(report.config.peer, '10.201.0.1:7470');
  t.ok(report.remoteHost, 'remote host info came back over the control connection');
  t.ok(report.runs.length >= 4 && report.runs.every((run) => run.remote && run.remote.cpu.percent >= 0), 'every run carries the sender host\'s CPU');
  const own = report.runs.filter((run) => run.sender !== 'iperf3');
  t.ok(own.length >= 4 && own.every((run) => run.bytes === 2 * 1024 * 1024 && run.mismatches === 0), 'all bytes arrived and verified');
  // Two hosts: the receiving host is this whole box; the sender's CPU is the one serve measured.
  t.ok(report.runs.every((run) => run.pids?.sender == null && run.sides!.receiver.cpus.length === report.host.cpus), 'receiver side = every CPU here');
  t.ok(own.every((run) => run.layout === 'peer'));
  t.ok(report.runs.every((run) => run.sides!.sender.cpus.length === 0 && run.sides!.sender.percent === run.remote!.cpu.percent), 'sender side = the remote host\'s CPU');
  t.match(report.method.join('\n'), /per side: the receiving host is this whole box/);
  // spawnSync blocked our event loop: let serve's log lines arrive.
  for (let i = 0; i < 50 && !serverLog.includes('finished'); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(serverLog, /compare from 10\.201\.0\.2/);

  // iperf3 rows like a local run's: the server here, the client started by serve on its host.
  const timedJson = join(dir, 'iperf3.json');
  const timed = spawnSync('ip', ['netns', 'exec', b, process.execPath, cli, 'compare', '--peer', '10.201.0.1:7470', '--seconds', '1', '--repeats', '1', '--mtu', '4148', '--modes', 'copy', '--touch', 'no', '--warmup', '0', '--calibration', 'none', '--json', timedJson], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PAGEFLIP_TOKEN: token } });
  t.equal(timed.status, 0, timed.stderr);
  const withIperf3 = parseReport(readFileSync(timedJson, 'utf8'));
  const iperf3 = withIperf3.runs.filter((run) => run.sender === 'iperf3');
  if (findExecutable('iperf3')) {
    t.same(iperf3.map((run) => run.mode).sort(), ['iperf3', 'iperf3-Z'], 'iperf3 and iperf3 -Z rows in a --peer run');
    t.ok(iperf3.every((run) => run.layout === 'iperf3' && run.bytes > 0 && run.seconds > 0.5 && run.cpu.percent > 0 && run.receiverEfficiency! > 0), 'measured here, receiver-host efficiency included');
    t.ok(iperf3.every((run) => run.sides!.receiver.cpus.length === withIperf3.host.cpus && run.remote && run.sides!.sender.percent === run.remote.cpu.percent), 'receiver = this box, sender = the CPU serve measured');
    t.match(withIperf3.method.join('\n'), /iperf3: server on this host, client on 10\.201\.0\.1:7470 started by pageflip serve.*then the same 1 s \(-t 1\)/);
    for (let i = 0; i < 50 && !/iperf3 run \d+:.* -Z /.test(serverLog); i++) await new Promise((r) => setTimeout(r, 100));
    t.match(serverLog, /iperf3 run \d+: \S+iperf3 -c 10\.201\.0\.2 -p \d+ -t 1 -O 1 -i 0 -J( -A \d+)? -M 4108/, 'serve built the client\'s arguments itself');
  } else t.match(withIperf3.warnings.join('\n'), /iperf3 not found/, 'no iperf3: the rows are skipped, and the report says why');

  // A token holder's hostile iperf3 request from the receiving namespace: refused with a coded error, nothing started.
  const hostile = `
    const net = require('node:net'), crypto = require('node:crypto');
    const s = net.connect(7470, '10.201.0.1');
    let buf = '';
    const send = (m) => s.write(JSON.stringify(m) + '\\n');
    s.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m.type === 'challenge') send({ type: 'hello', protocol: m.protocol, version: 'x', host: { hostname: 'hostile' }, proof: crypto.createHmac('sha256', process.env.T).update(m.protocol + ' ' + m.nonce).digest('hex') });
        else if (m.type === 'hello') send({ type: 'plan', runs: 1, seconds: 10, bytes: 0 });
        else if (m.type === 'accepted') send({ type: 'iperf3', id: 1, port: 5201, mtu: 4148, omit: 1, seconds: 1, bytes: null, zerocopy: false, cpu: null, args: ['-c', '192.0.2.1'] });
        else { console.log(JSON.stringify(m)); s.destroy(); }
      }
    });`;
  const from = serverLog.length;
  const rejected = spawnSync('ip', ['netns', 'exec', b, process.execPath, '-e', hostile], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, T: token } });
  t.match(JSON.parse(rejected.stdout || '{}'), { type: 'error', code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /iperf3\.args is not a field of an iperf3 request/ }, 'a request carrying arguments is refused with a coded error');
  for (let i = 0; i < 50 && !/ended compare from 10\.201\.0\.2:\d+: ERR_PAGEFLIP_PEER_PROTOCOL/.test(serverLog.slice(from)); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(serverLog.slice(from), /ended compare from 10\.201\.0\.2:\d+: ERR_PAGEFLIP_PEER_PROTOCOL iperf3\.args/, 'serve logs the refusal');
  t.notMatch(serverLog.slice(from), /iperf3 run 1:/, 'and started no iperf3');

  const wrong = peerCompare({}, '--token', 'not-the-token-at-all');
  t.equal(wrong.status, 1, 'a wrong token is refused');
  t.match(wrong.stderr, /ERR_PAGEFLIP_PEER_AUTH: peer: wrong token/);
  const missing = peerCompare({});
  t.equal(missing.status, 1, 'no token is refused');
  t.match(missing.stderr, /ERR_PAGEFLIP_PEER_AUTH: peer: this serve requires a token/);
  for (let i = 0; i < 50 && (serverLog.match(/refused 10\.201\.0\.2:\d+: ERR_PAGEFLIP_PEER_AUTH/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((serverLog.match(/refused 10\.201\.0\.2:\d+: ERR_PAGEFLIP_PEER_AUTH/g) ?? []).length, 2, 'both refusals logged with the client\'s address');

  const refused = run(['compare', '--peer', '127.0.0.1:1', '--bytes', '1m', '--calibration', 'none']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /ERR_PAGEFLIP_PEER: cannot reach pageflip serve at 127.0.0.1:1/);
});

// Every exported native function and method (lib/native.ts Binding) called with hostile
// arguments: typed errors, never a crash, no descriptor of someone else's closed or changed.
// The calls run in a child process inside its own network namespace (test/fixtures/
// hostile-child.ts), since some take descriptors or reconfigure links; the child must exit
// normally with nothing to report.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../lib/socket.js';
import { PageRegion, Receiver, Sender, receiveLoop, sendLoop, adopt, connect, startConnect, Connection, type ConnectOptions } from '../lib/index.js';
import { binding } from '../lib/native.js';
import { netnsSkip, network } from './helpers/network.js';
import { runChild } from './helpers/reliability.js';

const child = fileURLToPath(new URL('./fixtures/hostile-child.ts', import.meta.url));

t.test('hostile arguments to every native function: typed errors, no crash', { skip: netnsSkip }, async (t) => {
  const result = await runChild(child, ['150'], { timeoutMs: 120_000 });
  t.equal(result.signal, null, 'the child was not killed by a signal');
  const line = result.stdout.trim().split('\n').pop() ?? '';
  t.equal(result.code, 0, `the child exited normally with nothing to report${result.code ? `: ${line.slice(0, 3000)} ${result.stderr.slice(-2000)}` : ''}`);
  const report = JSON.parse(line) as {
    violations: string[];
    calls: Record<string, number>;
    outcomes: { returned: number; typed: number; rethrown: number };
  };
  t.same(report.violations, [], 'no untyped error, hang, changed or leaked descriptor');
  // Every callable export; `vocabulary` is a frozen object of constants (test/vocabulary.test.ts).
  for (const name of Object.keys(binding).filter((key) => typeof binding[key as keyof typeof binding] === 'function')) {
    t.ok(Object.keys(report.calls).some((call) => call.includes(name)), `export ${name} is among the fuzzed calls`);
  }
  for (const [name, count] of Object.entries(report.calls)) t.equal(count, 150, `${name}: 150 hostile calls`);
  t.ok(report.outcomes.typed > 1000, `${report.outcomes.typed} typed errors, ${report.outcomes.returned} returns, ${report.outcomes.rethrown} rethrown hostile exceptions`);
});

t.test('hostile arguments in this process: regions (no descriptors involved)', async (t) => {
  // The same in the test process itself, for the calls that touch no descriptor.
  const odd: unknown[] = [undefined, null, -0, NaN, 2 ** 64, -1n, 2n ** 64n, '8192', Symbol('x'), {}, [], () => 8192, new ArrayBuffer(8)];
  const bomb = { valueOf: () => { throw new Error('boom'); } };
  for (const v of [...odd, bomb]) {
    t.throws(() => PageRegion.alloc(v as number), { code: /^ERR_PAGEFLIP_/ }, `alloc(${typeof v})`);
    const r = PageRegion.alloc(8192);
    t.throws(() => r.moveTo(v as PageRegion), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `moveTo(${typeof v})`);
    r.close();
  }
  const fake = Object.create(binding.Region.prototype) as never;
  const r = new binding.Region(8192);
  t.throws(() => r.moveTo(fake), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, 'an object that only inherits from Region');
  r.close();
});

t.test('public API with missing or wrong arguments: coded errors, never a plain TypeError', async (t) => {
  const bad: unknown[] = [undefined, null, 3, 'conn', {}, { fd: 0 }];
  for (const v of bad) {
    const what = v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    t.throws(() => new Receiver(v as Connection), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `new Receiver(${what})`);
    t.throws(() => new Sender(v as Connection), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `new Sender(${what})`);
    t.throws(() => receiveLoop(v as Connection), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `receiveLoop(${what})`);
    t.throws(() => sendLoop(v as Connection), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `sendLoop(${what})`);
    t.throws(() => adopt(v as Socket), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `adopt(${what})`);
  }
  for (const v of [undefined, null, {}, { host: '127.0.0.1' }, { port: 1 }, 'x'] as unknown[]) {
    const what = v === null ? 'null' : JSON.stringify(v) ?? 'undefined';
    await t.rejects(connect(v as ConnectOptions), { code: /^ERR_PAGEFLIP_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/ }, `connect(${what})`);
    t.throws(() => startConnect(v as ConnectOptions), { code: /^ERR_PAGEFLIP_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/ }, `startConnect(${what})`);
  }
  for (const v of [undefined, null, '3', 1.5, {}]) {
    t.throws(() => new Connection(v as number), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' }, `new Connection(${String(v)})`);
  }
  for (const v of [-1, 2 ** 31]) t.throws(() => new Connection(v), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' }, `new Connection(${v})`);
});

t.test('descriptors that are not a connected TCP socket: every receive and send path refuses before any work', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const dir = mkdtempSync(join(tmpdir(), 'pageflip-notcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const pipeFd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const file = join(dir, 'file');
  const fileFd = openSync(file, 'w+');
  const udp = createSocket({ type: 'udp4', lookup: (_host, _options, callback) => callback(null, '127.0.0.1', 4) });
  net.run(() => udp.bind({ port: 0, address: '127.0.0.1' })); // binds synchronously (the lookup answers at once)
  const udpFd = (udp as unknown as { _handle: { fd: number } })._handle.fd;
  const listener = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => {
    closeSync(pipeFd);
    closeSync(fileFd);
    udp.close();
    listener.close();
  });
  const cases = [
    { what: 'a pipe', fd: pipeFd, code: 'ENOTSOCK' },
    { what: 'a regular file', fd: fileFd, code: 'ENOTSOCK' },
    { what: 'a UDP socket', fd: udpFd, code: 'EPROTOTYPE' },
    { what: 'a listening TCP socket', fd: listener.fd, code: 'ENOTCONN' },
  ];
  const region = PageRegion.alloc(8192);
  region.bytes.fill(7);
  for (const { what, fd, code } of cases) {
    const connection = new Connection(binding.dupFd(fd));
    t.throws(() => new Receiver(connection), { code }, `Receiver on ${what}`);
    t.throws(() => receiveLoop(connection), { code }, `receiveLoop on ${what}`);
    t.throws(() => sendLoop(connection, { bytes: 8192 }), { code }, `sendLoop on ${what}`);
    for (const mode of ['write', 'zerocopy', 'splice'] as const) {
      await t.rejects(new Sender(connection, { mode }).send(region), { code }, `Sender ${mode} on ${what}`);
      t.notOk(region.closed, `${mode} on ${what}: the region is not gifted`);
    }
    connection.close();
  }
  t.equal(readFileSync(file).length, 0, 'nothing was written into the file');
  t.throws(() => readSync(pipeFd, Buffer.alloc(16)), { code: 'EAGAIN' }, 'nothing was written into the pipe');
  region.close();
});

// `pageflip serve` as a stranger would meet it: a live serve in this test's private namespace,
// raw clients that send garbage, truncated JSON and endless lines, and after each of them a
// real compare over --peer that must be served.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, plan, resolveConfig, sendPlan, type CompareOptions } from '../lib/experiment/compare.js';
import { MAX_FLOWS, MAX_LINE_BYTES, proof, PROTOCOL } from '../lib/experiment/control.js';
import { peerEnvironment } from '../lib/experiment/peer.js';
import { SERVE_DEFAULTS } from '../lib/experiment/serve.js';
import { netnsSkip } from './helpers/network.js';
import { enterPrivateNetwork, helloClient, line, openBytes, RawClient, startServe, within, type LiveServe } from './helpers/serve.js';

const TOKEN = 'serve-test-token-0123456789abcdef';
/** Slack for "closed within its timeout" on a busy machine (the timeouts under test are 1-2 s). */
const SLACK_MS = 8_000;
const tiny: CompareOptions = { repeats: 1, mtus: [4148], modes: ['copy'], touch: 'yes', warmupSeconds: 0, sender: 'write', reference: 'none' };

/** One tiny compare run over --peer (64 KiB, verified): what "the next client is served" means. */
async function servedCompare(t: Test, serve: LiveServe, token?: string): Promise<void> {
  const env = await within(30_000, 'compare --peer handshake', peerEnvironment(serve.address, { token }));
  try {
    const report = await within(
      60_000,
      'compare --peer run',
      compare({ ...tiny, bytes: 64 * 1024 }, env),
    );
    t.equal(report.runs.length, 1, 'one run');
    t.equal(report.runs[0].bytes, 64 * 1024, 'every byte arrived');
    t.equal(report.runs[0].mismatches, 0, 'and matched the pattern');
    t.ok(report.runs[0].remote, 'with the serving host\'s CPU figures');
  } finally {
    env.close();
  }
}

/** The coded error line serve sent before closing (or what went wrong instead), and how long the connection lasted. */
async function refusal(client: RawClient, ms = 10_000): Promise<{ code: unknown; message: unknown; closedAfter: number }> {
  try {
    const error = await client.next((m) => m.type === 'error', ms);
    const closedAfter = await within(ms, 'serve closing the connection', client.closed);
    return { code: error.code, message: error.message, closedAfter };
  } catch (error) {
    return { code: undefined, message: (error as Error).message, closedAfter: NaN };
  }
}

t.test('hostile clients (issue 17)', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t);

  t.test('garbage bytes: a coded error line, the address logged, the next compare served', async (t) => {
    const from = serve.log().length;
    const client = new RawClient(serve.port);
    await client.connected;
    const port = client.socket.localPort;
    client.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x7b, 0x0a, 0x80, 0x81, 0x0a]));
    const r = await refusal(client);
    t.equal(r.code, 'ERR_PAGEFLIP_PEER_PROTOCOL', `coded error line (${String(r.message)})`);
    t.match(r.message, /not JSON/);
    await serve.waitLog(new RegExp(`refused 127\\.0\\.0\\.1:${port}: ERR_PAGEFLIP_PEER_PROTOCOL`), from);
    await servedCompare(t, serve);
  });

  t.test('a truncated JSON line: a coded error line, the next compare served', async (t) => {
    const client = new RawClient(serve.port);
    await client.connected;
    client.send('{"type":"hello","protocol":"pageflip-peer/\n');
    const r = await refusal(client);
    t.equal(r.code, 'ERR_PAGEFLIP_PEER_PROTOCOL', `coded error line (${String(r.message)})`);
    await servedCompare(t, serve);
  });

  t.test('an 8 MiB line with no newline: cut at the line cap, and the server is not held', async (t) => {
    const rssBefore = serve.rss();
    const client = new RawClient(serve.port);
    await client.connected;
    client.send(Buffer.alloc(8 * 1024 * 1024, 'a'.charCodeAt(0))); // and never a newline, never a close
    const r = await refusal(client);
    t.equal(r.code, 'ERR_PAGEFLIP_PEER_PROTOCOL', `coded error line (${String(r.message)})`);
    t.match(r.message, /longer than 65536 bytes/);
    // The server read at most a line cap's worth (plus socket buffers) before cutting it off.
    t.ok(serve.rss() - rssBefore < 32 * 1024 * 1024, `serve RSS grew ${Math.round((serve.rss() - rssBefore) / 1024)} KiB`);
    await servedCompare(t, serve);
  });

  t.test('a run whose data connection the client resets: a coded run error, and the compare goes on', async (t) => {
    const client = await helloClient(serve.port);
    client.send(line({ type: 'plan', runs: 2, seconds: 0, bytes: 2 ** 30 + 65536 }));
    client.send(line(openBytes(1, 2 ** 30)));
    const first = await connectTo(Number((await client.next((m) => m.type === 'listening')).port));
    await client.next((m) => m.type === 'sending');
    await within(SLACK_MS, 'the first bytes', new Promise((resolve) => first.once('readable', resolve)));
    first.resetAndDestroy();
    client.send(line({ type: 'finish', id: 1 }));
    const failed = await client.next((m) => m.type === 'error');
    t.equal(failed.id, 1, 'the error is the run\'s');
    t.match(failed.code, /^(ERR_PAGEFLIP_[A-Z_]+|E[A-Z]+)$/, `coded (${String(failed.code)}: ${String(failed.message)})`);
    client.send(line(openBytes(2, 65536)));
    const second = await connectTo(Number((await client.next((m) => m.type === 'listening' && m.id === 2)).port));
    second.resume();
    await within(SLACK_MS, 'the second run\'s bytes', new Promise((resolve) => second.once('end', resolve)));
    client.send(line({ type: 'finish', id: 2 }));
    t.match(await client.next((m) => m.type === 'finished'), { id: 2, bytes: 65536 }, 'the next run of the same compare is served');
    client.close();
  });
});

t.test('the token: the right one is served; a wrong, missing, replayed or malformed proof is refused and logged', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, [], { PAGEFLIP_TOKEN: TOKEN });
  t.match(serve.log(), /listening on 127\.0\.0\.1/);
  await servedCompare(t, serve, TOKEN);
  await t.rejects(peerEnvironment(serve.address, { token: 'not-the-token-at-all' }), { code: 'ERR_PAGEFLIP_PEER_AUTH', message: 'peer: wrong token' });
  await t.rejects(peerEnvironment(serve.address), { code: 'ERR_PAGEFLIP_PEER_AUTH', message: /requires a token: pass compare --token, or set PAGEFLIP_TOKEN/ });

  // A proof recorded from one connection is worthless on the next: every challenge has a fresh nonce.
  const first = new RawClient(serve.port);
  const challenge1 = await first.next((m) => m.type === 'challenge');
  first.close();
  t.equal(challenge1.auth, 'hmac-sha256');
  t.match(challenge1.nonce, /^[0-9a-f]{64}$/);
  const second = new RawClient(serve.port);
  const challenge2 = await second.next((m) => m.type === 'challenge');
  t.not(challenge2.nonce, challenge1.nonce, 'a fresh nonce per connection');
  second.send(line({ type: 'hello', protocol: PROTOCOL, version: 'test', host: { hostname: 'replayer' }, proof: proof(TOKEN, String(challenge1.nonce)) }));
  const replayed = await refusal(second);
  t.equal(replayed.code, 'ERR_PAGEFLIP_PEER_AUTH', 'the replayed proof is refused');

  const malformed = await helloClient(serve.port, undefined, { proof: 'xyz' });
  t.match(await refusal(malformed), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /hello\.proof must be a hex HMAC-SHA256, got "xyz"/ });
  await serve.waitLog(/refused 127\.0\.0\.1:\d+: ERR_PAGEFLIP_PEER_AUTH wrong token(.|\n)*requires a token(.|\n)*wrong token/);
  t.notMatch(serve.log(), new RegExp(TOKEN), 'the token never appears in the log');
  await servedCompare(t, serve, TOKEN);
});

t.test('--no-auth beyond loopback: served, with a warning', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, ['--listen', '0.0.0.0:0', '--no-auth']);
  t.match(serve.log(), /warning: serving on 0\.0\.0\.0 without a token \(--no-auth\)/);
  await servedCompare(t, serve, 'a token the server does not ask for');
});

t.test('limits: plans over --max-duration or --max-bytes are refused before any data flows; runs are drawn from the plan', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, ['--max-duration', '5', '--max-bytes', '1m']);
  const refusedPlan = async (options: CompareOptions, message: RegExp) => {
    const env = await peerEnvironment(serve.address);
    const events: string[] = [];
    try {
      await t.rejects(compare(options, env, (e) => events.push(e.kind)), { code: 'ERR_PAGEFLIP_PEER_LIMIT', message });
    } finally {
      env.close();
    }
    t.same(events, [], 'refused before the first run');
  };
  await refusedPlan({ ...tiny, seconds: 1, repeats: 6 }, /asks for 6 s of runs; this serve allows 5 s per compare \(--max-duration\)/);
  await refusedPlan({ ...tiny, seconds: 1, repeats: 3, warmupSeconds: 1 }, /asks for 6 s of runs/); // warm-ups count
  await refusedPlan({ ...tiny, bytes: 512 * 1024, repeats: 3 }, /asks for 1572864 bytes; this serve allows 1048576 bytes per compare \(--max-bytes\)/);
  const env = await peerEnvironment(serve.address);
  try {
    const report = await compare({ ...tiny, bytes: 256 * 1024, repeats: 2, warmupSeconds: 0.1 }, env);
    t.equal(report.runs.length, 2, 'a plan within the limits runs');
  } finally {
    env.close();
  }

  // A client that opens more than it declared is held to its plan.
  const overdraw = async (plan: object, opens: object[], message: RegExp) => {
    const client = await helloClient(serve.port);
    client.send(line({ type: 'plan', ...plan }));
    await client.next((m) => m.type === 'accepted');
    for (const open of opens) client.send(line(open));
    t.match(await refusal(client), { code: 'ERR_PAGEFLIP_PEER_LIMIT', message });
  };
  await overdraw({ runs: 1, seconds: 0, bytes: 1000 }, [openBytes(1, 2000)], /run 1 asks for 2000 bytes; the plan has 1000 left/);
  await overdraw({ runs: 1, seconds: 0.5, bytes: 0 }, [{ ...openBytes(1, 0), bytes: null, seconds: 1 }], /run 1 asks for 1 s; the plan has 0\.5 s left/);
  // One run done properly, then one more than the plan's one.
  const client = await helloClient(serve.port);
  client.send(line({ type: 'plan', runs: 1, seconds: 0, bytes: 4096 }));
  client.send(line(openBytes(1, 1024)));
  const data = await connectTo(Number((await client.next((m) => m.type === 'listening')).port));
  data.resume();
  await within(SLACK_MS, 'the run\'s 1024 bytes', new Promise((resolve) => data.once('end', resolve)));
  client.send(line({ type: 'finish', id: 1 }));
  t.match(await client.next((m) => m.type === 'finished'), { id: 1, bytes: 1024 }, 'the planned run is served');
  client.send(line(openBytes(2, 1024)));
  t.match(await refusal(client), { code: 'ERR_PAGEFLIP_PEER_LIMIT', message: /run beyond the plan/ });
  await serve.waitLog(/ended compare from 127\.0\.0\.1:\d+: ERR_PAGEFLIP_PEER_LIMIT run beyond the plan/);
  await servedCompare(t, serve);
});

t.test('runs in flight at once (compare --flows): each served under its own id, at most MAX_FLOWS per session', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t);
  // A real 2-flow compare: two opens in flight before either finishes, their messages interleaved.
  const env = await peerEnvironment(serve.address);
  try {
    const report = await within(60_000, 'a 2-flow compare --peer', compare({ ...tiny, bytes: 64 * 1024, flows: 2 }, env));
    t.equal(report.runs.length, 1, 'one run');
    t.equal(report.runs[0].flows?.length, 2, 'of two flows');
    t.ok(report.runs[0].flows!.every((f) => f.bytes === 64 * 1024), 'each flow got its bytes');
    t.equal(report.runs[0].mismatches, 0, 'and they matched the pattern');
    t.ok(report.runs[0].remote, 'with the serving host\'s CPU figures');
  } finally {
    env.close();
  }
  // One run more than MAX_FLOWS in flight (none connected, none finished) ends the session.
  const client = await helloClient(serve.port);
  client.send(line({ type: 'plan', runs: MAX_FLOWS + 1, seconds: 0, bytes: (MAX_FLOWS + 1) * 1024 }));
  await client.next((m) => m.type === 'accepted');
  for (let id = 1; id <= MAX_FLOWS; id++) {
    client.send(line(openBytes(id, 1024)));
    await client.next((m) => m.type === 'listening' && m.id === id);
  }
  client.send(line(openBytes(MAX_FLOWS + 1, 1024)));
  t.match(await refusal(client), { code: 'ERR_PAGEFLIP_PEER_LIMIT', message: new RegExp(`more than ${MAX_FLOWS} runs in flight at once`) });
  // The same id twice in flight is out of turn.
  const twice = await helloClient(serve.port);
  twice.send(line({ type: 'plan', runs: 2, seconds: 0, bytes: 2048 }));
  await twice.next((m) => m.type === 'accepted');
  twice.send(line(openBytes(1, 1024)));
  await twice.next((m) => m.type === 'listening');
  twice.send(line(openBytes(1, 1024)));
  t.match(await refusal(twice), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /run 1 is already in flight/ });
  await servedCompare(t, serve);
});

t.test('--max-duration is wall clock: a compare that overstays it is ended and its sender stopped', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, ['--max-duration', '2']);
  const client = await helloClient(serve.port);
  const alive = setInterval(() => client.send(line({ type: 'alive' })), 300);
  t.teardown(() => clearInterval(alive));
  client.send(line({ type: 'plan', runs: 1, seconds: 1, bytes: 0 }));
  await client.next((m) => m.type === 'accepted');
  const started = performance.now();
  client.send(line({ ...openBytes(1, 0), bytes: null, seconds: 1 }));
  const { port } = await client.next((m) => m.type === 'listening');
  const data = await connectTo(Number(port)); // and never read it, nor say 'finish'
  t.teardown(() => data.destroy());
  await client.next((m) => m.type === 'sending');
  const ended = await refusal(client, 2_000 + SLACK_MS);
  t.match(ended, { code: 'ERR_PAGEFLIP_PEER_LIMIT', message: /has run for 2 s \(--max-duration\)/ });
  t.ok(performance.now() - started > 1_000, 'not before its time');
  data.resume(); // drain what the sender had queued: its end (a FIN) follows
  await within(SLACK_MS, 'the data connection ending', new Promise((resolve) => data.once('end', resolve)));
  t.pass('the sender stopped and closed the data connection');
  await servedCompare(t, serve);
});

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new RawClient(port).socket;
    socket.pause();
    socket.once('connect', () => resolve(socket)).once('error', reject);
  });
}

t.test('timeouts: stalled, slow and half-open clients release the server within them', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, ['--handshake-timeout', '1', '--idle-timeout', '2']);

  t.test('a silent client is dropped at the handshake timeout', async (t) => {
    const r = await refusal(new RawClient(serve.port), 1_000 + SLACK_MS);
    t.match(r, { code: 'ERR_PAGEFLIP_PEER_TIMEOUT', message: /no valid hello within 1 s/ });
  });

  t.test('a client dribbling its hello a byte at a time: the handshake timeout is not reset by data', async (t) => {
    const client = new RawClient(serve.port);
    await client.next((m) => m.type === 'challenge');
    const hello = JSON.stringify({ type: 'hello', protocol: PROTOCOL, version: 'test', host: { hostname: 'slow' } }); // no newline yet
    let i = 0;
    const drip = setInterval(() => client.send(hello[i++ % hello.length]), 50);
    t.teardown(() => clearInterval(drip));
    t.match(await refusal(client, 1_000 + SLACK_MS), { code: 'ERR_PAGEFLIP_PEER_TIMEOUT' });
  });

  t.test('a client that half-closes mid-hello is let go at once', async (t) => {
    const client = new RawClient(serve.port);
    await client.next((m) => m.type === 'challenge');
    client.socket.end('{"type":"hel');
    const closedAfter = await within(SLACK_MS, 'serve closing', client.closed);
    t.ok(closedAfter < 1_000 + SLACK_MS, `closed after ${Math.round(closedAfter)} ms`);
  });

  t.test('more than 8 handshakes at once: the rest are turned away, coded', async (t) => {
    const waiting = await Promise.all(Array.from({ length: 8 }, async () => {
      const c = new RawClient(serve.port);
      await c.next((m) => m.type === 'challenge');
      return c;
    }));
    const ninth = new RawClient(serve.port);
    t.match(await refusal(ninth), { code: 'ERR_PAGEFLIP_PEER_BUSY', message: /8 clients are already connecting/ });
    for (const c of waiting) t.match(await refusal(c, 1_000 + SLACK_MS), { code: 'ERR_PAGEFLIP_PEER_TIMEOUT' });
  });

  t.test('a client silent after its hello holds the server only until the idle timeout; meanwhile others hear busy', async (t) => {
    const idle = await helloClient(serve.port);
    const other = await helloClient(serve.port);
    t.match(await refusal(other), { code: 'ERR_PAGEFLIP_PEER_BUSY', message: /busy with another compare/ });
    t.match(await refusal(idle, 2_000 + SLACK_MS), { code: 'ERR_PAGEFLIP_PEER_TIMEOUT', message: /no word from the client for 2 s/ });
    await servedCompare(t, serve);
  });

  t.test('a client that opens a run and never connects to the data port', async (t) => {
    const client = await helloClient(serve.port);
    client.send(line({ type: 'plan', runs: 1, seconds: 0, bytes: 1 << 20 }));
    client.send(line(openBytes(1, 1 << 20)));
    await client.next((m) => m.type === 'listening');
    t.match(await refusal(client, 2_000 + SLACK_MS), { code: 'ERR_PAGEFLIP_PEER_TIMEOUT' });
    await servedCompare(t, serve);
  });

  t.test('a client that connects its data port and stops reading', async (t) => {
    const client = await helloClient(serve.port);
    client.send(line({ type: 'plan', runs: 1, seconds: 0, bytes: 1 << 30 }));
    client.send(line(openBytes(1, 1 << 30)));
    const data = await connectTo(Number((await client.next((m) => m.type === 'listening')).port));
    t.teardown(() => data.destroy());
    await client.next((m) => m.type === 'sending');
    t.match(await refusal(client, 2_000 + SLACK_MS), { code: 'ERR_PAGEFLIP_PEER_TIMEOUT' });
    await servedCompare(t, serve);
  });

  t.test('the data port takes only the compare\'s address', async (t) => {
    // From inside this namespace every address is 127.0.0.1, so borrow 127.0.0.2 for the stranger.
    const client = await helloClient(serve.port);
    client.send(line({ type: 'plan', runs: 1, seconds: 0, bytes: 1 << 20 }));
    client.send(line(openBytes(1, 1 << 20)));
    const port = Number((await client.next((m) => m.type === 'listening')).port);
    const stranger = new RawClient(port, '127.0.0.2');
    await within(SLACK_MS, 'the stranger being closed', stranger.closed);
    await serve.waitLog(/run 1: data connection from 127\.0\.0\.2:\d+ refused/);
    client.close();
  });
});

t.test('every field of hello, plan and open is checked, with coded errors', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t);
  const cases: Array<[string, Array<string | object>, RegExp]> = [
    ['not an object', ['[1,2]'], /not an object with a string 'type'/],
    ['type not a string', ['{"type":5}'], /not an object with a string 'type'/],
    ['another protocol', [{ type: 'hello', protocol: 'pageflip-peer/1', version: 'x', host: { hostname: 'h' } }], /client speaks "pageflip-peer\/1", this serve speaks pageflip-peer\/2/],
    ['plan before hello', [{ type: 'plan', runs: 1, seconds: 1, bytes: 0 }], /expected 'hello', got "plan"/],
    ['a hostname with control characters', [{ type: 'hello', protocol: PROTOCOL, version: 'x', host: { hostname: 'evil\n[log]' } }], /hello\.host\.hostname must be a printable host name/],
    ['no host', [{ type: 'hello', protocol: PROTOCOL, version: 'x' }], /hello\.host must be an object, got nothing/],
    ['a version of 100 characters', [{ type: 'hello', protocol: PROTOCOL, version: 'v'.repeat(100), host: { hostname: 'h' } }], /hello\.version must be a version string/],
    ['more than 16 messages ahead', [Array.from({ length: 20 }, () => line({ type: 'x' })).join('')], /more than 16 messages sent ahead/],
  ];
  const hello = { type: 'hello', protocol: PROTOCOL, version: 'test', host: { hostname: 'fields' } };
  const goodPlan = { type: 'plan', runs: 4, seconds: 10, bytes: 1 << 20 };
  const afterPlan: Array<[string, object, RegExp]> = [
    ['open before a plan', { type: 'open' }, /expected 'plan', got "open"/],
    ['runs 0', { ...goodPlan, runs: 0 }, /plan\.runs must be an integer from 1 to 100000, got 0/],
    ['runs as text', { ...goodPlan, runs: '3' }, /plan\.runs must be an integer .* got "3"/],
    ['negative seconds', { ...goodPlan, seconds: -1 }, /plan\.seconds must be a number from 0/],
    ['seconds null (what JSON makes of Infinity)', { ...goodPlan, seconds: null }, /plan\.seconds must be a number/],
    ['fractional bytes', { ...goodPlan, bytes: 1.5 }, /plan\.bytes must be an integer/],
  ];
  for (const [what, message, pattern] of afterPlan) cases.push([what, [hello, message], pattern]);
  const open = openBytes(1, 1024);
  const badOpens: Array<[string, object, RegExp]> = [
    ['finish before open', { type: 'finish', id: 1 }, /expected 'open', got "finish"/],
    ['an unknown sender', { ...open, sender: 'pigeon' }, /open\.sender must be one of write, zerocopy, splice, got "pigeon"/],
    ['both seconds and bytes', { ...open, seconds: 1 }, /exactly one of seconds and bytes/],
    ['neither seconds nor bytes', { ...open, bytes: null }, /exactly one of seconds and bytes/],
    ['zero seconds', { ...open, bytes: null, seconds: 0 }, /open\.seconds must be a number/],
    ['a 1 TiB chunk', { ...open, chunkBytes: 2 ** 40 }, /open\.chunkBytes must be an integer from 1 to 67108864/],
    ['a CPU this host lacks', { ...open, cpus: { rx: 0, tx: 4096 } }, /open\.cpus\.tx must be an integer from 0 to/],
    ['cpus as a list', { ...open, cpus: [0, 1] }, /open\.cpus must be \{rx, tx\} or null/],
    ['no cpus at all', { ...open, cpus: undefined }, /open\.cpus must be \{rx, tx\} or null, got nothing/],
    ['a negative seed', { ...open, seed: -1 }, /open\.seed must be an integer from 0 to 4294967295/],
    ['a fractional id', { ...open, id: 1.5 }, /open\.id must be an integer/],
  ];
  for (const [what, message, pattern] of badOpens) cases.push([what, [hello, goodPlan, message], pattern]);
  // An iperf3 request names numbers only: serve runs the iperf3 it finds, with arguments it builds
  // itself, against the control connection's own far end.
  const iperf3 = { type: 'iperf3', id: 1, port: 5201, mtu: 4148, omit: 1, seconds: 1, bytes: null, zerocopy: false, cpu: null };
  const badIperf3: Array<[string, object, RegExp]> = [
    ['a command', { ...iperf3, command: '/bin/sh' }, /iperf3\.command is not a field of an iperf3 request: serve builds iperf3's arguments itself/],
    ['arguments', { ...iperf3, args: ['-c', '192.0.2.1', '--logfile', '/etc/passwd'] }, /iperf3\.args is not a field/],
    ['another host', { ...iperf3, host: '192.0.2.1' }, /iperf3\.host is not a field/],
    ['a privileged port', { ...iperf3, port: 22 }, /iperf3\.port must be an integer from 1024 to 65535, got 22/],
    ['a port as text', { ...iperf3, port: '5201; rm -rf /' }, /iperf3\.port must be an integer/],
    ['fractional seconds', { ...iperf3, seconds: 0.6 }, /iperf3\.seconds must be an integer from 1 to 86400, or null, got 0\.6/],
    ['no warm-up', { ...iperf3, omit: 0 }, /iperf3\.omit must be an integer from 1 to 60/],
    ['both seconds and bytes', { ...iperf3, bytes: 1024 }, /iperf3: exactly one of seconds and bytes/],
    ['zerocopy as text', { ...iperf3, zerocopy: 'yes' }, /iperf3\.zerocopy must be true or false/],
    ['a CPU this host lacks', { ...iperf3, cpu: 4096 }, /iperf3\.cpu must be an integer from 0 to/],
    ['an MTU below the minimum', { ...iperf3, mtu: 100 }, /iperf3\.mtu must be an integer from 576 to 65536/],
  ];
  for (const [what, message, pattern] of badIperf3) cases.push([`iperf3: ${what}`, [hello, goodPlan, message], pattern]);
  for (const [what, messages, pattern] of cases) {
    const client = new RawClient(serve.port);
    await client.next((m) => m.type === 'challenge');
    for (const m of messages) client.send(typeof m === 'string' ? (m.endsWith('\n') ? m : `${m}\n`) : line(m));
    t.match(await refusal(client), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: pattern }, what);
  }
  // Within the plan like any run: 10 s of runs do not cover a 1 s warm-up and 10 s of iperf3.
  const client = new RawClient(serve.port);
  await client.next((m) => m.type === 'challenge');
  for (const m of [hello, goodPlan, { ...iperf3, seconds: 10 }]) client.send(line(m));
  t.match(await refusal(client), { code: 'ERR_PAGEFLIP_PEER_LIMIT', message: /iperf3 run 1 asks for 11 s; the plan has 10 s left/ }, 'iperf3: over the plan');
  t.notMatch(serve.log(), /iperf3 run 1:/, 'no iperf3 was started for any of them');
  t.notMatch(serve.log(), /evil\n/, 'a hostile host name never reaches the log raw');
  await servedCompare(t, serve);
});

t.test('a serve without iperf3 says so: compare skips the iperf3 rows with the reason, and a request gets a coded error', { skip: netnsSkip }, async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'pageflip-noiperf3-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const serve = await startServe(t, [], { PATH: empty });
  const env = await within(30_000, 'compare --peer handshake', peerEnvironment(serve.address, { compare: {} }));
  t.equal(env.references.size, 0, 'no iperf3 rows');
  t.match(env.warnings, [/iperf3 reference rows skipped: pageflip serve at 127\.0\.0\.1:\d+ cannot run iperf3/]);
  const from = serve.log().length;
  env.close();
  await serve.waitLog(/ended compare from/, from);
  const client = await helloClient(serve.port);
  client.send(line({ type: 'plan', runs: 2, seconds: 10, bytes: 4096 }));
  await client.next((m) => m.type === 'accepted');
  client.send(line({ type: 'iperf3', id: 7, port: 5201, mtu: 4148, omit: 1, seconds: 1, bytes: null, zerocopy: false, cpu: null }));
  t.match(await client.next((m) => m.type === 'error'), { id: 7, code: 'ERR_PAGEFLIP_IPERF3_MISSING', message: /iperf3 not found/ }, 'that run fails with a coded error');
  // The session goes on: the next run is served.
  client.send(line(openBytes(8, 1024)));
  t.match(await client.next((m) => m.type === 'listening'), { id: 8 });
  client.close();
});

t.test('compare --peer against a server that is not a pageflip-peer/2 serve: coded errors', { skip: netnsSkip }, async (t) => {
  enterPrivateNetwork();
  const fake = (greeting: string) =>
    new Promise<{ address: string; close: () => void }>((resolve) => {
      const server = createServer((socket) => socket.on('error', () => {}).end(greeting));
      server.listen(0, '127.0.0.1', () => resolve({ address: `127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() }));
    });
  const cases: Array<[string, string, { code: string; message: RegExp | string }]> = [
    ['an older serve', line({ type: 'challenge', protocol: 'pageflip-peer/1', nonce: 'ab', auth: 'none' }), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /speaks "pageflip-peer\/1", we speak pageflip-peer\/2/ }],
    ['an endless line', 'x'.repeat(MAX_LINE_BYTES + 10), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /longer than 65536 bytes/ }],
    ['hello without limits', line({ type: 'challenge', protocol: PROTOCOL, nonce: 'ab', auth: 'none' }) + line({ type: 'hello', protocol: PROTOCOL }), { code: 'ERR_PAGEFLIP_PEER_PROTOCOL', message: /hello\.limits\.idleSeconds must be an integer/ }],
    ['a close', '', { code: 'ERR_PAGEFLIP_PEER', message: /closed the control connection/ }],
    ['an error line with escape sequences', line({ type: 'error', code: 'ERR_PAGEFLIP_PEER_BUSY', message: 'busy\u001b[2J\nnow' }), { code: 'ERR_PAGEFLIP_PEER_BUSY', message: 'peer: busy [2J now' }],
    ['an error line with a foreign code', line({ type: 'error', code: 'EVIL', message: 'x' }), { code: 'ERR_PAGEFLIP_PEER', message: 'peer: x' }],
  ];
  for (const [what, greeting, error] of cases) {
    const server = await fake(greeting);
    await t.rejects(peerEnvironment(server.address), error, what);
    server.close();
  }
  await t.rejects(peerEnvironment('nowhere'), { code: 'ERR_PAGEFLIP_PEER', message: /expected HOST:PORT/ });
});

t.test('the default limits fit the full default matrix', async (t) => {
  const config = resolveConfig({}, 'peer', 'sender:7470');
  // What compare() runs by default against a peer: the 2-flow points too (one sender per flow).
  const full = plan(config, [], true, true);
  const asked = sendPlan(config, full);
  t.equal(full.filter((p) => p.flows === 2).length, 6, '6 two-flow points');
  t.same(asked, { runs: 135, seconds: 135 * (0.3 + 2), bytes: 0 }, '99 one-flow runs and 18 two-flow runs: 135 senders of 2 s, each after a 0.3 s warm-up on the same connection');
  t.ok(asked.seconds <= SERVE_DEFAULTS.maxSeconds, `${asked.seconds} s of runs within the default --max-duration ${SERVE_DEFAULTS.maxSeconds} s`);
  // With iperf3 rows serve also runs their clients: 18 of them, each a 1 s warm-up and 2 s.
  const withIperf3 = plan(config, ['iperf3', 'iperf3-Z'], true, true);
  const isReference = (p: { mode: string }) => p.mode.startsWith('iperf3');
  const all = sendPlan(config, withIperf3.filter((p) => !isReference(p)), withIperf3.filter(isReference));
  t.same(all, { runs: 135 + 18, seconds: 135 * (0.3 + 2) + 18 * (1 + 2), bytes: 0 }, 'iperf3 clients drawn from the plan');
  t.ok(all.seconds <= SERVE_DEFAULTS.maxSeconds, `${all.seconds} s within the default --max-duration`);
  const byBytes = resolveConfig({ bytes: 2 ** 30 }, 'peer', 'sender:7470');
  const bytes = sendPlan(byBytes, plan(byBytes, [], true, true));
  t.ok(bytes.bytes <= SERVE_DEFAULTS.maxBytes, 'and the same matrix with --bytes 1g within the default --max-bytes');
});

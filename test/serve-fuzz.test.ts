// Property: nothing a client sends, or fails to send, crashes `pageflip serve`, wedges it past its
// timeouts, or grows it. A live serve (token, 1 s handshake and 2 s idle timeouts) in this test's
// private namespace meets fast-check's clients: random bytes, random JSON, hellos and sessions
// whose messages carry hostile values (authenticated, so the plan and run checks are reached),
// slow dribblers, half-closers, parallel floods, and clients that stall before or inside a run.
// After each: serve is alive, every line it sent is JSON and every error it sent is coded, a
// connection it was left holding was closed within its timeout, and the next client is served.
// At the end: a correct compare, its RSS bounded and its descriptors back where they were.
// The suite runs 30 cases, `npm run fuzz:serve` 500; PAGEFLIP_FUZZ_SERVE_RUNS overrides either.
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import t from 'tap';
import { compare } from '../lib/experiment/compare.js';
import { proof, PROTOCOL } from '../lib/experiment/control.js';
import { peerEnvironment } from '../lib/experiment/peer.js';
import { netnsSkip } from './helpers/network.js';
import { sleep } from './helpers/reliability.js';
import { line, RawClient, startServe, within, type LiveServe } from './helpers/serve.js';

const numRuns = Number(process.env.PAGEFLIP_FUZZ_SERVE_RUNS ?? (process.env.npm_lifecycle_event === 'fuzz:serve' ? 500 : 30));
const TOKEN = 'fuzz-token-0123456789abcdef';
const HANDSHAKE_MS = 1_000;
const IDLE_MS = 2_000;
/** Slack for "closed within its timeout" on a busy machine. */
const SLACK_MS = 8_000;

// ---- what a client may send ----

/** Values of every JSON type, with the edge cases of the fields serve reads mixed in. */
const hostile = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 1, 0.5, 1e-300, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -0, '', '1', 'write', 'zerocopy', 'splice', null, true, [], {}) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);
/** A valid message, or one with a field replaced by a hostile value or removed: reaches the checks one field at a time. */
function corrupted<T extends Record<string, unknown>>(valid: fc.Arbitrary<T>, fields: string[]): fc.Arbitrary<Record<string, unknown>> {
  const spoiled = fc.tuple(valid, fc.constantFrom(...fields), hostile, fc.boolean()).map(([m, name, value, remove]) => {
    const copy: Record<string, unknown> = { ...m, [name]: value };
    if (remove) delete copy[name];
    return copy;
  });
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 1, arbitrary: spoiled });
}
const plan = corrupted(fc.record({ type: fc.constant('plan'), runs: fc.integer({ min: 1, max: 4 }), seconds: fc.constantFrom(0, 0.2, 1), bytes: fc.constantFrom(0, 65536, 1 << 20) }), ['type', 'runs', 'seconds', 'bytes']);
const open = corrupted(
  fc
    .record({
      type: fc.constant('open'),
      id: fc.integer({ min: 1, max: 2 }),
      sender: fc.constantFrom('write', 'zerocopy', 'splice'),
      timing: fc.constantFrom({ seconds: null, bytes: 65536 }, { seconds: 0.2, bytes: null }),
      chunkBytes: fc.constantFrom(4096, 65536),
      cpus: fc.constantFrom(null, { rx: 0, tx: 0 }, { rx: 1, tx: 1 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    })
    .map(({ timing, ...rest }) => ({ ...rest, ...timing })),
  ['type', 'id', 'sender', 'seconds', 'bytes', 'chunkBytes', 'cpus', 'seed'],
);
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: hostile });
/** What the client does once its messages are sent. */
const ending = fc.constantFrom('close', 'half-close', 'stall');
/** What it does with a data port serve offers. */
const dataPlan = fc.constantFrom('ignore', 'read', 'connect-and-stall');

const behaviour = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bytes' as const), chunks: fc.array(fc.uint8Array({ maxLength: 2048 }), { minLength: 1, maxLength: 4 }), waitForChallenge: fc.boolean(), ending }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('json' as const), values: fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 4 }), ending }) },
  { weight: 2, arbitrary: fc.record({
    kind: fc.constant('hello' as const),
    fields: fc.record({ type: mostly(fc.constant('hello')), protocol: mostly(fc.constant(PROTOCOL)), version: mostly(fc.constant('fuzz')), host: mostly(fc.constant({ hostname: 'fuzz' })), proof: fc.oneof(fc.constant('right'), hostile) }, { requiredKeys: [] }),
    ending,
  }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('session' as const), plan, messages: fc.array(fc.oneof({ weight: 3, arbitrary: open }, { weight: 1, arbitrary: fc.record({ type: mostly(fc.constantFrom('finish', 'alive', 'open')), id: mostly(fc.integer({ min: 1, max: 2 })) }) }), { minLength: 1, maxLength: 3 }), data: dataPlan, finishRun: fc.boolean(), ending }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow' as const), everyMs: fc.integer({ min: 20, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flood' as const), connections: fc.integer({ min: 2, max: 16 }), bytes: fc.integer({ min: 1, max: 70 * 1024 }) }) },
);
type Behaviour = typeof behaviour extends fc.Arbitrary<infer B> ? B : never;

// ---- acting it out ----

/** Plays `b` against serve; returns the connections it leaves behind and how long serve may take to close each. */
async function act(serve: LiveServe, b: Behaviour): Promise<{ clients: RawClient[]; stalled: Array<{ client: RawClient; withinMs: number }>; others: Array<{ destroy(): void }> }> {
  const clients: RawClient[] = [];
  const others: Array<{ destroy(): void }> = [];
  const stalled: Array<{ client: RawClient; withinMs: number }> = [];
  const finish = (client: RawClient, end: 'close' | 'half-close' | 'stall', authenticated: boolean) => {
    if (end === 'close') client.close();
    else if (end === 'half-close') client.socket.end();
    else stalled.push({ client, withinMs: (authenticated ? IDLE_MS : HANDSHAKE_MS) + SLACK_MS });
  };
  const newClient = async () => {
    const client = new RawClient(serve.port);
    clients.push(client);
    await within(SLACK_MS, 'connect', client.connected);
    return client;
  };
  const challenge = (client: RawClient) => client.next((m) => m.type === 'challenge', SLACK_MS);

  switch (b.kind) {
    case 'bytes': {
      const client = await newClient();
      if (b.waitForChallenge) await challenge(client);
      for (const chunk of b.chunks) client.send(chunk);
      finish(client, b.ending, false);
      break;
    }
    case 'json': {
      const client = await newClient();
      await challenge(client);
      for (const value of b.values) client.send(line(value));
      finish(client, b.ending, false);
      break;
    }
    case 'hello': {
      const client = await newClient();
      const { nonce } = await challenge(client);
      // Half the time a proof that is right, to reach the checks after it.
      const fields = b.fields.proof === 'right' ? { ...b.fields, proof: proof(TOKEN, String(nonce)) } : b.fields;
      client.send(line(fields));
      const answer = await client.next((m) => m.type === 'hello' || m.type === 'error', SLACK_MS).catch(() => undefined);
      finish(client, b.ending, answer?.type === 'hello');
      break;
    }
    case 'session': {
      const client = await newClient();
      const { nonce } = await challenge(client);
      client.send(line({ type: 'hello', protocol: PROTOCOL, version: 'fuzz', host: { hostname: 'fuzz' }, proof: proof(TOKEN, String(nonce)) }));
      await client.next((m) => m.type === 'hello', SLACK_MS);
      client.send(line(b.plan));
      // Up to the first open, then the run it may start, then the rest.
      const cut = b.messages.findIndex((m) => m.type === 'open') + 1 || b.messages.length;
      for (const m of b.messages.slice(0, cut)) client.send(line(m));
      // Answer at most one data port the way this client was drawn to.
      const offer = await client.next((m) => m.type === 'listening' || m.type === 'error', 300).catch(() => undefined);
      if (offer?.type === 'listening' && b.data !== 'ignore') {
        const data = connect({ host: '127.0.0.1', port: Number(offer.port) }).on('error', () => {});
        others.push(data);
        if (b.data === 'read') {
          data.resume(); // and drop what arrives
          if (b.finishRun) {
            await client.next((m) => m.type === 'sending' || m.type === 'error', SLACK_MS).catch(() => undefined);
            client.send(line({ type: 'finish', id: offer.id }));
            await client.next((m) => m.type === 'finished' || m.type === 'error', SLACK_MS).catch(() => undefined);
          }
        }
      }
      for (const m of b.messages.slice(cut)) client.send(line(m));
      finish(client, b.ending, true);
      break;
    }
    case 'slow': {
      const client = await newClient();
      await challenge(client);
      const hello = JSON.stringify({ type: 'hello', protocol: PROTOCOL, version: 'fuzz', host: { hostname: 'slow' }, proof: '0'.repeat(64) });
      let i = 0;
      const drip = setInterval(() => client.send(hello[i++ % hello.length]), b.everyMs);
      others.push({ destroy: () => clearInterval(drip) });
      stalled.push({ client, withinMs: HANDSHAKE_MS + SLACK_MS });
      break;
    }
    case 'flood': {
      const flood = await Promise.all(Array.from({ length: b.connections }, () => newClient()));
      for (const client of flood) {
        client.send(Buffer.alloc(b.bytes, 0x41)); // no newline
        stalled.push({ client, withinMs: HANDSHAKE_MS + SLACK_MS });
      }
      break;
    }
  }
  return { clients, stalled, others };
}

/** A correct compare (one 64 KiB verified run), retried while serve is still busy with the last client. */
async function served(serve: LiveServe, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      const env = await peerEnvironment(serve.address, { token: TOKEN });
      try {
        const report = await compare({ bytes: 65536, repeats: 1, mtus: [4148], modes: ['copy'], touch: 'yes', warmupSeconds: 0, sender: 'write', reference: 'none' }, env);
        const [run] = report.runs;
        if (report.runs.length !== 1 || run.bytes !== 65536 || run.mismatches !== 0) throw new Error(`a wrong compare: ${JSON.stringify(report.runs)}`);
        return;
      } finally {
        env.close();
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_PAGEFLIP_PEER_BUSY' || performance.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

t.test('fuzzed clients never crash, wedge or bloat pageflip serve', { skip: netnsSkip }, async (t) => {
  const serve = await startServe(t, ['--handshake-timeout', String(HANDSHAKE_MS / 1000), '--idle-timeout', String(IDLE_MS / 1000), '--max-duration', '20', '--max-bytes', '64m'], { PAGEFLIP_TOKEN: TOKEN });
  await served(serve, SLACK_MS); // warm: the code paths of a compare are loaded before the baseline
  const rssBefore = serve.rss();
  const fdsBefore = openFds(serve.child.pid!);
  const kinds: Record<string, number> = {};
  const codes: Record<string, number> = {};
  const replies: Record<string, number> = {};

  await fc.assert(
    fc.asyncProperty(behaviour, async (b) => {
      kinds[b.kind] = (kinds[b.kind] ?? 0) + 1;
      const { clients, stalled, others } = await act(serve, b);
      try {
        // A connection serve was left holding is closed within its timeout.
        for (const { client, withinMs } of stalled) await within(withinMs, `serve closing a stalled ${b.kind} client`, client.closed);
        // The next client is served (after an authenticated stall, within the idle timeout).
        await served(serve, IDLE_MS + SLACK_MS);
        if (serve.child.exitCode !== null || serve.child.signalCode !== null) throw new Error(`serve died: ${serve.log().slice(-2000)}`);
        for (const message of clients.flatMap((c) => c.messages())) {
          if ('unparsed' in message) throw new Error(`serve sent a line that is not JSON: ${String(message.unparsed).slice(0, 200)}`);
          replies[String(message.type)] = (replies[String(message.type)] ?? 0) + 1;
          if (message.type !== 'error') continue;
          const code = String(message.code);
          // Session errors are ERR_PAGEFLIP_PEER_*; a run's own failure (with its id) carries the sender's code.
          if (!(message.id === undefined ? /^ERR_PAGEFLIP_PEER_[A-Z]+$/ : /^(ERR_PAGEFLIP_[A-Z_]+|E[A-Z]+)$/).test(code)) throw new Error(`an uncoded error line: ${JSON.stringify(message)}`);
          codes[code] = (codes[code] ?? 0) + 1;
        }
      } finally {
        for (const c of clients) c.close();
        for (const o of others) o.destroy();
      }
    }),
    { numRuns, seed: process.env.PAGEFLIP_FUZZ_SEED === undefined ? undefined : Number(process.env.PAGEFLIP_FUZZ_SEED) },
  );
  t.pass(`${numRuns} fuzzed clients: ${JSON.stringify(kinds)}; serve replied ${JSON.stringify(replies)}; error codes: ${JSON.stringify(codes)}`);
  t.ok(Object.keys(codes).length >= 3, 'the fuzz reached several kinds of refusal');
  t.ok(replies.accepted > 0, 'and plans that were accepted');

  await served(serve, IDLE_MS + SLACK_MS);
  const grown = serve.rss() - rssBefore;
  t.ok(grown < 48 * 1024 * 1024, `serve RSS grew ${Math.round(grown / 1024)} KiB over the fuzz (bound 48 MiB)`);
  // Refused connections linger at most a second; then serve holds what it held before.
  let fds = openFds(serve.child.pid!);
  for (let i = 0; i < 50 && fds > fdsBefore; i++) (await sleep(100), (fds = openFds(serve.child.pid!)));
  t.ok(fds <= fdsBefore, `serve holds ${fds} descriptors, ${fdsBefore} before the fuzz`);
  t.equal(serve.child.exitCode, null, 'serve is still running');
});

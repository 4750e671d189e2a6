// The library behaves like Node's own APIs: AbortSignal on everything that waits (rejecting
// with an AbortError, as net and streams do), `using` / `await using` on everything that owns a
// resource, `for await` that closes on an early exit like a Readable, host names in connect(),
// adopt() without Node's private `_handle.fd`, and loops whose `done` carries the promised figures.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { binding } from '../lib/native.js';
import { startConnect } from '../lib/socket.js';
import { PageRegion, Receiver, Sender, adopt, connect, listen, receiveLoop, sendLoop, type Connection, type Listener } from '../lib/index.js';
import { netnsSkip, network, openFds, pair } from './helpers/network.js';

const MiB = 1024 * 1024;
const aborted = { name: 'AbortError', code: 'ABORT_ERR' };

t.test('AbortSignal on connect and accept', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const fds = openFds();
  // backlog 1: two connections fill the accept queue (the kernel allows backlog + 1), so it
  // drops the next SYN and that connect stays pending (retrying) until we abort it.
  const listener = net.run(() => listen({ backlog: 1 }));
  const first = await net.run(() => connect({ host: '127.0.0.1', port: listener.port }));
  const second = await net.run(() => connect({ host: '127.0.0.1', port: listener.port }));
  const controller = new AbortController();
  const pending = net.run(() => connect({ host: '127.0.0.1', port: listener.port, signal: controller.signal }));
  const reason = new Error('user gave up');
  setImmediate(() => controller.abort(reason));
  const error = await pending.then(() => null, (e: Error) => e);
  t.match(error, aborted, 'a pending connect rejects with an AbortError');
  t.equal(error?.cause, reason, 'carrying the abort reason as cause');
  await t.rejects(connect({ host: '127.0.0.1', port: listener.port, signal: AbortSignal.abort() }), aborted, 'an aborted signal rejects at once');
  await t.rejects(connect({ host: 'localhost', port: listener.port, signal: AbortSignal.abort() }), aborted, 'also before resolving a name');
  await t.rejects(connect({ host: '127.0.0.1', port: 1, signal: 'stop' as unknown as AbortSignal }), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });

  const accepted = [await listener.accept(), await listener.accept()];
  const idle = new AbortController();
  const waiting = listener.accept({ signal: idle.signal });
  setImmediate(() => idle.abort());
  await t.rejects(waiting, aborted, 'a pending accept rejects with an AbortError');
  await t.rejects(listener.accept({ signal: AbortSignal.abort() }), aborted);
  // The listener still works after an aborted accept.
  const again = net.run(() => connect({ host: '127.0.0.1', port: listener.port }));
  const [server, client] = await Promise.all([listener.accept({ signal: new AbortController().signal }), again]);
  t.ok(server.localAddress().port === listener.port && client.remoteAddress().port === listener.port, 'accept works after an abort');
  for (const c of [first, second, ...accepted, server, client, listener]) c.close();
  t.equal(openFds(), fds, 'the aborted connect closed its socket: no descriptor leaked');
});

t.test('AbortSignal on Receiver.read and iteration: the receiver stays usable', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: 64 * 1024, verify: true, seed: 5 });
  t.teardown(() => receiver.close());
  const controller = new AbortController();
  const reading = receiver.read({ signal: controller.signal });
  setImmediate(() => controller.abort());
  await t.rejects(reading, aborted, 'a read waiting for data rejects with an AbortError');
  await t.rejects(receiver.read({ signal: AbortSignal.abort() }), aborted, 'an aborted signal rejects at once');
  const stepping = receiver.iterator({ signal: AbortSignal.timeout(50) }).next();
  await t.rejects(stepping, aborted, 'iteration with a signal rejects with an AbortError');
  t.equal(receiver.stats().closed, false, 'an abort does not close the receiver');

  await sendLoop(client, { mode: 'write', bytes: MiB, seed: 5 }).done;
  let bytes = 0;
  for (let lease = await receiver.read(); lease; lease = await receiver.read()) {
    bytes += lease.length;
    lease.release();
  }
  t.equal(bytes, MiB, 'every byte arrives after the aborted reads');
  t.equal(receiver.stats().mismatches, 0);
});

t.test('AbortSignal while a read waits for a lease to come back (maxLeases)', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const sending = sendLoop(client, { mode: 'write', bytes: MiB, seed: 6 }).done;
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: 64 * 1024, maxLeases: 1 });
  t.teardown(() => receiver.close());
  const held = await receiver.read();
  t.ok(held, 'one lease held: the receiver is full');
  const controller = new AbortController();
  const reading = receiver.read({ signal: controller.signal });
  setImmediate(() => controller.abort());
  await t.rejects(reading, aborted);
  held!.release();
  const next = await receiver.read();
  t.ok(next && next.length > 0, 'reads go on once the lease is released');
  next?.release();
  for (let lease = await receiver.read(); lease; lease = await receiver.read()) lease.release();
  t.equal((await sending).bytes, MiB);
});

t.test('AbortSignal on Sender.send: the region comes back when the kernel is done', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client } = await pair(t, net); // nobody reads: the send fills the socket buffers and blocks
  const sender = new Sender(client, { mode: 'write' });
  const region = PageRegion.alloc(64 * MiB);
  t.teardown(() => region.close());
  const controller = new AbortController();
  const sending = sender.send(region, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await t.rejects(sending, aborted, 'a blocked send rejects with an AbortError');
  t.equal(region.bytes.byteLength, 64 * MiB, 'the region is no longer lent once the promise settles');
  await t.rejects(sender.send(region, { signal: AbortSignal.abort() }), aborted, 'an aborted signal rejects before lending');
  t.equal(region.bytes.byteLength, 64 * MiB);
});

t.test('AbortSignal on the native loops: done rejects with an AbortError carrying stats', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const controller = new AbortController();
  const rx = receiveLoop(server, { signal: controller.signal });
  // First a counted send the receiver must take part in: 32 MiB cannot all sit in the socket
  // buffers (at most a few MiB each way), so once it is done the receive loop has read bytes.
  await sendLoop(client, { bytes: 32 * MiB, seed: 1, shutdown: false }).done;
  const tx = sendLoop(client, { signal: controller.signal, seed: 1 });
  controller.abort();
  const [rxError, txError] = await Promise.all([rx.done.then(() => null, (e) => e), tx.done.then(() => null, (e) => e)]);
  t.match(rxError, { ...aborted, stats: { endReason: 'stopped' } }, 'receive loop');
  t.match(txError, { ...aborted, stats: { endReason: 'stopped' } }, 'send loop');
  t.ok(rxError.stats.bytes > 0, `the stats say what the loop did before the abort (${rxError.stats.bytes} bytes)`);
  t.throws(() => receiveLoop(server, { signal: AbortSignal.abort() }), aborted, 'an aborted signal starts nothing');
});

t.test('loops resolve with the figures the README promises', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const [rx, tx] = await Promise.all([
    receiveLoop(server, { mode: 'zerocopy', verify: true, seed: 9, cpu: 0 }).done,
    sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed: 9 }).done,
  ]);
  for (const key of ['bytes', 'seconds', 'userSeconds', 'systemSeconds', 'voluntarySwitches', 'involuntarySwitches', 'mappedBytes', 'copiedBytes', 'remappedBytes', 'syscalls', 'mismatches'] as const)
    t.type(rx[key], 'number', `receive: ${key}`);
  for (const key of ['bytes', 'seconds', 'userSeconds', 'systemSeconds', 'voluntarySwitches', 'involuntarySwitches', 'syscalls'] as const) t.type(tx[key], 'number', `send: ${key}`);
  t.equal(rx.bytes, 8 * MiB);
  t.equal(rx.mappedBytes + rx.copiedBytes, rx.bytes, 'mapped + copied = received');
  t.equal(rx.verifiedBytes, rx.bytes);
  t.equal(rx.mismatches, 0);
  t.ok(rx.seconds > 0 && rx.syscalls > 0);
});

t.test('using / await using close every resource at the end of the scope', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  let region: PageRegion, listener: Listener, client: Connection, server: Connection, receiver: Receiver, sender: Sender;
  {
    using r = PageRegion.alloc(4096);
    using l = net.run(() => listen());
    const ready = net.run(() => startConnect({ host: '127.0.0.1', port: l.port }).ready);
    using s = await l.accept();
    using c = await ready;
    using rx = new Receiver(s);
    using tx = new Sender(c);
    [region, listener, client, server, receiver, sender] = [r, l, c, s, rx, tx];
    t.notOk(region.closed || listener.closed || client.closed || server.closed, 'open inside the scope');
  }
  t.ok(region.closed, 'PageRegion closed');
  t.ok(listener.closed && client.closed && server.closed, 'Listener and Connections closed');
  t.equal(receiver.stats().closed, true, 'Receiver closed');
  await t.rejects(sender.send(PageRegion.alloc(4096)), { code: 'ERR_PAGEFLIP_CLOSED' }, 'Sender closed');

  // await using: a Sender waits for its sends to give their regions back.
  const { client: c2 } = await pair(t, net);
  const lent = PageRegion.alloc(64 * MiB);
  t.teardown(() => lent.close());
  let sending: Promise<unknown>;
  {
    await using tx = new Sender(c2);
    sending = tx.send(lent).catch((e) => e);
    await using r = PageRegion.alloc(4096);
    region = r;
  }
  t.ok(region.closed, 'await using closed the region');
  t.match(await sending, { code: 'ERR_PAGEFLIP_CLOSED' }, 'the send in flight was stopped');
  t.equal(lent.bytes.byteLength, 64 * MiB, 'and its region was back when the scope ended');
  {
    await using l = net.run(() => listen());
    await using rx = new Receiver((await pair(t, net)).server);
    [listener, receiver] = [l, rx];
  }
  t.ok(listener.closed && receiver.stats().closed, 'asyncDispose on Listener and Receiver');
});

t.test('for await: break closes the receiver, like a Readable; iterator({ closeOnReturn: false }) keeps it', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const sending = sendLoop(client, { mode: 'write', bytes: 2 * MiB, seed: 4 });
  const receiver = new Receiver(server, { mode: 'copy', chunkSize: 64 * 1024 });
  for await (const lease of receiver) {
    lease.release();
    break;
  }
  t.equal(receiver.stats().closed, true, 'breaking out closed the receiver');
  await t.rejects(receiver.read(), { code: 'ERR_PAGEFLIP_CLOSED' });
  sending.stop();
  await sending.done.catch(() => undefined);
});

t.test('connect() resolves host names; listen() says it takes IP literals', { skip: netnsSkip }, async (t) => {
  t.throws(() => listen({ host: 'localhost' }), { code: 'ERR_PAGEFLIP_INVALID_ADDRESS', message: /IP address literal, not a host name \('localhost'\).*lookup/ });
  // Resolution is asynchronous, so the socket is made after connect() returns: run it in a child
  // that lives wholly inside the namespace.
  const net = network(t, 4148);
  const script = `
    const { listen, connect } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
    const listener = listen({ host: '127.0.0.1' });
    const port = listener.port;
    const [server, client] = await Promise.all([listener.accept(), connect({ host: 'localhost', port: listener.port })]);
    console.log(JSON.stringify({ remote: client.remoteAddress(), local: server.localAddress() }));
    for (const c of [server, client, listener]) c.close();
    // Nothing listens on this port: every address 'localhost' has is tried, the last error kept.
    await connect({ host: 'localhost', port }).catch((e) => console.log(e.code));`;
  const child = net.spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  t.equal(code, 0, err);
  const [first, second] = out.trim().split('\n');
  const { remote, local } = JSON.parse(first);
  t.equal(remote.address, '127.0.0.1', "'localhost' resolved and connected (falling back past ::1 if it came first)");
  t.equal(remote.port, local.port);
  t.equal(second, 'ECONNREFUSED', 'a name none of whose addresses accepts fails with the connect error');
});

t.test('adopt() without Node\'s private _handle.fd: found through /proc/self/fd, else a clear error', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const listener = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => listener.close());
  const server = createServer({ pauseOnConnect: true });
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => server.listen({ fd: binding.dupFd(listener.fd) }, resolve));
  const hidden = async () => {
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const { connection, ready } = net.run(() => startConnect({ host: '127.0.0.1', port: listener.port }));
    t.teardown(() => connection.close());
    await ready;
    const socket = await accepted;
    // What a Node without the field would look like: the handle is there, its fd is not.
    Object.defineProperty((socket as unknown as { _handle: object })._handle, 'fd', { value: undefined });
    return { socket, client: connection };
  };
  const { socket, client } = await hidden();
  const adopted = adopt(socket);
  t.teardown(() => adopted.close());
  t.same(adopted.remoteAddress(), client.localAddress(), 'adopted the right socket by its addresses');
  const [rx] = await Promise.all([receiveLoop(adopted, { verify: true, seed: 2 }).done, sendLoop(client, { bytes: MiB, seed: 2 }).done]);
  t.equal(rx.bytes, MiB);
  t.equal(rx.mismatches, 0, 'and it carries the stream');

  const other = await hidden();
  Object.defineProperty(other.socket, 'localPort', { value: 1 }); // no descriptor matches now
  t.throws(() => adopt(other.socket), { code: 'ERR_PAGEFLIP_ADOPT_UNSUPPORTED', message: /no _handle\.fd.*listen\(\)\/connect\(\)/ });
  other.socket.destroy();
});

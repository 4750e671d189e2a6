// Sender.send(region) in every mode, the lending contract (no use while the kernel may read the
// pages), gifting with splice, and adopting connections from Node's net module.
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { binding } from '../lib/native.js';
import { listen, startConnect } from '../lib/socket.js';
import { PageRegion, Receiver, Sender, adopt, sendLoop } from '../lib/index.js';
import type { Connection, SendMode } from '../lib/index.js';
import { netnsSkip, network, pair } from './helpers/network.js';

const MiB = 1024 * 1024;

function filled(bytes: number, seed: number): PageRegion {
  const region = PageRegion.alloc(bytes);
  const view = region.bytes;
  for (let i = 0; i < bytes; i++) view[i] = (i * 7 + seed) & 0xff;
  return region;
}

async function collect(connection: Connection, bytes: number): Promise<Uint8Array> {
  const receiver = new Receiver(connection, { mode: 'copy', chunkSize: 256 * 1024 });
  const out = new Uint8Array(bytes);
  let at = 0;
  while (at < bytes) {
    const lease = await receiver.read();
    if (!lease) break;
    out.set(lease.bytes as Uint8Array, at);
    at += lease.length;
    lease.release();
  }
  receiver.close();
  return out.subarray(0, at);
}

t.test('send a region in every mode', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  for (const mode of ['write', 'zerocopy', 'splice'] as SendMode[]) {
    const { client, server } = await pair(t, net);
    const seed = mode.length;
    const region = filled(4 * MiB, seed);
    const expected = Uint8Array.from(region.bytes);
    const sender = new Sender(client, { mode });
    const receiving = collect(server, 4 * MiB);
    const sending = sender.send(region);
    t.throws(() => region.bytes, { code: 'ERR_PAGEFLIP_BUSY' }, `${mode}: the region is lent while sending`);
    t.throws(() => region.close(), { code: 'ERR_PAGEFLIP_BUSY' });
    const stats = await sending;
    t.equal(stats.bytes, 4 * MiB, `${mode}: all bytes sent`);
    if (mode === 'zerocopy') t.equal(stats.completions, stats.zerocopySends, 'every MSG_ZEROCOPY send completed before the promise settled');
    const received = await receiving;
    t.equal(Buffer.compare(Buffer.from(received), Buffer.from(expected)), 0, `${mode}: receiver got exactly the region's bytes`);
    if (mode === 'splice') t.ok(region.closed, 'splice gifted the pages: the region is closed');
    else {
      t.equal(region.bytes[12345], expected[12345], `${mode}: the region is usable again afterwards`);
      region.close();
    }
    client.close();
    server.close();
  }
});

t.test('partial sends, bad options and closing a sender mid-send', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const { client, server } = await pair(t, net);
  const region = filled(MiB, 3);
  const sender = new Sender(client, { mode: 'zerocopy' });
  const receiving = collect(server, 4096);
  await sender.send(region, { offset: 8192, length: 4096 });
  t.same([...(await receiving).subarray(0, 4)], [...region.bytes.subarray(8192, 8196)], 'offset and length respected');
  await t.rejects(sender.send(region, { offset: MiB }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  await t.rejects(sender.send(region, { length: MiB + 1 }), { code: 'ERR_PAGEFLIP_OUT_OF_RANGE' });
  await t.rejects(new Sender(client, { mode: 'splice' }).send(region, { offset: 100 }), { code: 'ERR_PAGEFLIP_NOT_PAGE_MULTIPLE' });
  await t.rejects(sender.send({} as PageRegion), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });

  // Nobody reads: the send blocks on a full socket until the sender is closed. The bytes already
  // sent are read from the region's pages until the peer takes them: it stays lent until then.
  const big = filled(32 * MiB, 4);
  const stuck = sender.send(big);
  let settled = false;
  void stuck.catch(() => (settled = true));
  setTimeout(() => sender.close(), 100);
  await new Promise((r) => setTimeout(r, 600));
  t.notOk(settled, 'a closed zerocopy send waits for the completions of what it sent');
  t.throws(() => big.bytes, { code: 'ERR_PAGEFLIP_BUSY' }, 'meanwhile the region stays lent');
  server.setOptions({ linger0: true });
  server.close(); // a reset drops the unread bytes: their pages are released
  await t.rejects(stuck, { code: 'ERR_PAGEFLIP_CLOSED' }, 'close() ends a blocked send once its pages are released');
  t.notOk(big.closed, 'the region comes back to its owner');
  t.equal(big.bytes.length, 32 * MiB, 'and is usable again');
  await t.rejects(sender.send(region), { code: 'ERR_PAGEFLIP_CLOSED' }, 'a closed sender refuses new sends');
  big.close();
  region.close();
});

t.test('adopt a connection accepted by net.Server with pauseOnConnect', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  // Node resolves listen() hosts asynchronously (after we left the namespace), so hand it a
  // descriptor bound inside the namespace instead.
  const listener = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => listener.close());
  const server = createServer({ pauseOnConnect: true });
  t.teardown(() => server.close());
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen({ fd: binding.dupFd(listener.fd) }, resolve));

  const { connection: client, ready } = net.run(() => startConnect({ host: '127.0.0.1', port: listener.port }));
  t.teardown(() => client.close());
  await ready;
  const socket = await accepted;
  const connection = adopt(socket);
  t.teardown(() => connection.close());
  t.ok(socket.destroyed, 'the net.Socket is gone; the Connection owns a duplicate descriptor');

  const seed = 31;
  const sending = sendLoop(client, { mode: 'zerocopy', bytes: 8 * MiB, seed });
  const receiver = new Receiver(connection, { mode: 'zerocopy', verify: true, seed });
  let bytes = 0;
  for await (const lease of receiver) {
    bytes += lease.length;
    lease.release();
  }
  await sending.done;
  const stats = receiver.stats();
  receiver.close();
  t.equal(bytes, 8 * MiB, 'every byte arrived through the adopted descriptor');
  t.equal(stats.mismatches, 0);
  t.ok(stats.mappedBytes > 0, 'and pages were mapped from it');

  // A socket Node has already read from cannot be adopted: those bytes would be lost.
  const readAlready = createServer((s) => s.resume());
  t.teardown(() => readAlready.close());
  const listener2 = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => listener2.close());
  const second = new Promise<Socket>((resolve) => readAlready.once('connection', resolve));
  await new Promise<void>((resolve) => readAlready.listen({ fd: binding.dupFd(listener2.fd) }, resolve));
  const other = net.run(() => startConnect({ host: '127.0.0.1', port: listener2.port }));
  t.teardown(() => other.connection.close());
  await other.ready;
  const busy = await second;
  // No FIN: Node would close the socket on the peer's end before adopt() sees what it read.
  await sendLoop(other.connection, { bytes: 1024, seed: 1, shutdown: false }).done;
  // Node reads it on its own (resume()); wait until it has.
  for (let i = 0; i < 100 && busy.bytesRead === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.throws(() => adopt(busy), { code: 'ERR_PAGEFLIP_SOCKET_ALREADY_READ' });
  t.throws(() => adopt({} as Socket), { code: 'ERR_PAGEFLIP_INVALID_ARG_TYPE' });
  busy.destroy();
});

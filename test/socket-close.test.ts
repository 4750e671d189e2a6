// Closing a Listener or a Connection while accept() / startConnect() waits on it: the wait
// settles with ERR_PAGEFLIP_CLOSED, and no watcher is left polling the closed descriptor number
// (the next descriptor with that number can be waited on).
import t from 'tap';
import { listen, startConnect, type Connection } from '../lib/socket.js';
import { netnsSkip, network } from './helpers/network.js';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);

t.test('closing a listener ends its pending accept()', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  const listener = net.run(() => listen({ host: '127.0.0.1' }));
  const fd = listener.fd;
  const accepting = listener.accept();
  await new Promise((r) => setTimeout(r, 20));
  listener.close();
  await t.rejects(within(accepting, 5000), { code: 'ERR_PAGEFLIP_CLOSED' }, 'accept() rejects with ERR_PAGEFLIP_CLOSED');

  // The descriptor number is free again; a new listener that gets it can wait on it.
  const again = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => again.close());
  t.equal(again.fd, fd, 'the new listener reuses the descriptor number');
  const next = again.accept();
  const { connection, ready } = net.run(() => startConnect({ host: '127.0.0.1', port: again.port }));
  t.teardown(() => connection.close());
  const [accepted] = await within(Promise.all([next, ready]), 5000);
  accepted.close();
  t.pass('accept() works on the reused number');
});

t.test('closing a connection ends its pending connect', { skip: netnsSkip }, async (t) => {
  const net = network(t, 4148);
  // A full accept queue (backlog 1, nobody accepts) makes the kernel drop further SYNs.
  const listener = net.run(() => listen({ host: '127.0.0.1', backlog: 1 }));
  t.teardown(() => listener.close());
  const attempts: Array<{ connection: Connection; ready: Promise<Connection>; settled: boolean }> = [];
  for (let i = 0; i < 4; i++) {
    const attempt = { ...net.run(() => startConnect({ host: '127.0.0.1', port: listener.port })), settled: false };
    attempt.ready.then(
      () => (attempt.settled = true),
      () => (attempt.settled = true),
    );
    attempts.push(attempt);
    t.teardown(() => attempt.connection.close());
  }
  await new Promise((r) => setTimeout(r, 300));
  const pending = attempts.filter((a) => !a.settled);
  t.ok(pending.length > 0, `${pending.length} connect(s) still waiting on a full accept queue`);
  pending[0].connection.close();
  await t.rejects(within(pending[0].ready, 5000), { code: 'ERR_PAGEFLIP_CLOSED' }, 'ready rejects with ERR_PAGEFLIP_CLOSED');
  // Sockets made afterwards (one of them may get the closed number) can be waited on.
  const other = net.run(() => listen({ host: '127.0.0.1' }));
  t.teardown(() => other.close());
  const accepting = other.accept();
  const { connection, ready } = net.run(() => startConnect({ host: '127.0.0.1', port: other.port }));
  t.teardown(() => connection.close());
  const [accepted] = await within(Promise.all([accepting, ready]), 5000);
  accepted.close();
  t.pass('accept() and connect() work afterwards');
});

// The local sender process: started by sender-process.ts inside the run's network namespace, it
// serves one compare over the `pageflip serve` control protocol on fd 3 (a socketpair to the
// receiving process) and exits when that closes, so it never outlives the compare that started it.
// The socketpair is private to the two processes: no token, and limits only the protocol's own
// (the receiving process declares its plan like any client).
import { Socket } from 'node:net';
import { MAX_TIMEOUT_SECONDS } from './control.js';
import { serveOne } from './serve.js';

const control = new Socket({ fd: 3, readable: true, writable: true });
await serveOne(
  control,
  {
    host: '127.0.0.1',
    port: 0,
    token: null,
    maxSeconds: MAX_TIMEOUT_SECONDS,
    maxBytes: Number.MAX_SAFE_INTEGER,
    handshakeSeconds: MAX_TIMEOUT_SECONDS,
    idleSeconds: MAX_TIMEOUT_SECONDS,
    dataAddress: '127.0.0.1',
  },
  // Quiet: the parent keeps the tail of stderr to explain a death, so only failures belong there.
  (message) => {
    if (message.startsWith('ended') || message.startsWith('refused')) process.stderr.write(`${message}\n`);
  },
);

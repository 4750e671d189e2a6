// The Node baseline: what an application gets from net.Socket 'data' events (libuv reads into
// fresh Buffers on the JS thread). It can only copy.
import { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { binding } from '../native.js';
import type { Connection } from '../socket.js';

export interface NodeReadStats {
  bytes: number;
  seconds: number;
  /** CPU of the JS (main) thread, from /proc/self/task/<pid>/stat (clock ticks). */
  cpuSeconds: number;
  mismatches: number;
  verifiedBytes: number;
}

const TICK = 0.01; // USER_HZ is 100 on Linux for /proc/<pid>/stat
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK; // utime, stime
}

/** Reads `connection` through a net.Socket for `seconds` (or until EOF), optionally verifying every byte. */
export function nodeRead(
  connection: Connection,
  options: { seconds: number | null; verify: boolean; seed: number; bytes?: number; streamOffset?: number },
): Promise<NodeReadStats> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd: binding.dupFd(connection.fd), readable: true, writable: false });
    let bytes = 0;
    let mismatches = 0;
    const cpuStart = mainThreadCpu();
    const start = process.hrtime.bigint();
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const cpuSeconds = mainThreadCpu() - cpuStart;
      socket.destroy();
      if (error) reject(error);
      else resolve({ bytes, seconds, cpuSeconds, mismatches, verifiedBytes: options.verify ? bytes : 0 });
    };
    const timer = options.seconds ? setTimeout(() => finish(), options.seconds * 1000) : undefined;
    socket.on('data', (chunk: Buffer) => {
      if (options.verify) mismatches += binding.verifyPattern(chunk, (options.streamOffset ?? 0) + bytes, options.seed);
      bytes += chunk.length;
      if (options.bytes && bytes >= options.bytes) finish();
    });
    socket.on('end', () => finish());
    socket.on('error', (error) => finish(error));
  });
}

// Shared by the reliability tests: garbage collection on demand, resource snapshots (fds,
// mappings, address space, RSS), child processes for cases that may crash, the JS mirror of the
// test pattern, and what changes under a sanitizer build.
import { spawn } from 'node:child_process';
import { setImmediate as nextImmediate } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { processResources, resourceGrowth, type ProcessResources } from './procfs.js';

setFlagsFromString('--expose-gc');
export const gc = runInNewContext('gc') as () => void;

/**
 * Collects garbage and lets finalizers run: the addon's buffer finalizers are scheduled as
 * immediates after V8 frees a buffer, so one gc() alone is not enough.
 */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await nextImmediate();
  }
}

/** `.ci/asan` sets this; a few checks adapt (RSS slack for the allocator's quarantine, no RLIMIT_AS). */
export const sanitizer: string | undefined = process.env.PAGEFLIP_SANITIZER || undefined;

// Resource snapshots live in lib/procfs.ts (the soak uses them too); the tests' names for them:
export type Usage = ProcessResources;
export const usage = processResources;
export const growth = resourceGrowth;

export function describeGrowth(g: Usage): string {
  const kib = (n: number) => `${n >= 0 ? '+' : ''}${Math.round(n / 1024)} KiB`;
  const count = (n: number) => `${n >= 0 ? '+' : ''}${n}`;
  return `fds ${count(g.fds)}, maps ${count(g.maps)}, VmSize ${kib(g.vsize)} (malloc arenas ${count(g.mallocArenas)}), RSS ${kib(g.rss)}, VmPin ${kib(g.pinned)}, socket maps ${count(g.socketMaps)}`;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript fixture in a child Node with the same loaders as this test process.
 * `expectCrash`: the child is meant to die by a signal; under a sanitizer its SEGV/BUS handlers
 * are turned off for that child so the kernel's default action (the signal) is what we observe.
 * `shell`: a shell prefix run before exec'ing node (e.g. `ulimit -v 2000000`).
 * `prefix`: a command node is exec'ed through (e.g. setpriv dropping a capability); needs `shell`.
 */
export function runChild(
  fixture: string,
  args: string[] = [],
  options: { expectCrash?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number; shell?: string; prefix?: string[] } = {},
): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.expectCrash && env.ASAN_OPTIONS !== undefined)
    env.ASAN_OPTIONS = `${env.ASAN_OPTIONS}:handle_segv=0:handle_sigbus=0:handle_abort=0`;
  const nodeArgs = [...process.execArgv, fixture, ...args];
  const child = options.shell
    ? spawn('/bin/sh', ['-c', `${options.shell} && exec "$0" "$@"`, ...(options.prefix ?? []), process.execPath, ...nodeArgs], { env })
    : spawn(process.execPath, nodeArgs, { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// ---- the test pattern (mirror of native/pattern.h) ----
// Word k of the 16 MiB period is (k * 0x9E3779B97F4A7C15) ^ seed, little endian. Computed with
// 32-bit halves so filling and checking megabytes stays cheap in JavaScript.
const PERIOD = 16 * 1024 * 1024;
const MUL_LO = 0x7f4a7c15;
const MUL_HI = 0x9e3779b9;

function patternWord(k: number, seed: number): [number, number] {
  const low = k * MUL_LO; // exact: k < 2^21
  const lo = low % 0x1_0000_0000;
  const carry = Math.floor(low / 0x1_0000_0000);
  const hi = (carry + Math.imul(k, MUL_HI)) >>> 0;
  return [(lo ^ seed % 0x1_0000_0000) >>> 0, (hi ^ Math.floor(seed / 0x1_0000_0000)) >>> 0];
}

export function patternByteAt(offset: number, seed: number): number {
  const inPeriod = offset % PERIOD;
  const [lo, hi] = patternWord(Math.floor(inPeriod / 8), seed);
  const b = inPeriod % 8;
  return (b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff;
}

/** Writes the stream bytes for stream offsets [offset, offset + bytes.length). */
export function fillPattern(bytes: Uint8Array, offset: number, seed: number): void {
  let i = 0;
  while (i < bytes.length) {
    const inPeriod = (offset + i) % PERIOD;
    const [lo, hi] = patternWord(Math.floor(inPeriod / 8), seed);
    for (let b = inPeriod % 8; b < 8 && i < bytes.length; b++, i++) bytes[i] = (b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff;
  }
}

/** Offsets (stream offsets) of bytes that differ from the pattern; at most `limit` of them. */
export function patternMismatches(bytes: Uint8Array, offset: number, seed: number, limit = 8): number[] {
  const bad: number[] = [];
  let i = 0;
  while (i < bytes.length && bad.length < limit) {
    const inPeriod = (offset + i) % PERIOD;
    const [lo, hi] = patternWord(Math.floor(inPeriod / 8), seed);
    for (let b = inPeriod % 8; b < 8 && i < bytes.length; b++, i++) {
      if (bytes[i] !== ((b < 4 ? lo >>> (8 * b) : hi >>> (8 * (b - 4))) & 0xff) && bad.length < limit) bad.push(offset + i);
    }
  }
  return bad;
}

export const MiB = 1024 * 1024;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

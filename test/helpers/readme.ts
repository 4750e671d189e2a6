// The README's runnable examples: every ```js block, with what it prints taken from its
// `// prints: ...` lines (none: it prints nothing). Each runs as a module importing 'pageflip'.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { packageRoot } from '../../lib/native.js';
import { network } from './network.js';

export interface ReadmeExample {
  code: string;
  prints: string;
}

export function readmeExamples(): ReadmeExample[] {
  const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map(([, code]) => ({
    code,
    prints: [...code.matchAll(/^\/\/ prints: (.*)$/gm)].map((m) => m[1]).join('\n'),
  }));
}

/** Runs `code` as an ES module in a child inside a fresh private network namespace, from `cwd`. */
export async function runExample(t: Test, code: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const net = network(t, 65536);
  const child = net.spawn(process.execPath, ['--input-type=module', '-e', code], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code: status, stdout, stderr };
}

// Worker threads that end while the addon still has work on their event loop: an open Receiver
// (its fd watcher), a pending accept() or connect(), a zero-copy loop waiting for completions,
// and process.exit() called from inside a watcher's callback. Each runs in a child process
// (test/fixtures/worker-exit-child.ts, which loads the compiled dist/ in the worker) whose only
// user of the addon is the worker, so the addon is unloaded with the worker's environment.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { netnsSkip } from './helpers/network.js';
import { runChild } from './helpers/reliability.js';

const child = fileURLToPath(new URL('./fixtures/worker-exit-child.ts', import.meta.url));

const cases: Array<[scenario: string, ending: string]> = [
  ['receiver', 'exit'],
  ['receiver', 'terminate'],
  ['accept', 'exit'],
  ['accept', 'terminate'],
  ['connect', 'exit'],
  ['connect', 'terminate'],
  ['reaping', 'exit'],
  ['reaping', 'terminate'],
  ['callback', 'exit'],
];

t.test('a worker that ends with native work pending leaves the process alive', { skip: netnsSkip }, async (t) => {
  for (const [scenario, ending] of cases) {
    const result = await runChild(child, [scenario, ending], { timeoutMs: 60_000, expectCrash: true });
    const detail = `${result.stdout.slice(-300)} ${result.stderr.slice(-600)}`;
    t.equal(result.signal, null, `${scenario}/${ending}: no signal (${detail})`);
    t.equal(result.code, 0, `${scenario}/${ending}: exit code 0`);
    t.match(result.stdout, /survived/, `${scenario}/${ending}: the main thread went on after the worker`);
  }
});

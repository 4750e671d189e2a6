// The engines (receive, send, zero-copy probe, page moves and page ownership) are plain C++: each
// compiles on its own with no Node or V8 header on the include path, so they can be reasoned about,
// and run on any thread, without the JavaScript runtime (issue 11, README "Memory ownership").
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../lib/native.js';

const gxx = spawnSync('g++', ['--version']).status === 0;
const engines = ['receive.cc', 'send.cc', 'zerocopy.cc', 'mapping.cc'];

t.test('engines compile without <napi.h>', { skip: gxx ? false : 'no g++ on PATH' }, async (t) => {
  for (const file of engines) {
    let output = '';
    try {
      execFileSync('g++', ['-std=c++17', '-fsyntax-only', '-Wall', '-Wextra', join(packageRoot, 'native', file)], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      output = String((error as { stderr?: string }).stderr ?? error).slice(0, 800);
    }
    t.equal(output, '', `native/${file} needs nothing from Node`);
  }
});

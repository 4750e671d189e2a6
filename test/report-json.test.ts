import t, { type Test } from 'tap';
import { compareReportSchema, parseReport, renderJson, checkSchema, type JsonSchema } from '../lib/report/index.js';
import type { CompareReport } from '../lib/experiment/types.js';
import { fixtureReport, stripLayoutFields } from './fixtures/compare-report.js';
import { OPTIONAL_FIELDS } from '../lib/report/schema.js';

/** A fixture with every nullable object filled in, so the schema sees each shape at least once. */
function peerReport(): CompareReport {
  const report = fixtureReport();
  report.remoteHost = { ...report.host, hostname: 'peer', cpuMHz: null, thp: null };
  report.config = { ...report.config, network: 'peer', peer: '192.0.2.7:7000', cpus: null, seconds: null, bytes: 1e9 };
  for (const r of report.runs) r.remote = { cpu: { ...r.cpu } };
  return report;
}

function rejects(t: Test, text: string, message: RegExp, what: string): void {
  t.throws(() => parseReport(text), { code: 'ERR_PAGEFLIP_BAD_REPORT', message }, what);
}

/** Mutate a copy of the fixture's plain JSON form and serialise it (untyped on purpose: it breaks the types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function broken(edit: (r: any) => void): string {
  const value = JSON.parse(renderJson(fixtureReport()));
  edit(value);
  return JSON.stringify(value);
}

t.test('renderJson round-trips through parseReport', async (t) => {
  for (const report of [fixtureReport(), peerReport()]) {
    const text = renderJson(report);
    t.ok(text.endsWith('}\n'), 'pretty JSON with a final newline');
    t.same(parseReport(text), report, 'same report back');
  }
});

t.test('parseReport rejects broken files with a typed error naming the path', async (t) => {
  rejects(t, '{"schema": "pageflip-compare/1",', /^report is not JSON: /, 'truncated file');
  rejects(t, '', /^report is not JSON/, 'empty file');
  rejects(t, '[]', /invalid report at \$: expected object, got array/, 'not an object');
  rejects(t, 'null', /at \$: expected object, got null/, 'null');
  t.throws(() => parseReport(undefined as unknown as string), { code: 'ERR_PAGEFLIP_BAD_REPORT', message: /got undefined/ });
  t.throws(() => parseReport(null as unknown as string), { code: 'ERR_PAGEFLIP_BAD_REPORT', message: /got null/ });

  rejects(t, broken((r) => delete r.runs[3].cpu.percent), /at \$\.runs\[3\]\.cpu\.percent: required field is missing/, 'missing field');
  rejects(t, broken((r) => delete r.summary), /at \$\.summary: required field is missing/, 'missing section');
  rejects(t, broken((r) => (r.runs[0].gbps = 'fast')), /at \$\.runs\[0\]\.gbps: expected number, got string "fast"/, 'wrong type');
  rejects(t, broken((r) => (r.runs[0].mode = 'teleport')), /at \$\.runs\[0\]\.mode: expected one of "copy", .*got string "teleport"/, 'bad enum');
  rejects(t, broken((r) => (r.config.sender = 'iperf3')), /at \$\.config\.sender: expected one of "write", "zerocopy", "splice"/, 'iperf3 is no configurable sender');
  rejects(t, broken((r) => (r.config.network = 'wifi')), /at \$\.config\.network/, 'bad network');
  rejects(t, broken((r) => (r.runs[1].note = 5)), /at \$\.runs\[1\]\.note: expected string or null, got number 5/, 'nullable string');
  rejects(t, broken((r) => (r.host = null)), /at \$\.host: expected object, got null/, 'null where not nullable');
  rejects(t, broken((r) => (r.runs[2].repeat = 1.5)), /at \$\.runs\[2\]\.repeat: expected integer, got number 1\.5/, 'integer');
  rejects(t, broken((r) => (r.runs[2].repeat = 0)), /at \$\.runs\[2\]\.repeat: expected ≥ 1, got 0/, 'minimum');
  rejects(t, broken((r) => (r.runs[2].mappedPercent = 100.5)), /at \$\.runs\[2\]\.mappedPercent: expected ≤ 100/, 'maximum');
  rejects(t, broken((r) => (r.runs[0].bytes = -1)), /at \$\.runs\[0\]\.bytes: expected ≥ 0/, 'negative bytes');
  rejects(t, broken((r) => (r.config.modes = [])), /at \$\.config\.modes: expected at least 1 items, got 0/, 'minItems');
  rejects(t, broken((r) => (r.runs[0].surprise = true)), /at \$\.runs\[0\]\.surprise: unexpected field/, 'unknown field');
  rejects(t, broken((r) => (r.runs[0].perf[0].event = '')), /at \$\.runs\[0\]\.perf\[0\]\.event: expected a string of at least 1/, 'minLength');
  rejects(
    t,
    broken((r) => (r.summary.points[0].perfPerMB['tlb:tlb_flush'] = 'lots')),
    /at \$\.summary\.points\[0\]\.perfPerMB\["tlb:tlb_flush"\]: expected number or null/,
    'record values are checked, odd keys quoted',
  );
  rejects(t, broken((r) => (r.summary.best[0].moving = { mode: 'flip' })), /at \$\.summary\.best\[0\]\.moving\.sender: required field is missing/, 'nested $ref');
  rejects(t, broken((r) => (r.paper[0].copy = '6.52')), /at \$\.paper\[0\]\.copy: expected number, got string "6\.52"/, 'paper values');
  // JSON.parse turns 1e999 into Infinity; that is no measurement.
  rejects(t, renderJson(fixtureReport()).replace(/"gbps": [0-9.e+-]+/, '"gbps": 1e999'), /at \$\.runs\[0\]\.gbps: expected number, got number Infinity/, 'Infinity');
  rejects(t, broken((r) => (r.schema = 'pageflip-compare/2')), /^\$\.schema: this pageflip reads "pageflip-compare\/1" reports, the file is "pageflip-compare\/2"$/, 'other version');
  rejects(t, broken((r) => (r.schema = 2)), /at \$\.schema: expected "pageflip-compare\/1", got number 2/, 'schema not a string');
  rejects(
    t,
    broken((r) => (r.host.hostname = 7)),
    /at \$\.host\.hostname: expected string, got number 7$/,
    'messages are short',
  );
  rejects(t, broken((r) => (r.warnings = ['x'.repeat(100), false])), /at \$\.warnings\[1\]: expected string, got boolean false/, 'array items');
  rejects(t, broken((r) => (r.runs[0].touch = 'yes')), /at \$\.runs\[0\]\.touch: expected boolean, got string "yes"/, 'boolean');
  rejects(t, broken((r) => (r.method = 'x'.repeat(60))), /got string "x{37}\.\.\."/, 'long strings are truncated in messages');
});

t.test('the schema mirrors the types: every object lists all its fields as required', async (t) => {
  // Fields added after the first reports were saved are optional (listed in the schema), so old files still load.
  const optional: Record<string, string[]> = OPTIONAL_FIELDS;
  const visit = (schema: JsonSchema, where: string) => {
    if (schema.properties) {
      const name = where.split('.').at(-1) as string;
      const keys = Object.keys(schema.properties).filter((k) => !(optional[name] ?? []).includes(k));
      t.same(schema.required, keys, `${where}: required = all fields`);
      t.equal(schema.additionalProperties, false, `${where}: closed`);
      for (const [k, sub] of Object.entries(schema.properties)) visit(sub, `${where}.${k}`);
    }
    if (schema.items) visit(schema.items, `${where}[]`);
    for (const [k, sub] of Object.entries(schema.$defs ?? {})) visit(sub, k);
  };
  visit(compareReportSchema, 'report');
  t.equal(compareReportSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  // The fixture with every nullable object present validates, so every shape has been exercised.
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(peerReport()))), null);
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(fixtureReport()))), null);
  // A report saved before the sender-process layout and per-side CPU still loads.
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(stripLayoutFields(fixtureReport())))), null);
  const cut = { ...fixtureReport(), error: 'run 3 of 9 failed: the sender process (pid 7) was killed by SIGKILL during the run (ERR_PAGEFLIP_SENDER_DIED)' };
  t.equal(checkSchema(compareReportSchema, JSON.parse(renderJson(cut))), null, 'a report cut short by a dead sender validates');
});

t.test('schema-check: the keywords it supports, and refusal of the ones it does not', async (t) => {
  const schema: JsonSchema = {
    $defs: { pos: { type: 'number', minimum: 0 } },
    type: 'object',
    required: ['a'],
    properties: { a: { $ref: '#/$defs/pos' }, b: { const: 'x' } },
    additionalProperties: { type: 'string' },
  };
  t.equal(checkSchema(schema, { a: 1, b: 'x', extra: 's' }), null);
  t.same(checkSchema(schema, { a: -1 }), { path: '$.a', message: 'expected ≥ 0, got -1' });
  t.same(checkSchema(schema, { a: 1, b: 'y' }), { path: '$.b', message: 'expected "x", got string "y"' });
  t.same(checkSchema(schema, { a: 1, extra: 3 }), { path: '$.extra', message: 'expected string, got number 3' });
  t.same(checkSchema(schema, { a: 1, 'odd key': 3 }), { path: '$["odd key"]', message: 'expected string, got number 3' });
  t.same(checkSchema({ type: 'integer' }, 2.5), { path: '$', message: 'expected integer, got number 2.5' });
  t.equal(checkSchema({ type: 'number' }, 3), null, 'an integer is a number');
  t.equal(checkSchema({ type: ['string', 'null'] }, null), null);
  t.same(checkSchema({ enum: [1, 'a', null] }, true), { path: '$', message: 'expected one of 1, "a", null, got boolean true' });
  t.equal(checkSchema({ type: 'array', items: { type: 'integer' } }, [1, 2]), null);
  t.same(checkSchema({ type: 'array', items: { type: 'integer' } }, [1, {}]), { path: '$[1]', message: 'expected integer, got object' });
  t.equal(checkSchema({ type: 'object' }, { anything: 1 }), null, 'open objects accept any field');
  t.throws(() => checkSchema({ type: 'string', pattern: '^a' } as JsonSchema, 'a'), /keyword 'pattern' is not supported/);
  t.throws(() => checkSchema({ $ref: '#/$defs/none' }, 1), /dangling \$ref #\/\$defs\/none/);
  t.throws(() => checkSchema({ $ref: 'other.json' }, 1), /unsupported or dangling \$ref/);
});

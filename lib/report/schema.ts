// JSON Schema (draft 2020-12) of the report file, schema "pageflip-compare/1". It mirrors
// lib/experiment/types.ts field for field: every object lists all of its fields as required
// (the optional fields, PerfCounter.reason, the report's `error` and `model`, are the exceptions) and refuses unknown ones, so a
// type change that is not mirrored here fails the round-trip test.
import type { JsonSchema } from './schema-check.js';
import { LOOP_RECEIVE_MODES, MIN_LINK_MTU, MODEL_MODES, MOVING_MODES, REFERENCE_MODES, SEND_MODES } from '../vocabulary.js';

const num: JsonSchema = { type: 'number', minimum: 0 };
const pct: JsonSchema = { type: 'number', minimum: 0, maximum: 100 }; // share of all cores or of bytes
const int: JsonSchema = { type: 'integer', minimum: 0 };
const str: JsonSchema = { type: 'string' };
const bool: JsonSchema = { type: 'boolean' };
const nullableNum: JsonSchema = { type: ['number', 'null'], minimum: 0 };
const nullableStr: JsonSchema = { type: ['string', 'null'] };
// $defs hold object shapes without a `type`; each use says whether null is allowed. ($ref with
// sibling keywords is valid in draft 2020-12 and both apply, so this stays standard.)
const ref = (name: string): JsonSchema => ({ type: 'object', $ref: `#/$defs/${name}` });
const nullable = (name: string): JsonSchema => ({ type: ['object', 'null'], $ref: `#/$defs/${name}` });

function shape(properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
  return {
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
    additionalProperties: false,
  };
}
const object = (properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema => ({ type: 'object', ...shape(properties, optional) });
const nullableObject = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: ['object', 'null'], ...shape(properties) });

// Fields added with the sender-process layout, receiver-side CPU and flows: optional, so reports
// saved before them still load (new reports always carry them).
const NEWER_CONFIG = ['layout', 'flows', 'cpuSets', 'rps'];
const NEWER_RUN = ['layout', 'pids', 'sides', 'receiverEfficiency', 'otherCpu', 'flows', 'chunkBytes', 'remap'];
// chunkBytes: only on points of a chunk other than the run's; pmdShare: on points of runs that counted remaps (null: nothing remapped).
const NEWER_POINT = ['layout', 'flows', 'receiver', 'senderCpuPercent', 'chunkBytes', 'pmdShare'];
const NEWER_SUMMARY = ['receiverBest', 'receiverVerdict', 'floor'];
const NEWER_REPORT = ['error', 'model'];
// chunkBytes: only on rows of a chunk other than the report's (the 2 MiB rows); measuredSpread:
// only where a mode's runs paired with copy's by repeat (never on copy's row; not in older reports).
const NEWER_MODEL_ROW = ['chunkBytes', 'measuredSpread', 'receiverSide'];
const NEWER_MODEL = ['receiverSideFloor'];
/** The optional fields of each object (by $defs name, 'report' for the top), for the schema's own test. */
export const OPTIONAL_FIELDS: Record<string, string[]> = {
  perfCounter: ['reason'],
  report: NEWER_REPORT,
  config: NEWER_CONFIG,
  run: NEWER_RUN,
  point: NEWER_POINT,
  summary: NEWER_SUMMARY,
  modelRow: NEWER_MODEL_ROW,
  model: NEWER_MODEL,
};

const rowMode: JsonSchema = { enum: [...LOOP_RECEIVE_MODES, ...REFERENCE_MODES] };
const rowSender: JsonSchema = { enum: [...SEND_MODES, 'iperf3'] };
const mtu: JsonSchema = { type: 'integer', minimum: MIN_LINK_MTU };

export const compareReportSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'pageflip-compare/1',
  title: 'pageflip compare report',
  description: 'One `pageflip compare` run: host, configuration, every run, and the summary. Absent measurements are null, never 0.',
  type: 'object',
  ...shape({
    schema: { const: 'pageflip-compare/1' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    host: ref('host'),
    remoteHost: nullable('host'),
    config: ref('config'),
    method: { type: 'array', items: str },
    warnings: { type: 'array', items: str },
    runs: { type: 'array', items: ref('run') },
    summary: ref('summary'),
    paper: { type: 'array', items: ref('paperFigure') },
    // Only in a report cut short (Ctrl-C, a failed run): why; `runs` holds the runs measured before.
    error: str,
    model: ref('model'),
  }, NEWER_REPORT),
  $defs: {
    host: shape({
      hostname: str,
      kernel: str,
      machine: str,
      cpuModel: str,
      cpuMHz: nullableNum,
      cpus: { type: 'integer', minimum: 1 },
      pageSize: { type: 'integer', minimum: 1 },
      thp: nullableStr,
      node: str,
      pageflip: str,
    }),
    config: shape({
      modes: { type: 'array', items: rowMode, minItems: 1 },
      mtus: { type: 'array', items: mtu, minItems: 1 },
      touch: { type: 'array', items: bool, minItems: 1 },
      chunkBytes: { type: 'integer', minimum: 1 },
      seconds: nullableNum,
      bytes: { type: ['integer', 'null'], minimum: 0 },
      warmupSeconds: num,
      repeats: { type: 'integer', minimum: 1 },
      sender: { enum: [...SEND_MODES] },
      cpus: nullableObject({ rx: int, tx: int }),
      perf: bool,
      network: { enum: ['netns', 'mss-emulation', 'peer'] },
      peer: nullableStr,
      quick: bool,
      orderSeed: int,
      layout: { enum: ['processes', 'threads'] },
      flows: { type: 'integer', minimum: 1 },
      cpuSets: object({ rx: { type: 'array', items: int, minItems: 1 }, tx: { type: 'array', items: int, minItems: 1 } }),
      rps: object({ cpus: { type: ['array', 'null'], items: int }, reason: nullableStr }),
    }, NEWER_CONFIG),
    cpuUsage: shape({
      percent: pct,
      user: pct,
      nice: pct,
      system: pct,
      irq: pct,
      softirq: pct,
      steal: pct,
      idle: pct,
      usPerMB: num,
    }),
    threadCpu: shape({ seconds: num, usPerMB: num }),
    perfCounter: shape(
      {
        event: { type: 'string', minLength: 1 },
        available: bool,
        value: nullableNum,
        perMB: nullableNum,
        reason: str,
      },
      ['reason'],
    ),
    run: shape({
      repeat: { type: 'integer', minimum: 1 },
      mode: rowMode,
      mtu,
      touch: bool,
      sender: rowSender,
      bytes: int,
      seconds: num,
      gbps: num,
      mbps: num,
      cpu: ref('cpuUsage'),
      efficiency: num,
      receiverThread: nullable('threadCpu'),
      senderThread: nullable('threadCpu'),
      mappedBytes: int,
      copiedBytes: int,
      mappedPercent: pct,
      verifiedBytes: int,
      mismatches: int,
      syscalls: { type: ['integer', 'null'], minimum: 0 },
      calls: nullableObject({ receive: int, wait: int, page: int }),
      perf: { type: ['array', 'null'], items: ref('perfCounter') },
      note: nullableStr,
      remote: nullableObject({ cpu: ref('cpuUsage') }),
      layout: { enum: ['processes', 'threads', 'peer', 'iperf3'] },
      pids: nullableObject({ receiver: int, sender: { type: ['integer', 'null'], minimum: 0 } }),
      sides: nullableObject({ receiver: ref('sideCpu'), sender: ref('sideCpu') }),
      receiverEfficiency: nullableNum,
      otherCpu: { type: ['number', 'null'], minimum: 0, maximum: 100 },
      flows: { type: ['array', 'null'], items: ref('flow') },
      chunkBytes: { type: 'integer', minimum: 1 },
      remap: nullableObject({ bytes: int, pmdMoves: int }),
    }, NEWER_RUN),
    sideCpu: shape({ cpus: { type: 'array', items: int }, percent: pct, softirq: pct, steal: pct, usPerMB: num }),
    flow: shape({ bytes: int, seconds: num, mbps: num, receiverThread: ref('threadCpu'), senderThread: nullable('threadCpu') }),
    spread: shape({ median: num, min: num, max: num }),
    pairedRatio: shape({ median: num, min: num, max: num, pairs: { type: 'integer', minimum: 1 } }),
    range: shape({ min: num, max: num }),
    point: shape({
      mode: rowMode,
      mtu,
      touch: bool,
      sender: rowSender,
      runs: int,
      gbps: ref('spread'),
      cpuPercent: ref('spread'),
      usPerMB: ref('spread'),
      efficiency: ref('spread'),
      mappedPercent: pct,
      mismatches: int,
      vsCopy: nullableObject({ gbps: num, usPerMB: num, efficiency: num, efficiencyRange: ref('range'), pairs: { type: 'integer', minimum: 1 } }),
      callsPerMB: nullableNum,
      bytesPerReceive: nullableNum,
      perfPerMB: { type: ['object', 'null'], additionalProperties: nullableNum },
      layout: { enum: ['processes', 'threads', 'peer', 'iperf3'] },
      flows: { type: 'integer', minimum: 2 },
      receiver: nullableObject({ cpuPercent: ref('spread'), usPerMB: ref('spread'), efficiency: ref('spread'), vsCopy: nullableNum }),
      senderCpuPercent: nullable('spread'),
      chunkBytes: { type: 'integer', minimum: 1 },
      pmdShare: { type: ['number', 'null'], minimum: 0, maximum: 1 },
    }, NEWER_POINT),
    best: shape({ mode: rowMode, sender: rowSender, mtu, touch: bool, efficiency: num, gbps: num }),
    bestRow: object({
      mtu,
      touch: bool,
      sameSender: nullableObject({ sender: { enum: [...SEND_MODES] }, moving: nullable('best'), copying: nullable('best'), ratio: nullable('pairedRatio') }),
      senderEffect: nullableObject({ sender: { enum: [...SEND_MODES] }, ratio: ref('pairedRatio') }),
      moving: nullable('best'),
      copying: nullable('best'),
      ratio: nullableNum,
      ratioRange: nullable('range'),
    }),
    summary: shape({
      points: { type: 'array', items: ref('point') },
      best: { type: 'array', items: ref('bestRow') },
      cases: { type: 'array', items: object({ mode: rowMode, mtu, touch: bool, ratio: ref('pairedRatio'), call: { enum: ['lower', 'higher', 'none'] } }) },
      touchEffects: { type: 'array', items: object({ mode: rowMode, mtu, ratio: ref('pairedRatio'), call: { enum: ['lower', 'higher', 'none'] } }) },
      verdict: str,
      receiverBest: { type: 'array', items: ref('bestRow') },
      receiverVerdict: str,
      floor: { type: 'array', items: object({ mode: rowMode, mtu, touch: bool, sender: rowSender, usPerMB: { type: 'number' }, receiverUsPerMB: { type: ['number', 'null'] } }) },
    }, NEWER_SUMMARY),
    paperFigure: shape({ mtu, cpuGHz: num, copy: num, flip: num }),
    modelRow: shape({
      mtu,
      touch: bool,
      mode: { enum: [...MODEL_MODES] },
      sender: { enum: [...SEND_MODES] },
      predictedUsPerMB: nullableNum,
      predictedRatio: nullableNum,
      measuredUsPerMB: nullableNum,
      measuredRatio: nullableNum,
      measuredSpread: ref('ratioSpread'),
      missing: { type: 'array', items: str },
      chunkBytes: { type: 'integer', minimum: 1 },
      receiverSide: object({ predictedRatio: num, measuredRatio: num, measuredSpread: ref('ratioSpread') }),
    }, NEWER_MODEL_ROW),
    ratioSpread: shape({ min: num, max: num, pairs: { type: 'integer', minimum: 1 } }),
    model: shape({
      source: str,
      otherCpus: int,
      chunkBytes: int,
      terms: { type: 'array', items: object({ term: str, perCallUs: nullableNum, perPageUs: nullableNum, perMBUs: nullableNum }) },
      missing: { type: 'array', items: str },
      rows: { type: 'array', items: ref('modelRow') },
      crossover: {
        type: 'array',
        items: object({ mode: { enum: [...MOVING_MODES] }, mtu, touch: bool, chunkBytes: { type: ['integer', 'null'], minimum: 1 }, predictable: bool }),
      },
      host: str,
      receiverSideFloor: { type: 'array', items: object({ mtu, usPerMB: num }) },
    }, NEWER_MODEL),
  },
};

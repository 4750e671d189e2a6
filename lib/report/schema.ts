// JSON Schema (draft 2020-12) of the report file, schema "pageflip-compare/1". It mirrors
// lib/experiment/types.ts field for field: every object lists all of its fields as required
// (the one optional field, PerfCounter.reason, is the exception) and refuses unknown ones, so a
// type change that is not mirrored here fails the round-trip test.
import type { JsonSchema } from './schema-check.js';

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
const object = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: 'object', ...shape(properties) });
const nullableObject = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: ['object', 'null'], ...shape(properties) });

export const RECEIVE_MODES = ['copy', 'zerocopy', 'flip', 'copy-remap', 'splice'] as const;
export const SEND_MODES = ['write', 'zerocopy', 'splice'] as const;
export const REFERENCE_MODES = ['node', 'iperf3', 'iperf3-Z'] as const;

const rowMode: JsonSchema = { enum: [...RECEIVE_MODES, ...REFERENCE_MODES] };
const rowSender: JsonSchema = { enum: [...SEND_MODES, 'iperf3'] };
const mtu: JsonSchema = { type: 'integer', minimum: 68 }; // IPv4's minimum MTU

export const compareReportSchema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'pageflip-compare/1',
  title: 'pageflip compare report',
  description: 'One `pageflip compare` run: host, configuration, every run, and the summary. Absent measurements are null, never 0.',
  ...object({
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
  }),
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
    }),
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
      perf: { type: ['array', 'null'], items: ref('perfCounter') },
      note: nullableStr,
      remote: nullableObject({ cpu: ref('cpuUsage') }),
    }),
    spread: shape({ median: num, min: num, max: num }),
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
      vsCopy: nullableObject({ gbps: num, usPerMB: num, efficiency: num }),
      perfPerMB: { type: ['object', 'null'], additionalProperties: nullableNum },
    }),
    best: shape({ mode: rowMode, sender: rowSender, mtu, touch: bool, efficiency: num, gbps: num }),
    summary: shape({
      points: { type: 'array', items: ref('point') },
      best: {
        type: 'array',
        items: object({ mtu, touch: bool, moving: nullable('best'), copying: nullable('best'), ratio: nullableNum }),
      },
      verdict: str,
    }),
    paperFigure: shape({ mtu, cpuGHz: num, copy: num, flip: num }),
  },
};

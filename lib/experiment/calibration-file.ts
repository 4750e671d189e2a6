// A saved `pageflip calibrate --json` file, read back for `compare --calibration FILE`. Files get
// hand-edited, truncated, or come from another tool: the fields the cost model reads are checked
// here (extra fields are allowed), and anything else gets ERR_PAGEFLIP_BAD_CALIBRATION naming the path.
import { pageflipError } from '../errors.js';
import { checkSchema, type JsonSchema } from '../report/schema-check.js';
import type { NativeCalibration } from '../native.js';
import type { VirtualizationInfo } from './virtualization.js';

export const CALIBRATION_SCHEMA = 'pageflip-calibrate/1';
/** The native figures plus a schema tag (so a saved file can be recognised) and the VM check. */
export type CalibrationResult = NativeCalibration & { schema: typeof CALIBRATION_SCHEMA; virtualization: VirtualizationInfo };

const positive: JsonSchema = { type: 'number', minimum: 1e-9 };
const count: JsonSchema = { type: 'integer', minimum: 1 };
const open = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: 'object', required: Object.keys(properties), properties });
const perPage = open({ usPerPage: positive });
const pageOp = open({ usPerCall: positive });
const pageOpRow = open({ pages: count, alone: pageOp, secondThread: { type: ['object', 'null'], required: ['usPerCall'], properties: { usPerCall: positive } } });

/** Only what lib/experiment/model.ts reads; other fields are not checked. */
export const calibrationFileSchema: JsonSchema = open({
  schema: { const: CALIBRATION_SCHEMA },
  pageSize: { type: 'integer', minimum: 512 },
  lastLevelCacheBytes: { type: ['integer', 'null'], minimum: 1 },
  mremapFlags: { type: 'string' },
  mremap: { type: 'array', minItems: 1, items: pageOpRow },
  madvise: { type: 'array', minItems: 1, items: pageOpRow },
  mremapPmd: { ...pageOpRow, type: ['object', 'null'] },
  socket: open({
    recvCopy: { type: 'array', minItems: 1, items: open({ bytes: count, hotUsPerCall: positive, coldUsPerCall: positive }) },
    // touchUsPerCall and flipMoveUsPerCall are newer than the schema tag: a file without them is read, and the model says so.
    zerocopy: {
      type: ['array', 'null'],
      minItems: 1,
      items: {
        type: 'object',
        required: ['bytes', 'mapUsPerCall', 'zapUsPerCall'],
        properties: { bytes: count, mapUsPerCall: positive, zapUsPerCall: positive, touchUsPerCall: { type: 'number', minimum: 0 }, flipMoveUsPerCall: positive },
      },
    },
    zerocopyMissing: { type: ['string', 'null'] },
    flow: open({ senderCpu: { type: ['integer', 'null'], minimum: 0 }, truncateUsPerMB: positive, copyUsPerMB: positive, truncateTwoPagesUsPerMB: { type: ['number', 'null'], minimum: 1e-9 } }),
    fault: perPage,
    readHot: perPage,
    readCold: perPage,
  }),
});

function bad(file: string, message: string): Error {
  return pageflipError('ERR_PAGEFLIP_BAD_CALIBRATION', `${file}: ${message}`);
}

/** Parses and checks a calibration file's text; `file` names it in errors. */
export function parseCalibration(text: string, file: string): CalibrationResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw bad(file, `not JSON (${(error as Error).message})`);
  }
  const schema = value !== null && typeof value === 'object' ? (value as { schema?: unknown }).schema : undefined;
  if (schema !== CALIBRATION_SCHEMA) {
    const what = typeof schema === 'string' ? `a "${schema.slice(0, 60)}" file` : 'not a calibration file (no "schema" field)';
    throw bad(file, `${what}; expected the output of 'pageflip calibrate --json' ("${CALIBRATION_SCHEMA}")`);
  }
  const issue = checkSchema(calibrationFileSchema, value);
  if (issue) throw bad(file, `invalid calibration at ${issue.path}: ${issue.message}`);
  const c = value as CalibrationResult;
  if (c.socket.zerocopy === null && typeof c.socket.zerocopyMissing !== 'string')
    throw bad(file, 'invalid calibration at $.socket.zerocopyMissing: zerocopy is null without a reason');
  return c;
}

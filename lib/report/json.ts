// The report file: written as pretty JSON, read back only after validation, because report
// files get hand-edited, truncated and produced by other versions.
import type { CompareReport } from '../experiment/types.js';
import { pageflipError } from '../errors.js';
import { compareReportSchema } from './schema.js';
import { checkSchema } from './schema-check.js';

export { compareReportSchema };

export function renderJson(report: CompareReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Parse and validate a report file's text; throws Error { code: 'ERR_PAGEFLIP_BAD_REPORT' } naming the bad path. */
export function parseReport(text: string): CompareReport {
  if (typeof text !== 'string') {
    throw pageflipError('ERR_PAGEFLIP_BAD_REPORT', `report must be JSON text, got ${text === null ? 'null' : typeof text}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw pageflipError('ERR_PAGEFLIP_BAD_REPORT', `report is not JSON: ${(error as Error).message}`);
  }
  // Name the version mismatch plainly instead of as a path error deep in the tree.
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const schema = (value as { schema?: unknown }).schema;
    if (typeof schema === 'string' && schema !== 'pageflip-compare/1') {
      throw pageflipError(
        'ERR_PAGEFLIP_BAD_REPORT',
        `$.schema: this pageflip reads "pageflip-compare/1" reports, the file is "${schema.slice(0, 60)}"`,
      );
    }
  }
  const issue = checkSchema(compareReportSchema, value);
  if (issue) throw pageflipError('ERR_PAGEFLIP_BAD_REPORT', `invalid report at ${issue.path}: ${issue.message}`);
  return value as CompareReport;
}

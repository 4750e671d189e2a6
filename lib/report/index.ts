// Report renderers for a CompareReport (schema "pageflip-compare/1"): terminal table, CSV,
// JSON (with a validating reader and its JSON Schema) and a self-contained HTML page.
export { renderTable, type TableOptions } from './table.js';
export { renderCsv } from './csv.js';
export { renderJson, parseReport, compareReportSchema } from './json.js';
export { renderHtml } from './html.js';
export { checkSchema, type JsonSchema, type SchemaIssue } from './schema-check.js';
export { renderMarkdown } from './markdown.js';

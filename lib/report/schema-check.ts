// A deliberately small JSON Schema validator for the keywords compareReportSchema uses, so that
// reading an untrusted report file needs no dev-only package. Unknown keywords are refused
// (rather than ignored) so a schema edit can never silently weaken validation.

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

export interface JsonSchema {
  $schema?: string;
  $id?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  title?: string;
  description?: string;
  format?: string; // annotation only (as in draft 2020-12 by default)
  type?: JsonType | JsonType[];
  enum?: ReadonlyArray<string | number | boolean | null>;
  const?: string | number | boolean | null;
  required?: readonly string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}

const KNOWN = new Set<string>([
  '$schema', '$id', '$ref', '$defs', 'title', 'description', 'format', 'type', 'enum', 'const',
  'required', 'properties', 'additionalProperties', 'items', 'minItems', 'minimum', 'maximum', 'minLength',
]);

export interface SchemaIssue {
  /** JS-style path from the document root, e.g. `$.runs[3].cpu.percent`. */
  path: string;
  message: string;
}

function typeOf(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as JsonType;
}

function matchesType(value: unknown, type: JsonType): boolean {
  const actual = typeOf(value);
  // JSON.parse turns 1e999 into Infinity: a number that is not finite is not a JSON number.
  if (type === 'number') return (actual === 'number' || actual === 'integer') && Number.isFinite(value);
  return actual === type;
}

function describe(value: unknown): string {
  const t = typeOf(value);
  if (t === 'string') return `string ${JSON.stringify(truncate(value as string))}`;
  if (t === 'number' || t === 'integer' || t === 'boolean') return `${t === 'integer' ? 'number' : t} ${String(value)}`;
  return t;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function resolve(root: JsonSchema, ref: string): JsonSchema {
  const m = /^#\/\$defs\/([^/]+)$/.exec(ref);
  const target = m ? root.$defs?.[m[1]] : undefined;
  if (!target) throw new Error(`schema: unsupported or dangling $ref ${ref}`);
  return target;
}

/**
 * Validate `value` against `schema`; returns the first issue (depth-first, document order) or
 * null. The first issue is what a person fixing a hand-edited file needs; a list of hundreds
 * of follow-on errors is not.
 */
export function checkSchema(schema: JsonSchema, value: unknown): SchemaIssue | null {
  return check(schema, schema, value, '$');
}

function check(root: JsonSchema, schema: JsonSchema, value: unknown, path: string): SchemaIssue | null {
  for (const key of Object.keys(schema)) {
    if (!KNOWN.has(key)) throw new Error(`schema: keyword '${key}' is not supported by schema-check`);
  }
  if (schema.$ref !== undefined) {
    const issue = check(root, resolve(root, schema.$ref), value, path);
    if (issue) return issue;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(value, t))) {
      return { path, message: `expected ${types.join(' or ')}, got ${describe(value)}` };
    }
  }
  if (schema.const !== undefined && value !== schema.const) {
    return { path, message: `expected ${JSON.stringify(schema.const)}, got ${describe(value)}` };
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => e === value)) {
    return { path, message: `expected one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(value)}` };
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return { path, message: `expected ≥ ${schema.minimum}, got ${value}` };
    if (schema.maximum !== undefined && value > schema.maximum) return { path, message: `expected ≤ ${schema.maximum}, got ${value}` };
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    return { path, message: `expected a string of at least ${schema.minLength} characters, got ${describe(value)}` };
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      return { path, message: `expected at least ${schema.minItems} items, got ${value.length}` };
    }
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const issue = check(root, schema.items, value[i], child(path, i));
        if (issue) return issue;
      }
    }
  } else if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) {
      if (!Object.hasOwn(object, key)) return { path: child(path, key), message: 'required field is missing' };
    }
    for (const [key, v] of Object.entries(object)) {
      const sub = schema.properties?.[key];
      if (sub) {
        const issue = check(root, sub, v, child(path, key));
        if (issue) return issue;
      } else if (schema.additionalProperties === false) {
        return { path: child(path, key), message: 'unexpected field' };
      } else if (typeof schema.additionalProperties === 'object') {
        const issue = check(root, schema.additionalProperties, v, child(path, key));
        if (issue) return issue;
      }
    }
  }
  return null;
}

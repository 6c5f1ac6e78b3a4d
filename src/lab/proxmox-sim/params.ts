import { paramError } from './http-error';

export type RawParams = Record<string, string | string[]>;

export type ParamType = 'int' | 'bool' | 'string' | 'string-list';
export interface ParamSpec {
  type: ParamType;
  optional?: boolean;
  enum?: string[];
  min?: number;
  pattern?: RegExp;
}
export type Schema = Record<string, ParamSpec>;

function add(out: RawParams, key: string, value: string) {
  const prev = out[key];
  if (prev === undefined) out[key] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else out[key] = [prev, value];
}

export function parseQuery(search: URLSearchParams): RawParams {
  const out: RawParams = {};
  for (const [k, v] of search) add(out, k, v);
  return out;
}

/** Form or JSON body (PVE accepts both); JSON numbers/booleans become strings like a form would carry them. */
export function parseBody(contentType: string | undefined, text: string): RawParams {
  if (text.trim() === '') return {};
  if ((contentType ?? '').includes('application/json')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw paramError({ body: 'unable to parse JSON body' });
    }
    const out: RawParams = {};
    for (const [k, v] of Object.entries((json ?? {}) as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      if (Array.isArray(v)) out[k] = v.map((x) => String(x));
      else if (typeof v === 'boolean') out[k] = v ? '1' : '0';
      else out[k] = String(v);
    }
    return out;
  }
  return parseQuery(new URLSearchParams(text));
}

const BOOL_TRUE = ['1', 'true', 'yes', 'on'];
const BOOL_FALSE = ['0', 'false', 'no', 'off'];

export function asBool(v: string | string[] | undefined): boolean {
  return v !== undefined && BOOL_TRUE.includes(String(v).toLowerCase());
}

/** Validate like PVE's JSON schema: unknown properties, missing required ones, then types. */
export function validate(params: RawParams, schema: Schema): void {
  const errors: Record<string, string> = {};
  for (const key of Object.keys(params)) {
    if (!schema[key])
      errors[key] = 'property is not defined in schema and the schema does not allow additional properties';
  }
  for (const [key, spec] of Object.entries(schema)) {
    const value = params[key];
    if (value === undefined || value === '') {
      if (!spec.optional) errors[key] = 'property is missing and it is not optional';
      continue;
    }
    if (Array.isArray(value) && spec.type !== 'string-list') {
      errors[key] = 'duplicate parameter (not an array)';
      continue;
    }
    const v = String(value);
    if (spec.type === 'int') {
      if (!/^-?\d+$/.test(v)) errors[key] = `type check ('integer') failed - got '${v}'`;
      else if (spec.min !== undefined && Number(v) < spec.min)
        errors[key] = `value must have a minimum value of ${spec.min}`;
    } else if (spec.type === 'bool') {
      if (![...BOOL_TRUE, ...BOOL_FALSE].includes(v.toLowerCase()))
        errors[key] = `type check ('boolean') failed - got '${v}'`;
    } else if (spec.type === 'string') {
      if (spec.enum && !spec.enum.includes(v))
        errors[key] = `value '${v}' does not have a value in the enumeration '${spec.enum.join(', ')}'`;
      else if (spec.pattern && !spec.pattern.test(v)) errors[key] = `value does not match the regex pattern`;
    }
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
}

const SECRET_KEYS = /^(password|cipassword|new-password|input-data|token|secret)$/i;

/** Params for the audit log: secrets redacted. */
export function redact(params: RawParams): RawParams {
  const out: RawParams = {};
  for (const [k, v] of Object.entries(params)) out[k] = SECRET_KEYS.test(k) ? '***' : v;
  return out;
}

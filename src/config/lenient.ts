/**
 * When the plan fails its schema we still want every cross-check that can run, so one `validate` shows every
 * problem. This parses the plan piece by piece: each top-level section whole if it can, else each field of it (and
 * each element of a list) on its own, keeping what is valid and leaving the rest out.
 */
import type { z } from 'zod';

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Through .default()/.prefault()/.optional() to the object or array inside, when there is one. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let d = defOf(s); ['default', 'prefault', 'optional'].includes(d.type) && d.innerType; d = defOf(s))
    s = d.innerType;
  return s;
}

/** The valid parts of `raw` under `schema` (undefined when nothing of it is valid). */
export function lenientParse(schema: z.ZodType, raw: unknown, depth = 0): unknown {
  const whole = schema.safeParse(raw);
  if (whole.success) return whole.data;
  if (depth >= 3 || raw === undefined) return undefined;
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(def.shape)) {
      const value = lenientParse(field, (raw as Record<string, unknown>)[key], depth + 1);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  if (def.type === 'array' && def.element && Array.isArray(raw)) {
    // A sparse array: valid elements keep their index (JSON paths stay right); forEach/map skip the holes.
    const out: unknown[] = new Array<unknown>(raw.length);
    raw.forEach((item, i) => {
      const r = def.element!.safeParse(item);
      if (r.success) out[i] = r.data;
    });
    return out;
  }
  return undefined;
}

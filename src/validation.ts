import { z } from 'zod';

/**
 * The building blocks of every input schema: what any field of any procedure must satisfy before a domain rule
 * looks at it. A value that passes here can be stored by PostgreSQL as it is (no NUL, no date outside its range).
 */

/** No C0 control character and no DEL: names, ids and labels are one line of printable text. */
export const noControlChars = /^[^\u0000-\u001f\u007f]*$/;

const isPlainObject = (value: unknown): boolean => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * A strict object (an unknown key is an error naming the key) that must also be a plain object: zod's own object
 * check lets a Map, a Set, a Date or a class instance through as an object with no keys, so such an input was
 * accepted and silently ignored. The check is a transform in front of the object (not a refinement) because JSON
 * Schema then renders the pipe as its object, so the OpenAPI document shows the fields.
 */
export function inputObject<S extends z.core.$ZodLooseShape>(shape: S) {
  const object = z.strictObject(shape);
  type In = z.input<typeof object>;
  const plain = z.transform((value: unknown, ctx) => {
    if (isPlainObject(value)) return value;
    ctx.issues.push({ code: 'custom', message: 'must be an object', input: value });
    return z.NEVER;
  }) as unknown as z.ZodType<In, In>;
  return plain.pipe(object);
}

/** The dates the API takes: ISO 8601's four-digit years, well inside what PostgreSQL's timestamptz can store. */
export const MIN_DATE = new Date('0001-01-01T00:00:00.000Z');
export const MAX_DATE = new Date('9999-12-31T23:59:59.999Z');
const DATE_RANGE = 'must be a date between 0001-01-01 and 9999-12-31';

export const inRange = (d: Date) => !Number.isNaN(d.getTime()) && d >= MIN_DATE && d <= MAX_DATE;

/**
 * How the OpenAPI document shows a date: a Date leaves tRPC as a Date (superjson) and REST as an ISO string
 * (JSON.stringify), and REST sends dates in as ISO strings.
 */
export const DATE_TIME = { type: 'string', format: 'date-time' } as const;

/** A Date (superjson sends Dates as Dates). */
export const apiDate = z.date({ message: 'must be a date' }).refine(inRange, DATE_RANGE);

/**
 * A Date, or an ISO string or epoch milliseconds a Date can be made from (plain-JSON clients). Nothing else is
 * coerced: zod's coercion alone would turn null or true into 1970.
 */
export const coercedDate = z
  .custom<Date | string | number>((v) => v instanceof Date || typeof v === 'string' || typeof v === 'number', { message: 'must be a date' })
  .meta({ override: DATE_TIME })
  .pipe(z.coerce.date({ message: 'must be a date' }))
  .refine(inRange, DATE_RANGE);

export const uuidOf = (what: string) => z.uuid({ message: `must be ${what} id (uuid)` });

/**
 * trpc-to-openapi turns on zod's coercion (`_def.coerce = true`) for every top-level number, boolean and date of a
 * REST procedure's input, and the schema is the one tRPC uses too: `"false"` would become `true` for both. A pipe is
 * left alone, so a top-level field of that kind is wrapped in `exact` (same values, same type, never coerced).
 */
export const exact = <T extends z.ZodType>(schema: T) => schema.transform((v) => v);

/**
 * An integer as JSON sends it (a number) or as a REST query parameter arrives (a string of digits). Nothing else is
 * coerced: true, "" and "1e3" stay errors.
 */
export const intParam = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^-?\d{1,16}$/, 'must be an integer')])
    .transform((v) => (typeof v === 'string' ? Number(v) : v))
    .pipe(z.number().int().min(min).max(max))
    // The document shows what a client should send: an integer (the digit string is a query string's form of it).
    .meta({
      override: ({ jsonSchema }) => {
        delete jsonSchema.anyOf;
        Object.assign(jsonSchema, { type: 'integer', minimum: min, maximum: max });
      },
    });

// Output building blocks. Ids in outputs are z.guid(): any 8-4-4-4-12 hex id the database holds, not only RFC 4122's
// variants (z.uuid()), so that output validation never refuses a row the service really has.
export const dateTime = z.date().meta({ override: DATE_TIME });

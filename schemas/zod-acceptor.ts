import type { $ZodType } from 'zod/v4/core';

/**
 * True only when the schema accepts the value and zod's output would equal
 * the value itself (the same keys and values; key order aside). False means
 * "ask zod": the value may be invalid, or valid with a different output (a
 * default filled in, an unknown key stripped, a URL normalized), or use a
 * feature this walker does not know. Values are taken as JSON.parse makes
 * them: named properties on an array are not looked at.
 */
export type Acceptor = (value: unknown) => boolean;

/**
 * The parts of zod 4's core a schema carries at run time (`zod/v4/core`, the
 * layer zod documents for libraries that walk schemas). Only what the walker
 * reads is named here.
 */
interface Node {
  _zod: {
    def: {
      type: string;
      checks?: readonly CheckNode[];
      coerce?: boolean;
      shape?: Readonly<Record<string, Node>>;
      catchall?: Node;
      element?: Node;
      innerType?: Node;
      options?: readonly Node[];
      discriminator?: string;
    };
    traits: Set<string>;
    values?: ReadonlySet<unknown>;
    propValues?: Readonly<Record<string, ReadonlySet<unknown>>>;
    optin?: 'optional';
    optout?: 'optional';
  };
}

interface Payload {
  value: unknown;
  issues: unknown[];
}

interface CheckNode {
  _zod: {
    def: { check: string; minimum?: number; maximum?: number; value?: unknown; inclusive?: boolean; format?: string; pattern?: RegExp };
    check: (payload: Payload) => unknown;
  };
}

const NEVER: Acceptor = () => false;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One payload for every check the acceptors run: a check is synchronous zod
 * code that reads `value` and pushes to `issues`, and nothing it calls comes
 * back into an acceptor. Sharing it keeps a valid event from allocating one per
 * field, which is the point of the walk.
 */
const scratch: Payload = { value: undefined, issues: [] };

/**
 * Runs zod's own check functions (every refinement, length, pattern and format
 * is one) on the value: exact by construction. A check that reports an issue,
 * replaces the value (the URL format writes back its normalized href) or works
 * asynchronously leaves the answer to zod.
 */
function passesChecks(checks: readonly CheckNode[], value: unknown): boolean {
  try {
    for (const check of checks) {
      scratch.value = value;
      const result = check._zod.check(scratch);
      if (result instanceof Promise) {
        result.catch(() => undefined);
        return false;
      }
      if (scratch.issues.length > 0 || scratch.value !== value) return false;
    }
    return true;
  } finally {
    scratch.value = undefined;
    // Setting an array's length costs more than reading it: nearly always it is empty already.
    if (scratch.issues.length !== 0) scratch.issues.length = 0;
  }
}

/**
 * Compiles a zod 4 schema into an Acceptor: a walk over the value with no
 * copies and no issue objects, for the hot path of validating input that is
 * nearly always valid. Use it before `safeParse`, never instead of it: where
 * it says true, the input can stand for zod's output; where it says false,
 * zod decides and says why. zod's schemas stay the one definition; the walk
 * only follows them, and what it does not know it hands back. It never throws.
 */
export function compileAcceptor(schema: $ZodType): Acceptor {
  const accepts = compile(schema as unknown as Node);
  return (value) => {
    try {
      return accepts(value);
    } catch {
      // It runs zod's checks, some where zod would skip them: a check that throws leaves the judgement to zod.
      return false;
    }
  };
}

/**
 * The commonest checks as plain predicates, each the same test as the check's
 * own function (zod's checks.ts): a call through a check object costs more
 * than the test itself, and a string field carries two or three of them.
 */
function simpleCheck(check: CheckNode): Acceptor | null {
  const def = check._zod.def;
  switch (def.check) {
    case 'min_length': {
      const min = def.minimum!;
      return (v) => (v as { length: number }).length >= min;
    }
    case 'max_length': {
      const max = def.maximum!;
      return (v) => (v as { length: number }).length <= max;
    }
    case 'greater_than': {
      const bound = def.value as number;
      return def.inclusive ? (v) => (v as number) >= bound : (v) => (v as number) > bound;
    }
    case 'less_than': {
      const bound = def.value as number;
      return def.inclusive ? (v) => (v as number) <= bound : (v) => (v as number) < bound;
    }
    case 'string_format': {
      const pattern = def.pattern;
      if (def.format !== 'regex' || !(pattern instanceof RegExp)) return null;
      return (v) => {
        pattern.lastIndex = 0;
        return pattern.test(v as string);
      };
    }
    default:
      return null;
  }
}

const both =
  (a: Acceptor, b: Acceptor): Acceptor =>
  (v) =>
    a(v) && b(v);

function compile(node: Node): Acceptor {
  const checks: CheckNode[] = [...(node._zod.def.checks ?? [])];
  // A schema that is itself a check (z.custom, a string format used as a schema) runs first, as zod runs it.
  if (node._zod.traits.has('$ZodCheck')) checks.unshift(node as unknown as CheckNode);
  let accepts = compileType(node);
  if (checks.length === 0 || accepts === NEVER) return accepts;
  // Order does not change the answer: every check must pass, and the simple ones never replace the value.
  const others: CheckNode[] = [];
  for (const check of checks) {
    const simple = simpleCheck(check);
    if (simple) accepts = both(accepts, simple);
    else others.push(check);
  }
  if (others.length === 0) return accepts;
  const typed = accepts;
  return (value) => typed(value) && passesChecks(others, value);
}

function compileType(node: Node): Acceptor {
  const def = node._zod.def;
  switch (def.type) {
    case 'string':
      return def.coerce ? NEVER : (v) => typeof v === 'string';
    case 'number':
      // zod's number refuses NaN and the infinities.
      return def.coerce ? NEVER : (v) => typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return def.coerce ? NEVER : (v) => typeof v === 'boolean';
    case 'enum':
    case 'literal': {
      const values = node._zod.values;
      return values ? (v) => values.has(v) : NEVER;
    }
    case 'custom':
      // Its parse passes the value through; its function runs as its check.
      return () => true;
    case 'optional': {
      const inner = def.innerType!;
      // zod hands an undefined value to an inner schema that takes one itself (a default): so does this.
      if (inner._zod.optin === 'optional') return compile(inner);
      const accepts = compile(inner);
      return (v) => v === undefined || accepts(v);
    }
    case 'default': {
      // A missing value becomes the default: an output that differs from the input.
      const accepts = compile(def.innerType!);
      return (v) => v !== undefined && accepts(v);
    }
    case 'array': {
      const accepts = compile(def.element!);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (const item of v) if (!accepts(item)) return false;
        return true;
      };
    }
    case 'object':
      return def.catchall ? NEVER : compileObject(def.shape!);
    case 'union':
      return def.discriminator === undefined ? compileUnion(def.options!) : compileDiscriminated(def.discriminator, def.options!);
    default:
      return NEVER;
  }
}

function compileObject(shape: Readonly<Record<string, Node>>): Acceptor {
  const keys = Object.keys(shape);
  const known = new Set(keys);
  const acceptors = keys.map((key) => compile(shape[key]!));
  return (v) => {
    if (!isObject(v)) return false;
    // zod's output holds the shape's keys only: a key it would strip makes the output differ.
    for (const key in v) if (!known.has(key)) return false;
    for (let i = 0; i < keys.length; i++) if (!acceptors[i]!(v[keys[i]!])) return false;
    return true;
  };
}

/**
 * zod takes the first option that accepts. An option this walk does not
 * accept may still accept (with another output), so a later option's answer
 * counts only when every earlier one cannot: a primitive schema of another
 * type than the value's.
 */
function compileUnion(options: readonly Node[]): Acceptor {
  const compiled = options.map((option) => {
    const { type, coerce } = option._zod.def;
    const primitive = !coerce && (type === 'string' || type === 'number' || type === 'boolean') ? type : null;
    return { primitive, accepts: compile(option) };
  });
  return (v) => {
    for (const { primitive, accepts } of compiled) {
      if (primitive !== null && typeof v !== primitive) continue;
      return accepts(v);
    }
    return false;
  };
}

/** zod picks the option by the discriminator's value; so does this, from the same literals. */
function compileDiscriminated(discriminator: string, options: readonly Node[]): Acceptor {
  const byValue = new Map<unknown, Acceptor>();
  for (const option of options) {
    const values = option._zod.propValues?.[discriminator];
    if (!values) return NEVER;
    const accepts = compile(option);
    for (const value of values) byValue.set(value, accepts);
  }
  return (v) => {
    if (!isObject(v)) return false;
    const accepts = byValue.get(v[discriminator]);
    return accepts !== undefined && accepts(v);
  };
}

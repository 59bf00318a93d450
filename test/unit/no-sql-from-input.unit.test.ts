/**
 * No SQL text is ever built from input. A static proof over the TypeScript
 * AST (compiler API with the type checker, not regexes): every `.query(`,
 * `.command(` and `.exec(` call in projections/, api/ and services/ (the
 * ClickHouse gateway, and the drivers under it) gets SQL that the checker can
 * trace back to fixed text only, and so does every gateway insert's target
 * (`.insert(table, rows)`, `.insertValues(table, { columns })`), which the
 * HTTP driver writes into its INSERT statement:
 *
 *  - string literals and templates whose every `${}` is itself fixed;
 *  - table names `tables.x`, `model.tables.x`, `t.x`, `names.x`, and only when
 *    the object really is a TableNames (its keys are exactly table keys);
 *  - constants (`SESSION_COLUMNS`, `CREATED_IN_RANGE`, imported or local)
 *    whose initialiser is fixed;
 *  - `list.join(sep)` of a const array of fixed fragments, where every
 *    `push`/`unshift` into it anywhere adds fixed fragments and it never
 *    escapes elsewhere (the `where` / `clauses` / `having` pattern), including
 *    one returned by a helper and destructured (`filterClauses`);
 *  - `a ? b : c` of fixed texts, calls of local helpers (`BUCKET_SQL[g]('created_at')`,
 *    `schemaStatements(names)`, `t.create(names)`) whose returns are fixed
 *    given the arguments;
 *  - inside a driver's own `query(sql)` / `command(sql)`, that `sql` parameter,
 *    and inside its `insert(table)` / `insertValues(table, rows)`, `table` and
 *    `rows.columns` (the gateway passes its caller's SQL, table and columns
 *    on; the callers are checked).
 *
 * Values go in as bound parameters (`{name:Type}`), never into the text.
 * Anything else is a finding, with file, line and the expression it could not
 * prove. Negative self-tests show the checker finds the classic mistakes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../projections/store/table-set.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCANNED = ['projections', 'api', 'services'];
/** Calls that take SQL: the gateway's query/command, and the chdb / @clickhouse/client calls the drivers make. */
const SQL_METHODS = new Set(['query', 'command', 'queryBindAsync', 'queryAsync']);
/** @clickhouse/client's exec({ query }): only its object form takes SQL (a RegExp's exec takes the text it searches). */
const OBJECT_SQL_METHODS = new Set(['exec']);
/** The gateway's inserts: their table (first argument) and, for insertValues, their columns go into SQL text. */
const INSERT_METHODS = new Set(['insert', 'insertValues']);
/** A driver's methods that pass their first argument (SQL, or an insert's table) from the gateway's caller on to the engine. */
const PASSED_ON = ['query', 'command', ...INSERT_METHODS];
/** Names under which TableNames objects are allowed in SQL text. */
const TABLE_HOLDERS = new Set(['tables', 't', 'names']);
const TABLE_KEYS = new Set<string>(TABLES);
/**
 * Operator configuration that is an SQL identifier by construction: the config
 * schema only accepts `^[A-Za-z_][A-Za-z0-9_]*$` for it (a test below holds it
 * to that). Never request input.
 */
const CONFIG_IDENTIFIERS = new Set(['cluster']);
const READ_ONLY_ARRAY_METHODS = new Set(['join', 'length', 'map', 'flatMap', 'filter', 'slice', 'forEach', 'some', 'every', 'includes', 'indexOf', 'at', 'concat']);
const STRING_METHODS = new Set(['trim', 'trimStart', 'trimEnd', 'toLowerCase', 'toUpperCase']);
const MAX_DEPTH = 24;

interface Finding {
  file: string;
  line: number;
  call: string;
  reason: string;
}

type Verdict = { ok: true } | { ok: false; why: string };
const OK: Verdict = { ok: true };
const no = (node: ts.Node, why: string): Verdict => ({ ok: false, why: `${why}: \`${node.getText().replace(/\s+/g, ' ').slice(0, 120)}\`` });
const all = (verdicts: Iterable<Verdict>): Verdict => {
  for (const v of verdicts) if (!v.ok) return v;
  return OK;
};

/** What a parameter or callback variable is bound to while a function body is checked. */
type Binding = { kind: 'sql' } | { kind: 'fragments' } | { kind: 'objects'; objects: ts.ObjectLiteralExpression[] } | { kind: 'unknown'; why: string };
type Env = ReadonlyMap<ts.Symbol, Binding>;

type FunctionLike = ts.FunctionDeclaration | ts.ArrowFunction | ts.FunctionExpression | ts.MethodDeclaration;

function unwrap(node: ts.Expression): ts.Expression {
  let current = node;
  while (
    ts.isParenthesizedExpression(current) ||
    ts.isAsExpression(current) ||
    ts.isNonNullExpression(current) ||
    ts.isSatisfiesExpression(current) ||
    ts.isTypeAssertionExpression(current)
  ) {
    current = current.expression;
  }
  return current;
}

function isFunctionLike(node: ts.Node | undefined): node is FunctionLike {
  return !!node && (ts.isFunctionDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isMethodDeclaration(node));
}

/** Return expressions of a function, not of functions nested in it. */
function returnsOf(fn: FunctionLike): ts.Expression[] | null {
  if (!fn.body) return null;
  if (!ts.isBlock(fn.body)) return [fn.body];
  const out: ts.Expression[] = [];
  const visit = (node: ts.Node): void => {
    if (node !== fn.body && isFunctionLike(node)) return;
    if (ts.isReturnStatement(node)) {
      if (node.expression) out.push(node.expression);
    } else ts.forEachChild(node, visit);
  };
  visit(fn.body);
  return out;
}

/** Identifiers that name something without using its value: types, declarations, import/export lists. */
function isNotAValueUse(node: ts.Identifier): boolean {
  for (let n: ts.Node = node; n.parent; n = n.parent) {
    if (ts.isTypeNode(n.parent) || ts.isTypeQueryNode(n.parent)) return true;
    if (ts.isExpression(n.parent) || ts.isStatement(n.parent)) break;
  }
  const parent = node.parent;
  return (
    ts.isImportSpecifier(parent) ||
    ts.isExportSpecifier(parent) ||
    ts.isImportClause(parent) ||
    ((ts.isVariableDeclaration(parent) || ts.isBindingElement(parent) || ts.isParameter(parent)) && parent.name === node)
  );
}

function createSqlChecker(program: ts.Program) {
  const checker = program.getTypeChecker();

  function symbolOf(node: ts.Node): ts.Symbol | undefined {
    // `{ clauses }`: the variable, not the property of the object being built.
    const symbol =
      node.parent && ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node
        ? checker.getShorthandAssignmentValueSymbol(node.parent)
        : checker.getSymbolAtLocation(node);
    return symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  }

  function declarationOf(node: ts.Node): ts.Declaration | undefined {
    return symbolOf(node)?.declarations?.[0];
  }

  const isConstDeclaration = (d: ts.VariableDeclaration): boolean => ts.isVariableDeclarationList(d.parent) && (d.parent.flags & ts.NodeFlags.Const) !== 0;
  const forOfOf = (d: ts.Declaration): ts.ForOfStatement | undefined =>
    ts.isVariableDeclaration(d) && ts.isForOfStatement(d.parent.parent) ? d.parent.parent : undefined;

  /** The object literal a const (possibly imported) is initialised with. */
  function objectLiteralOf(expr: ts.Expression): ts.ObjectLiteralExpression | undefined {
    const e = unwrap(expr);
    if (ts.isObjectLiteralExpression(e)) return e;
    if (!ts.isIdentifier(e)) return undefined;
    const d = declarationOf(e);
    return d && ts.isVariableDeclaration(d) && isConstDeclaration(d) && d.initializer ? objectLiteralOf(d.initializer) : undefined;
  }

  /** The object literals an expression stands for: a bound callback variable, a for-of over a const list of them, or one const object. */
  function objectsFor(expr: ts.Expression, env: Env): ts.ObjectLiteralExpression[] | null {
    const e = unwrap(expr);
    if (ts.isIdentifier(e)) {
      const symbol = symbolOf(e);
      const binding = symbol ? env.get(symbol) : undefined;
      if (binding?.kind === 'objects') return binding.objects;
      const d = symbol?.declarations?.[0];
      const loop = d ? forOfOf(d) : undefined;
      if (loop) return objectsOf(loop.expression);
    }
    const one = objectLiteralOf(e);
    return one ? [one] : null;
  }

  function propertyValue(object: ts.ObjectLiteralExpression, name: string): ts.Node | undefined {
    for (const p of object.properties) {
      if (!p.name || (!ts.isIdentifier(p.name) && !ts.isStringLiteral(p.name)) || p.name.text !== name) continue;
      if (ts.isPropertyAssignment(p)) return p.initializer;
      if (ts.isShorthandPropertyAssignment(p)) return p.name;
      if (ts.isMethodDeclaration(p)) return p;
    }
    return undefined;
  }

  /** The function(s) a callee names: a declaration, a const arrow, an entry of a const object of functions, or a method of known objects. */
  function functionsOf(callee: ts.Expression, env: Env): FunctionLike[] | null {
    const c = unwrap(callee);
    const fromNode = (n: ts.Node | undefined): FunctionLike | null => {
      if (isFunctionLike(n)) return n;
      if (n && ts.isVariableDeclaration(n)) return isConstDeclaration(n) && n.initializer ? fromNode(n.initializer) : null;
      if (n && ts.isExpression(n)) {
        const e = unwrap(n);
        if (isFunctionLike(e)) return e;
        if (ts.isIdentifier(e)) return fromNode(declarationOf(e));
      }
      return null;
    };
    if (ts.isIdentifier(c)) {
      const fn = fromNode(declarationOf(c));
      return fn ? [fn] : null;
    }
    if (ts.isElementAccessExpression(c)) {
      const object = objectLiteralOf(c.expression);
      if (!object) return null;
      const fns = object.properties.map((p) => (ts.isPropertyAssignment(p) ? fromNode(p.initializer) : ts.isMethodDeclaration(p) ? p : null));
      return fns.every((f): f is FunctionLike => f !== null) ? fns : null;
    }
    if (ts.isPropertyAccessExpression(c)) {
      const objects = objectsFor(c.expression, env);
      if (!objects) return null;
      const fns = objects.map((o) => fromNode(propertyValue(o, c.name.text)));
      return fns.every((f): f is FunctionLike => f !== null) ? fns : null;
    }
    return null;
  }

  /** Binds a function's parameters to what the call passes: fixed SQL, fixed fragments, or unknown (fine unless used). */
  function bindCall(fn: FunctionLike, args: readonly ts.Expression[], env: Env, depth: number): Map<ts.Symbol, Binding> {
    const next = new Map(env);
    fn.parameters.forEach((param, i) => {
      const symbol = symbolOf(param.name);
      if (!symbol) return;
      const arg = args[i];
      if (!arg) return next.set(symbol, { kind: 'unknown', why: `parameter ${param.name.getText()} is not passed` });
      if (sql(arg, env, depth + 1).ok) return next.set(symbol, { kind: 'sql' });
      if (fragments(arg, env, depth + 1).ok) return next.set(symbol, { kind: 'fragments' });
      next.set(symbol, { kind: 'unknown', why: `\`${arg.getText().slice(0, 80)}\` is passed as ${param.name.getText()}` });
    });
    return next;
  }

  function checkReturns(fns: FunctionLike[], args: readonly ts.Expression[], env: Env, depth: number, as: 'sql' | 'fragments', at: ts.Node): Verdict {
    return all(
      fns.map((fn) => {
        const returns = returnsOf(fn);
        if (!returns || returns.length === 0) return no(at, 'the called function returns nothing the checker can see');
        const inner = bindCall(fn, args, env, depth);
        return all(returns.map((r) => (as === 'sql' ? sql(r, inner, depth + 1) : fragments(r, inner, depth + 1))));
      }),
    );
  }

  /** A callback whose parameters all stand for fixed text (pieces of a fixed string, table keys), returning fixed text or fragments. */
  function callbackReturns(cb: ts.Expression | undefined, env: Env, depth: number, as: 'sql' | 'fragments', binding: Binding = { kind: 'sql' }): Verdict {
    const fn = cb ? unwrap(cb) : undefined;
    if (!fn || !isFunctionLike(fn)) return no(cb ?? fn ?? ts.factory.createIdentifier('?'), 'a callback the checker cannot see');
    const inner = new Map(env);
    for (const param of fn.parameters) {
      const symbol = symbolOf(param.name);
      if (symbol) inner.set(symbol, binding);
    }
    const returns = returnsOf(fn) ?? [];
    if (returns.length === 0) return no(fn, 'the callback returns nothing the checker can see');
    return all(returns.map((r) => (as === 'sql' ? sql(r, inner, depth + 1) : fragments(r, inner, depth + 1))));
  }

  const keysOfType = (node: ts.Node): string[] => checker.getTypeAtLocation(node).getProperties().map((p) => p.name);
  const isTableNamesType = (node: ts.Node): boolean => {
    const keys = keysOfType(node);
    return keys.length > 0 && keys.every((k) => TABLE_KEYS.has(k));
  };

  /**
   * A TableNames object: named as in the allow-list, or a const made by
   * tableNames(), or `Object.fromEntries(<table keys>.map((k) => [k, <fixed text>]))`.
   */
  function tableHolder(holder: ts.Expression, env: Env, depth: number): Verdict {
    if (!isTableNamesType(holder)) return no(holder, 'the object is not a TableNames');
    const name = ts.isIdentifier(holder) ? holder.text : ts.isPropertyAccessExpression(holder) ? holder.name.text : '';
    if (TABLE_HOLDERS.has(name)) return OK;
    const d = ts.isIdentifier(holder) ? declarationOf(holder) : undefined;
    const init = d && ts.isVariableDeclaration(d) && isConstDeclaration(d) && d.initializer ? unwrap(d.initializer) : undefined;
    if (init && ts.isCallExpression(init)) {
      const callee = unwrap(init.expression);
      const target = ts.isIdentifier(callee) ? declarationOf(callee) : undefined;
      if (target && ts.isFunctionDeclaration(target) && target.name?.text === 'tableNames' && target.getSourceFile().fileName.endsWith('projections/store/table-set.ts')) return OK;
      const fromEntries = ts.isPropertyAccessExpression(callee) && callee.name.text === 'fromEntries' && ts.isIdentifier(callee.expression) && callee.expression.text === 'Object';
      const mapped = init.arguments[0] ? unwrap(init.arguments[0]) : undefined;
      if (fromEntries && mapped && ts.isCallExpression(mapped) && ts.isPropertyAccessExpression(unwrap(mapped.expression))) {
        const map = unwrap(mapped.expression) as ts.PropertyAccessExpression;
        const keys = fragments(map.expression, env, depth + 1);
        const cb = mapped.arguments[0] ? unwrap(mapped.arguments[0]) : undefined;
        if (map.name.text === 'map' && keys.ok && cb && isFunctionLike(cb)) {
          const inner = new Map(env);
          const param = cb.parameters[0] ? symbolOf(cb.parameters[0].name) : undefined;
          if (param) inner.set(param, { kind: 'sql' });
          return all(
            (returnsOf(cb) ?? []).map((r) => {
              const entry = unwrap(r);
              return ts.isArrayLiteralExpression(entry) && entry.elements.length === 2 ? sql(entry.elements[1]!, inner, depth + 1) : no(r, 'an entry the checker cannot read');
            }),
          );
        }
      }
    }
    return no(holder, 'not a table name of the allow-list (tables.x, model.tables.x, t.x, names.x)');
  }

  /** A table name: `<holder>.<table>` or `<holder>[<key of type TableKey>]`. */
  function tableName(node: ts.PropertyAccessExpression | ts.ElementAccessExpression, env: Env, depth: number): Verdict {
    const holder = unwrap(node.expression);
    if (ts.isPropertyAccessExpression(node)) {
      if (!TABLE_KEYS.has(node.name.text)) return no(node, 'not a table name of the allow-list (tables.x, model.tables.x, t.x, names.x)');
    } else {
      const key = node.argumentExpression;
      if (ts.isAsExpression(key) || ts.isTypeAssertionExpression(key)) return no(node, 'a table chosen by a cast key');
      const type = checker.getTypeAtLocation(key);
      const literals = type.isUnion() ? type.types : [type];
      if (!literals.every((t) => t.isStringLiteral() && TABLE_KEYS.has(t.value))) return no(node, 'a table chosen by a key that is not a TableKey');
    }
    return tableHolder(holder, env, depth);
  }

  function identifier(node: ts.Identifier, env: Env, depth: number, as: 'sql' | 'fragments'): Verdict {
    const symbol = symbolOf(node);
    if (!symbol) return no(node, 'unresolved name');
    const binding = env.get(symbol);
    if (binding) {
      if (binding.kind === as) return OK;
      return no(node, binding.kind === 'unknown' ? binding.why : `bound to ${binding.kind}, not ${as}`);
    }
    if (as === 'sql' && CONFIG_IDENTIFIERS.has(node.text)) return OK;
    const d = symbol.declarations?.[0];
    if (!d) return no(node, 'no declaration');
    if (ts.isParameter(d)) {
      // A driver's query(sql) / command(sql) / insert(table) / insertValues(table) passing its caller's argument on to the engine.
      if (as === 'sql' && PASSED_ON.some((method) => driverParameter(d, method, 0))) return OK;
      return no(node, `parameter ${node.text}: the SQL would come from the caller`);
    }
    if (ts.isVariableDeclaration(d)) {
      const loop = forOfOf(d);
      if (loop) return as === 'sql' ? fragments(loop.expression, env, depth + 1) : no(node, 'an array from a loop');
      if (!isConstDeclaration(d)) return no(node, `${node.text} is not a const`);
      if (!d.initializer) return no(node, `${node.text} has no initialiser`);
      if (as === 'sql') return sql(d.initializer, env, depth + 1);
      return all([fragments(d.initializer, env, depth + 1), onlyFixedPushes(symbol, node, env, depth)]);
    }
    if (ts.isBindingElement(d)) {
      // const { clauses } = helper(...): the helper's returned object, that property.
      const declaration = d.parent.parent;
      if (!ts.isObjectBindingPattern(d.parent) || !ts.isVariableDeclaration(declaration) || !isConstDeclaration(declaration) || !declaration.initializer) {
        return no(node, 'a destructuring the checker cannot follow');
      }
      const init = unwrap(declaration.initializer);
      if (!ts.isCallExpression(init)) return no(node, `${node.text} is destructured from something other than a helper call`);
      const fns = functionsOf(init.expression, env);
      if (!fns) return no(init, 'a helper the checker cannot resolve');
      const property = (d.propertyName ?? d.name).getText();
      const verdict = all(
        fns.map((fn) => {
          const inner = bindCall(fn, init.arguments, env, depth);
          const returns = returnsOf(fn) ?? [];
          if (returns.length === 0) return no(init, 'the helper returns nothing the checker can see');
          return all(
            returns.map((r) => {
              const object = unwrap(r);
              if (!ts.isObjectLiteralExpression(object)) return no(r, 'the helper does not return an object literal');
              const value = propertyValue(object, property);
              if (!value || !ts.isExpression(value)) return no(r, `the helper's result has no ${property}`);
              return as === 'sql' ? sql(value, inner, depth + 1) : fragments(value, inner, depth + 1);
            }),
          );
        }),
      );
      if (!verdict.ok || as === 'sql') return verdict;
      return onlyFixedPushes(symbol, node, env, depth);
    }
    return no(node, `${node.text} is neither a constant nor a parameter the checker can follow`);
  }

  /** `columns: X` in the rows of a gateway insertValues call, which takes them as a readonly list and only reads them. */
  function isInsertColumns(node: ts.Node): boolean {
    if (!ts.isPropertyAssignment(node) || !ts.isIdentifier(node.name) || node.name.text !== 'columns') return false;
    const call = node.parent.parent;
    return ts.isCallExpression(call) && call.arguments[1] === node.parent && ts.isPropertyAccessExpression(call.expression) && call.expression.name.text === 'insertValues';
  }

  /** Whether `d` is parameter `index` of a function (a driver's method) named `name`. */
  function driverParameter(d: ts.Declaration | undefined, name: string, index: number): boolean {
    if (!d || !ts.isParameter(d)) return false;
    const fn = d.parent;
    return isFunctionLike(fn) && !!fn.name && ts.isIdentifier(fn.name) && fn.name.text === name && fn.parameters[index] === d;
  }

  /** Every use of an array of fragments: reads, or push/unshift of fixed text. Handing it anywhere else could change it. */
  function onlyFixedPushes(symbol: ts.Symbol, at: ts.Node, env: Env, depth: number): Verdict {
    const file = symbol.declarations?.[0]?.getSourceFile() ?? at.getSourceFile();
    const problems: Verdict[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) && !isNotAValueUse(node) && symbolOf(node) === symbol) {
        const parent = node.parent;
        if (ts.isPropertyAccessExpression(parent) && parent.expression === node) {
          const method = parent.name.text;
          if (method === 'push' || method === 'unshift') {
            const call = parent.parent;
            if (!ts.isCallExpression(call) || call.expression !== parent) problems.push(no(parent, `${method} used other than called`));
            else for (const arg of call.arguments) problems.push(ts.isSpreadElement(arg) ? fragments(arg.expression, env, depth + 1) : sql(arg, env, depth + 1));
          } else if (!READ_ONLY_ARRAY_METHODS.has(method)) problems.push(no(parent, `${method} can change the fragments`));
        } else if (
          !ts.isSpreadElement(parent) &&
          !ts.isShorthandPropertyAssignment(parent) &&
          !isInsertColumns(parent) &&
          !ts.isReturnStatement(parent) &&
          !(ts.isForOfStatement(parent) && parent.expression === node)
        ) {
          problems.push(no(parent, `${node.text} escapes where the checker cannot follow it`));
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
    return all(problems);
  }

  /** Proves `node` is fixed SQL text. */
  function sql(node: ts.Expression, env: Env, depth: number): Verdict {
    if (depth > MAX_DEPTH) return no(node, 'too deep to follow');
    const e = unwrap(node);
    if (ts.isStringLiteralLike(e) || ts.isNumericLiteral(e)) return OK;
    if (ts.isTemplateExpression(e)) return all(e.templateSpans.map((span) => sql(span.expression, env, depth + 1)));
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) return all([sql(e.left, env, depth + 1), sql(e.right, env, depth + 1)]);
    if (ts.isConditionalExpression(e)) return all([sql(e.whenTrue, env, depth + 1), sql(e.whenFalse, env, depth + 1)]);
    if (ts.isIdentifier(e)) return identifier(e, env, depth, 'sql');
    if (ts.isPropertyAccessExpression(e)) {
      if (CONFIG_IDENTIFIERS.has(e.name.text)) return OK;
      // A property of known object literals (a const object, the definitions a loop walks): fixed where present.
      const objects = objectsFor(e.expression, env);
      if (objects) {
        const values = objects.map((o) => propertyValue(o, e.name.text)).filter((v): v is ts.Node => v !== undefined);
        if (values.length > 0) return all(values.map((v) => (ts.isExpression(v) ? sql(v, env, depth + 1) : no(v, 'a method where text belongs'))));
      }
      return tableName(e, env, depth);
    }
    if (ts.isElementAccessExpression(e)) return tableName(e, env, depth);
    if (ts.isCallExpression(e)) {
      const callee = unwrap(e.expression);
      if (ts.isPropertyAccessExpression(callee)) {
        const method = callee.name.text;
        if (method === 'join') return all([fragments(callee.expression, env, depth + 1), ...e.arguments.map((a) => sql(a, env, depth + 1))]);
        if (STRING_METHODS.has(method)) return sql(callee.expression, env, depth + 1);
        if (method === 'replace' || method === 'replaceAll') {
          // Pieces of fixed text rearranged, plus a replacement that is itself fixed (a callback gets pieces of the fixed text).
          const replacement = e.arguments[1];
          if (!replacement) return no(e, 'a replace without replacement');
          const replaced = isFunctionLike(unwrap(replacement)) ? callbackReturns(replacement, env, depth, 'sql') : sql(replacement, env, depth + 1);
          return all([sql(callee.expression, env, depth + 1), replaced]);
        }
      }
      const fns = functionsOf(callee, env);
      if (!fns) return no(e, 'a call the checker cannot resolve to fixed text');
      return checkReturns(fns, e.arguments, env, depth, 'sql', e);
    }
    return no(e, `cannot prove a ${ts.SyntaxKind[e.kind]} is fixed text`);
  }

  /** Proves `node` is an array of fixed SQL fragments. */
  function fragments(node: ts.Expression, env: Env, depth: number): Verdict {
    if (depth > MAX_DEPTH) return no(node, 'too deep to follow');
    const e = unwrap(node);
    if (ts.isArrayLiteralExpression(e)) return all(e.elements.map((el) => (ts.isSpreadElement(el) ? fragments(el.expression, env, depth + 1) : sql(el, env, depth + 1))));
    if (ts.isIdentifier(e)) return identifier(e, env, depth, 'fragments');
    // Inside a driver's insertValues(table, rows): `rows.columns`, passed on from its caller (checked there).
    if (ts.isPropertyAccessExpression(e) && e.name.text === 'columns' && ts.isIdentifier(e.expression) && driverParameter(declarationOf(e.expression), 'insertValues', 1)) return OK;
    if (ts.isConditionalExpression(e)) return all([fragments(e.whenTrue, env, depth + 1), fragments(e.whenFalse, env, depth + 1)]);
    if (ts.isCallExpression(e)) {
      const callee = unwrap(e.expression);
      if (ts.isPropertyAccessExpression(callee)) {
        const method = callee.name.text;
        if (['filter', 'slice', 'reverse', 'sort', 'toReversed', 'toSorted'].includes(method)) return fragments(callee.expression, env, depth + 1);
        if (method === 'concat') return all([fragments(callee.expression, env, depth + 1), ...e.arguments.map((a) => fragments(a, env, depth + 1))]);
        if (method === 'map' || method === 'flatMap') {
          // The callback's parameter is an element of the array: fixed text, or one of a const list of object literals.
          let element: Binding;
          if (fragments(callee.expression, env, depth + 1).ok) element = { kind: 'sql' };
          else {
            const objects = objectsOf(callee.expression);
            if (!objects) return no(callee.expression, `${method} over an array the checker cannot follow`);
            element = { kind: 'objects', objects };
          }
          return callbackReturns(e.arguments[0], env, depth, method === 'map' ? 'sql' : 'fragments', element);
        }
      }
      const fns = functionsOf(callee, env);
      if (!fns) return no(e, 'a call the checker cannot resolve to fixed fragments');
      return checkReturns(fns, e.arguments, env, depth, 'fragments', e);
    }
    return no(e, `cannot prove a ${ts.SyntaxKind[e.kind]} holds fixed fragments`);
  }

  /** A const array of object literals (e.g. TABLE_DEFINITIONS of table definitions). */
  function objectsOf(node: ts.Expression): ts.ObjectLiteralExpression[] | null {
    const e = unwrap(node);
    // A subset of such a list (filter, slice, ...) holds nothing but its objects.
    if (ts.isCallExpression(e)) {
      const callee = unwrap(e.expression);
      return ts.isPropertyAccessExpression(callee) && ['filter', 'slice', 'reverse', 'toReversed'].includes(callee.name.text) ? objectsOf(callee.expression) : null;
    }
    let array: ts.Expression | undefined = e;
    if (ts.isIdentifier(e)) {
      const d = declarationOf(e);
      const init = d && ts.isVariableDeclaration(d) && isConstDeclaration(d) && d.initializer ? unwrap(d.initializer) : undefined;
      // A const holding a subset of such a list is followed to the list.
      if (init && ts.isCallExpression(init)) return objectsOf(init);
      array = init;
    }
    if (!array || !ts.isArrayLiteralExpression(array)) return null;
    const objects = array.elements.map((el) => (ts.isSpreadElement(el) ? undefined : objectLiteralOf(el)));
    return objects.every((o): o is ts.ObjectLiteralExpression => o !== undefined) ? objects : null;
  }

  /** The SQL argument of a call, if it has one: the first argument, or its `query` property for @clickhouse/client. */
  function sqlArgument(call: ts.CallExpression): ts.Expression | undefined {
    const first = call.arguments[0];
    if (!first) return undefined;
    const arg = unwrap(first);
    if (!ts.isObjectLiteralExpression(arg)) return first;
    const value = propertyValue(arg, 'query');
    return value && ts.isExpression(value) ? value : undefined;
  }

  /**
   * A gateway insert's table and columns, proven fixed; undefined for inserts
   * that take one object (chdb's and the client's own, inside the drivers).
   */
  function insertTarget(call: ts.CallExpression, method: string): Verdict | undefined {
    const [table, rows] = call.arguments;
    if (!table || ts.isObjectLiteralExpression(unwrap(table))) return undefined;
    if (method !== 'insertValues') return sql(table, new Map(), 0);
    const object = rows ? objectLiteralOf(rows) : undefined;
    const columns = object ? propertyValue(object, 'columns') : undefined;
    if (!columns || !ts.isExpression(columns)) return no(rows ?? call, 'insertValues rows whose columns the checker cannot see');
    return all([sql(table, new Map(), 0), fragments(columns, new Map(), 0)]);
  }

  return {
    /** Checks every SQL call of a file; returns the findings and how many calls were checked. */
    checkFile(file: ts.SourceFile): { findings: Finding[]; calls: number } {
      const findings: Finding[] = [];
      let calls = 0;
      const report = (call: ts.CallExpression & { expression: ts.PropertyAccessExpression }, verdict: Verdict): void => {
        calls++;
        if (verdict.ok) return;
        findings.push({
          file: relative(ROOT, file.fileName),
          line: file.getLineAndCharacterOfPosition(call.getStart()).line + 1,
          call: call.expression.getText().replace(/\s+/g, ''),
          reason: verdict.why,
        });
      };
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
          const call = node as ts.CallExpression & { expression: ts.PropertyAccessExpression };
          const method = call.expression.name.text;
          const objectForm = call.arguments[0] !== undefined && ts.isObjectLiteralExpression(unwrap(call.arguments[0]));
          const argument = SQL_METHODS.has(method) || (OBJECT_SQL_METHODS.has(method) && objectForm) ? sqlArgument(call) : undefined;
          if (argument) report(call, sql(argument, new Map(), 0));
          const target = INSERT_METHODS.has(method) ? insertTarget(call, method) : undefined;
          if (target) report(call, target);
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
      return { findings, calls };
    },
  };
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : tsFilesUnder(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

// ---------------------------------------------------------------------------------------------
// Snippets for the self-tests: in-memory files next to this one, compiled in the same program as the real code.

const SNIPPET_DIR = join(ROOT, 'test', 'unit', '__sql_snippets__');
const PRELUDE = `import type { ReadModel } from '../../../projections/sessions/sessions.queries.js';
import { SESSION_COLUMNS } from '../../../projections/sessions/sessions.queries.js';
export interface Req { id: string; table: string; order: string; ids: string[] }
import type { TableKey, TableNames } from '../../../projections/store/table-set.js';
export const COLUMNS = SESSION_COLUMNS;
export type Used = [ReadModel, TableKey, TableNames];
`;

const BAD_SNIPPETS: Record<string, string> = {
  'interpolated-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.query(\`SELECT * FROM \${model.tables.sessions} WHERE id = '\${req.id}'\`);`,
  'concatenated-input': `export const f = (model: ReadModel, req: Req) => model.clickhouse.query('SELECT * FROM x WHERE id = ' + req.id);`,
  'input-in-a-const': `export function f(model: ReadModel, req: Req) {
    const where = \`session_id = '\${req.id}'\`;
    return model.clickhouse.query(\`SELECT \${SESSION_COLUMNS} FROM \${model.tables.sessions} WHERE \${where}\`);
  }`,
  'input-pushed-into-clauses': `export function f(model: ReadModel, req: Req) {
    const where = ['integration_id = {integrationId:String}'];
    where.push(\`session_id = '\${req.id}'\`);
    return model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} WHERE \${where.join(' AND ')}\`, {});
  }`,
  'input-spread-into-clauses': `export function f(model: ReadModel, req: Req) {
    const where = ['integration_id = {integrationId:String}', ...req.ids];
    return model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} WHERE \${where.join(' AND ')}\`);
  }`,
  'clauses-escape-to-a-function': `declare function addFilters(into: string[]): void;
  export function f(model: ReadModel) {
    const where = ['integration_id = {integrationId:String}'];
    addFilters(where);
    return model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} WHERE \${where.join(' AND ')}\`);
  }`,
  'table-from-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.query(\`SELECT 1 FROM \${model.tables[req.table as 'sessions']}\`);`,
  'holder-that-is-not-tables': `export const f = (model: ReadModel, t: Req) => model.clickhouse.query(\`SELECT 1 FROM \${t.table}\`);`,
  'order-by-from-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} ORDER BY \${req.order === 'asc' ? 'created_at' : req.order}\`);`,
  'helper-returning-input': `const clause = (id: string) => \`session_id = '\${id}'\`;
  export const f = (model: ReadModel, req: Req) => model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} WHERE \${clause(req.id)}\`);`,
  'sql-as-a-parameter': `export const run = (model: ReadModel, statement: string) => model.clickhouse.command(statement);`,
  'mutable-variable': `export function f(model: ReadModel) {
    let sql = 'SELECT 1';
    sql = globalThis.process.env.X ?? sql;
    return model.clickhouse.query(sql);
  }`,
  'string-conversion': `export const f = (model: ReadModel, req: Req) => model.clickhouse.query(String(req.id));`,
  'client-query-object': `declare const client: { query(o: { query: string }): Promise<void> };
  export const f = (req: Req) => client.query({ query: \`SELECT '\${req.id}'\` });`,
  'table-key-cast-from-input': `export const f = (model: ReadModel, names: TableNames, req: Req) =>
    model.clickhouse.command(\`DROP TABLE \${names[req.table as TableKey]}\`);`,
  'replace-with-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.query(\`SELECT 1 FROM \${model.tables.sessions} WHERE x = 'X'\`.replace('X', req.id));`,
  'replace-callback-with-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.query('SELECT 1 AS X'.replace(/X/, () => req.order));`,
  'table-names-built-from-input': `export function f(model: ReadModel, req: Req) {
    const local = Object.fromEntries((['sessions'] as const).map((k) => [k, req.table])) as Record<TableKey, string>;
    return model.clickhouse.command(\`DROP TABLE \${local.sessions}\`);
  }`,
  'definitions-with-input': `export function f(model: ReadModel, req: Req) {
    const DEFS = [{ key: 'sessions', create: (t: TableNames) => \`CREATE TABLE \${t.sessions} COMMENT '\${req.id}'\` }];
    return Promise.all(DEFS.map((d) => model.clickhouse.command(d.create(model.tables))));
  }`,
  'insert-into-a-table-from-input': `export const f = (model: ReadModel, req: Req) => model.clickhouse.insert(req.table, []);`,
  'insert-into-columns-from-input': `export const f = (model: ReadModel, req: Req) =>
    model.clickhouse.insertValues(model.tables.session_events, { columns: req.ids, values: [] });`,
  'filtered-definitions-with-input': `export function f(model: ReadModel, req: Req) {
    const DEFS = [{ key: 'sessions', create: (t: TableNames) => \`CREATE TABLE \${t.sessions} COMMENT '\${req.id}'\` }];
    const some = DEFS.filter((d) => d.key === req.table);
    return Promise.all(some.map((d) => model.clickhouse.command(d.create(model.tables))));
  }`,
};

const GOOD_SNIPPETS: Record<string, string> = {
  'insert-into-a-fixed-table-and-columns': `const COLUMNS_OF_EVENTS = ['integration_id', 'session_id'] as const;
  export const f = (model: ReadModel) => model.clickhouse.insertValues(model.tables.session_events, { columns: COLUMNS_OF_EVENTS, values: [] });`,
  'filtered-definitions': `const DEFS = [{ key: 'sessions' as const, create: (t: TableNames) => \`CREATE TABLE IF NOT EXISTS \${t.sessions} (id String) ENGINE = MergeTree ORDER BY id\` }];
  export async function f(model: ReadModel, req: Req) {
    const some = DEFS.filter((d) => d.key === req.table);
    for (const d of some) await model.clickhouse.command(d.create(model.tables));
  }`,
  'ddl-from-definitions-with-cluster-rewrite': `const DEFS = [{ key: 'sessions' as const, shard: 'cityHash64(id)', create: (t: TableNames) => \`CREATE TABLE IF NOT EXISTS \${t.sessions} (id String) ENGINE = MergeTree ORDER BY id\` }];
  const TABLE_KEYS = ['sessions', 'user_sessions'] as const;
  export async function f(model: ReadModel, names: TableNames, cluster: string) {
    const local = Object.fromEntries(TABLE_KEYS.map((k) => [k, \`\${names[k]}_local\`])) as Record<TableKey, string>;
    for (const def of DEFS) {
      const ddl = def.create(local).trim();
      const statement = ddl.replace(/ENGINE = (\\w*MergeTree)/, (_m, engine: string) => \`ENGINE = Replicated\${engine}('/t/\${local[def.key]}', '{replica}')\`);
      await model.clickhouse.command(\`\${statement} -- \${def.shard} ON CLUSTER \${cluster}\`);
    }
  }`,
  'bound-parameters-and-fixed-fragments': `const BY: Readonly<Record<'hour' | 'day', (c: string) => string>> = { hour: (c) => \`toStartOfHour(\${c})\`, day: (c) => \`toStartOfDay(\${c})\` };
  export function f(model: ReadModel, req: Req, granularity: 'hour' | 'day', newest: boolean) {
    const where = ['integration_id = {integrationId:String}'];
    if (req.id) where.push('session_id = {id:String}');
    return model.clickhouse.query(
      \`SELECT \${SESSION_COLUMNS}, \${BY[granularity]('created_at')} AS t FROM \${model.tables.sessions} FINAL WHERE \${where.join(' AND ')} ORDER BY created_at \${newest ? 'DESC' : 'ASC'}\`,
      { id: req.id },
    );
  }`,
};

describe('no SQL from input', () => {
  it('the configuration allowed into SQL text is an identifier by construction', async () => {
    const { loadConfig } = await import('../../services/config.js');
    expect(() => loadConfig({ CLICKHOUSE_CLUSTER: "c1' ; DROP TABLE sessions --" })).toThrow();
    expect(() => loadConfig({ CLICKHOUSE_CLUSTER: 'c1 ON CLUSTER x' })).toThrow();
    expect(loadConfig({ CLICKHOUSE_CLUSTER: 'analytics_cluster' }).clickhouse.cluster).toBe('analytics_cluster');
    expect([...CONFIG_IDENTIFIERS]).toEqual(['cluster']);
  });

  let program: ts.Program;
  let checker: ReturnType<typeof createSqlChecker>;
  const realFiles = SCANNED.flatMap((dir) => tsFilesUnder(join(ROOT, dir)));
  const snippetPath = (name: string) => join(SNIPPET_DIR, `${name}.ts`);
  const snippets = new Map(Object.entries({ ...BAD_SNIPPETS, ...GOOD_SNIPPETS }).map(([name, body]) => [snippetPath(name), `${PRELUDE}${body}\n`]));

  beforeAll(() => {
    const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
    const host = ts.createCompilerHost(options, true);
    const getSourceFile = host.getSourceFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const readFile = host.readFile.bind(host);
    host.getSourceFile = (name, language, onError, create) => {
      const text = snippets.get(name);
      return text !== undefined ? ts.createSourceFile(name, text, language, true) : getSourceFile(name, language, onError, create);
    };
    host.fileExists = (name) => snippets.has(name) || fileExists(name);
    host.readFile = (name) => snippets.get(name) ?? readFile(name);
    program = ts.createProgram({ rootNames: [...realFiles, ...snippets.keys()], options: { ...options, noEmit: true }, host });
    checker = createSqlChecker(program);
  });

  const check = (path: string) => {
    const file = program.getSourceFile(path);
    if (!file) throw new Error(`${path} is not in the program`);
    return checker.checkFile(file);
  };

  it('every .query( / .command( / .exec( and insert target in projections/, api/, services/ is built from fixed text only', () => {
    const findings: Finding[] = [];
    const callsByFile: Record<string, number> = {};
    for (const path of realFiles) {
      const result = check(path);
      findings.push(...result.findings);
      if (result.calls > 0) callsByFile[relative(ROOT, path)] = result.calls;
    }
    const total = Object.values(callsByFile).reduce((a, b) => a + b, 0);
    console.log(`no-sql-from-input: ${total} SQL calls in ${Object.keys(callsByFile).length} of ${realFiles.length} files proven fixed`);
    expect(findings).toEqual([]);
    // Not vacuous: the known SQL sites were all seen.
    expect(total).toBeGreaterThanOrEqual(18);
    for (const file of [
      'projections/sessions/sessions.queries.ts',
      'projections/users/users.queries.ts',
      'projections/courses/courses.queries.ts',
      'projections/analytics/analytics.queries.ts',
      'projections/session-events/session-events.queries.ts',
      'projections/runtime/session-loader.ts',
      'projections/runtime/batch-projector.ts',
      'services/clickhouse/migrations.ts',
      'services/clickhouse/embedded-driver.ts',
      'services/clickhouse/http-driver.ts',
    ]) {
      expect(callsByFile[file], `${file} has SQL calls the checker saw`).toBeGreaterThan(0);
    }
  });

  it('the self-test snippets type-check (their types are what the checker reads)', () => {
    const diagnostics = [...snippets.keys()].flatMap((path) => {
      const file = program.getSourceFile(path)!;
      return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].filter((d) => d.category === ts.DiagnosticCategory.Error);
    });
    expect(diagnostics.map((d) => `${d.file!.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)).toEqual([]);
  });

  describe('self-test: the classic mistakes are findings', () => {
    for (const name of Object.keys(BAD_SNIPPETS)) {
      it(name, () => {
        const { findings, calls } = check(snippetPath(name));
        expect(calls).toBe(1);
        expect(findings).toHaveLength(1);
        expect(findings[0]!.file).toBe(relative(ROOT, snippetPath(name)));
      });
    }

    it('names the offending expression and line', () => {
      const [finding] = check(snippetPath('interpolated-input')).findings;
      expect(finding!.reason).toContain('req.id');
      expect(finding!.line).toBe(PRELUDE.split('\n').length + 1);
      expect(finding!.call).toBe('model.clickhouse.query');
    });
  });

  it('self-test: bound parameters, fixed fragments, table names, constants and fixed helpers pass', () => {
    for (const name of Object.keys(GOOD_SNIPPETS)) {
      const { findings, calls } = check(snippetPath(name));
      expect(calls, name).toBe(1);
      expect(findings, name).toEqual([]);
    }
  });
});

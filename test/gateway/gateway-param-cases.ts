/**
 * One bound parameter per case, for every parameter type the projections and
 * queries use. Strings carry everything the two transports escape differently
 * (quotes, backslashes, control characters, `\N`, non-BMP unicode).
 */
import type { QueryParams, Row } from '../../projections/store/clickhouse-gateway.js';

export interface ParamCase {
  name: string;
  sql: string;
  params: QueryParams;
  expected: Row;
}

const NASTY = `it's "quoted" \\ back\\slash \\N \\' \t tab \n newline \r cr \u0000 nul — ü 😀 中文`;
const AT = '2026-11-02T14:03:11.120Z';

/** `SELECT {v:Type} AS v, toTypeName(...) AS t`: the value and the type the engine bound it as. */
function typed(name: string, type: string, value: QueryParams[string], expected: unknown): ParamCase {
  return { name, sql: `SELECT {v:${type}} AS v, toTypeName({v:${type}}) AS t`, params: { v: value }, expected: { v: expected, t: type } };
}

export const PARAM_CASES: readonly ParamCase[] = [
  typed('String (plain)', 'String', 'hello', 'hello'),
  typed('String (quotes, backslashes, control characters, unicode)', 'String', NASTY, NASTY),
  typed('String (empty)', 'String', '', ''),
  typed('String (literal \\N)', 'String', '\\N', '\\N'),
  typed('UInt8', 'UInt8', 255, 255),
  typed('UInt32', 'UInt32', 4294967295, 4294967295),
  typed('UInt64 (largest safe JS integer)', 'UInt64', 9007199254740991, 9007199254740991),
  {
    name: 'UInt64 (full range, from a string)',
    sql: 'SELECT toString({v:UInt64}) AS v',
    params: { v: '18446744073709551615' },
    expected: { v: '18446744073709551615' },
  },
  typed('Int64', 'Int64', -9007199254740991, -9007199254740991),
  typed('Float64', 'Float64', 0.1, 0.1),
  typed('Float64 (tiny negative)', 'Float64', -1.5e-7, -1.5e-7),
  typed('Bool (true)', 'Bool', true, true),
  typed('Bool (false)', 'Bool', false, false),
  typed('UInt8 from a boolean (a flag column)', 'UInt8', true, 1),
  typed("DateTime64(3, 'UTC') from a Date", "DateTime64(3, 'UTC')", new Date(AT), AT),
  typed("DateTime64(3, 'UTC') from a string", "DateTime64(3, 'UTC')", '2026-11-02 14:03:11.120', AT),
  typed("DateTime64(3, 'UTC') from a whole-second Date", "DateTime64(3, 'UTC')", new Date('2026-11-02T14:03:11Z'), '2026-11-02T14:03:11.000Z'),
  typed('Array(String)', 'Array(String)', ['a', "it's", 'back\\slash', 'tab\tnl\n', '', 'ü 😀', '\\N'], ['a', "it's", 'back\\slash', 'tab\tnl\n', '', 'ü 😀', '\\N']),
  typed('Array(String) (empty)', 'Array(String)', [], []),
  typed('Nullable(String) (null)', 'Nullable(String)', null, null),
  typed('Nullable(String) (value)', 'Nullable(String)', "x'y", "x'y"),
  typed('LowCardinality(String)', 'LowCardinality(String)', 'click', 'click'),
  {
    name: "Tuple(DateTime64(3, 'UTC'), String) built from a tuple cursor's parts",
    sql: "SELECT CAST(({at:DateTime64(3, 'UTC')}, {id:String}) AS Tuple(DateTime64(3, 'UTC'), String)) AS v, toTypeName(v) AS t",
    params: { at: new Date(AT), id: "e'1" },
    expected: { v: [AT, "e'1"], t: "Tuple(DateTime64(3, 'UTC'), String)" },
  },
  {
    name: 'the same parameter used twice, and one left unused',
    sql: 'SELECT {s:String} = {s:String} AS same, length({s:String}) AS len',
    params: { s: 'ab', unused: 'ignored' },
    expected: { same: 1, len: 2 },
  },
];

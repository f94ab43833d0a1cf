/**
 * The JSON form of a spec (for tools), validated by `spec.schema.json`. Expressions are strings
 * in the spec language. JSON → spec goes through the canonical source text, so every diagnostic of
 * the language applies and points into that text; AST → JSON → AST keeps the meaning (items come
 * back in canonical order, repeated `dims`/`input`/… items merged).
 */
import { Ajv } from 'ajv';
import { diag, type Diagnostic } from '../compiler/diagnostics/diagnostic.ts';
import { SourceFile } from '../compiler/diagnostics/source.ts';
import type * as A from './ast.ts';
import { attnLexer, Identifier } from './lexer.ts';
import { parse, type ParseResult } from './parse.ts';
import { parserInstance } from './parser.ts';
import { KEYWORD_WIDTH, printExpr, printRule, printType } from './print-expr.ts';
import schema from './spec.schema.json' with { type: 'json' };

export interface SpecJson {
  $schema?: string;
  attention: string;
  dims?: Record<string, number | string>;
  inputs?: Record<string, string>;
  params?: Record<string, string>;
  states?: Record<string, string>;
  lets?: { name: string; value: string }[];
  features?: Record<string, string>;
  gate?: string;
  update?: string | Record<string, string>;
  output?: Record<string, string>;
  read?: string;
  normalize?: string;
  epilogue?: string;
  score?: string;
  mask?: string;
  direction?: string;
  chunk?: number | 'auto' | (number | 'auto')[];
}

export { schema as specSchema };

let ajv: Ajv | undefined;
/** Validate one spec object (or an array of them) and report the errors of the matching branch. */
function validate(x: unknown) {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: true });
    ajv.addSchema(schema);
  }
  const v = ajv.getSchema(Array.isArray(x) ? schema.$id : `${schema.$id}#/definitions/spec`)!;
  return { ok: v(x) as boolean, errors: v.errors ?? [] };
}

export function specToJson(spec: A.Spec): SpecJson {
  const j: SpecJson = { attention: spec.name.name };
  const decls = (key: 'inputs' | 'params' | 'states', ds: A.Decl[]) => {
    const o = (j[key] ??= {});
    for (const d of ds) o[d.name.name] = printType(d.type);
  };
  for (const it of spec.items) {
    switch (it.kind) {
      case 'dims':
        j.dims ??= {};
        for (const d of it.dims) j.dims[d.name.name] = d.value.kind === 'Number' && Number.isInteger(d.value.value) ? d.value.value : printExpr(d.value);
        break;
      case 'input':
        decls('inputs', it.decls);
        break;
      case 'param':
        decls('params', it.decls);
        break;
      case 'state':
        decls('states', it.decls);
        break;
      case 'let':
        (j.lets ??= []).push({ name: it.name.name, value: printExpr(it.value) });
        break;
      case 'feature':
        (j.features ??= {})[it.target.name] = printExpr(it.value);
        break;
      case 'gate':
      case 'epilogue':
      case 'score':
      case 'mask':
        j[it.kind] = printExpr(it.value);
        break;
      case 'update':
        if (it.rule) j.update = printRule(it.rule);
        else j.update = Object.fromEntries(it.equations.map((q) => [q.target.name, printExpr(q.value)]));
        break;
      case 'output':
        j.output = { [it.target.name]: printExpr(it.value) };
        break;
      case 'read':
        j.read = printRule(it.rule);
        break;
      case 'normalize':
      case 'direction':
        j[it.kind] = it.mode.name;
        break;
      case 'chunk': {
        const sizes = it.sizes.map((s) => (s.kind === 'Auto' ? ('auto' as const) : s.value));
        j.chunk = sizes.length === 1 ? sizes[0]! : sizes;
        break;
      }
    }
  }
  return j;
}

/** The canonical source text of a JSON spec (what `attnc fmt` would print). */
export function jsonToSource(j: SpecJson): string {
  const lines: string[] = [`attention ${j.attention} {`];
  const item = (kind: string, body: string) => lines.push(`  ${kind.padEnd(KEYWORD_WIDTH)}${body}`);
  const declList = (o: Record<string, string>) =>
    Object.entries(o)
      .map(([n, t]) => `${n}: ${t}`)
      .join(', ');
  if (j.dims && Object.keys(j.dims).length) item('dims', Object.entries(j.dims).map(([n, v]) => `${n} = ${v}`).join(', '));
  if (j.inputs && Object.keys(j.inputs).length) item('input', declList(j.inputs));
  if (j.params && Object.keys(j.params).length) item('param', declList(j.params));
  if (j.states && Object.keys(j.states).length) item('state', declList(j.states));
  for (const l of j.lets ?? []) item('let', `${l.name} = ${l.value}`);
  for (const [t, v] of Object.entries(j.features ?? {})) item('feature', `${t} = ${v}`);
  if (j.gate !== undefined) item('gate', j.gate);
  if (j.update !== undefined) {
    item('update', typeof j.update === 'string' ? j.update : Object.entries(j.update).map(([t, v]) => `${t} = ${v}`).join(', '));
  }
  if (j.output) for (const [t, v] of Object.entries(j.output)) item('output', `${t} = ${v}`);
  if (j.read !== undefined) item('read', j.read);
  if (j.normalize !== undefined) item('normalize', j.normalize);
  if (j.epilogue !== undefined) item('epilogue', j.epilogue);
  if (j.score !== undefined) item('score', j.score);
  if (j.mask !== undefined) item('mask', j.mask);
  if (j.direction !== undefined) item('direction', j.direction);
  if (j.chunk !== undefined) item('chunk', (Array.isArray(j.chunk) ? j.chunk : [j.chunk]).join(' x '));
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Parse a JSON spec file: schema errors are ATTN6xxx; language errors point into the canonical text. */
export function parseJsonSpec(text: string, name: string): ParseResult {
  const jsonSource = new SourceFile(name, text);
  const fail = (d: Diagnostic): ParseResult => ({ file: { specs: [], comments: [], span: { start: 0, end: text.length } }, diagnostics: [d], source: jsonSource });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail(diag('InvalidJson', { start: 0, end: Math.min(1, text.length) }, [(e as Error).message], { source: jsonSource }));
  }
  const v = validate(value);
  if (!v.ok) {
    const diagnostics = v.errors.slice(0, 8).map((e: { instancePath: string; message?: string }) => diag('SchemaViolation', { start: 0, end: Math.min(1, text.length) }, [e.instancePath || '/', e.message ?? 'invalid'], { source: jsonSource }));
    return { file: { specs: [], comments: [], span: { start: 0, end: text.length } }, diagnostics, source: jsonSource };
  }
  const specs = Array.isArray(value) ? (value as SpecJson[]) : [value as SpecJson];
  const generated = specs.map(jsonToSource).join('\n');
  const result = parse(new SourceFile(`${name} (as spec text)`, generated));
  if (result.diagnostics.some((d) => d.severity === 'error')) return result;
  // Each string must be one expression, type, rule or name: pasted into the spec text,
  // `"mask": "causal\n  let z = 1"` would otherwise add an item (or a whole spec).
  const problems = specs.flatMap((j, i) => stringProblems(j, Array.isArray(value) ? `/${i}` : ''));
  if (problems.length === 0) return result;
  const diagnostics = problems.slice(0, 8).map(([path, what]) => diag('SchemaViolation', { start: 0, end: Math.min(1, text.length) }, [path, `must be ${what}`], { source: jsonSource }));
  return { file: { specs: [], comments: [], span: { start: 0, end: text.length } }, diagnostics, source: jsonSource };
}

type Syntax = 'expression' | 'typeExpr' | 'ruleCall' | 'updateItem' | 'name';
const SYNTAX_WORDS: Record<Syntax, string> = { expression: 'one expression', typeExpr: 'one type', ruleCall: 'one rule', updateItem: 'one rule or state equations', name: 'one name' };

/** What is wrong with `text` as exactly one instance of the grammar rule (nothing before or after it, no comment). */
function syntaxProblem(text: string, syntax: Syntax): string | undefined {
  const lex = attnLexer.tokenize(syntax === 'updateItem' ? `update ${text}` : text);
  if (lex.groups['comments']?.length) return `${SYNTAX_WORDS[syntax]}, without comments`;
  if (lex.errors.length) return SYNTAX_WORDS[syntax];
  if (syntax === 'name') return lex.tokens.length === 1 && lex.tokens[0]!.tokenType === Identifier ? undefined : SYNTAX_WORDS[syntax];
  const parser = parserInstance();
  parser.input = lex.tokens;
  parser[syntax]();
  return parser.errors.length === 0 ? undefined : SYNTAX_WORDS[syntax];
}

/** [JSON pointer, what it must be] for each string of a spec that is not one element of its kind. */
function stringProblems(j: SpecJson, at: string): [string, string][] {
  const out: [string, string][] = [];
  const want = (path: string, v: unknown, syntax: Syntax) => {
    const problem = typeof v === 'string' ? syntaxProblem(v, syntax) : undefined;
    if (problem) out.push([`${at}${path}`, problem]);
  };
  const each = (key: string, o: Record<string, unknown> | undefined, syntax: Syntax) => {
    for (const [k, v] of Object.entries(o ?? {})) want(`/${key}/${k}`, v, syntax);
  };
  each('dims', j.dims, 'expression');
  each('inputs', j.inputs, 'typeExpr');
  each('params', j.params, 'typeExpr');
  each('states', j.states, 'typeExpr');
  (j.lets ?? []).forEach((l, i) => want(`/lets/${i}/value`, l.value, 'expression'));
  each('features', j.features, 'expression');
  for (const k of ['gate', 'epilogue', 'score', 'mask'] as const) want(`/${k}`, j[k], 'expression');
  if (typeof j.update === 'string') want('/update', j.update, 'updateItem');
  else each('update', j.update, 'expression');
  each('output', j.output, 'expression');
  want('/read', j.read, 'ruleCall');
  want('/normalize', j.normalize, 'name');
  want('/direction', j.direction, 'name');
  return out;
}


/** Readable printing of typed expressions and of the attention IR (`attnc explain`). */
import { shapeText, type TExpr } from './expr.ts';
import type { AttentionIR } from './attention-ir.ts';
import { intervalText } from '../check/interval.ts';

const BIN: Record<string, [string, number]> = {
  or: ['|', 1],
  and: ['&', 2],
  lt: ['<', 3],
  le: ['<=', 3],
  gt: ['>', 3],
  ge: ['>=', 3],
  eq: ['==', 3],
  ne: ['!=', 3],
  add: ['+', 4],
  sub: ['-', 4],
  mul: ['*', 5],
  div: ['/', 5],
  pow: ['^', 7],
};

function prec(e: TExpr): number {
  if (e.op === 'binary') return e.fn === 'min' || e.fn === 'max' ? 9 : BIN[e.fn]![1];
  if (e.op === 'unary' && (e.fn === 'neg' || e.fn === 'not')) return 6;
  if (e.op === 'matmul' || e.op === 'outer') return 5;
  if (e.op === 'const' && e.value < 0) return 6;
  return 9;
}

function num(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const s = Number(x.toPrecision(6)).toString();
  return s;
}

/** Prints in the spec language's syntax (features as q̃[i], k̃[j]; inputs at i/j as x[i]). */
export function printTExpr(e: TExpr): string {
  const wrap = (c: TExpr, min: number) => (prec(c) < min ? `(${printTExpr(c)})` : printTExpr(c));
  switch (e.op) {
    case 'const':
      return e.type === 'bool' ? (e.value ? 'all' : 'false') : num(e.value);
    case 'index':
      return e.name;
    case 'ref': {
      const r = e.ref;
      switch (r.kind) {
        case 'input':
          return r.at === 't' ? r.name : `${r.name}[${r.at}]`;
        case 'param':
          return r.name;
        case 'feature':
          return `${r.which}̃${r.at === 't' ? '' : `[${r.at}]`}`;
        case 'state':
          return r.name;
        case 'output':
          return 'o';
      }
      break;
    }
    case 'unary':
      if (e.fn === 'neg') return `-${wrap(e.a, 6)}`;
      if (e.fn === 'not') return `!${wrap(e.a, 6)}`;
      return `${e.fn}(${printTExpr(e.a)})`;
    case 'binary': {
      if (e.fn === 'min' || e.fn === 'max') return `${e.fn}(${printTExpr(e.a)}, ${printTExpr(e.b)})`;
      const [sym, p] = BIN[e.fn]!;
      if (e.fn === 'pow') return `${wrap(e.a, p + 1)}^${wrap(e.b, p)}`;
      return `${wrap(e.a, p)} ${sym} ${wrap(e.b, p + 1)}`;
    }
    case 'reduce':
      return `${e.fn}(${printTExpr(e.a)})`;
    case 'vecfn':
      return `${e.fn}(${printTExpr(e.a)})`;
    case 'dot':
      return `dot(${printTExpr(e.a)}, ${printTExpr(e.b)})`;
    case 'matmul':
      return `${wrap(e.a, 5)} @ ${wrap(e.b, 6)}`;
    case 'outer':
      return `${wrap(e.a, 5)} ⊗ ${wrap(e.b, 6)}`;
    case 'transpose':
      return `${wrap(e.a, 8)}ᵀ`;
    case 'concat':
      return `[${e.parts.map(printTExpr).join(', ')}]`;
    case 'flatten':
      return `flatten(${printTExpr(e.a)})`;
    case 'diag':
      return `diag(${printTExpr(e.a)})`;
    case 'select':
      return `where(${printTExpr(e.cond)}, ${printTExpr(e.a)}, ${printTExpr(e.b)})`;
    case 'get':
      return `${printTExpr(e.a)}[${printTExpr(e.index)}]`;
  }
  return '?';
}

/** The attention IR as an indented, readable report. */
export function printIR(ir: AttentionIR): string {
  const L: string[] = [];
  const row = (k: string, v: string) => L.push(`  ${k.padEnd(12)}${v}`);
  L.push(`attention IR: ${ir.name}`);
  row('family', ir.family === 'recurrent' ? 'state-recurrent' : 'softmax');
  row('dims', Object.entries(ir.dims).map(([k, v]) => `${k} = ${v}`).join(', ') || '—');
  row('inputs', ir.inputs.map((i) => `${i.name}: ${i.type === 'int' ? 'int' : i.shape.length ? shapeText(i.shape) : 'scalar'}`).join(', '));
  if (ir.params.length) row('params', ir.params.map((p) => `${p.name}: ${p.perHead ? '[H' + (p.shape.length ? ', ' + p.shape.join(', ') : '') + ']' : shapeText(p.shape)}`).join(', '));
  row('φ_q', `${printTExpr(ir.features.q)}   → [${ir.keyDim}]`);
  row('φ_k', `${printTExpr(ir.features.k)}   → [${ir.keyDim}]`);
  row('φ_v', `${printTExpr(ir.features.v)}   → [${ir.valueDim}]`);
  const g = ir.gate;
  row('gate', g.cls === 'none' ? 'none' : `${g.cls}: g = ${printTExpr(g.expr!)}${g.range ? `  ∈ ${intervalText(g.range)}` : ''}`);
  if (ir.family === 'recurrent') {
    const u = ir.update!;
    switch (u.cls) {
      case 'additive':
        row('update', `additive: S_t = diag(α_t) S_{t−1} + s_t k̃ ṽᵀ${u.scale ? `,  s = ${printTExpr(u.scale)}` : ''}${u.logScale ? `  (log s = ${printTExpr(u.logScale)})` : ''}`);
        break;
      case 'delta':
        row('update', `delta: S_t = (I − β k̃ k̃ᵀ) diag(α_t) S_{t−1} + β k̃ ṽᵀ,  β = ${printTExpr(u.beta)}`);
        break;
      case 'dplr':
        row('update', `DPLR: S_t = (diag(α_t) + b aᵀ) S_{t−1} + k̃ ṽᵀ,  a = ${printTExpr(u.a)},  b = ${printTExpr(u.b)}`);
        break;
      default:
        row('update', `${u.cls} (${u.reason}): ${u.equations.map((q) => `${q.target} = ${printTExpr(q.value)}`).join(', ')};  o = ${printTExpr(u.output)}`);
    }
    if (ir.classification) row('classified', ir.classification);
    row('read', ir.read.kind === 'inclusive' ? 'inclusive: o_t = S_tᵀ q̃_t' : `exclusive: o_t = (S_{t−1} + diag(u) s_t k̃ ṽᵀ)ᵀ q̃_t${ir.read.bonus ? `,  u = ${printTExpr(ir.read.bonus)}` : ''}`);
    row('normalizer', ir.normalizer === 'none' ? 'none' : ir.normalizer === 'sum' ? 'sum: o /= zᵀq̃ + ε,  z_t = α_t z_{t−1} + s_t k̃' : 'maxabs: o /= max(|zᵀq̃|, 1)  (stabilised by m_t)');
  } else {
    row('score', printTExpr(ir.score!) + (ir.gate.cls !== 'none' ? '  + G_i − G_j' : ''));
    row('weights', ir.weight === 'softmax' ? 'softmax over the visible keys' : `${ir.weight}(score), not normalised`);
  }
  row('mask', `${printTExpr(ir.mask)}${ir.maskIsCausal ? '  (causal)' : ''}`);
  row('direction', ir.direction);
  row('epilogue', ir.epilogue ? printTExpr(ir.epilogue) : 'none');
  row('chunk', ir.chunk.kind === 'auto' ? 'auto' : ir.chunk.kind === 'size' ? String(ir.chunk.size) : `${ir.chunk.q} x ${ir.chunk.k}`);
  row('forms', ir.forms.join(', ') + Object.entries(ir.unavailable).map(([f, why]) => `;  no ${f}: ${why}`).join(''));
  return L.join('\n');
}

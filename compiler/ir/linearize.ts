/**
 * Symbolic linearisation of a state equation `S_new = f(S, token values)`: f is decomposed into a
 * state-free part (the write) and a sum of left operators applied to S, each in a canonical form
 *   c · diag(d)      (a scalar or per-row decay)
 *   c · x yᵀ         (a rank-one left product, as in the delta rule and DPLR)
 *   c · M            (any other state-free matrix on the left: linear, but "general")
 * Right products (S M), transposes and elementwise products with a matrix are linear but
 * "general"; anything else (S inside exp, S · S, …) is not linear. Vector states [n] are treated
 * as [n, 1] matrices.
 */
import { InternalError } from '../diagnostics/diagnostic.ts';
import { mk, shapeText, type TExpr } from './expr.ts';

export type Mono =
  | { kind: 'diag'; coef: TExpr[]; diag: TExpr[] }
  | { kind: 'rank1'; coef: TExpr[]; x: TExpr; y: TExpr }
  | { kind: 'matrix'; coef: TExpr[]; m: TExpr };

/** A row functional Σ c · wᵀ S (a [V] vector, or a scalar for a vector state). */
export interface Func {
  coef: TExpr[];
  w: TExpr;
}

export type Lin =
  | { k: 'free'; e: TExpr }
  | { k: 'mat'; free: TExpr | undefined; monos: Mono[] }
  | { k: 'func'; free: TExpr | undefined; funcs: Func[] }
  | { k: 'general'; reason: string }
  | { k: 'nonlinear'; reason: string };

export function dependsOn(e: TExpr, state: string): boolean {
  switch (e.op) {
    case 'ref':
      return e.ref.kind === 'state' && e.ref.name === state;
    case 'const':
    case 'index':
      return false;
    case 'concat':
      return e.parts.some((p) => dependsOn(p, state));
    case 'select':
      return dependsOn(e.cond, state) || dependsOn(e.a, state) || dependsOn(e.b, state);
    case 'get':
      return dependsOn(e.a, state);
    case 'binary':
    case 'dot':
    case 'matmul':
    case 'outer':
      return dependsOn(e.a, state) || dependsOn(e.b, state);
    default:
      return dependsOn(e.a, state);
  }
}

const neg1 = () => mk.const(-1);

function scaleMono(m: Mono, c: TExpr[]): Mono {
  return { ...m, coef: [...m.coef, ...c] };
}

/** Product of two canonical left operators (a applied after b: a · b). */
function mulMono(a: Mono, b: Mono): Mono {
  const coef = [...a.coef, ...b.coef];
  // The identity (a diagonal operator with no factors, the bare state) is neutral on either side;
  // it has no size of its own, so it must never reach monoMatrix (W @ S, S-terms under W @ (…)).
  if (a.kind === 'diag' && a.diag.length === 0) return { ...b, coef };
  if (b.kind === 'diag' && b.diag.length === 0) return { ...a, coef };
  if (a.kind === 'matrix' || b.kind === 'matrix') {
    const ma = monoMatrix(a);
    const mb = monoMatrix(b);
    return { kind: 'matrix', coef, m: { op: 'matmul', a: ma, b: mb, type: 'real', shape: [ma.shape[0]!, mb.shape[1]!], span: ma.span } };
  }
  if (a.kind === 'diag' && b.kind === 'diag') return { kind: 'diag', coef, diag: [...a.diag, ...b.diag] };
  if (a.kind === 'diag' && b.kind === 'rank1') return { kind: 'rank1', coef, x: scaleVec(b.x, a.diag), y: b.y };
  if (a.kind === 'rank1' && b.kind === 'diag') return { kind: 'rank1', coef, x: a.x, y: scaleVec(a.y, b.diag) };
  const ra = a as Extract<Mono, { kind: 'rank1' }>;
  const rb = b as Extract<Mono, { kind: 'rank1' }>;
  return { kind: 'rank1', coef: [...coef, mk.dot(ra.y, rb.x)], x: ra.x, y: rb.y };
}

function scaleVec(v: TExpr, ds: TExpr[]): TExpr {
  return ds.reduce((acc, d) => mk.binary('mul', d, acc), v);
}

/**
 * The matrix a canonical operator stands for (without its coefficients). A diagonal operator with
 * factors is diag(d₁ ⊙ d₂ ⊙ …), sized by its (vector) factors; the identity has no size and is
 * handled by mulMono before it gets here.
 */
function monoMatrix(m: Mono): TExpr {
  if (m.kind === 'matrix') return m.m;
  if (m.kind === 'rank1') return { op: 'outer', a: m.x, b: m.y, type: 'real', shape: [m.x.shape[0]!, m.y.shape[0]!], span: m.x.span };
  const d = m.diag.slice(1).reduce((acc, x) => mk.binary('mul', acc, x), m.diag[0]!);
  if (!d || d.shape.length !== 1) throw new InternalError('a diagonal operator without a vector factor has no size here');
  return { op: 'diag', a: d, type: 'real', shape: [d.shape[0]!, d.shape[0]!], span: d.span };
}

/** Interpret a state-free [n, n] matrix as a canonical operator. */
function asOperator(m: TExpr): Mono {
  if (m.op === 'outer') return { kind: 'rank1', coef: [], x: m.a, y: m.b };
  if (m.op === 'diag') return { kind: 'diag', coef: [], diag: [m.a] };
  if (m.op === 'binary' && m.fn === 'mul' && m.a.shape.length === 0) return scaleMono(asOperator(m.b), [m.a]);
  if (m.op === 'binary' && m.fn === 'mul' && m.b.shape.length === 0) return scaleMono(asOperator(m.a), [m.b]);
  return { kind: 'matrix', coef: [], m };
}

/** (Σ monoᵢ S)ᵀ w as functionals: (c diag(d) S)ᵀ w = Sᵀ (c d⊙w); (c x yᵀ S)ᵀ w = Sᵀ (c (x·w) y). */
function transposeApply(monos: Mono[], w: TExpr): Func[] | string {
  const out: Func[] = [];
  for (const m of monos) {
    if (m.kind === 'diag') out.push({ coef: m.coef, w: scaleVec(w, m.diag) });
    else if (m.kind === 'rank1') out.push({ coef: [...m.coef, mk.dot(m.x, w)], w: m.y });
    else return 'the state is read through a general matrix';
  }
  return out;
}

function addFree(a: TExpr | undefined, b: TExpr | undefined, negB: boolean): TExpr | undefined {
  if (!b) return a;
  const bb = negB ? mk.unary('neg', b) : b;
  return a ? mk.binary('add', a, bb) : bb;
}

export function linearize(e: TExpr, state: string): Lin {
  if (!dependsOn(e, state)) return { k: 'free', e };
  switch (e.op) {
    case 'ref':
      return { k: 'mat', free: undefined, monos: [{ kind: 'diag', coef: [], diag: [] }] };
    case 'unary':
      if (e.fn === 'neg') return negate(linearize(e.a, state));
      return { k: 'nonlinear', reason: `the state appears inside ${e.fn}(…)` };
    case 'binary':
      return binary(e, state);
    case 'matmul':
      return matmul(e, state);
    case 'outer': {
      if (dependsOn(e.a, state)) return { k: 'general', reason: 'the state appears on the left of ⊗' };
      const r = linearize(e.b, state);
      if (r.k === 'nonlinear' || r.k === 'general') return r;
      if (r.k !== 'func') return { k: 'general', reason: 'the right of ⊗ is not a read of the state' };
      const monos: Mono[] = r.funcs.map((f) => ({ kind: 'rank1', coef: f.coef, x: e.a, y: f.w }));
      const free = r.free ? ({ ...e, b: r.free } as TExpr) : undefined;
      return { k: 'mat', free, monos };
    }
    case 'dot': {
      // dot(z, u) for a vector state z: uᵀ z.
      const [sDep, other] = dependsOn(e.a, state) ? [e.a, e.b] : [e.b, e.a];
      if (dependsOn(other, state)) return { k: 'nonlinear', reason: 'a product of two state-dependent terms' };
      const r = linearize(sDep, state);
      if (r.k !== 'mat') return r.k === 'nonlinear' || r.k === 'general' ? r : { k: 'general', reason: 'unsupported dot' };
      const funcs = transposeApply(r.monos, other);
      if (typeof funcs === 'string') return { k: 'general', reason: funcs };
      return { k: 'func', free: r.free ? mk.dot(r.free, other) : undefined, funcs };
    }
    case 'transpose':
      return { k: 'general', reason: 'a transposed state that is not read by a vector' };
    default:
      return { k: 'general', reason: `the state is used in ${e.op}` };
  }
}

function negate(l: Lin): Lin {
  if (l.k === 'mat') return { k: 'mat', free: l.free && mk.unary('neg', l.free), monos: l.monos.map((m) => scaleMono(m, [neg1()])) };
  if (l.k === 'func') return { k: 'func', free: l.free && mk.unary('neg', l.free), funcs: l.funcs.map((f) => ({ coef: [...f.coef, neg1()], w: f.w })) };
  if (l.k === 'free') return { k: 'free', e: mk.unary('neg', l.e) };
  return l;
}

function binary(e: Extract<TExpr, { op: 'binary' }>, state: string): Lin {
  const both = dependsOn(e.a, state) && dependsOn(e.b, state);
  if (both && e.fn === 'mul') return { k: 'nonlinear', reason: 'a product of two state-dependent terms' };
  if (e.fn === 'div' && dependsOn(e.b, state)) return { k: 'nonlinear', reason: 'division by a state-dependent term' };
  if (e.fn !== 'add' && e.fn !== 'sub' && e.fn !== 'mul' && e.fn !== 'div') return { k: 'nonlinear', reason: `the state appears in ${e.fn}(…)` };
  const la = linearize(e.a, state);
  const lb = linearize(e.b, state);
  for (const x of [la, lb]) if (x.k === 'nonlinear' || x.k === 'general') return x;
  if (e.fn === 'add' || e.fn === 'sub') {
    const negB = e.fn === 'sub';
    const b2 = negB ? negate(lb) : lb;
    if (la.k === 'free' && b2.k === 'free') return { k: 'free', e };
    if (la.k === 'free') return addFreeTo(b2, la.e);
    if (b2.k === 'free') return addFreeTo(la, b2.e);
    if (la.k === 'mat' && b2.k === 'mat') return { k: 'mat', free: addFree(la.free, b2.free, false), monos: [...la.monos, ...b2.monos] };
    if (la.k === 'func' && b2.k === 'func') return { k: 'func', free: addFree(la.free, b2.free, false), funcs: [...la.funcs, ...b2.funcs] };
    return { k: 'general', reason: 'adding state terms of different kinds' };
  }
  if (e.fn === 'mul') {
    if (la.k !== 'free' && lb.k !== 'free') return { k: 'nonlinear', reason: 'a product of two state-dependent terms' };
    const [lin, f] = la.k === 'free' ? [lb, la.e] : [la, (lb as { e: TExpr }).e];
    if (f.shape.length === 0) return scaleLin(lin, f);
    if (lin.k === 'mat' && f.shape.length === 1) {
      return { k: 'mat', free: lin.free && mk.binary('mul', f, lin.free), monos: lin.monos.map((m) => mulMono({ kind: 'diag', coef: [], diag: [f] }, m)) };
    }
    return { k: 'general', reason: `an elementwise product of the state with ${shapeText(f.shape)} (not a per-row decay)` };
  }
  if (e.fn === 'div') {
    if (lb.k !== 'free') return { k: 'nonlinear', reason: 'division by a state-dependent term' };
    if (lb.e.shape.length !== 0) return { k: 'general', reason: 'division by a vector' };
    return scaleLin(la, mk.binary('div', mk.const(1), lb.e));
  }
  return { k: 'nonlinear', reason: `the state appears in ${e.fn}(…)` };
}

function scaleLin(l: Lin, c: TExpr): Lin {
  if (l.k === 'mat') return { k: 'mat', free: l.free && mk.binary('mul', c, l.free), monos: l.monos.map((m) => scaleMono(m, [c])) };
  if (l.k === 'func') return { k: 'func', free: l.free && mk.binary('mul', c, l.free), funcs: l.funcs.map((f) => ({ coef: [...f.coef, c], w: f.w })) };
  return l;
}

function addFreeTo(l: Lin, f: TExpr): Lin {
  if (l.k === 'mat') return { ...l, free: addFree(l.free, f, false) };
  if (l.k === 'func') return { ...l, free: addFree(l.free, f, false) };
  return l;
}

function matmul(e: Extract<TExpr, { op: 'matmul' }>, state: string): Lin {
  const aDep = dependsOn(e.a, state);
  const bDep = dependsOn(e.b, state);
  if (aDep && bDep) return { k: 'nonlinear', reason: 'a product of two state-dependent terms' };
  if (bDep) {
    const lb = linearize(e.b, state);
    if (lb.k === 'nonlinear' || lb.k === 'general') return lb;
    if (lb.k !== 'mat') return { k: 'general', reason: 'a matrix times a read of the state' };
    if (e.a.shape.length === 1) {
      // uᵀ S: a read of the state by u.
      const funcs = transposeApply(lb.monos, e.a);
      if (typeof funcs === 'string') return { k: 'general', reason: funcs };
      return { k: 'func', free: lb.free && ({ ...e, b: lb.free } as TExpr), funcs };
    }
    const op = asOperator(e.a);
    return { k: 'mat', free: lb.free && ({ ...e, b: lb.free } as TExpr), monos: lb.monos.map((m) => mulMono(op, m)) };
  }
  // The state is on the left: only (…)ᵀ @ u, a read, is a left operator.
  if (e.a.op === 'transpose' && e.b.shape.length === 1) {
    const la = linearize(e.a.a, state);
    if (la.k === 'nonlinear' || la.k === 'general') return la;
    if (la.k !== 'mat') return { k: 'general', reason: 'unsupported read' };
    const funcs = transposeApply(la.monos, e.b);
    if (typeof funcs === 'string') return { k: 'general', reason: funcs };
    return { k: 'func', free: la.free && ({ op: 'matmul', a: { op: 'transpose', a: la.free, type: 'real', shape: [la.free.shape[1]!, la.free.shape[0]!], span: la.free.span }, b: e.b, type: 'real', shape: e.shape, span: e.span } as TExpr), funcs };
  }
  return { k: 'general', reason: 'the state is multiplied from the right (it mixes value columns)' };
}

/** Product of a coefficient list as one expression (1 when empty). */
export function product(cs: TExpr[]): TExpr {
  if (cs.length === 0) return mk.const(1);
  return cs.slice(1).reduce((acc, c) => mk.binary('mul', acc, c), cs[0]!);
}

/**
 * Numerical confirmation of an equation's classification: the user's equation and the canonical
 * update it was classified as are evaluated on the same random values (state, inputs, parameters,
 * features) and must agree to 1e-9. A symbolic slip can then never change a spec's meaning.
 */
import type { TypedSpec } from '../check/typed-spec.ts';
import type { IndexVar, TExpr } from './expr.ts';
import { compileExpr, type EvalEnv } from '../interp/eval.ts';
import { asMat, isMat, mat, Rng, type Mat, type Value } from '../interp/values.ts';

export type Candidate =
  | { kind: 'additive'; alpha: TExpr; key: TExpr; value: TExpr | undefined; strength: TExpr }
  | { kind: 'delta'; alpha: TExpr; key: TExpr; value: TExpr; beta: TExpr }
  | { kind: 'dplr'; alpha: TExpr; key: TExpr; value: TExpr; a: TExpr; b: TExpr };

function randomValue(shape: readonly number[], rng: Rng): Value {
  if (shape.length === 0) return rng.normal();
  if (shape.length === 1) return Float64Array.from({ length: shape[0]! }, () => rng.normal());
  return mat(shape[0]!, shape[1]!, Float64Array.from({ length: shape[0]! * shape[1]! }, () => rng.normal()));
}

/** An environment that draws a random value the first time each name is asked for. */
export function randomEnv(spec: TypedSpec, rng: Rng, states: Record<string, Value>): EvalEnv {
  const cache = new Map<string, Value>();
  const get = (key: string, shape: readonly number[], int = false) => {
    let v = cache.get(key);
    if (v === undefined) {
      v = int ? rng.int(3) : randomValue(shape, rng);
      cache.set(key, v);
    }
    return v;
  };
  const idx: Record<IndexVar, number> = { i: 5, j: 3, t: 1 + rng.int(7), h: rng.int(3), T: 16, H: 4 };
  return {
    input: (name, at) => {
      const inp = spec.inputs.find((i) => i.name === name)!;
      return get(`in:${name}:${at}`, inp.shape, inp.type === 'int');
    },
    param: (name) => get(`p:${name}`, spec.params.find((p) => p.name === name)!.shape),
    paramAt: (name, h) => get(`p:${name}:${h}`, spec.params.find((p) => p.name === name)!.shape),
    feature: (which, at) => get(`f:${which}:${at}`, spec.features[which].shape),
    state: (name) => states[name]!,
    output: () => {
      throw new Error('internal: no output here');
    },
    index: (n) => idx[n],
  };
}

function close(a: Value, b: Value): boolean {
  const xa = typeof a === 'number' ? [a] : isMat(a) ? a.data : a;
  const xb = typeof b === 'number' ? [b] : isMat(b) ? b.data : b;
  if (xa.length !== xb.length) return false;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xa.length; i++) {
    num += (xa[i]! - xb[i]!) ** 2;
    den += xb[i]! ** 2;
  }
  return Number.isFinite(num) && Math.sqrt(num) <= 1e-9 * Math.max(1, Math.sqrt(den));
}

/** The canonical update applied to a state value. */
function canonical(c: Candidate, S: Value, env: EvalEnv): Value {
  const ev = (e: TExpr) => compileExpr(e)(env);
  const alpha = ev(c.alpha);
  const key = ev(c.key) as Float64Array;
  const scaleRows = (m: Mat, a: Value): Mat => {
    const out = mat(m.rows, m.cols, m.data.slice());
    for (let i = 0; i < m.rows; i++) {
      const f = typeof a === 'number' ? a : (a as Float64Array)[i]!;
      for (let j = 0; j < m.cols; j++) out.data[i * m.cols + j]! *= f;
    }
    return out;
  };
  if (S instanceof Float64Array) {
    // A vector (normaliser) state: z = α ⊙ z + s k.
    const s = c.kind === 'additive' ? (ev(c.strength) as number) : 1;
    return S.map((z, i) => (typeof alpha === 'number' ? alpha : (alpha as Float64Array)[i]!) * z + s * key[i]!);
  }
  const M = scaleRows(asMat(S), alpha);
  const value = ev(c.value!) as Float64Array;
  const addOuter = (x: Float64Array, y: Float64Array, f: number) => {
    for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) M.data[i * M.cols + j]! += f * x[i]! * y[j]!;
  };
  const readBy = (u: Float64Array, m: Mat) => {
    const out = new Float64Array(m.cols);
    for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j]! += u[i]! * m.data[i * m.cols + j]!;
    return out;
  };
  if (c.kind === 'additive') addOuter(key, value, ev(c.strength) as number);
  else if (c.kind === 'delta') {
    const beta = ev(c.beta) as number;
    const proj = readBy(key, M);
    addOuter(key, proj, -beta);
    addOuter(key, value, beta);
  } else {
    const a = ev(c.a) as Float64Array;
    const b = ev(c.b) as Float64Array;
    addOuter(b, readBy(a, asMat(S)), 1);
    addOuter(key, value, 1);
  }
  return M;
}

export function verifyUpdate(eq: TExpr, state: string, c: Candidate, spec: TypedSpec, trials = 3): boolean {
  const st = spec.states.find((s) => s.name === state)!;
  const f = compileExpr(eq);
  for (let trial = 0; trial < trials; trial++) {
    const rng = new Rng(1234 + trial * 7919);
    const S = randomValue(st.shape, rng);
    const env = randomEnv(spec, rng, { [state]: S });
    try {
      if (!close(f(env), canonical(c, S, env))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

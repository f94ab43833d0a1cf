/**
 * Lowering: checked spec → attention IR. Named rules map directly; explicit state equations are
 * classified (additive / delta / DPLR / vector-state / general linear) by symbolic linearisation,
 * and every classification is confirmed numerically on random values before it is trusted.
 */
import type { TypedSpec } from '../check/typed-spec.ts';
import { intervalOf, intervalText } from '../check/interval.ts';
import { diag as mkDiag, type DiagOptions, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { MessageId } from '../diagnostics/catalogue.ts';
import { spanUnion, type Span } from '../diagnostics/source.ts';
import { mapExpr, mk, usesIndex, type TExpr } from './expr.ts';
import { dependsOn, linearize, product, type Func, type Mono } from './linearize.ts';
import type { AttentionIR, Form, Gate, GateClass, Normalizer, Read, Update } from './attention-ir.ts';
import { verifyUpdate, type Candidate } from './verify.ts';

export interface LowerResult {
  ir: AttentionIR | undefined;
  diagnostics: Diagnostic[];
}

export function lower(spec: TypedSpec): LowerResult {
  const diagnostics: Diagnostic[] = [];
  const err: ErrFn = (id, span, args = [], opts = {}) => {
    diagnostics.push(mkDiag(id, span, args, spec.source ? { ...opts, source: spec.source } : opts));
  };

  let features = spec.features;
  let gateExpr = spec.gate?.expr;
  let update: Update | undefined;
  let read: Read = spec.read;
  let normalizer: Normalizer = spec.normalize;
  let classification: string | undefined;

  if (spec.family === 'recurrent') {
    const r = spec.rule;
    if (r.kind === 'named') {
      if (r.name === 'additive') {
        const scale = r.args['scale'];
        update = { cls: 'additive', scale, logScale: scale ? logOf(scale) : undefined };
      } else if (r.name === 'delta') update = { cls: 'delta', beta: r.args['beta']! };
      else if (r.name === 'dplr') update = { cls: 'dplr', a: r.args['a']!, b: r.args['b']! };
    } else {
      const c = classifyEquations(spec, err);
      if (!c) return { ir: undefined, diagnostics };
      update = c.update;
      classification = c.description;
      if (c.features) features = c.features;
      if (c.gate !== undefined) {
        if (spec.gate) {
          err('GateTwice', spec.gate.span);
          return { ir: undefined, diagnostics };
        }
        gateExpr = c.gate;
      }
      if (c.normalizer) normalizer = c.normalizer;
      read = { kind: 'inclusive' };
    }
    if (update && normalizer !== 'none' && update.cls !== 'additive' && update.cls !== 'general-linear') {
      err('UnsupportedCombination', spec.span, [`the ${normalizer} normalizer needs an additive update (z_t = α_t z_{t−1} + s_t k̃_t); the ${update.cls} rule has no normalizer state`]);
    }
    if (read.kind === 'exclusive' && (update?.cls !== 'additive' || normalizer === 'maxabs')) {
      err('UnsupportedCombination', spec.span, ['an exclusive read (RWKV-6) needs an additive update without the maxabs normalizer']);
    }
    if (normalizer === 'maxabs' && gateExpr && gateExpr.shape.length === 1) {
      err('UnsupportedCombination', spec.gate?.span ?? spec.span, ['the maxabs normalizer (mLSTM) needs a scalar gate: its stabiliser is one number per head']);
    }
    if (normalizer === 'maxabs' && update?.cls === 'additive' && update.scale && !update.logScale) {
      err('UnsupportedCombination', spec.span, ['the maxabs normalizer needs a positive write strength: write the scale as exp(x) or sigmoid(x)']);
    }
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { ir: undefined, diagnostics };

  const gate = classifyGate(gateExpr);
  const isSoftmax = spec.family === 'softmax';
  const score = isSoftmax ? (spec.score ?? defaultScore(spec.keyDim)) : undefined;
  const weight = isSoftmax ? (spec.rule.kind === 'named' && (spec.rule.name === 'sigmoid' || spec.rule.name === 'relu') ? spec.rule.name : 'softmax') : undefined;

  const { forms, unavailable } = availableForms(spec.family, update, normalizer, spec.direction);
  const ir: AttentionIR = {
    name: spec.name,
    family: spec.family,
    dims: Object.fromEntries(spec.dims),
    inputs: spec.inputs,
    params: spec.params,
    features,
    keyDim: features.k.shape[0] ?? spec.keyDim,
    valueDim: features.v.shape[0] ?? spec.valueDim,
    gate,
    update,
    read,
    normalizer,
    epilogue: spec.epilogue,
    score,
    weight,
    mask: spec.mask,
    maskIsCausal: spec.maskIsCausal,
    direction: spec.direction,
    chunk: spec.chunk,
    forms,
    unavailable,
    source: spec.source,
    span: spec.span,
    classification,
  };
  return { ir, diagnostics };
}

function defaultScore(keyDim: number): TExpr {
  const q = mk.ref({ kind: 'feature', which: 'q', at: 'i' }, [keyDim]);
  const k = mk.ref({ kind: 'feature', which: 'k', at: 'j' }, [keyDim]);
  return mk.binary('mul', mk.dot(q, k), mk.const(keyDim ** -0.5));
}

export function classifyGate(g: TExpr | undefined): Gate {
  if (!g) return { cls: 'none', expr: undefined, range: undefined };
  const perToken = tokenDependent(g);
  const vector = g.shape.length === 1;
  const cls: GateClass = perToken ? (vector ? 'dd-vector' : 'dd-scalar') : vector ? 'const-vector' : 'const-scalar';
  return { cls, expr: g, range: intervalOf(g) };
}

/** True when an expression changes from token to token. */
export function tokenDependent(e: TExpr): boolean {
  let dep = false;
  mapExpr(e, (n) => {
    if (n.op === 'ref' && (n.ref.kind === 'input' || n.ref.kind === 'feature')) dep = true;
    return undefined;
  });
  return dep || usesIndex(e, 't');
}

function availableForms(family: 'recurrent' | 'softmax', update: Update | undefined, normalizer: Normalizer, direction: 'causal' | 'bidirectional') {
  const unavailable: Partial<Record<Form, string>> = {};
  if (family === 'recurrent') {
    const cls = update?.cls;
    if (cls === 'general-linear' || cls === 'vector-state') {
      unavailable.chunk = `a ${cls} update has no chunked form`;
      unavailable.parallel = `a ${cls} update has no parallel form`;
    } else if (cls !== 'additive') {
      unavailable.parallel = `the ${cls} rule has no materialised T×T form (use chunk)`;
    }
    if (direction === 'bidirectional' && cls === 'additive') {
      // All three forms exist: forward + backward passes.
    }
    void normalizer;
  }
  const forms = (['recurrent', 'chunk', 'parallel'] as Form[]).filter((f) => !(f in unavailable));
  return { forms, unavailable };
}

/** log of a positive expression, symbolically where possible (exp, sigmoid, products, constants). */
export function logOf(e: TExpr): TExpr | undefined {
  if (e.op === 'unary' && e.fn === 'exp') return e.a;
  if (e.op === 'unary' && e.fn === 'sigmoid') return mk.unary('logsigmoid', e.a);
  if (e.op === 'unary' && e.fn === 'exp2') return mk.binary('mul', e.a, mk.const(Math.LN2));
  if (e.op === 'const') return e.value > 0 ? mk.const(Math.log(e.value)) : undefined;
  if (e.op === 'binary' && e.fn === 'mul') {
    const a = logOf(e.a);
    const b = logOf(e.b);
    return a && b ? simplifyAdd(a, b) : undefined;
  }
  if (e.op === 'binary' && e.fn === 'div') {
    const a = logOf(e.a);
    const b = logOf(e.b);
    return a && b ? mk.binary('sub', a, b) : undefined;
  }
  const r = intervalOf(e);
  if (r.lo > 0) return mk.unary('log', e);
  return undefined;
}

function simplifyAdd(a: TExpr, b: TExpr): TExpr {
  if (a.op === 'const' && a.value === 0) return b;
  if (b.op === 'const' && b.value === 0) return a;
  return mk.binary('add', a, b);
}

// ── equation classification ────────────────────────────────────────────────────

interface Classified {
  update: Update;
  description: string;
  gate: TExpr | undefined;
  features?: { q: TExpr; k: TExpr; v: TExpr };
  normalizer?: Normalizer;
}

type ErrFn = (id: MessageId, span: Span, args?: (string | number)[], opts?: DiagOptions) => void;

/** Strip scalar factors: s1 * (s2 * x) → ([s1, s2], x). */
function splitScalars(e: TExpr): { coef: TExpr[]; base: TExpr } {
  if (e.op === 'binary' && e.fn === 'mul') {
    if (e.a.shape.length === 0 && e.b.shape.length > 0) {
      const r = splitScalars(e.b);
      return { coef: [e.a, ...r.coef], base: r.base };
    }
    if (e.b.shape.length === 0 && e.a.shape.length > 0) {
      const r = splitScalars(e.a);
      return { coef: [e.b, ...r.coef], base: r.base };
    }
  }
  return { coef: [], base: e };
}

/** The write term as c · p ⊗ r. */
function splitOuter(w: TExpr): { coef: TExpr[]; p: TExpr; r: TExpr } | undefined {
  const s = splitScalars(w);
  if (s.base.op !== 'outer') return undefined;
  const p = splitScalars(s.base.a);
  const r = splitScalars(s.base.b);
  return { coef: [...s.coef, ...p.coef, ...r.coef], p: p.base, r: r.base };
}

function monoAlpha(diags: Extract<Mono, { kind: 'diag' }>[]): TExpr | undefined {
  if (diags.length === 0) return undefined;
  const terms = diags.map((m) => {
    const factors = [...m.coef, ...m.diag];
    // Vector factors first so the product keeps a vector shape.
    factors.sort((a, b) => b.shape.length - a.shape.length);
    return product(factors);
  });
  return terms.slice(1).reduce((a, b) => mk.binary('add', a, b), terms[0]!);
}

/**
 * The log-space rule of `gate` items (the checker's ATTN2023) applied to the decay α recovered from
 * a state equation: its gate log α must be provably ≤ 0. A gate provably > 0 (α > 1 for every
 * value) is an error, ATTN3010; one that is not provably ≤ 0 gets the gate's warning, ATTN2023.
 * Returns false when the spec must be rejected.
 */
function checkDecay(gate: TExpr, diags: Extract<Mono, { kind: 'diag' }>[], value: TExpr, state: string, err: ErrFn): boolean {
  const range = intervalOf(gate);
  if (range.hi <= 0) return true;
  const span = decaySpan(diags, value.span);
  if (range.lo > 0) {
    err('DecayAboveOne', span, [state, intervalText(range)]);
    return false;
  }
  err('GateNotLogSpace', span, [intervalText(range)], {
    label: `the decay of '${state}'; its gate (log-decay) is not provably ≤ 0`,
    hint: 'a decay in a state equation is exp(gate): write it as exp(g) with g from -softplus(x), logsigmoid(x), -exp(x) * softplus(y) or min(x, 0), or as sigmoid(x)',
  });
  return true;
}

/**
 * Where the decay is written: with one decay term, the union of its factors' spans (built
 * constants have none); the whole right-hand side when there are several terms (S + 0.5 * S: the
 * bare S has no factor to point at) or a factor comes from elsewhere (a let's body).
 */
function decaySpan(diags: Extract<Mono, { kind: 'diag' }>[], within: Span): Span {
  if (diags.length !== 1) return within;
  let out: Span | undefined;
  for (const f of [...diags[0]!.coef, ...diags[0]!.diag]) {
    if (f.span.end === f.span.start) continue;
    if (f.span.start < within.start || f.span.end > within.end) return within;
    out = out ? spanUnion(out, f.span) : f.span;
  }
  return out ?? within;
}

function isOne(e: TExpr): boolean {
  return e.op === 'const' && e.value === 1;
}

function classifyEquations(spec: TypedSpec, err: ErrFn): Classified | undefined {
  const rule = spec.rule;
  if (rule.kind !== 'equations' || !rule.output) return undefined;
  const matState = spec.states.find((s) => s.shape.length === 2);
  const vecStates = spec.states.filter((s) => s.shape.length === 1);
  const eqOf = (n: string) => rule.equations.find((q) => q.target === n);
  const general = (reason: string): Classified => {
    err('GeneralLinear', rule.span, [matState?.name ?? vecStates[0]?.name ?? 'the state', reason]);
    return {
      update: { cls: 'general-linear', states: spec.states.map((s) => ({ name: s.name, shape: s.shape })), equations: rule.equations, output: rule.output!, reason },
      description: `general linear recurrence (${reason})`,
      gate: undefined,
    };
  };

  // Every equation must be linear in its own state and not read the others.
  for (const q of rule.equations) {
    for (const other of spec.states) {
      if (other.name !== q.target && dependsOn(q.value, other.name)) return general(`the update of ${q.target} reads ${other.name}`);
    }
    const l = linearize(q.value, q.target);
    if (l.k === 'nonlinear') {
      err('NonLinearState', q.span, [q.target, l.reason]);
      return undefined;
    }
  }

  if (!matState) {
    // A vector state: s = α ⊙ s + w, read elementwise.
    if (vecStates.length !== 1) return general('several vector states');
    const st = vecStates[0]!;
    const l = linearize(eqOf(st.name)!.value, st.name);
    if (l.k !== 'mat' || l.monos.some((m) => m.kind !== 'diag') || !l.free) return general(l.k === 'general' ? l.reason : 'not an elementwise decay plus a write');
    // The decay is held to the rule of gates, as for matrix states (ATTN3010 above 1).
    const vdiags = l.monos.filter((m): m is Extract<Mono, { kind: 'diag' }> => m.kind === 'diag');
    const valpha = monoAlpha(vdiags);
    const vgate = valpha && !isOne(valpha) ? logOf(valpha) : undefined;
    if (vgate && !checkDecay(vgate, vdiags, eqOf(st.name)!.value, st.name, err)) return undefined;
    err('VectorStateNoKernel', rule.span, [st.name]);
    const upd: Update = { cls: 'vector-state', states: [{ name: st.name, shape: st.shape }], equations: rule.equations, output: rule.output, reason: 'a vector state' };
    return { update: upd, description: `vector state ${st.name}: elementwise decay and write`, gate: undefined };
  }

  const S = matState.name;
  const l = linearize(eqOf(S)!.value, S);
  if (l.k === 'general') return general(l.reason);
  if (l.k !== 'mat') return general('the update is not a matrix');
  if (!l.free) return general('there is no write term');
  const others = l.monos.filter((m) => m.kind === 'matrix');
  if (others.length) return general('the state is multiplied by a general matrix');
  const diags = l.monos.filter((m): m is Extract<Mono, { kind: 'diag' }> => m.kind === 'diag');
  const rank1 = l.monos.filter((m): m is Extract<Mono, { kind: 'rank1' }> => m.kind === 'rank1');
  const write = splitOuter(l.free);
  if (!write) {
    err('WriteShape', eqOf(S)!.span, [S, 'expected c · key ⊗ value']);
    return undefined;
  }
  const alpha = monoAlpha(diags);
  if (!alpha) return general('the previous state is not kept (no decay term)');
  const gate = isOne(alpha) ? undefined : logOf(alpha);
  if (!isOne(alpha) && !gate) {
    err('DecayNotPositive', rule.span, ['the decay must be positive (write it as exp(g) with g ≤ 0, or sigmoid(x))']);
    return undefined;
  }
  if (gate && !checkDecay(gate, diags, eqOf(S)!.value, S, err)) return undefined;

  // The output: Sᵀ u, optionally divided by a normalizer read of z.
  const out = classifyOutput(rule.output, S, vecStates.map((v) => v.name));
  if (typeof out === 'string') {
    err('UnrecognisedRead', rule.outputSpan ?? rule.span, [out]);
    return undefined;
  }
  const subst = (e: TExpr) => substituteFeatures(e, spec.features);
  const strength = product(write.coef);
  let features = { q: subst(out.q), k: subst(write.p), v: subst(write.r) };
  let cand: Candidate;
  let update: Update;
  let description: string;
  if (rank1.length === 0) {
    update = { cls: 'additive', scale: isOne(strength) ? undefined : strength, logScale: isOne(strength) ? undefined : logOf(strength) };
    cand = { kind: 'additive', alpha, key: write.p, value: write.r, strength };
    description = `additive: S = diag(α) S + s k ⊗ v, with ${gate ? (gate.shape.length ? 'a vector' : 'a scalar') + ' gate' : 'no gate'}`;
  } else if (rank1.length === 1) {
    const r1 = rank1[0]!;
    const deltaCand: Candidate = { kind: 'delta', alpha, key: write.p, value: write.r, beta: strength };
    if (verifyUpdate(eqOf(S)!.value, S, deltaCand, spec)) {
      update = { cls: 'delta', beta: strength };
      cand = deltaCand;
      description = 'delta rule: S = (I − β k kᵀ) diag(α) S + β k ⊗ v';
    } else {
      // Diagonal plus rank one: (diag(α) + b aᵀ) S + k ⊗ v, with the write strength folded into the key.
      const b = mk.binary('mul', product(r1.coef), r1.x);
      const key = mk.binary('mul', strength, write.p);
      update = { cls: 'dplr', a: subst(r1.y), b: subst(b) };
      features = { ...features, k: subst(key) };
      cand = { kind: 'dplr', alpha, key, value: write.r, a: r1.y, b };
      description = 'diagonal plus rank one: S = (diag(α) + b aᵀ) S + k ⊗ v';
    }
  } else return general('more than one rank-one term');

  let normalizer: Normalizer | undefined;
  if (out.norm) {
    const z = out.norm.state;
    const lz = linearize(eqOf(z)!.value, z);
    const zw = lz.k === 'mat' ? lz.free : undefined;
    const zOk = lz.k === 'mat' && lz.monos.every((m) => m.kind === 'diag') && zw && verifyUpdate(eqOf(z)!.value, z, { kind: 'additive', alpha, key: write.p, value: undefined, strength }, spec);
    if (!zOk) {
      err('NormalizerState', eqOf(z)!.span, [z, 'it must decay like the main state and add the same key: z = α ⊙ z + s k']);
      return undefined;
    }
    normalizer = out.norm.kind;
  }
  if (!verifyUpdate(eqOf(S)!.value, S, cand, spec)) {
    err('ClassificationCheck', rule.span, [S, update.cls]);
    return general('numerical check failed');
  }
  return { update, description, gate, features, ...(normalizer ? { normalizer } : {}) };
}

/** Output patterns: Sᵀ u · c, optionally / dot(z, u) (sum) or / max(abs(dot(z, u)), 1) (maxabs). */
function classifyOutput(o: TExpr, S: string, vecStates: string[]): { q: TExpr; norm?: { kind: 'sum' | 'maxabs'; state: string } } | string {
  let num = o;
  let norm: { kind: 'sum' | 'maxabs'; state: string } | undefined;
  if (o.op === 'binary' && o.fn === 'div' && vecStates.some((z) => dependsOn(o.b, z))) {
    num = o.a;
    const d = o.b;
    const z = vecStates.find((s) => dependsOn(d, s))!;
    const isZRead = (e: TExpr) => {
      const l = linearize(e, z);
      return l.k === 'func' && !l.free && l.funcs.length === 1;
    };
    if (isZRead(d)) norm = { kind: 'sum', state: z };
    else if (d.op === 'binary' && d.fn === 'max' && d.a.op === 'unary' && d.a.fn === 'abs' && isZRead(d.a.a) && d.b.op === 'const' && d.b.value === 1) norm = { kind: 'maxabs', state: z };
    else return 'the denominator must be dot(z, q) or max(abs(dot(z, q)), 1)';
  }
  const l = linearize(num, S);
  if (l.k !== 'func' || l.free || l.funcs.length !== 1) return 'expected a read of the state: Sᵀ @ q';
  const f: Func = l.funcs[0]!;
  const q = f.coef.length ? mk.binary('mul', product(f.coef), f.w) : f.w;
  return norm ? { q, norm } : { q };
}

/** Replace feature references (q̃, k̃, ṽ at t) by their definitions over the raw inputs. */
function substituteFeatures(e: TExpr, features: { q: TExpr; k: TExpr; v: TExpr }): TExpr {
  return mapExpr(e, (n) => (n.op === 'ref' && n.ref.kind === 'feature' ? features[n.ref.which] : undefined));
}

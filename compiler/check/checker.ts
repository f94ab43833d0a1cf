/**
 * The checker: names, dims and shapes, dtypes, log-space gates, index-variable use, mask/family
 * compatibility, feature dimensions and chunk sizes. AST → TypedSpec plus diagnostics; it never
 * throws on user input.
 */
import type * as A from '../../dsl/ast.ts';
import { diag, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { MessageId } from '../diagnostics/catalogue.ts';
import type { SourceFile, Span } from '../diagnostics/source.ts';
import { didYouMean } from '../diagnostics/suggest.ts';
import { shapeText, type IndexVar, type Shape, type TExpr } from '../ir/expr.ts';
import { BUILTIN_BY_NAME, CONSTANTS, INDEX_VARS } from './builtins.ts';
import { ExprChecker, type ExprContext, type LetBinding, type Scope } from './expr-checker.ts';
import { intervalOf, intervalText } from './interval.ts';
import type { ChunkSpec, InputInfo, ParamInfo, RuleName, StateInfo, TypedRule, TypedSpec } from './typed-spec.ts';

export interface CheckOptions {
  /** Override declared dims (e.g. small shapes for tests): { K: 16, V: 16 }. */
  dims?: Readonly<Record<string, number>>;
}

export interface CheckResult {
  specs: TypedSpec[];
  diagnostics: Diagnostic[];
}

const SINGLE_ITEMS: readonly A.ItemKind[] = ['gate', 'update', 'output', 'read', 'normalize', 'epilogue', 'score', 'mask', 'direction', 'chunk'];

const RULE_ARGS: Record<RuleName, { required: string[]; optional: string[] }> = {
  additive: { required: [], optional: ['scale'] },
  delta: { required: ['beta'], optional: [] },
  dplr: { required: ['a', 'b'], optional: [] },
  softmax: { required: [], optional: [] },
  sigmoid: { required: [], optional: [] },
  relu: { required: [], optional: [] },
};
const SOFTMAX_RULES = new Set<RuleName>(['softmax', 'sigmoid', 'relu']);

const TOKEN_VARS: ReadonlySet<IndexVar> = new Set(['t', 'h', 'T', 'H']);
const PAIR_VARS: ReadonlySet<IndexVar> = new Set(['i', 'j', 'h', 'T', 'H']);

export function check(file: A.SpecFile, source?: SourceFile, opts: CheckOptions = {}): CheckResult {
  const diagnostics: Diagnostic[] = [];
  const specs: TypedSpec[] = [];
  const names = new Map<string, Span>();
  for (const spec of file.specs) {
    const prev = names.get(spec.name.name);
    if (prev) {
      diagnostics.push(diag('DuplicateName', spec.name.span, [spec.name.name], { labels: [{ span: prev, message: 'first defined here' }], ...(source ? { source } : {}) }));
      continue;
    }
    names.set(spec.name.name, spec.name.span);
    const c = new SpecChecker(spec, source, opts, diagnostics);
    const typed = c.run();
    if (typed) specs.push(typed);
  }
  return { specs, diagnostics };
}

class SpecChecker {
  private dims = new Map<string, number>();
  private dimSpans = new Map<string, Span>();
  private inputs = new Map<string, InputInfo>();
  private params = new Map<string, ParamInfo>();
  private states = new Map<string, StateInfo>();
  private lets = new Map<string, LetBinding>();
  private declSpans = new Map<string, Span>();
  /** Declared names whose declaration had an error; later uses stay quiet. */
  private poisoned = new Set<string>();
  /** q, k or v that only state equations define (no input, no feature map). */
  private placeholders = new Set<'q' | 'k' | 'v'>();
  private scope: Scope;
  private ex: ExprChecker;
  private errorsBefore: number;

  constructor(
    private spec: A.Spec,
    private source: SourceFile | undefined,
    private opts: CheckOptions,
    private diagnostics: Diagnostic[],
  ) {
    this.errorsBefore = diagnostics.filter((d) => d.severity === 'error').length;
    this.scope = {
      dims: this.dims,
      inputs: this.inputs,
      params: this.params,
      states: this.states,
      lets: this.lets,
      featureShapes: {},
      outputShape: undefined,
      poisoned: this.poisoned,
    };
    this.ex = new ExprChecker(this.scope, diagnostics, source);
  }

  private err(id: MessageId, span: Span, args: (string | number)[] = [], opts: { hint?: string; label?: string; labels?: { span: Span; message: string }[] } = {}): void {
    this.diagnostics.push(diag(id, span, args, { ...opts, ...(this.source ? { source: this.source } : {}) }));
  }

  private hasNewErrors(): boolean {
    return this.diagnostics.filter((d) => d.severity === 'error').length > this.errorsBefore;
  }

  private ctx(where: string, extra: Partial<ExprContext> = {}): ExprContext {
    return { where, indexVars: TOKEN_VARS, pair: false, mapped: false, allowOutput: false, allowStates: false, maskBuiltins: false, ...extra };
  }

  run(): TypedSpec | undefined {
    const spec = this.spec;
    const items = spec.items;
    // At most one of each single item.
    const first = new Map<A.ItemKind, A.Item>();
    for (const it of items) {
      if (!SINGLE_ITEMS.includes(it.kind)) continue;
      const prev = first.get(it.kind);
      if (prev) this.err('DuplicateItem', it.keywordSpan, [it.kind], { labels: [{ span: prev.keywordSpan, message: 'first one here' }] });
      else first.set(it.kind, it);
    }
    const one = <K extends A.ItemKind>(k: K) => first.get(k) as Extract<A.Item, { kind: K }> | undefined;

    this.checkDims(items);
    this.checkDecls(items);
    this.collectLets(items);

    // Family: named softmax-like rules, or a score, make a softmax spec.
    const update = one('update');
    const ruleName = update?.rule?.name.name;
    const isSoftmaxRule = ruleName !== undefined && SOFTMAX_RULES.has(ruleName as RuleName);
    const family: 'recurrent' | 'softmax' = isSoftmaxRule || (!update && one('score')) ? 'softmax' : 'recurrent';

    const features = this.checkFeatures(items);
    if (!features) return this.finish(undefined);
    const { q: fq, k: fk, v: fv } = features;
    const keyDim = fk.shape[0] ?? 0;
    const valueDim = fv.shape[0] ?? 0;
    if (fq.shape[0] !== fk.shape[0]) {
      this.err('FeatureDimMismatch', this.featureSpan(items, 'q') ?? spec.name.span, [shapeText(fq.shape), shapeText(fk.shape)], {
        labels: [{ span: this.featureSpan(items, 'k') ?? spec.name.span, message: `φ_k gives ${shapeText(fk.shape)}` }],
      });
    }
    // Stand-ins for a q, k or v that state equations define themselves are not names.
    const real = (w: 'q' | 'k' | 'v') => !this.placeholders.has(w);
    this.scope.featureShapes = { ...(real('q') ? { q: fq.shape } : {}), ...(real('k') ? { k: fk.shape } : {}), ...(real('v') ? { v: fv.shape } : {}) };

    // Gate.
    let gate: TypedSpec['gate'];
    const gi = one('gate');
    if (gi) {
      const g = this.ex.check(gi.value, this.ctx('the gate'));
      if (g) {
        const okShape = g.shape.length === 0 || (g.shape.length === 1 && g.shape[0] === keyDim && family === 'recurrent');
        if (g.type !== 'real') this.err('TypeMismatch', gi.value.span, ['the gate must be a number, found a predicate']);
        else if (!okShape) {
          if (family === 'softmax') this.err('GateShape', gi.value.span, ['scalar per token in softmax specs: 1', shapeText(g.shape)], { hint: 'a forgetting-attention gate is one log-decay per token and head' });
          else this.err('GateShape', gi.value.span, [keyDim, shapeText(g.shape)]);
        } else {
          const range = intervalOf(g);
          if (range.lo > 0) this.err('GatePositive', gi.value.span, [intervalText(range)]);
          else if (range.hi > 0) this.err('GateNotLogSpace', gi.value.span, [intervalText(range)]);
          gate = { expr: g, range, span: gi.value.span };
        }
      }
    }

    // Update rule.
    const rule = this.checkRule(update, one('output'), family, keyDim, valueDim, fk.shape, fv.shape, spec);

    // Read.
    let read: TypedSpec['read'] = { kind: 'inclusive' };
    const ri = one('read');
    if (ri) {
      if (family === 'softmax') this.err('FamilyItem', ri.keywordSpan, ['read', 'state-recurrent']);
      else {
        const rn = ri.rule.name.name;
        if (rn === 'inclusive') {
          if (ri.rule.args?.length) this.err('UnknownRuleArg', ri.rule.args[0]!.span, ['inclusive', ri.rule.args[0]!.name?.name ?? '(positional)']);
        } else if (rn === 'exclusive') {
          let bonus: TExpr | undefined;
          for (const a of ri.rule.args ?? []) {
            if (a.name?.name !== 'bonus') {
              this.err('UnknownRuleArg', a.span, ['exclusive', a.name?.name ?? '(positional)'], { hint: 'write exclusive(bonus = u[h])' });
              continue;
            }
            const b = this.ex.check(a.value, this.ctx('the read bonus'));
            if (b && !(b.shape.length === 0 || (b.shape.length === 1 && b.shape[0] === keyDim))) this.err('ExpectedShape', a.value.span, ['the bonus', `a scalar or [${keyDim}]`, shapeText(b.shape)]);
            else if (b) bonus = b;
          }
          read = { kind: 'exclusive', bonus };
        } else this.err('UnknownRule', ri.rule.name.span, ['read', rn], { hint: 'reads are `inclusive` (o_t = S_tᵀ q̃_t) and `exclusive(bonus = u)` (RWKV-6)' });
      }
    }

    // Normalizer.
    let normalize: TypedSpec['normalize'] = 'none';
    const ni = one('normalize');
    if (ni) {
      if (family === 'softmax') this.err('FamilyItem', ni.keywordSpan, ['normalize', 'state-recurrent'], { hint: 'softmax specs normalise by their update rule (softmax, sigmoid, relu)' });
      else if (ni.mode.name === 'none' || ni.mode.name === 'sum' || ni.mode.name === 'maxabs') normalize = ni.mode.name;
      else this.err('UnknownRule', ni.mode.span, ['normalizer', ni.mode.name], { hint: 'normalizers are none, sum (z_t = α_t z_{t-1} + k̃) and maxabs (mLSTM)' });
    }

    // Epilogue.
    let epilogue: TExpr | undefined;
    const ei = one('epilogue');
    if (ei) {
      this.scope.outputShape = [valueDim];
      const e = this.ex.check(ei.value, this.ctx('the epilogue', { allowOutput: true }));
      if (e) {
        if (e.type !== 'real' || e.shape.length !== 1 || e.shape[0] !== valueDim) this.err('EpilogueShape', ei.value.span, [valueDim, shapeText(e.shape)]);
        else epilogue = e;
      }
    }

    // Score.
    let score: TExpr | undefined;
    const si = one('score');
    if (si) {
      if (family === 'recurrent') this.err('FamilyItem', si.keywordSpan, ['score', 'softmax'], { hint: 'add `update softmax` (or sigmoid, relu) to make this a softmax spec' });
      else {
        const s = this.ex.check(si.value, this.ctx('the score', { pair: true, mapped: true, indexVars: PAIR_VARS }));
        if (s) {
          if (s.type !== 'real' || s.shape.length !== 0) this.err('ExpectedShape', si.value.span, ['the score', 'a scalar', s.type === 'real' ? shapeText(s.shape) : 'a predicate']);
          else score = s;
        }
      }
    }

    // Direction.
    let direction: TypedSpec['direction'] = 'causal';
    const di = one('direction');
    if (di) {
      if (di.mode.name === 'causal' || di.mode.name === 'bidirectional') direction = di.mode.name;
      else this.err('UnknownRule', di.mode.span, ['direction', di.mode.name], { hint: 'directions are causal and bidirectional' });
    }

    // Mask.
    const span0 = spec.name.span;
    const mkBool = (v: boolean): TExpr => ({ op: 'const', value: v ? 1 : 0, type: 'bool', shape: [], span: span0 });
    const causalExpr: TExpr = {
      op: 'binary',
      fn: 'le',
      a: { op: 'index', name: 'j', type: 'real', shape: [], span: span0 },
      b: { op: 'index', name: 'i', type: 'real', shape: [], span: span0 },
      type: 'bool',
      shape: [],
      span: span0,
    };
    let mask: TExpr = direction === 'causal' ? causalExpr : mkBool(true);
    let maskIsCausal = direction === 'causal';
    const mi = one('mask');
    if (mi) {
      const m = this.ex.check(mi.value, this.ctx('the mask', { pair: true, mapped: false, indexVars: PAIR_VARS, maskBuiltins: true }));
      if (m) {
        if (m.type !== 'bool') this.err('MaskNotPredicate', mi.value.span, [m.type === 'int' ? 'an integer' : shapeText(m.shape)]);
        else {
          mask = m;
          maskIsCausal = isCausal(m);
          const isAll = m.op === 'const' && m.value === 1;
          if (family === 'recurrent') {
            if (direction === 'causal' && !maskIsCausal) this.err('MaskFamily', mi.value.span, [isAll ? 'a full mask needs `direction bidirectional`' : 'only `causal` (or `all` with `direction bidirectional`) is possible']);
            if (direction === 'bidirectional' && !isAll) this.err('MaskFamily', mi.value.span, ['a bidirectional state-recurrent spec sees every token: its mask is `all`']);
          }
        }
      }
    }
    if (family === 'softmax' && gate && !impliesCausal(mask)) this.err('GateNeedsCausal', mi?.value.span ?? di?.mode.span ?? gate.span);
    if (direction === 'bidirectional' && family === 'recurrent') {
      const why =
        rule.kind === 'named' && (rule.name === 'delta' || rule.name === 'dplr')
          ? `the ${rule.name} rule is order-dependent; only additive updates have a bidirectional form`
          : normalize === 'maxabs'
            ? 'the maxabs normalizer is causal only'
            : read.kind === 'exclusive'
              ? 'an exclusive read is causal only'
              : undefined;
      if (why) this.err('Bidirectional', di!.mode.span, [why]);
    }

    // Chunk.
    const chunk = this.checkChunk(one('chunk'), family);

    for (const inp of this.hasNewErrors() ? [] : this.inputs.values()) {
      if (!inp.used && !['q', 'k', 'v'].includes(inp.name)) this.err('UnusedInput', inp.span, [inp.name]);
    }

    if (this.hasNewErrors()) return this.finish(undefined);
    return this.finish({
      name: spec.name.name,
      span: spec.span,
      source: this.source,
      ast: spec,
      dims: this.dims,
      inputs: [...this.inputs.values()],
      params: [...this.params.values()],
      states: [...this.states.values()],
      family,
      features,
      keyDim,
      valueDim,
      gate,
      rule: rule,
      read,
      normalize,
      epilogue,
      score,
      mask,
      maskIsCausal,
      direction,
      chunk,
    });
  }

  private finish(t: TypedSpec | undefined): TypedSpec | undefined {
    return t;
  }

  // ── dims ──────────────────────────────────────────────────────────────────

  private checkDims(items: A.Item[]): void {
    const overrides = this.opts.dims ?? {};
    const declared = new Set<string>();
    for (const it of items) {
      if (it.kind !== 'dims') continue;
      for (const d of it.dims) {
        const n = d.name.name;
        declared.add(n);
        if (this.declare(n, d.name.span, 'dimension')) {
          let v: number | undefined;
          if (n in overrides) v = overrides[n];
          else v = this.constValue(d.value, `dimension '${n}'`);
          if (v === undefined) {
            this.poisoned.add(n);
            continue;
          }
          if (!Number.isInteger(v) || v <= 0) {
            this.err('BadDimValue', d.value.span, [n, String(v)]);
            this.poisoned.add(n);
            continue;
          }
          this.dims.set(n, v);
          this.dimSpans.set(n, d.name.span);
        }
      }
    }
    for (const n of Object.keys(overrides)) {
      // A declared dim with a bad override value was reported above.
      if (!declared.has(n)) {
        const hint = didYouMean(n, this.dims.keys());
        this.err('UnknownDim', this.spec.name.span, [n], { hint: hint ?? `spec '${this.spec.name.name}' declares: ${[...this.dims.keys()].join(', ') || 'no dims'}` });
      }
    }
  }

  /** Evaluate a constant integer/real expression over numbers and dims. */
  private constValue(e: A.Expr, what: string): number | undefined {
    const ev = (x: A.Expr): number | undefined => {
      switch (x.kind) {
        case 'Number':
          return x.value;
        case 'Name':
          if (this.dims.has(x.name)) return this.dims.get(x.name);
          if (this.poisoned.has(x.name)) return undefined;
          this.err(this.declSpans.has(x.name) ? 'NotANumber' : 'UnknownDim', x.span, this.declSpans.has(x.name) ? [`'${x.name}' in ${what}`] : [x.name]);
          return undefined;
        case 'Unary': {
          const a = ev(x.operand);
          return a === undefined ? undefined : x.op === '-' ? -a : x.op === '+' ? a : (this.err('NotANumber', x.span, [what]), undefined);
        }
        case 'Binary': {
          const a = ev(x.left);
          const b = ev(x.right);
          if (a === undefined || b === undefined) return undefined;
          switch (x.op) {
            case '+':
              return a + b;
            case '-':
              return a - b;
            case '*':
              return a * b;
            case '/':
              return a / b;
            case '^':
              return a ** b;
          }
          this.err('NotANumber', x.span, [what]);
          return undefined;
        }
        default:
          this.err('NotANumber', x.span, [what]);
          return undefined;
      }
    };
    return ev(e);
  }

  // ── declarations ────────────────────────────────────────────────────────────

  /** Register a name; false (with a diagnostic) when it is taken or reserved. */
  private declare(name: string, span: Span, what: string): boolean {
    if (name === '<missing>') return false;
    if (name in INDEX_VARS) {
      this.err('ReservedName', span, [name, `the index variable: ${INDEX_VARS[name as IndexVar]}`]);
      return false;
    }
    if (name === 'o') {
      this.err('ReservedName', span, [name, 'the attention output, in epilogues']);
      return false;
    }
    if (name in CONSTANTS) {
      this.err('ReservedName', span, [name, `the constant ${CONSTANTS[name]}`]);
      return false;
    }
    const b = BUILTIN_BY_NAME.get(name);
    if (b) {
      this.err('ReservedName', span, [name, `the built-in ${b.signature}`]);
      return false;
    }
    const prev = this.declSpans.get(name);
    if (prev) {
      this.err('DuplicateName', span, [name], { labels: [{ span: prev, message: 'first defined here' }] });
      return false;
    }
    this.declSpans.set(name, span);
    void what;
    return true;
  }

  private checkDecls(items: A.Item[]): void {
    for (const it of items) {
      if (it.kind !== 'input' && it.kind !== 'param' && it.kind !== 'state') continue;
      for (const d of it.decls) {
        if (!this.declare(d.name.name, d.name.span, it.kind)) continue;
        const n = d.name.name;
        const t = this.resolveType(d.type, it.kind);
        // A declaration that fails is reported once; its later uses stay quiet.
        const errs = this.diagnostics.length;
        const ok = t !== undefined && this.registerDecl(it.kind, n, t, d);
        if (!ok || this.diagnostics.length > errs) this.poisoned.add(n);
      }
    }
  }

  private registerDecl(kind: 'input' | 'param' | 'state', n: string, t: { shape: number[]; perHead: boolean; int: boolean }, d: A.Decl): boolean {
    if (kind === 'input') {
      if (t.perHead) {
        this.err('ExpectedShape', d.type.span, [`input '${n}'`, 'a per-token scalar or vector (inputs are [B, T, H, …] already)', 'a shape with H']);
        return false;
      }
      if (t.shape.length > 1) {
        this.err('ExpectedShape', d.type.span, [`input '${n}'`, 'a scalar or a vector per token', shapeText(t.shape)]);
        return false;
      }
      this.inputs.set(n, { name: n, type: t.int ? 'int' : 'real', shape: t.shape, span: d.name.span, used: false });
    } else if (kind === 'param') {
      if (t.int) {
        this.err('ExpectedShape', d.type.span, [`parameter '${n}'`, 'real', 'int']);
        return false;
      }
      if (t.shape.length > 2) {
        this.err('ExpectedShape', d.type.span, [`parameter '${n}'`, 'at most a matrix (per head or global)', shapeText(t.shape)]);
        return false;
      }
      this.params.set(n, { name: n, perHead: t.perHead, shape: t.shape, span: d.name.span });
    } else {
      if (t.int || t.perHead || t.shape.length === 0 || t.shape.length > 2) {
        this.err('StateShape', d.type.span, [n, 'a matrix [K, V] (or a vector)', t.int ? 'int' : shapeText(t.shape)]);
        return false;
      }
      this.states.set(n, { name: n, shape: t.shape, span: d.name.span });
    }
    return true;
  }

  private resolveType(t: A.TypeExpr, kind: 'input' | 'param' | 'state'): { shape: number[]; perHead: boolean; int: boolean } | undefined {
    if (t.kind === 'NamedType') {
      const n = t.name.name;
      if (n === 'scalar') return { shape: [], perHead: false, int: false };
      if (n === 'int') return kind === 'input' ? { shape: [], perHead: false, int: true } : (this.err('UnknownType', t.span, [n], { hint: 'only inputs can be `int` (one id per token)' }), undefined);
      if (n === '<missing>') return undefined;
      const hint = didYouMean(n, ['scalar', 'int']);
      this.err('UnknownType', t.span, [n], hint ? { hint } : {});
      return undefined;
    }
    const shape: number[] = [];
    let perHead = false;
    for (let i = 0; i < t.dims.length; i++) {
      const d = t.dims[i]!;
      if (d.kind === 'Name' && d.name === 'H') {
        if (i !== 0 || kind !== 'param') {
          this.err('BadIndex', d.span, [kind === 'param' ? 'the head dimension H can only come first: [H, …]' : `only parameters have a head dimension; ${kind}s are per head already`]);
          return undefined;
        }
        perHead = true;
        continue;
      }
      const v = this.constValue(d, 'a shape');
      if (v === undefined) return undefined;
      if (!Number.isInteger(v) || v <= 0) {
        this.err('BadDimValue', d.span, ['in this shape', String(v)]);
        return undefined;
      }
      shape.push(v);
    }
    return { shape, perHead, int: false };
  }

  private collectLets(items: A.Item[]): void {
    let order = 0;
    for (const it of items) {
      if (it.kind !== 'let') continue;
      order++;
      if (!this.declare(it.name.name, it.name.span, 'let')) continue;
      this.lets.set(it.name.name, { name: it.name.name, span: it.name.span, expr: it.value, order });
    }
    // Check every let once, so errors in unused lets are reported too.
    for (const lb of this.lets.values()) if (lb.checked === undefined) this.ex.checkLet(lb);
  }

  // ── features ────────────────────────────────────────────────────────────────

  /** Where φ_which comes from: its feature item, else the input's declaration. */
  private featureSpan(items: A.Item[], which: string): Span | undefined {
    const f = items.find((i) => i.kind === 'feature' && i.target.name === which) as Extract<A.Item, { kind: 'feature' }> | undefined;
    return f?.value.span ?? this.inputs.get(which)?.span;
  }

  private checkFeatures(items: A.Item[]): { q: TExpr; k: TExpr; v: TExpr } | undefined {
    const out: Partial<Record<'q' | 'k' | 'v', TExpr>> = {};
    const seen = new Map<string, Span>();
    for (const it of items) {
      if (it.kind !== 'feature') continue;
      const tn = it.target.name;
      if (tn !== 'q' && tn !== 'k' && tn !== 'v') {
        this.err('FeatureTarget', it.target.span, [tn]);
        continue;
      }
      const prev = seen.get(tn);
      if (prev) {
        this.err('DuplicateName', it.target.span, [`feature ${tn}`], { labels: [{ span: prev, message: 'first defined here' }] });
        continue;
      }
      seen.set(tn, it.target.span);
      const x = this.ex.check(it.value, this.ctx(`the feature map of ${tn}`));
      if (!x) continue;
      if (x.type !== 'real' || x.shape.length !== 1) {
        this.err('ExpectedShape', it.value.span, [`the feature map of ${tn}`, 'a vector', x.type === 'real' ? shapeText(x.shape) : 'a predicate']);
        continue;
      }
      out[tn] = x;
    }
    let ok = true;
    for (const w of ['q', 'k', 'v'] as const) {
      if (out[w]) continue;
      if (seen.has(w)) {
        ok = false;
        continue;
      }
      const inp = this.inputs.get(w);
      if (!inp && this.poisoned.has(w)) {
        ok = false;
        continue;
      }
      if (!inp && this.states.size > 0) {
        // State equations name their key, value and query themselves (the classifier finds them):
        // a placeholder of the state's size stands in for a missing q, k or v.
        const main = [...this.states.values()].find((st) => st.shape.length === 2);
        const n = (w === 'v' ? main?.shape[1] : main?.shape[0]) ?? 1;
        out[w] = zeros(n, this.spec.name.span);
        this.placeholders.add(w);
        continue;
      }
      if (!inp) {
        this.err('RequiredInput', this.spec.name.span, [this.spec.name.name, w], { hint: `every spec takes q, k and v: declare \`input ${w}: [${w === 'v' ? 'V' : 'K'}]\`, or define it with \`feature ${w} = …\`` });
        ok = false;
        continue;
      }
      inp.used = true;
      if (inp.type !== 'real' || inp.shape.length !== 1) {
        this.err('ExpectedShape', inp.span, [`input '${w}'`, 'a vector per token', inp.type === 'int' ? 'int' : shapeText(inp.shape)]);
        ok = false;
        continue;
      }
      out[w] = { op: 'ref', ref: { kind: 'input', name: w, at: 't' }, type: 'real', shape: inp.shape, span: inp.span };
    }
    return ok ? (out as { q: TExpr; k: TExpr; v: TExpr }) : undefined;
  }

  // ── update rule ─────────────────────────────────────────────────────────────

  private checkRule(
    update: Extract<A.Item, { kind: 'update' }> | undefined,
    output: Extract<A.Item, { kind: 'output' }> | undefined,
    family: 'recurrent' | 'softmax',
    keyDim: number,
    valueDim: number,
    kShape: Shape,
    vShape: Shape,
    spec: A.Spec,
  ): TypedRule {
    const fallback: TypedRule = { kind: 'named', name: family === 'softmax' ? 'softmax' : 'additive', args: {}, span: spec.name.span };
    if (!update) {
      if (family === 'recurrent') this.err('MissingItem', spec.name.span, [spec.name.name, 'update'], { hint: 'say how the state changes: `update additive`, `update delta(beta = …)`, `update softmax`, or an equation `update S = …`' });
      if (output) this.err('OutputItem', output.keywordSpan, ['`output` goes with state equations (`update S = …`)']);
      return fallback;
    }
    if (update.rule) {
      const rn = update.rule.name.name;
      if (output) this.err('OutputItem', output.keywordSpan, ['`output` goes with state equations; a named rule reads its output with `read`']);
      if (!(rn in RULE_ARGS)) {
        const hint = didYouMean(rn, Object.keys(RULE_ARGS));
        this.err('UnknownRule', update.rule.name.span, ['update rule', rn], { hint: hint ?? 'rules: additive, delta(beta), dplr(a, b), softmax, sigmoid, relu, or an equation `S = …`' });
        return fallback;
      }
      const name = rn as RuleName;
      const spec = RULE_ARGS[name];
      const args: Record<string, TExpr> = {};
      const given = new Map<string, Span>();
      for (const a of update.rule.args ?? []) {
        if (!a.name) {
          this.err('UnknownRuleArg', a.span, [name, '(positional)'], { hint: spec.required.length + spec.optional.length ? `name the argument: ${name}(${[...spec.required, ...spec.optional].map((x) => `${x} = …`).join(', ')})` : `${name} takes no arguments` });
          continue;
        }
        const an = a.name.name;
        if (!spec.required.includes(an) && !spec.optional.includes(an)) {
          const hint = didYouMean(an, [...spec.required, ...spec.optional]);
          this.err('UnknownRuleArg', a.name.span, [name, an], hint ? { hint } : {});
          continue;
        }
        if (given.has(an)) {
          this.err('DuplicateArg', a.name.span, [an], { labels: [{ span: given.get(an)!, message: 'first given here' }] });
          continue;
        }
        given.set(an, a.name.span);
        const x = this.ex.check(a.value, this.ctx(`'${an}'`));
        if (!x) continue;
        const wantVector = name === 'dplr';
        if (x.type !== 'real') this.err('TypeMismatch', a.value.span, [`'${an}' must be a number, found a predicate`]);
        else if (wantVector ? !(x.shape.length === 1 && x.shape[0] === keyDim) : x.shape.length !== 0) {
          this.err('ExpectedShape', a.value.span, [`'${an}'`, wantVector ? `a vector over the key features [${keyDim}]` : 'a scalar per token', shapeText(x.shape)]);
        } else args[an] = x;
      }
      for (const r of spec.required) if (!given.has(r)) this.err('MissingRuleArg', update.rule.span, [name, r], { hint: `write ${name}(${spec.required.map((x) => `${x} = …`).join(', ')})` });
      return { kind: 'named', name, args, span: update.rule.span };
    }

    // State equations.
    if (family === 'softmax') {
      this.err('FamilyItem', update.keywordSpan, ['state equations', 'state-recurrent']);
      return fallback;
    }
    const equations: { target: string; value: TExpr; span: Span }[] = [];
    const seen = new Map<string, Span>();
    for (const eq of update.equations) {
      const tn = eq.target.name;
      const st = this.states.get(tn);
      if (!st) {
        // A state whose declaration failed was reported there.
        if (!this.poisoned.has(tn)) this.err('UpdateUndeclared', eq.target.span, [tn]);
        this.poisoned.add(tn);
        continue;
      }
      if (seen.has(tn)) {
        this.err('DuplicateName', eq.target.span, [`the update of ${tn}`], { labels: [{ span: seen.get(tn)!, message: 'first here' }] });
        continue;
      }
      seen.set(tn, eq.target.span);
      const x = this.ex.check(eq.value, this.ctx(`the update of ${tn}`, { mapped: true, allowStates: true }));
      if (!x) continue;
      if (x.type !== 'real' || x.shape.length !== st.shape.length || x.shape.some((d, i) => d !== st.shape[i])) {
        this.err('StateShape', eq.value.span, [tn, shapeText(st.shape), x.type === 'real' ? shapeText(x.shape) : 'a predicate']);
        continue;
      }
      equations.push({ target: tn, value: x, span: eq.span });
    }
    for (const st of this.states.values()) if (!seen.has(st.name)) this.err('StateWithoutUpdate', st.span, [st.name]);
    const main = [...this.states.values()].find((s) => s.shape.length === 2);
    if (main && (main.shape[0] !== keyDim || main.shape[1] !== valueDim)) {
      this.err('StateShape', main.span, [main.name, `[${keyDim}, ${valueDim}] (key features × values: φ_k gives ${shapeText(kShape)}, φ_v ${shapeText(vShape)})`, shapeText(main.shape)]);
    }
    let outputExpr: TExpr | undefined;
    if (!output) {
      this.err('MissingItem', update.keywordSpan, [spec.name.name, 'output'], { hint: 'state equations need an output equation, e.g. `output o = Sᵀ @ q`' });
    } else {
      const x = this.ex.check(output.value, this.ctx('the output', { mapped: true, allowStates: true }));
      if (x) {
        if (x.type !== 'real' || x.shape.length !== 1 || x.shape[0] !== valueDim) this.err('ExpectedShape', output.value.span, ['the output', `a vector [${valueDim}]`, x.type === 'real' ? shapeText(x.shape) : 'a predicate']);
        else outputExpr = x;
      }
    }
    return { kind: 'equations', equations, output: outputExpr, outputSpan: output?.value.span, span: update.span };
  }

  // ── chunk ───────────────────────────────────────────────────────────────────

  private checkChunk(item: Extract<A.Item, { kind: 'chunk' }> | undefined, family: 'recurrent' | 'softmax'): ChunkSpec {
    if (!item) return { kind: 'auto' };
    const sizes = item.sizes;
    const vals: number[] = [];
    for (const s of sizes) {
      if (s.kind === 'Auto') {
        if (sizes.length > 1) this.err('ChunkSize', s.span, ['auto', 'write `chunk auto` alone']);
        continue;
      }
      if (!Number.isFinite(s.value)) {
        this.err('ChunkSize', s.span, [s.text, "write an integer or 'auto'"]);
        continue;
      }
      if (!Number.isInteger(s.value) || s.value < 16 || s.value > 256 || s.value % 16 !== 0) {
        this.err('ChunkSize', s.span, [s.text, 'sizes are multiples of 16 from 16 to 256'], { hint: 'common choices: 32, 64, 128' });
        continue;
      }
      vals.push(s.value);
    }
    if (sizes.length === 1 && sizes[0]!.kind === 'Auto') return { kind: 'auto' };
    if (sizes.length === 2) {
      if (family === 'recurrent') {
        this.err('ChunkTiles', item.span);
        return { kind: 'auto' };
      }
      if (vals.length === 2) return { kind: 'tiles', q: vals[0]!, k: vals[1]! };
      return { kind: 'auto' };
    }
    if (vals.length === 1) return family === 'softmax' ? { kind: 'tiles', q: vals[0]!, k: vals[0]! } : { kind: 'size', size: vals[0]! };
    return { kind: 'auto' };
  }
}

function zeros(n: number, span: Span): TExpr {
  const z: TExpr = { op: 'const', value: 0, type: 'real', shape: [], span };
  return { op: 'concat', parts: Array.from({ length: n }, () => z), type: 'real', shape: [n], span };
}

/** True when the mask is causal or a conjunction with a causal part (it never admits j > i). */
export function impliesCausal(m: TExpr): boolean {
  if (isCausal(m)) return true;
  return m.op === 'binary' && m.fn === 'and' && (impliesCausal(m.a) || impliesCausal(m.b));
}

/** The mask j ≤ i (or i ≥ j), as written by `causal`. */
export function isCausal(m: TExpr): boolean {
  if (m.op !== 'binary') return false;
  const isIdx = (e: TExpr, n: string) => e.op === 'index' && e.name === n;
  if (m.fn === 'le') return isIdx(m.a, 'j') && isIdx(m.b, 'i');
  if (m.fn === 'ge') return isIdx(m.a, 'i') && isIdx(m.b, 'j');
  return false;
}

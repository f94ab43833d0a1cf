/**
 * Type and shape checking of expressions: AST expression → typed expression (TExpr), with
 * diagnostics. Shapes broadcast along *leading* axes: a vector [n] times a matrix [n, m] scales
 * its rows (diag(x) M), which is how the state-update notation `exp(g) * S` reads.
 */
import type * as A from '../../dsl/ast.ts';
import { diag, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { MessageId } from '../diagnostics/catalogue.ts';
import type { SourceFile, Span } from '../diagnostics/source.ts';
import { didYouMean } from '../diagnostics/suggest.ts';
import { sameShape, shapeText, type BinaryFn, type IndexVar, type Shape, type TExpr, type ValueKind } from '../ir/expr.ts';
import { BUILTIN_BY_NAME, CONSTANTS, INDEX_VARS, UNARY_BUILTINS } from './builtins.ts';
import type { InputInfo, ParamInfo, StateInfo } from './typed-spec.ts';

export interface ExprContext {
  /** How the place reads in messages: "the gate", "a feature map", "the mask". */
  where: string;
  indexVars: ReadonlySet<IndexVar>;
  /** Scores and masks relate two tokens: per-token inputs need [i] or [j]. */
  pair: boolean;
  /** q, k, v denote the feature-mapped q̃, k̃, ṽ (scores and state equations). */
  mapped: boolean;
  allowOutput: boolean;
  allowStates: boolean;
  /** Mask built-ins (causal, window(n), …) are available. */
  maskBuiltins: boolean;
}

export interface LetBinding {
  name: string;
  span: Span;
  expr: A.Expr;
  /** Checked on first use; `checking` detects self-reference. */
  checked?: TExpr | null;
  checking?: boolean;
  /** Position of the let item; a let may only use lets defined before it. */
  order: number;
}

/** What names resolve to; filled by the spec checker. */
export interface Scope {
  dims: ReadonlyMap<string, number>;
  inputs: ReadonlyMap<string, InputInfo>;
  params: ReadonlyMap<string, ParamInfo>;
  states: ReadonlyMap<string, StateInfo>;
  lets: ReadonlyMap<string, LetBinding>;
  /** Shapes of the feature-mapped q̃, k̃, ṽ (when known). */
  featureShapes: { q?: Shape; k?: Shape; v?: Shape };
  outputShape: Shape | undefined;
  /** Names whose declaration failed: uses are silent (the declaration was reported). */
  poisoned: ReadonlySet<string>;
}

const CMP: Record<string, BinaryFn> = { '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne' };
const ARITH: Record<string, BinaryFn> = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '^': 'pow' };

export class ExprChecker {
  constructor(
    private scope: Scope,
    private diagnostics: Diagnostic[],
    private source: SourceFile | undefined,
  ) {}

  private err(id: MessageId, span: Span, args: (string | number)[] = [], opts: { hint?: string; label?: string; labels?: { span: Span; message: string }[] } = {}): null {
    this.diagnostics.push(diag(id, span, args, { ...opts, ...(this.source ? { source: this.source } : {}) }));
    return null;
  }

  /** Check an expression; null when it had an error (already reported). */
  check(e: A.Expr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    switch (e.kind) {
      case 'Number':
        if (!Number.isFinite(e.value)) return this.err('InvalidNumber', e.span, [e.text]);
        return { op: 'const', value: e.value, type: 'real', shape: [], span: e.span };
      case 'Name':
        return this.name(e, ctx, currentLet);
      case 'Unary':
        return this.unary(e, ctx, currentLet);
      case 'Binary':
        return this.binary(e, ctx, currentLet);
      case 'Call':
        return this.call(e, ctx, currentLet);
      case 'Index':
        return this.index(e, ctx, currentLet);
      case 'Transpose': {
        const a = this.check(e.operand, ctx, currentLet);
        if (!a || !this.real(a, 'ᵀ')) return null;
        if (a.shape.length < 2) return a;
        return { op: 'transpose', a, type: 'real', shape: [a.shape[1]!, a.shape[0]!], span: e.span };
      }
      case 'Vector': {
        const parts: TExpr[] = [];
        for (const el of e.elements) {
          const p = this.check(el, ctx, currentLet);
          if (!p) return null;
          if (!this.real(p, '[…]')) return null;
          if (p.shape.length > 1) return this.err('ExpectedShape', el.span, ['an element of a vector', 'a scalar or a vector', shapeText(p.shape)]);
          parts.push(p);
        }
        const n = parts.reduce((s, p) => s + (p.shape[0] ?? 1), 0);
        return { op: 'concat', parts, type: 'real', shape: [n], span: e.span };
      }
    }
  }

  private real(x: TExpr, what: string): boolean {
    if (x.type === 'real') return true;
    if (x.type === 'int') this.err('IntUse', x.span, [what === '' ? '?' : nameOf(x)]);
    else this.err('TypeMismatch', x.span, [`'${what}' needs a number, found a predicate`]);
    return false;
  }

  private name(e: A.NameExpr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const n = e.name;
    const s = this.scope;
    if (n === '<missing>' || s.poisoned.has(n)) return null;
    if (ctx.allowStates && s.states.has(n)) {
      const st = s.states.get(n)!;
      return { op: 'ref', ref: { kind: 'state', name: n }, type: 'real', shape: st.shape, span: e.span };
    }
    if (ctx.allowOutput && n === 'o' && s.outputShape && !s.lets.has('o') && !s.inputs.has('o')) {
      return { op: 'ref', ref: { kind: 'output' }, type: 'real', shape: s.outputShape, span: e.span };
    }
    const lb = s.lets.get(n);
    if (lb) return this.useLet(lb, e.span, ctx, currentLet);
    const inp = s.inputs.get(n);
    if (inp || (ctx.mapped && (n === 'q' || n === 'k' || n === 'v') && s.featureShapes[n])) {
      if (ctx.mapped && (n === 'q' || n === 'k' || n === 'v')) {
        const at = ctx.pair ? (n === 'q' ? 'i' : 'j') : 't';
        const shape = s.featureShapes[n] ?? inp!.shape;
        return { op: 'ref', ref: { kind: 'feature', which: n, at }, type: 'real', shape, span: e.span };
      }
      if (!inp) return this.err('UnknownName', e.span, [n]);
      inp.used = true;
      if (ctx.pair) return this.err('TokenNeedsIndex', e.span, [n, ctx.where]);
      return { op: 'ref', ref: { kind: 'input', name: n, at: 't' }, type: inp.type, shape: inp.shape, span: e.span };
    }
    const p = s.params.get(n);
    if (p) {
      if (p.perHead) return this.err('HeadIndexNeeded', e.span, [n]);
      return { op: 'ref', ref: { kind: 'param', name: n }, type: 'real', shape: p.shape, span: e.span };
    }
    if (s.dims.has(n)) return { op: 'const', value: s.dims.get(n)!, type: 'real', shape: [], span: e.span };
    if (n in INDEX_VARS) {
      const v = n as IndexVar;
      if (!ctx.indexVars.has(v)) {
        const allowed = [...ctx.indexVars].join(', ');
        return this.err('IndexVarNotAllowed', e.span, [n, ctx.where], { hint: allowed ? `${ctx.where} may use: ${allowed}` : `${ctx.where} may not depend on positions or heads` });
      }
      return { op: 'index', name: v, type: 'real', shape: [], span: e.span };
    }
    if (n in CONSTANTS) return { op: 'const', value: CONSTANTS[n]!, type: 'real', shape: [], span: e.span };
    const b = BUILTIN_BY_NAME.get(n);
    if (b && b.category === 'mask' && b.arity[1] === 0) {
      if (!ctx.maskBuiltins) return this.err('TypeMismatch', e.span, [`'${n}' is a mask and can only be used in \`mask\``]);
      return this.maskBuiltin(n, [], e.span, ctx);
    }
    if (b) return this.err('TypeMismatch', e.span, [`'${n}' is a function; call it: ${b.signature}`]);
    const candidates = [...s.lets.keys(), ...s.inputs.keys(), ...s.params.keys(), ...s.dims.keys(), ...s.states.keys(), ...ctx.indexVars];
    const hint = didYouMean(n, candidates);
    return this.err('UnknownName', e.span, [n], hint ? { hint } : {});
  }

  private useLet(lb: LetBinding, span: Span, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    if (lb.checking || (currentLet && lb.order >= currentLet.order)) {
      return this.err('RecursiveLet', span, [lb.name], { labels: [{ span: lb.span, message: 'defined here' }] });
    }
    if (lb.checked === undefined) this.checkLet(lb);
    const x = lb.checked;
    if (!x) return null;
    if (ctx.pair && dependsOnToken(x)) {
      return this.err('TypeMismatch', span, [`'${lb.name}' depends on the current token, which ${ctx.where} does not have`], {
        hint: 'scores and masks relate a query i to a key j: index per-token inputs by i or j there',
      });
    }
    return x;
  }

  /** Check a let once: a per-token definition over the raw inputs, checked in that context. */
  checkLet(lb: LetBinding): void {
    lb.checking = true;
    lb.checked = this.check(lb.expr, letContext(), lb);
    lb.checking = false;
    // Lets are expanded where they are used, so chained lets add up their depths.
    if (lb.checked && typedDepth(lb.checked) > MAX_TYPED_DEPTH) {
      this.err('NestingTooDeep', lb.span, [], { hint: `'${lb.name}' expands, with the lets it uses, to more than ${MAX_TYPED_DEPTH} levels` });
      lb.checked = null;
    }
  }

  private unary(e: A.UnaryExpr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const a = this.check(e.operand, ctx, currentLet);
    if (!a) return null;
    if (e.op === '+') return this.real(a, '+') ? a : null;
    if (e.op === '-') {
      if (!this.real(a, '-')) return null;
      if (a.op === 'const') return { ...a, value: -a.value, span: e.span };
      return { op: 'unary', fn: 'neg', a, type: 'real', shape: a.shape, span: e.span };
    }
    if (a.type !== 'bool') return this.err('TypeMismatch', e.span, [`'!' needs a predicate, found ${describe(a)}`]);
    return { op: 'unary', fn: 'not', a, type: 'bool', shape: [], span: e.span };
  }

  /** Leading-axis broadcasting of two real shapes; undefined when they do not match. */
  broadcast(a: Shape, b: Shape): Shape | undefined {
    if (sameShape(a, b)) return a;
    if (a.length === 0) return b;
    if (b.length === 0) return a;
    if (a.length === 1 && b.length === 2 && a[0] === b[0]) return b;
    if (b.length === 1 && a.length === 2 && b[0] === a[0]) return a;
    return undefined;
  }

  private binary(e: A.BinaryExpr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const a = this.check(e.left, ctx, currentLet);
    const b = this.check(e.right, ctx, currentLet);
    if (!a || !b) return null;
    const op = e.op;
    if (op === '&' || op === '|') {
      for (const x of [a, b]) if (x.type !== 'bool') return this.err('TypeMismatch', x.span, [`'${op}' combines predicates, found ${describe(x)}`]);
      return { op: 'binary', fn: op === '&' ? 'and' : 'or', a, b, type: 'bool', shape: [], span: e.span };
    }
    if (op in CMP) {
      for (const x of [a, b]) {
        if (x.type === 'bool') return this.err('TypeMismatch', x.span, [`'${op}' compares numbers, found a predicate`]);
        if (x.shape.length !== 0) return this.err('ExpectedShape', x.span, [`an operand of '${op}'`, 'a scalar', shapeText(x.shape)]);
      }
      if ((a.type === 'int') !== (b.type === 'int') && (op === '==' || op === '!=')) {
        // comparing an int input with a real is allowed (doc[i] == 0), nothing to do
      }
      return { op: 'binary', fn: CMP[op]!, a, b, type: 'bool', shape: [], span: e.span };
    }
    for (const x of [a, b]) if (!this.real(x, op)) return null;
    if (op === '@') return this.matmul(a, b, e.span);
    if (op === '⊗') {
      if (a.shape.length !== 1 || b.shape.length !== 1) {
        const bad = a.shape.length !== 1 ? a : b;
        return this.err('ExpectedShape', bad.span, ["an operand of '⊗'", 'a vector', shapeText(bad.shape)]);
      }
      return { op: 'outer', a, b, type: 'real', shape: [a.shape[0]!, b.shape[0]!], span: e.span };
    }
    const fn = ARITH[op]!;
    if (fn === 'pow' && b.shape.length !== 0) return this.err('ExpectedShape', b.span, ['an exponent', 'a scalar', shapeText(b.shape)]);
    const shape = this.broadcast(a.shape, b.shape);
    if (!shape) {
      return this.err('ShapeMismatch', e.span, [op, shapeText(a.shape), shapeText(b.shape)], {
        labels: [
          { span: a.span, message: `this is ${shapeText(a.shape)}` },
          { span: b.span, message: `this is ${shapeText(b.shape)}` },
        ],
        hint: 'elementwise operands must have one shape, or one must be a scalar; a vector [n] scales the rows of an [n, m] matrix; use diag(x) or @ for other products',
      });
    }
    if (a.op === 'const' && b.op === 'const') {
      const v = fold(fn, a.value, b.value);
      if (Number.isFinite(v)) return { op: 'const', value: v, type: 'real', shape: [], span: e.span };
    }
    return { op: 'binary', fn, a, b, type: 'real', shape, span: e.span };
  }

  private matmul(a: TExpr, b: TExpr, span: Span): TExpr | null {
    const sa = a.shape;
    const sb = b.shape;
    if (sa.length === 0 || sb.length === 0) {
      const shape = sa.length === 0 ? sb : sa;
      return { op: 'binary', fn: 'mul', a, b, type: 'real', shape, span };
    }
    const inner = (sa.length === 2 ? sa[1] : sa[0])!;
    if (inner !== sb[0]) {
      return this.err('ShapeMismatch', span, ['@', shapeText(sa), shapeText(sb)], {
        labels: [
          { span: a.span, message: `this is ${shapeText(sa)}` },
          { span: b.span, message: `this is ${shapeText(sb)}` },
        ],
        hint: 'a product A @ B needs the last dimension of A to equal the first of B (write Sᵀ @ q to read a [K, V] state with q: [K])',
      });
    }
    if (sa.length === 1 && sb.length === 1) return { op: 'dot', a, b, type: 'real', shape: [], span };
    const shape: number[] = [];
    if (sa.length === 2) shape.push(sa[0]!);
    if (sb.length === 2) shape.push(sb[1]!);
    return { op: 'matmul', a, b, type: 'real', shape, span };
  }

  private index(e: A.IndexExpr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const s = this.scope;
    if (e.target.kind === 'Name') {
      const n = e.target.name;
      const p = s.params.get(n);
      if (p && !s.lets.has(n)) {
        if (!p.perHead) return this.err('BadIndex', e.span, [`'${n}' has no head dimension; only per-head parameters ([H, …]) are indexed, by h`]);
        if (e.indices.length !== 1) return this.err('BadIndex', e.span, [`'${n}' takes one index (the head), found ${e.indices.length}`]);
        const idx = this.check(e.indices[0]!, ctx, currentLet);
        if (!idx) return null;
        if (!(idx.op === 'index' && idx.name === 'h')) return this.err('BadIndex', idx.span, [`a per-head parameter is indexed by the head 'h'`]);
        // The ref stands for the whole [H, …] tensor; its shape is the per-head slice that `get` returns.
        const ref: TExpr = { op: 'ref', ref: { kind: 'param', name: n }, type: 'real', shape: p.shape, span: e.target.span };
        return { op: 'get', a: ref, index: idx, type: 'real', shape: p.shape, span: e.span };
      }
      const inp = s.inputs.get(n);
      if (inp && !s.lets.has(n) && !(ctx.mapped && (n === 'q' || n === 'k' || n === 'v'))) {
        if (!ctx.pair) return this.err('BadIndex', e.span, [`per-token inputs are indexed only in scores and masks (by i or j); here '${n}' already means the current token's value`]);
        if (e.indices.length !== 1 || e.indices[0]!.kind !== 'Name' || (e.indices[0].name !== 'i' && e.indices[0].name !== 'j')) {
          return this.err('BadIndex', e.span, [`'${n}' must be indexed by i (the query's token) or j (the key's token)`]);
        }
        inp.used = true;
        const at = e.indices[0].name as 'i' | 'j';
        return { op: 'ref', ref: { kind: 'input', name: n, at }, type: inp.type, shape: inp.shape, span: e.span };
      }
    }
    this.check(e.target, ctx, currentLet);
    return this.err('BadIndex', e.span, ['only per-head parameters (p[h]) and, in scores and masks, per-token inputs (x[i], x[j]) can be indexed']);
  }

  private call(e: A.CallExpr, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const n = e.callee.name;
    const b = BUILTIN_BY_NAME.get(n);
    if (!b) {
      const hint = didYouMean(n, BUILTIN_BY_NAME.keys());
      return this.err('UnknownFunction', e.callee.span, [n], hint ? { hint } : {});
    }
    const positional = e.args.filter((a) => !a.name);
    const named = e.args.filter((a) => a.name);
    const [lo, hi] = b.arity;
    if (positional.length < lo || positional.length > hi) {
      const want = lo === hi ? `${lo} argument${lo === 1 ? '' : 's'}` : `${lo} to ${hi} arguments`;
      return this.err('ArgCount', e.span, [n, want, positional.length]);
    }
    const namedVals: Record<string, number> = { ...(b.named ?? {}) };
    for (const a of named) {
      const an = a.name!.name;
      if (!b.named || !(an in b.named)) {
        if (!b.named) return this.err('NamedArgs', a.span, [n]);
        return this.err('UnknownRuleArg', a.name!.span, [n, an]);
      }
      if (a.value.kind !== 'Number' && !(a.value.kind === 'Unary' && a.value.operand.kind === 'Number')) {
        return this.err('NotANumber', a.value.span, [`'${an}'`]);
      }
      namedVals[an] = a.value.kind === 'Number' ? a.value.value : -(a.value.operand as A.NumberExpr).value;
      if (an === 'eps' && !(namedVals[an]! > 0)) return this.err('BadArgValue', a.value.span, [`'eps' must be positive, found ${namedVals[an]}`]);
    }
    if (b.category === 'mask') {
      if (!ctx.maskBuiltins) return this.err('TypeMismatch', e.span, [`'${n}' is a mask and can only be used in \`mask\``]);
      return this.maskBuiltin(n, positional.map((a) => a.value), e.span, ctx, currentLet);
    }
    const args: TExpr[] = [];
    for (const a of positional) {
      const x = this.check(a.value, ctx, currentLet);
      if (!x) return null;
      args.push(x);
    }
    if (n !== 'where') for (const x of args) if (!this.real(x, n)) return null;
    const span = e.span;
    const unaryFn = UNARY_BUILTINS[n];
    if (unaryFn) {
      const a = args[0]!;
      return { op: 'unary', fn: unaryFn, a, type: 'real', shape: a.shape, span };
    }
    switch (n) {
      case 'min':
      case 'max': {
        if (args.length === 1) {
          const a = args[0]!;
          if (a.shape.length !== 1) return this.err('ExpectedShape', a.span, [`the argument of ${n}(x)`, 'a vector', shapeText(a.shape)]);
          return { op: 'reduce', fn: n, a, type: 'real', shape: [], span };
        }
        const [a, c] = args as [TExpr, TExpr];
        const shape = this.broadcast(a.shape, c.shape);
        if (!shape) return this.err('ShapeMismatch', span, [n, shapeText(a.shape), shapeText(c.shape)]);
        return { op: 'binary', fn: n, a, b: c, type: 'real', shape, span };
      }
      case 'clamp': {
        const [x, l, h] = args as [TExpr, TExpr, TExpr];
        for (const y of [l, h]) if (y.shape.length) return this.err('ExpectedShape', y.span, ['a clamp bound', 'a scalar', shapeText(y.shape)]);
        const inner: TExpr = { op: 'binary', fn: 'max', a: x, b: l, type: 'real', shape: x.shape, span };
        return { op: 'binary', fn: 'min', a: inner, b: h, type: 'real', shape: x.shape, span };
      }
      case 'where': {
        const [c, x, y] = args as [TExpr, TExpr, TExpr];
        if (c.type !== 'bool') return this.err('TypeMismatch', c.span, [`the condition of where(…) must be a predicate, found ${describe(c)}`]);
        for (const z of [x, y]) if (!this.real(z, 'where')) return null;
        const shape = this.broadcast(x.shape, y.shape);
        if (!shape) return this.err('ShapeMismatch', span, ['where', shapeText(x.shape), shapeText(y.shape)]);
        return { op: 'select', cond: c, a: x, b: y, type: 'real', shape, span };
      }
      case 'sum':
      case 'mean':
      case 'norm': {
        const a = args[0]!;
        if (a.shape.length !== 1) return this.err('ExpectedShape', a.span, [`the argument of ${n}(x)`, 'a vector', shapeText(a.shape)]);
        if (n === 'norm') {
          const sq: TExpr = { op: 'dot', a, b: a, type: 'real', shape: [], span };
          return { op: 'unary', fn: 'sqrt', a: sq, type: 'real', shape: [], span };
        }
        return { op: 'reduce', fn: n, a, type: 'real', shape: [], span };
      }
      case 'dot': {
        const [a, c] = args as [TExpr, TExpr];
        if (a.shape.length !== 1 || c.shape.length !== 1 || a.shape[0] !== c.shape[0]) {
          return this.err('ShapeMismatch', span, ['dot', shapeText(a.shape), shapeText(c.shape)], { hint: 'dot(a, b) takes two vectors of one length' });
        }
        return { op: 'dot', a, b: c, type: 'real', shape: [], span };
      }
      case 'l2norm':
      case 'rmsnorm':
      case 'layernorm':
      case 'softmax': {
        const a = args[0]!;
        if (a.shape.length !== 1) return this.err('ExpectedShape', a.span, [`the argument of ${n}(x)`, 'a vector', shapeText(a.shape)]);
        return { op: 'vecfn', fn: n, a, eps: namedVals['eps'] ?? 0, type: 'real', shape: a.shape, span };
      }
      case 'outer': {
        const [a, c] = args as [TExpr, TExpr];
        if (a.shape.length !== 1 || c.shape.length !== 1) return this.err('ExpectedShape', span, ['the arguments of outer(a, b)', 'vectors', `${shapeText(a.shape)} and ${shapeText(c.shape)}`]);
        return { op: 'outer', a, b: c, type: 'real', shape: [a.shape[0]!, c.shape[0]!], span };
      }
      case 'flatten': {
        const a = args[0]!;
        if (a.shape.length !== 2) return this.err('ExpectedShape', a.span, ['the argument of flatten(M)', 'a matrix', shapeText(a.shape)]);
        return { op: 'flatten', a, type: 'real', shape: [a.shape[0]! * a.shape[1]!], span };
      }
      case 'diag': {
        const a = args[0]!;
        if (a.shape.length !== 1) return this.err('ExpectedShape', a.span, ['the argument of diag(x)', 'a vector', shapeText(a.shape)]);
        return { op: 'diag', a, type: 'real', shape: [a.shape[0]!, a.shape[0]!], span };
      }
      case 'transpose': {
        const a = args[0]!;
        if (a.shape.length < 2) return a;
        return { op: 'transpose', a, type: 'real', shape: [a.shape[1]!, a.shape[0]!], span };
      }
      case 'taylor2': {
        const x = args[0]!;
        if (x.shape.length !== 1) return this.err('ExpectedShape', x.span, ['the argument of taylor2(x)', 'a vector', shapeText(x.shape)]);
        const d = x.shape[0]!;
        const one: TExpr = { op: 'const', value: 1, type: 'real', shape: [], span };
        const outer: TExpr = { op: 'outer', a: x, b: x, type: 'real', shape: [d, d], span };
        const flat: TExpr = { op: 'flatten', a: outer, type: 'real', shape: [d * d], span };
        const scaled: TExpr = { op: 'binary', fn: 'mul', a: flat, b: { op: 'const', value: Math.SQRT1_2, type: 'real', shape: [], span }, type: 'real', shape: [d * d], span };
        return { op: 'concat', parts: [one, x, scaled], type: 'real', shape: [1 + d + d * d], span };
      }
      case 'alibi_slope': {
        const h = args[0]!;
        if (h.shape.length) return this.err('ExpectedShape', h.span, ['the argument of alibi_slope(h)', 'a scalar', shapeText(h.shape)]);
        if (!ctx.indexVars.has('H')) return this.err('IndexVarNotAllowed', span, ['H', ctx.where]);
        // 2^(-8 (h + 1) / H)
        const c = (v: number): TExpr => ({ op: 'const', value: v, type: 'real', shape: [], span });
        const H: TExpr = { op: 'index', name: 'H', type: 'real', shape: [], span };
        const hp1: TExpr = { op: 'binary', fn: 'add', a: h, b: c(1), type: 'real', shape: [], span };
        const num: TExpr = { op: 'binary', fn: 'mul', a: c(-8), b: hp1, type: 'real', shape: [], span };
        const ex: TExpr = { op: 'binary', fn: 'div', a: num, b: H, type: 'real', shape: [], span };
        return { op: 'unary', fn: 'exp2', a: ex, type: 'real', shape: [], span };
      }
    }
    return this.err('UnknownFunction', e.callee.span, [n]);
  }

  /** Mask built-ins expand to predicates over i and j (the IR keeps them as plain predicates). */
  private maskBuiltin(n: string, args: A.Expr[], span: Span, ctx: ExprContext, currentLet?: LetBinding): TExpr | null {
    const iv = (x: IndexVar): TExpr => ({ op: 'index', name: x, type: 'real', shape: [], span });
    const bin = (fn: BinaryFn, a: TExpr, b: TExpr): TExpr => ({
      op: 'binary',
      fn,
      a,
      b,
      type: ['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'].includes(fn) ? 'bool' : 'real',
      shape: [],
      span,
    });
    const num = (a: A.Expr | undefined): TExpr | null => {
      if (!a) return null;
      const x = this.check(a, { ...ctx, pair: false, maskBuiltins: false, indexVars: new Set(['h', 'H', 'T']) }, currentLet);
      if (!x) return null;
      if (x.type !== 'real' || x.shape.length !== 0) return this.err('ExpectedShape', a.span, [`the argument of ${n}(n)`, 'a scalar', describe(x)]);
      return x;
    };
    switch (n) {
      case 'all':
      case 'none':
        return { op: 'const', value: 1, type: 'bool', shape: [], span };
      case 'causal':
        return bin('le', iv('j'), iv('i'));
      case 'window': {
        const w = num(args[0]);
        return w && bin('lt', bin('sub', iv('i'), iv('j')), w);
      }
      case 'sink': {
        const w = num(args[0]);
        return w && bin('lt', iv('j'), w);
      }
      case 'prefix': {
        const w = num(args[0]);
        return w && bin('or', bin('lt', iv('j'), w), bin('le', iv('j'), iv('i')));
      }
      case 'block_causal': {
        const w = num(args[0]);
        if (!w) return null;
        const fl = (x: TExpr): TExpr => ({ op: 'unary', fn: 'floor', a: bin('div', x, w), type: 'real', shape: [], span });
        return bin('le', fl(iv('j')), fl(iv('i')));
      }
      case 'segment': {
        const a = args[0];
        if (!a || a.kind !== 'Name' || !this.scope.inputs.has(a.name)) {
          return this.err('BadIndex', a?.span ?? span, ['segment(ids) takes the name of an `int` input holding one id per token']);
        }
        const inp = this.scope.inputs.get(a.name)!;
        if (inp.type !== 'int') return this.err('TypeMismatch', a.span, [`segment(ids) needs an \`int\` input; '${a.name}' is real`]);
        inp.used = true;
        const at = (x: 'i' | 'j'): TExpr => ({ op: 'ref', ref: { kind: 'input', name: a.name, at: x }, type: 'int', shape: [], span: a.span });
        return bin('eq', at('i'), at('j'));
      }
    }
    return this.err('UnknownFunction', span, [n]);
  }
}

export function letContext(): ExprContext {
  return {
    where: 'a let',
    indexVars: new Set(['t', 'h', 'T', 'H']),
    pair: false,
    mapped: false,
    allowOutput: false,
    allowStates: false,
    maskBuiltins: false,
  };
}

/** True when the value changes from token to token (reads a per-token input or t). */
export function dependsOnToken(x: TExpr): boolean {
  let dep = false;
  const visit = (e: TExpr) => {
    if (dep) return;
    if (e.op === 'ref' && (e.ref.kind === 'input' || e.ref.kind === 'feature') && e.ref.at === 't') dep = true;
    if (e.op === 'index' && e.name === 't') dep = true;
    for (const c of childrenOf(e)) visit(c);
  };
  visit(x);
  return dep;
}

/** The deepest typed expression (lets expanded) that the checker accepts; later stages recurse this deep. */
export const MAX_TYPED_DEPTH = 1024;

const depths = new WeakMap<TExpr, number>();
/** Depth of a typed expression (a DAG: lets are shared), without recursion. */
export function typedDepth(root: TExpr): number {
  const stack: TExpr[] = [root];
  while (stack.length) {
    const e = stack[stack.length - 1]!;
    if (depths.has(e)) {
      stack.pop();
      continue;
    }
    const kids = childrenOf(e);
    const pending = kids.filter((k) => !depths.has(k));
    if (pending.length) {
      stack.push(...pending);
      continue;
    }
    depths.set(e, 1 + Math.max(0, ...kids.map((k) => depths.get(k)!)));
    stack.pop();
  }
  return depths.get(root)!;
}

function childrenOf(e: TExpr): TExpr[] {
  switch (e.op) {
    case 'const':
    case 'ref':
    case 'index':
      return [];
    case 'concat':
      return e.parts;
    case 'select':
      return [e.cond, e.a, e.b];
    case 'get':
      return [e.a, e.index];
    case 'binary':
    case 'dot':
    case 'matmul':
    case 'outer':
      return [e.a, e.b];
    default:
      return [e.a];
  }
}

function fold(fn: BinaryFn, a: number, b: number): number {
  switch (fn) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'pow':
      return a ** b;
    default:
      return NaN;
  }
}

function describe(x: TExpr): string {
  if (x.type === 'bool') return 'a predicate';
  if (x.type === 'int') return 'an integer';
  return shapeText(x.shape);
}

function nameOf(x: TExpr): string {
  if (x.op === 'ref' && x.ref.kind === 'input') return x.ref.name;
  return 'this value';
}

export type { ValueKind };

/**
 * The keys a block of queries may see under a mask, as at most two spans of key positions, and
 * the walk over the key tiles that cover them: the flash kernel iterates only those tiles instead
 * of every key tile of the sequence with a skip test per tile (a causal kernel's upper triangle,
 * a sliding window's keys before the window).
 *
 * Each comparison of the mask that is linear in j with the rest bounded by interval arithmetic
 * (mask-tiles.ts's srange: i over the query block, h, T, H) bounds j from one side; `and`
 * intersects spans, `or` unites them, anything else (data-dependent parts, `not`, `ne`) leaves j
 * unbounded. More than two spans merge into their hull. The spans are a superset of the visible
 * keys, widened for float rounding; the kernel still tests each tile it visits.
 */
import { usesIndex, type IndexVar, type TExpr } from './expr.ts';
import { srange, type SRange } from './mask-tiles.ts';
import * as kb from '../kernel-ir/build.ts';
import type { SExpr } from '../kernel-ir/types.ts';

/** Keys j with lo ≤ j ≤ hi (float kernel expressions; undefined: unbounded on that side). */
export interface KeySpan {
  lo?: SExpr;
  hi?: SExpr;
}

/** j's coefficient and the interval of the j-free rest of a numeric expression. */
interface Linear {
  cj: number;
  rest: SRange;
}

/** −e, folding a negated difference or negation. */
function negate(e: SExpr): SExpr {
  if (e.k === 'bin' && e.fn === 'sub') return kb.sub(e.b, e.a);
  if (e.k === 'un' && e.fn === 'neg') return e.a;
  return kb.un('neg', e);
}

/** a − c, folding a zero a. */
function minus(a: SExpr, c: SExpr): SExpr {
  return a.k === 'const' && a.v === 0 ? negate(c) : kb.sub(a, c);
}

function linear(e: TExpr, r: Partial<Record<IndexVar, SRange>>): Linear | undefined {
  if (e.op === 'index' && e.name === 'j') return { cj: 1, rest: { lo: kb.f(0), hi: kb.f(0) } };
  if (e.op === 'unary' && e.fn === 'neg') {
    const a = linear(e.a, r);
    return a && { cj: -a.cj, rest: { lo: negate(a.rest.hi), hi: negate(a.rest.lo) } };
  }
  if (e.op === 'binary' && (e.fn === 'add' || e.fn === 'sub')) {
    const a = linear(e.a, r);
    const c = linear(e.b, r);
    if (!a || !c) return undefined;
    return e.fn === 'add'
      ? { cj: a.cj + c.cj, rest: { lo: kb.add(a.rest.lo, c.rest.lo), hi: kb.add(a.rest.hi, c.rest.hi) } }
      : { cj: a.cj - c.cj, rest: { lo: minus(a.rest.lo, c.rest.hi), hi: minus(a.rest.hi, c.rest.lo) } };
  }
  if (e.op === 'binary' && e.fn === 'mul' && (e.a.op === 'const' || e.b.op === 'const')) {
    const [k, x] = e.a.op === 'const' ? [e.a.value, e.b] : [(e.b as { value: number }).value, e.a];
    const a = linear(x, r);
    if (!a || !(k > 0)) return undefined;
    return { cj: a.cj * k, rest: { lo: kb.mul(a.rest.lo, kb.f(k)), hi: kb.mul(a.rest.hi, kb.f(k)) } };
  }
  const s = usesIndex(e, 'j') ? undefined : srange(e, r);
  return s && { cj: 0, rest: s };
}

const ALL: KeySpan[] = [{}];

/** The spans of keys the mask may show to the queries of `r.i` (at most two; [] if none). */
export function keySpans(e: TExpr, r: Partial<Record<IndexVar, SRange>>): KeySpan[] {
  if (e.op === 'const') return e.value !== 0 ? ALL : [];
  if (e.op === 'binary' && (e.fn === 'and' || e.fn === 'or')) {
    const a = keySpans(e.a, r);
    const c = keySpans(e.b, r);
    if (e.fn === 'or') return [...a, ...c].some((x) => !x.lo && !x.hi) ? ALL : capped([...a, ...c]);
    return capped(a.flatMap((x) => c.map((y) => ({ lo: pick(kb.max, x.lo, y.lo), hi: pick(kb.min, x.hi, y.hi) }))));
  }
  if (e.op === 'binary' && ['lt', 'le', 'gt', 'ge', 'eq'].includes(e.fn)) {
    // a op c ⇔ k·j + R op 0 with k = a.cj − c.cj and R in [a.lo − c.hi, a.hi − c.lo].
    const a = linear(e.a, r);
    const c = linear(e.b, r);
    if (!a || !c || a.cj === c.cj) return ALL;
    const k = a.cj - c.cj;
    const Rlo = minus(a.rest.lo, c.rest.hi);
    const Rhi = minus(a.rest.hi, c.rest.lo);
    // j op −R/k: its loosest bounds over R, the comparison flipped for k < 0.
    const x = (R: SExpr) => (k === 1 ? negate(R) : k === -1 ? R : kb.div(negate(R), kb.f(k)));
    const upper = { hi: x(k > 0 ? Rlo : Rhi) };
    const lower = { lo: x(k > 0 ? Rhi : Rlo) };
    if (e.fn === 'eq') return [{ ...lower, ...upper }];
    const below = (e.fn === 'lt' || e.fn === 'le') === k > 0;
    return [below ? upper : lower];
  }
  return ALL;
}

function pick(f: (a: SExpr, b: SExpr) => SExpr, a?: SExpr, b?: SExpr): SExpr | undefined {
  return a && b ? f(a, b) : (a ?? b);
}

/** At most two spans: the rest merged into the second's hull. */
function capped(spans: KeySpan[]): KeySpan[] {
  if (spans.length <= 2) return spans;
  const [first, ...rest] = spans;
  const hull = rest.reduce((x, y) => ({ lo: x.lo && y.lo ? kb.min(x.lo, y.lo) : undefined, hi: x.hi && y.hi ? kb.max(x.hi, y.hi) : undefined }));
  return [first!, hull];
}

/**
 * The key tiles of a walk: either the tiles j0 = from, from + BK, … below `to` (one span, or every
 * tile when no span bounds j), or `count` positions u = 0, BK, 2·BK, … with tile `at(u)` (two
 * spans).
 */
export type KeyWalk = { kind: 'range'; from: SExpr; to: SExpr } | { kind: 'spans'; count: SExpr; at: (u: SExpr) => SExpr };

export function keyWalk(spans: KeySpan[], len: SExpr, BK: number, let_: (name: string, value: SExpr) => SExpr): KeyWalk {
  const bk = kb.i(BK);
  if (spans.length === 0) return { kind: 'range', from: kb.i(0), to: kb.i(0) };
  if (spans.every((s) => !s.lo && !s.hi)) return { kind: 'range', from: kb.i(0), to: len };
  // Bounds widened by one position and 2^-20 of their size plus twice the sequence's: f32 values
  // round by half an ulp (2^-24 relative), so the spans stay a superset of the visible keys past
  // 2^24 tokens where the mask's intermediate values stay within a few times the sequence length
  // (j + T ≤ i + T). Clamped to [0, len] in float before the conversion to int (a bound such as
  // j ≤ i + 3·10⁹ would overflow it).
  const flen = kb.un('float', len);
  const slack = (x: SExpr) => kb.add(kb.f(1), kb.mul(kb.add(kb.un('abs', x), kb.mul(kb.f(2), flen)), kb.f(2 ** -20)));
  const toInt = (x: SExpr) => kb.un('int', kb.min(kb.max(x, kb.f(0)), flen));
  const first = (s: KeySpan) => (s.lo ? kb.mul(kb.idiv(toInt(kb.un('floor', kb.sub(s.lo, slack(s.lo)))), bk), bk) : kb.i(0));
  const end = (s: KeySpan) => (s.hi ? kb.min(len, toInt(kb.add(kb.un('floor', kb.add(s.hi, slack(s.hi))), kb.f(1)))) : len);
  // Tiles from lo (a multiple of BK) while their start is below end: ⌈(end − lo)/BK⌉ of them.
  const tiles = (lo: SExpr, e: SExpr) => kb.mul(kb.ceilDiv(kb.max(kb.i(0), kb.sub(e, lo)), bk), bk);
  if (spans.length === 1) {
    const from = spans[0]!.lo ? let_('jlo', first(spans[0]!)) : kb.i(0);
    return { kind: 'range', from, to: let_('jend', end(spans[0]!)) };
  }
  const [a, c] = spans as [KeySpan, KeySpan];
  const aLo = let_('jlo_a', first(a));
  const cLo = let_('jlo_c', first(c));
  const aEnd = let_('jend_a', end(a));
  const cEnd = let_('jend_c', end(c));
  // The span that starts first, then the other from where the first one's tiles stop.
  const aFirst = kb.le(aLo, cLo);
  const lo1 = let_('jlo1', kb.sel(aFirst, aLo, cLo));
  const n1 = let_('jn1', tiles(lo1, kb.sel(aFirst, aEnd, cEnd)));
  const lo2 = let_('jlo2', kb.max(kb.sel(aFirst, cLo, aLo), kb.add(lo1, n1)));
  const count = let_('jn', kb.add(n1, tiles(lo2, kb.sel(aFirst, cEnd, aEnd))));
  const at = (u: SExpr) => (u.k === 'const' && u.v === 0 ? kb.sel(kb.lt(kb.i(0), n1), lo1, lo2) : kb.sel(kb.lt(u, n1), kb.add(lo1, u), kb.add(lo2, kb.sub(u, n1))));
  return { kind: 'spans', count, at };
}

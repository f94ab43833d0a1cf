/**
 * The built-in functions of the spec language: one table, read by the checker (names, arity,
 * named arguments) and by the docs generator. Semantics live in the checker (shapes), the
 * interpreter (values) and the backends (code).
 */
import type { UnaryFn } from '../ir/expr.ts';

export type BuiltinCategory = 'elementwise' | 'reduction' | 'vector' | 'structure' | 'mask' | 'head';

export interface Builtin {
  name: string;
  signature: string;
  doc: string;
  category: BuiltinCategory;
  /** Positional argument count: [min, max]. */
  arity: [number, number];
  /** Named arguments and their defaults. */
  named?: Record<string, number>;
}

const ew = (name: UnaryFn | string, doc: string): Builtin => ({ name, signature: `${name}(x)`, doc, category: 'elementwise', arity: [1, 1] });

export const BUILTINS: Builtin[] = [
  ew('exp', 'eˣ'),
  ew('exp2', '2ˣ'),
  ew('log', 'natural logarithm'),
  ew('log2', 'base-2 logarithm'),
  ew('sqrt', '√x'),
  ew('rsqrt', '1/√x'),
  ew('abs', '|x|'),
  ew('sigmoid', 'σ(x) = 1 / (1 + e⁻ˣ)'),
  ew('logsigmoid', 'log σ(x), computed stably; always ≤ 0'),
  ew('softplus', 'log(1 + eˣ), computed stably; always ≥ 0'),
  ew('silu', 'x·σ(x) (also called swish)'),
  ew('swish', 'alias of silu'),
  ew('elu', 'x if x > 0, eˣ − 1 otherwise'),
  ew('relu', 'max(x, 0)'),
  ew('tanh', 'hyperbolic tangent'),
  ew('sin', 'sine'),
  ew('cos', 'cosine'),
  ew('floor', 'largest integer ≤ x'),
  { name: 'min', signature: 'min(a, b) · min(x)', doc: 'elementwise minimum of two operands; with one vector, its smallest element', category: 'elementwise', arity: [1, 2] },
  { name: 'max', signature: 'max(a, b) · max(x)', doc: 'elementwise maximum of two operands; with one vector, its largest element', category: 'elementwise', arity: [1, 2] },
  { name: 'clamp', signature: 'clamp(x, lo, hi)', doc: 'min(max(x, lo), hi)', category: 'elementwise', arity: [3, 3] },
  { name: 'where', signature: 'where(cond, a, b)', doc: 'a where the predicate holds, b elsewhere', category: 'elementwise', arity: [3, 3] },
  { name: 'sum', signature: 'sum(x)', doc: 'sum of the elements of a vector', category: 'reduction', arity: [1, 1] },
  { name: 'mean', signature: 'mean(x)', doc: 'mean of the elements of a vector', category: 'reduction', arity: [1, 1] },
  { name: 'norm', signature: 'norm(x)', doc: 'Euclidean norm ‖x‖₂', category: 'reduction', arity: [1, 1] },
  { name: 'dot', signature: 'dot(a, b)', doc: 'inner product of two vectors of one length', category: 'reduction', arity: [2, 2] },
  { name: 'l2norm', signature: 'l2norm(x, eps = 1e-6)', doc: 'x / √(Σx² + eps) (FLA\'s convention)', category: 'vector', arity: [1, 1], named: { eps: 1e-6 } },
  { name: 'rmsnorm', signature: 'rmsnorm(x, eps = 1e-6)', doc: 'x / √(mean(x²) + eps), without weights (multiply by a parameter for them)', category: 'vector', arity: [1, 1], named: { eps: 1e-6 } },
  { name: 'layernorm', signature: 'layernorm(x, eps = 1e-5)', doc: '(x − mean(x)) / √(var(x) + eps), without weights', category: 'vector', arity: [1, 1], named: { eps: 1e-5 } },
  { name: 'softmax', signature: 'softmax(x)', doc: 'eˣ / Σeˣ over the elements of a vector (Hedgehog feature maps)', category: 'vector', arity: [1, 1] },
  { name: 'outer', signature: 'outer(a, b)', doc: 'the matrix a bᵀ; also written a ⊗ b', category: 'structure', arity: [2, 2] },
  { name: 'flatten', signature: 'flatten(M)', doc: 'a matrix as a vector, row by row', category: 'structure', arity: [1, 1] },
  { name: 'diag', signature: 'diag(x)', doc: 'the diagonal matrix with x on its diagonal', category: 'structure', arity: [1, 1] },
  { name: 'transpose', signature: 'transpose(M)', doc: 'Mᵀ; also written Mᵀ or M\'', category: 'structure', arity: [1, 1] },
  { name: 'taylor2', signature: 'taylor2(x)', doc: '[1, x, flatten(x ⊗ x) / √2]: the second-order Taylor feature map, so taylor2(q)·taylor2(k) = 1 + q·k + (q·k)²/2 (BASED)', category: 'structure', arity: [1, 1] },
  { name: 'alibi_slope', signature: 'alibi_slope(h)', doc: 'ALiBi head slope 2^(−8(h+1)/H)', category: 'head', arity: [1, 1] },
  { name: 'causal', signature: 'causal', doc: 'j ≤ i', category: 'mask', arity: [0, 0] },
  { name: 'window', signature: 'window(n)', doc: 'i − j < n (the n most recent keys, the query\'s own included; combine with causal)', category: 'mask', arity: [1, 1] },
  { name: 'sink', signature: 'sink(n)', doc: 'j < n (the first n keys, "attention sinks")', category: 'mask', arity: [1, 1] },
  { name: 'prefix', signature: 'prefix(n)', doc: 'j < n | j ≤ i (prefix-LM: a bidirectional prefix of n tokens, causal after it)', category: 'mask', arity: [1, 1] },
  { name: 'block_causal', signature: 'block_causal(n)', doc: '⌊j/n⌋ ≤ ⌊i/n⌋ (blocks of n tokens see their whole block and earlier blocks)', category: 'mask', arity: [1, 1] },
  { name: 'segment', signature: 'segment(ids)', doc: 'ids[i] == ids[j] for an `int` input (document masking)', category: 'mask', arity: [1, 1] },
  { name: 'all', signature: 'all', doc: 'true: every key is visible (bidirectional)', category: 'mask', arity: [0, 0] },
  { name: 'none', signature: 'none', doc: 'alias of all in masks (no masking)', category: 'mask', arity: [0, 0] },
];

export const BUILTIN_BY_NAME: ReadonlyMap<string, Builtin> = new Map(BUILTINS.map((b) => [b.name, b]));

/** Elementwise one-argument built-ins and the typed-expression function they become. */
export const UNARY_BUILTINS: Readonly<Record<string, UnaryFn>> = {
  exp: 'exp',
  exp2: 'exp2',
  log: 'log',
  log2: 'log2',
  sqrt: 'sqrt',
  rsqrt: 'rsqrt',
  abs: 'abs',
  sigmoid: 'sigmoid',
  logsigmoid: 'logsigmoid',
  softplus: 'softplus',
  silu: 'silu',
  swish: 'silu',
  elu: 'elu',
  relu: 'relu',
  tanh: 'tanh',
  sin: 'sin',
  cos: 'cos',
  floor: 'floor',
};

/** Index variables and where they may appear. */
export const INDEX_VARS = {
  i: "the query's position (0-based) in scores and masks",
  j: "the key's position (0-based) in scores and masks",
  t: "the current token's position (0-based) in per-token expressions",
  h: 'the head (0-based)',
  T: 'the length of the current sequence',
  H: 'the number of heads',
} as const;

export const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, π: Math.PI, e: Math.E };

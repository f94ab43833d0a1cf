/** The checked spec: resolved names, concrete shapes and typed expressions, ready for lowering. */
import type { SourceFile, Span } from '../diagnostics/source.ts';
import type { Interval } from './interval.ts';
import type { Shape, TExpr } from '../ir/expr.ts';
import type * as A from '../../dsl/ast.ts';

export interface InputInfo {
  name: string;
  /** 'real' per-token tensors are [B, T, H, ...shape]; 'int' inputs are [B, T]. */
  type: 'real' | 'int';
  shape: Shape;
  span: Span;
  used: boolean;
}

export interface ParamInfo {
  name: string;
  /** A leading `H` in the declared shape: one value per head, [H, ...shape]. */
  perHead: boolean;
  shape: Shape;
  span: Span;
}

export interface StateInfo {
  name: string;
  shape: Shape;
  span: Span;
}

export type RuleName = 'additive' | 'delta' | 'dplr' | 'softmax' | 'sigmoid' | 'relu';

export type TypedRule =
  | { kind: 'named'; name: RuleName; args: Record<string, TExpr>; span: Span }
  | { kind: 'equations'; equations: { target: string; value: TExpr; span: Span }[]; output: TExpr | undefined; outputSpan: Span | undefined; span: Span };

export type ChunkSpec = { kind: 'auto' } | { kind: 'size'; size: number } | { kind: 'tiles'; q: number; k: number };

export interface TypedSpec {
  name: string;
  span: Span;
  source: SourceFile | undefined;
  ast: A.Spec;
  dims: ReadonlyMap<string, number>;
  inputs: InputInfo[];
  params: ParamInfo[];
  states: StateInfo[];
  family: 'recurrent' | 'softmax';
  /** φ_q, φ_k, φ_v as typed expressions over the raw inputs (identity when absent). */
  features: { q: TExpr; k: TExpr; v: TExpr };
  /** Feature dimension K' (of φ_q and φ_k) and value dimension V' (of φ_v). */
  keyDim: number;
  valueDim: number;
  gate: { expr: TExpr; range: Interval; span: Span } | undefined;
  rule: TypedRule;
  read: { kind: 'inclusive' } | { kind: 'exclusive'; bonus: TExpr | undefined };
  normalize: 'none' | 'sum' | 'maxabs';
  epilogue: TExpr | undefined;
  score: TExpr | undefined;
  mask: TExpr;
  /** True when the mask is exactly causal (j ≤ i). */
  maskIsCausal: boolean;
  direction: 'causal' | 'bidirectional';
  chunk: ChunkSpec;
}

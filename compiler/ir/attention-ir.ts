/**
 * The attention IR: a checked spec lowered to a normalised description of the mechanism
 * (DESIGN.md §1). Every later stage — the reference interpreter, the planner and the backends —
 * reads this, never the AST.
 *
 * All per-token expressions (features, gate, rule arguments, epilogue) are typed expressions over
 * the raw inputs at the current token `t`; the score and the mask are expressions over a query i
 * and a key j.
 */
import type { InputInfo, ParamInfo, ChunkSpec } from '../check/typed-spec.ts';
import type { Interval } from '../check/interval.ts';
import type { TExpr } from './expr.ts';
import type { SourceFile, Span } from '../diagnostics/source.ts';

export type Family = 'recurrent' | 'softmax';

/** Gate classes, by what the log-decay g_t depends on and its shape. */
export type GateClass = 'none' | 'const-scalar' | 'const-vector' | 'dd-scalar' | 'dd-vector';

/** Whether a gate decays each key feature on its own (per channel) rather than the whole state. */
export const isVectorGate = (cls: GateClass): boolean => cls === 'dd-vector' || cls === 'const-vector';

export interface Gate {
  cls: GateClass;
  /** The log-decay g (scalar or [K']); absent for 'none'. α = exp(g). */
  expr: TExpr | undefined;
  range: Interval | undefined;
}

export type UpdateClass = 'additive' | 'delta' | 'dplr' | 'vector-state' | 'general-linear';

export type Update =
  /** S_t = diag(α_t) S_{t−1} + s_t k̃ ṽᵀ. `logScale` is log s_t when s_t = exp(·) (the mLSTM input gate). */
  | { cls: 'additive'; scale: TExpr | undefined; logScale: TExpr | undefined }
  /** S_t = (I − β_t k̃ k̃ᵀ) diag(α_t) S_{t−1} + β_t k̃ ṽᵀ (gate before the projection). */
  | { cls: 'delta'; beta: TExpr }
  /** S_t = (diag(α_t) + b_t a_tᵀ) S_{t−1} + k̃ ṽᵀ. */
  | { cls: 'dplr'; a: TExpr; b: TExpr }
  /**
   * Evaluated as written (recurrent form only): 'vector-state' for an elementwise recurrence of a
   * vector state (s_t = α_t ⊙ s_{t−1} + w_t), 'general-linear' for a linear recurrence the compiler
   * could not classify.
   */
  | { cls: 'vector-state' | 'general-linear'; states: { name: string; shape: readonly number[] }[]; equations: { target: string; value: TExpr }[]; output: TExpr; reason: string };

export type Read = { kind: 'inclusive' } | { kind: 'exclusive'; bonus: TExpr | undefined };

export type Normalizer = 'none' | 'sum' | 'maxabs';

/** How scores become weights in the softmax family. */
export type WeightKind = 'softmax' | 'sigmoid' | 'relu';

export type Form = 'recurrent' | 'chunk' | 'parallel';

export interface AttentionIR {
  name: string;
  family: Family;
  dims: Readonly<Record<string, number>>;
  inputs: readonly InputInfo[];
  params: readonly ParamInfo[];
  /** φ_q, φ_k over the raw inputs at t; both [K']. φ_v: [V']. */
  features: { q: TExpr; k: TExpr; v: TExpr };
  keyDim: number;
  valueDim: number;
  gate: Gate;
  /** Recurrent family only. */
  update: Update | undefined;
  read: Read;
  normalizer: Normalizer;
  /** o ↦ epilogue(o, token inputs), [V'] → [V']. */
  epilogue: TExpr | undefined;
  /** Softmax family: the score (default q̃·k̃ / √K') and how it becomes a weight. */
  score: TExpr | undefined;
  weight: WeightKind | undefined;
  mask: TExpr;
  maskIsCausal: boolean;
  direction: 'causal' | 'bidirectional';
  chunk: ChunkSpec;
  /** The forms the interpreter (and later the kernels) can compute, with why others are missing. */
  forms: Form[];
  unavailable: Partial<Record<Form, string>>;
  /** Where it came from (for explain and diagnostics). */
  source: SourceFile | undefined;
  span: Span;
  /** How an explicit state equation was classified, for `attnc explain`. */
  classification: string | undefined;
}

export const ALL_FORMS: readonly Form[] = ['recurrent', 'chunk', 'parallel'];

/** ε added to the sum normalizer's denominator, o = Sᵀq̃ / (zᵀq̃ + ε): part of the semantics, so the
 * interpreter and every kernel use this one value. */
export const SUM_EPS = 1e-6;

/**
 * Every diagnostic attnc can emit, in one place. Codes are stable: never renumber, only add.
 * Ranges: 1xxx syntax · 2xxx names, types, shapes and spec rules · 3xxx lowering to the attention IR ·
 * 4xxx kernel planning for a target · 5xxx run-time inputs · 6xxx command line and files.
 * Messages use {0}, {1}, … placeholders; hints are optional defaults that a call site may replace.
 */
export type Severity = 'error' | 'warning' | 'note';

export interface MessageDef {
  code: string;
  severity: Severity;
  message: string;
  hint?: string;
}

export const messages = {
  // ── 1xxx syntax ────────────────────────────────────────────────────────────
  UnexpectedCharacter: { code: 'ATTN1001', severity: 'error', message: "unexpected character '{0}'" },
  ExpectedToken: { code: 'ATTN1002', severity: 'error', message: 'expected {0}, found {1}' },
  ExpectedOneOf: { code: 'ATTN1003', severity: 'error', message: 'expected {0}, found {1}' },
  ExtraInput: { code: 'ATTN1004', severity: 'error', message: 'unexpected {0} after the end of the spec' },
  ExpectedItem: {
    code: 'ATTN1005',
    severity: 'error',
    message: 'expected a spec item, found {0}',
    hint: 'items start with: dims, input, param, let, feature, gate, state, update, output, read, normalize, epilogue, score, mask, direction, chunk',
  },
  InvalidNumber: { code: 'ATTN1006', severity: 'error', message: "invalid number '{0}'" },
  TileSeparator: { code: 'ATTN1007', severity: 'error', message: "expected 'x' between tile sizes, found '{0}'", hint: 'write tile sizes as `chunk 128 x 64`' },
  NoSpec: { code: 'ATTN1008', severity: 'error', message: 'no attention spec found', hint: 'a spec starts with `attention NAME {`' },
  NestingTooDeep: { code: 'ATTN1009', severity: 'error', message: 'this expression is nested too deeply' },

  // ── 2xxx names, types, shapes, spec rules ──────────────────────────────────
  UnknownName: { code: 'ATTN2001', severity: 'error', message: "unknown name '{0}'" },
  DuplicateName: { code: 'ATTN2002', severity: 'error', message: "'{0}' is already defined" },
  ShapeMismatch: { code: 'ATTN2003', severity: 'error', message: "shapes do not match for '{0}': {1} and {2}" },
  UnknownFunction: { code: 'ATTN2004', severity: 'error', message: "unknown function '{0}'" },
  ArgCount: { code: 'ATTN2005', severity: 'error', message: "'{0}' takes {1}, found {2}" },
  ExpectedShape: { code: 'ATTN2006', severity: 'error', message: '{0} must be {1}, found {2}' },
  UnknownDim: { code: 'ATTN2007', severity: 'error', message: "unknown dimension '{0}'" },
  BadDimValue: { code: 'ATTN2008', severity: 'error', message: "dimension '{0}' must be a positive integer, found {1}" },
  DuplicateItem: { code: 'ATTN2009', severity: 'error', message: "a spec has at most one '{0}' item" },
  MissingItem: { code: 'ATTN2010', severity: 'error', message: "spec '{0}' has no '{1}'" },
  IndexVarNotAllowed: { code: 'ATTN2011', severity: 'error', message: "index variable '{0}' cannot be used in {1}" },
  TokenNeedsIndex: {
    code: 'ATTN2012',
    severity: 'error',
    message: "'{0}' is a per-token input; in {1} say which token it belongs to",
    hint: "write '{0}[i]' (the query's token) or '{0}[j]' (the key's token)",
  },
  BadIndex: { code: 'ATTN2013', severity: 'error', message: '{0}' },
  FeatureDimMismatch: {
    code: 'ATTN2014',
    severity: 'error',
    message: 'the feature maps of q and k must have the same dimension: φ_q has {0}, φ_k has {1}',
  },
  GateShape: {
    code: 'ATTN2015',
    severity: 'error',
    message: 'a gate must be a scalar or a vector over the key features [{0}], found {1}',
  },
  TypeMismatch: { code: 'ATTN2016', severity: 'error', message: '{0}' },
  UnknownRule: { code: 'ATTN2017', severity: 'error', message: "unknown {0} '{1}'" },
  MissingRuleArg: { code: 'ATTN2018', severity: 'error', message: "'{0}' needs the argument '{1}'" },
  UnknownRuleArg: { code: 'ATTN2019', severity: 'error', message: "'{0}' has no argument '{1}'" },
  MaskFamily: {
    code: 'ATTN2020',
    severity: 'error',
    message: 'a state-recurrent spec cannot honour this mask: {0}',
    hint: 'state-recurrent rules see every earlier token through the state; use `update softmax` for windows, sinks or segments, or a decay `gate` for a soft window',
  },
  ChunkSize: { code: 'ATTN2021', severity: 'error', message: 'chunk size {0} is not allowed: {1}' },
  ChunkTiles: {
    code: 'ATTN2022',
    severity: 'error',
    message: "tile sizes 'Bq x Bk' apply to softmax specs; a state-recurrent spec takes one chunk size",
  },
  GateNotLogSpace: {
    code: 'ATTN2023',
    severity: 'warning',
    message: 'the gate is not provably ≤ 0 (log space): its range is {0}',
    hint: 'gates are log-decays; build them from -softplus(x), logsigmoid(x), -exp(x) * softplus(y), or clamp with min(x, 0)',
  },
  GatePositive: {
    code: 'ATTN2046',
    severity: 'error',
    message: 'the gate is > 0 for every input: its range is {0}, so the decay e^gate is above 1 and the state grows without bound',
    hint: 'a gate is a log-decay and must be ≤ 0: negate it (e.g. -softplus(x)), or use logsigmoid(x) or -exp(x) * softplus(y)',
  },
  UnknownType: { code: 'ATTN2024', severity: 'error', message: "unknown type '{0}'", hint: 'types are `scalar`, `int`, or a shape such as `[K]`, `[H]`, `[H, K]`' },
  HeadIndexNeeded: {
    code: 'ATTN2025',
    severity: 'error',
    message: "'{0}' is a per-head parameter; index it by the head",
    hint: "write '{0}[h]'",
  },
  FamilyItem: { code: 'ATTN2026', severity: 'error', message: "'{0}' applies only to {1} specs" },
  IntUse: { code: 'ATTN2027', severity: 'error', message: "'{0}' is an integer input; it can be used only in masks and comparisons" },
  MaskNotPredicate: { code: 'ATTN2028', severity: 'error', message: 'a mask must be a predicate (true = attend), found {0}' },
  FeatureTarget: { code: 'ATTN2029', severity: 'error', message: "a feature map applies to q, k or v, not '{0}'" },
  StateWithoutUpdate: { code: 'ATTN2030', severity: 'error', message: "state '{0}' has no update equation" },
  UpdateUndeclared: { code: 'ATTN2031', severity: 'error', message: "'{0}' is not a declared state", hint: 'declare it first: `state {0}: [K, V]`' },
  Bidirectional: { code: 'ATTN2032', severity: 'error', message: 'direction bidirectional is not available here: {0}' },
  RecursiveLet: { code: 'ATTN2033', severity: 'error', message: "'{0}' is used before it is defined" },
  RequiredInput: { code: 'ATTN2034', severity: 'error', message: "spec '{0}' has no input '{1}'", hint: 'every spec takes q, k and v: `input q: [K], k: [K], v: [V]`' },
  EpilogueShape: { code: 'ATTN2035', severity: 'error', message: 'the epilogue must give a vector of [{0}], found {1}' },
  NamedArgs: { code: 'ATTN2036', severity: 'error', message: "'{0}' takes no named arguments" },
  NotANumber: { code: 'ATTN2037', severity: 'error', message: '{0} must be a constant number' },
  DuplicateArg: { code: 'ATTN2038', severity: 'error', message: "argument '{0}' is given twice" },
  StateShape: { code: 'ATTN2039', severity: 'error', message: "state '{0}' must be {1}, found {2}" },
  UnusedInput: { code: 'ATTN2040', severity: 'warning', message: "input '{0}' is never used" },
  OutputItem: { code: 'ATTN2041', severity: 'error', message: '{0}' },
  ConstantRange: { code: 'ATTN2042', severity: 'error', message: '{0}' },
  BadArgValue: { code: 'ATTN2044', severity: 'error', message: '{0}' },
  GateNeedsCausal: {
    code: 'ATTN2045',
    severity: 'error',
    message: 'a forget gate needs a causal mask: for keys after the query (j > i) its decay G_i − G_j would grow instead of shrink',
    hint: 'add `causal &` to the mask, or drop the gate',
  },
  ReservedName: { code: 'ATTN2043', severity: 'error', message: "'{0}' is reserved ({1}) and cannot be redefined" },

  // ── 3xxx lowering to the attention IR ──────────────────────────────────────
  NonLinearState: {
    code: 'ATTN3001',
    severity: 'error',
    message: "the update of '{0}' is not linear in the state: {1}",
    hint: 'a state update must be a linear map of the previous state plus a state-free write, e.g. `S = exp(g) * S + k ⊗ v`',
  },
  GeneralLinear: {
    code: 'ATTN3002',
    severity: 'warning',
    message: "the update of '{0}' is linear but not additive, delta or DPLR ({1}); no kernel target compiles it: only the reference interpreter runs it, in the recurrent form",
    hint: 'run it with `attnc run FILE --backend reference --form recurrent`; `attnc compile` and `attnc run --backend webgpu` reject it (ATTN4002). Write the update as an additive, delta or DPLR rule to get kernels',
  },
  VectorStateNoKernel: {
    code: 'ATTN3011',
    severity: 'warning',
    message: "the state '{0}' is a vector (an elementwise recurrence); no kernel target compiles vector states yet: only the reference interpreter runs it, in the recurrent form",
    hint: 'run it with `attnc run FILE --backend reference --form recurrent`; `attnc compile` and `attnc run --backend webgpu` reject it (ATTN4002). A matrix state [K, V] with an additive update gets kernels',
  },
  UnrecognisedRead: {
    code: 'ATTN3003',
    severity: 'error',
    message: "cannot read the output from this expression: {0}",
    hint: 'write the output as `Sᵀ @ q`, optionally divided by a normalizer state: `Sᵀ @ q / dot(z, q)`',
  },
  GateTwice: { code: 'ATTN3004', severity: 'error', message: 'the decay is given twice: by the `gate` item and inside the state equation' },
  WriteShape: { code: 'ATTN3005', severity: 'error', message: "the write term of '{0}' is not an outer product of a key and a value: {1}" },
  DecayNotPositive: { code: 'ATTN3006', severity: 'error', message: 'cannot take the log-space gate of this decay: {0}', hint: 'write decays as exp(g) with g ≤ 0, or sigmoid(x)' },
  NormalizerState: { code: 'ATTN3007', severity: 'error', message: "normalizer state '{0}' does not match the main state: {1}" },
  UnsupportedCombination: { code: 'ATTN3008', severity: 'error', message: '{0}' },
  ClassificationCheck: {
    code: 'ATTN3009',
    severity: 'warning',
    message: "the update of '{0}' looked like {1} but did not match it numerically; it is kept as a general linear update, which no kernel target compiles",
    hint: 'only the reference interpreter runs it, in the recurrent form (`attnc run FILE --backend reference --form recurrent`); `attnc compile` and `attnc run --backend webgpu` reject it (ATTN4002)',
  },
  DecayAboveOne: {
    code: 'ATTN3010',
    severity: 'error',
    message: "the decay of '{0}' is greater than 1: its log, the gate, has range {1}, so the state grows without bound",
    hint: 'a decay must be ≤ 1 (a gate ≤ 0 in log space): write it as exp(g) with g ≤ 0 (e.g. g = -softplus(x) or logsigmoid(x)), as sigmoid(x), or as a constant in (0, 1]',
  },

  // ── 4xxx kernel planning for a target ──────────────────────────────────────
  DoesNotFit: {
    code: 'ATTN4001',
    severity: 'error',
    message: "{0} does not fit target '{1}': {2}",
  },
  FormUnsupported: { code: 'ATTN4002', severity: 'error', message: "form '{0}' is not available for spec '{1}': {2}" },
  UnknownTarget: { code: 'ATTN4003', severity: 'error', message: "unknown target profile '{0}'", hint: 'known profiles: {1}' },
  UnknownPass: { code: 'ATTN4004', severity: 'error', message: "unknown pass '{0}'", hint: 'passes: {1}' },
  FeatureMissing: { code: 'ATTN4005', severity: 'error', message: "{0} needs the feature '{1}', which target '{2}' does not have" },
  BadTiles: {
    code: 'ATTN4006',
    severity: 'error',
    message: "tile size {0} is not allowed for spec '{1}': {2}",
    hint: "tile sizes are powers of two from 8 up to the next power of two of the dimension they tile (BV: V', BK: K'); softmax specs take BK, the key tile (the query tile is the chunk)",
  },

  // ── 5xxx run-time inputs ───────────────────────────────────────────────────
  MissingTensor: { code: 'ATTN5001', severity: 'error', message: "missing tensor '{0}' (expected shape {1})" },
  WrongShape: { code: 'ATTN5002', severity: 'error', message: "tensor '{0}' has shape {1}; expected {2}" },
  NonFinite: { code: 'ATTN5003', severity: 'error', message: "tensor '{0}' holds a non-finite value ({1}) at index {2}" },
  BadCuSeqlens: { code: 'ATTN5004', severity: 'error', message: 'cu_seqlens is invalid: {0}' },
  HeadMapping: { code: 'ATTN5005', severity: 'error', message: "tensor '{0}' has {1} heads, which does not divide the {2} output heads" },
  FormUnavailable: { code: 'ATTN5006', severity: 'error', message: "form '{0}' is not available for spec '{1}': {2}" },
  UnknownTensor: { code: 'ATTN5007', severity: 'error', message: "unknown tensor '{0}'", hint: 'this spec takes: {1}' },
  BadShapeOption: { code: 'ATTN5008', severity: 'error', message: '{0}' },
  WrongLength: { code: 'ATTN5009', severity: 'error', message: "tensor '{0}' holds {1} values; shape {2} needs {3}" },

  // ── 6xxx command line and files ────────────────────────────────────────────
  FileNotFound: { code: 'ATTN6001', severity: 'error', message: "cannot read '{0}': {1}" },
  InvalidJson: { code: 'ATTN6002', severity: 'error', message: 'invalid JSON: {0}' },
  SchemaViolation: { code: 'ATTN6003', severity: 'error', message: 'the JSON spec does not match the schema at {0}: {1}' },
  NotFormatted: { code: 'ATTN6004', severity: 'error', message: "'{0}' is not formatted", hint: 'run `attnc fmt {0}`' },
  BadOption: { code: 'ATTN6005', severity: 'error', message: '{0}' },
} as const satisfies Record<string, MessageDef>;

export type MessageId = keyof typeof messages;

/** Fill {0}, {1}, … placeholders. */
export function formatMessage(template: string, args: readonly (string | number)[]): string {
  return template.replace(/\{(\d+)\}/g, (m, i) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));
}

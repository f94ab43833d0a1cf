/**
 * The kernel IR: what the planner produces and the backends print. A program is a list of kernels
 * run in order; a kernel is a grid of workgroups executing a body of tile-level statements.
 *
 * - Buffers are global (storage bindings), tiles live in workgroup-shared memory or in registers
 *   (distributed over the workgroup's threads; only elementwise ops and matmul outputs may touch
 *   them), scalars are uniform values (let-bound).
 * - Row-owned register tiles ('rows'): each row is held by one small group of threads, the same
 *   group for every 'rows' tile of a kernel with that many rows. A map into one may read the
 *   others at its own row: at its own element, at column 0 of a one-column tile, or across the
 *   whole row inside a fold; a matmul may take one as its untransposed A operand into another.
 *   No barrier is ever needed between ops on them. Only targets whose profile lays tiles out so
 *   (tensor-core fragments split by rows over the warps) get them from the planner.
 * - Every tile op is cooperative: all threads of the workgroup execute it together. Data flows
 *   between ops through tiles, so ops that read what another op wrote need a barrier between them
 *   (the `barriers` pass inserts them; the interpreter checks them).
 * - Scalar and element expressions (SExpr) are one small language: index arithmetic, element
 *   values, reads of tiles and buffers, and folds (Σ/max over a range).
 */

export type Dtype = 'f32' | 'f16' | 'bf16' | 'i32' | 'u32';

export type SExpr =
  | { k: 'const'; v: number; t: 'f' | 'i' | 'b' }
  /** A named value: a uniform param, a let, a loop variable, or an element index (r, c, i). */
  | { k: 'var'; name: string }
  /** Workgroup id along x, y or z. */
  | { k: 'wg'; axis: 0 | 1 | 2 }
  | { k: 'un'; fn: UnFn; a: SExpr }
  | { k: 'bin'; fn: BinFn; a: SExpr; b: SExpr }
  | { k: 'sel'; c: SExpr; a: SExpr; b: SExpr }
  /** A global buffer element (converted to f32). */
  | { k: 'ld'; buf: string; idx: SExpr }
  /** A tile element. */
  | { k: 'tile'; tile: string; r: SExpr; c: SExpr }
  /** Σ / max / min of `body` for `v` from `from` to `to` − 1 (a sequential loop in one thread). */
  | { k: 'fold'; fn: 'sum' | 'max' | 'min'; v: string; from: SExpr; to: SExpr; body: SExpr };

export type UnFn =
  | 'neg'
  | 'not'
  | 'exp'
  | 'exp2'
  | 'log'
  | 'log2'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'sigmoid'
  | 'logsigmoid'
  | 'softplus'
  | 'silu'
  | 'elu'
  | 'relu'
  | 'tanh'
  | 'sin'
  | 'cos'
  | 'floor'
  /** Integer conversion (toward zero) for index arithmetic. */
  | 'int'
  | 'float';

export type BinFn = 'add' | 'sub' | 'mul' | 'div' | 'idiv' | 'mod' | 'pow' | 'min' | 'max' | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';

export type Space = 'shared' | 'register' | 'rows';

export interface TileDecl {
  name: string;
  rows: number;
  cols: number;
  space: Space;
}

export type BufferRole = 'input' | 'param' | 'output' | 'state-in' | 'state-out' | 'scratch' | 'meta';

export interface BufferDecl {
  name: string;
  role: BufferRole;
  /** Storage type; arithmetic is always f32 (f64 in the interpreter's validation mode). */
  dtype: Dtype;
  access: 'read' | 'read_write';
  /** Number of elements, as an expression over the uniform params (for size checks). */
  elems: SExpr;
  /**
   * Set by binding packing: this buffer is a slice of another binding (an array of 32-bit words),
   * starting at this word offset. 16-bit members hold two elements per word.
   */
  packedInto?: { buffer: string; offset: SExpr };
  /**
   * Scratch stored in the program's 16-bit input/output type where it has one (the dtype pass),
   * like the inputs it is computed from: the per-chunk states that only the output kernel's
   * matmuls read (`w_h`).
   */
  ioDtype?: boolean;
}

export interface ParamDecl {
  name: string;
  type: 'u32' | 'i32' | 'f32';
}

/** Elements (r, c) of a global buffer, at `index` (an expression over r and c), for r < rows, c < cols. */
export interface Access {
  buf: string;
  index: SExpr;
  rows: SExpr;
  cols: SExpr;
}

/** A tile, or a block of its rows (r0 .. r0 + rows − 1) used as a tile. */
export interface TileRef {
  tile: string;
  r0?: SExpr;
  rows?: number;
}

export type Stmt =
  | { op: 'let'; name: string; value: SExpr }
  | { op: 'for'; v: string; from: SExpr; to: SExpr; step: SExpr; body: Stmt[]; note?: string }
  | { op: 'if'; cond: SExpr; then: Stmt[]; else: Stmt[] }
  /** Write value(r, c) to the buffer for the in-range elements of tile `src`'s shape. */
  | { op: 'store'; src: string; dst: Access; value: SExpr }
  /**
   * dst[r][c] = expr over the destination view (element index variables r and c). With `guard`,
   * elements outside rows × cols get `fill` and `expr` is not evaluated for them (no
   * out-of-range reads).
   */
  | { op: 'map'; dst: TileRef; expr: SExpr; guard?: { rows: SExpr; cols: SExpr; fill: number } }
  /**
   * dst (±)= A·B over tile views, with optional transposes; `mask` keeps element (r, c) of the
   * product only where c ≤ r ('lower') or c < r ('strict'). With `scale` (acc 'add' or 'sub', no mask), the
   * old dst is scaled first: dst = dst·scale ± A·B — a decayed state's update in one pass. `scale`
   * is one value for the whole op: it reads no r or c.
   */
  | { op: 'matmul'; dst: TileRef; a: TileRef; b: TileRef; transA: boolean; transB: boolean; acc: 'set' | 'add' | 'sub'; mask?: 'lower' | 'strict'; scale?: SExpr }
  /** dst[r][0] (axis 'cols': over a row) or dst[0][c] (axis 'rows': over a column) = fold of src. */
  | { op: 'reduce'; dst: string; src: string; axis: 'rows' | 'cols'; fn: 'sum' | 'max' }
  /** Inclusive prefix sum along rows (time): dst[r][c] = Σ_{r' ≤ r} src[r'][c]. */
  | { op: 'cumsum'; dst: string; src: string }
  /** Solve (I + strictly-lower(A)) X = B in place of B (forward substitution, rows in order). */
  | { op: 'trisolve'; a: string; b: string; sign: 1 | -1 }
  | { op: 'barrier' }
  /** A comment in the printed kernel. */
  | { op: 'note'; text: string };

export interface Kernel {
  name: string;
  /** Workgroups along x, y, z (expressions over the uniform params). */
  grid: [SExpr, SExpr, SExpr];
  /** Threads per workgroup (a multiple of the subgroup size where it matters). */
  threads: number;
  params: ParamDecl[];
  buffers: BufferDecl[];
  tiles: TileDecl[];
  body: Stmt[];
  /** What the kernel computes, for the printer. */
  doc: string;
  /**
   * Tile matmuls may run on tensor cores with f32 accumulation — set by the dtype pass for
   * bf16/f16 programs on targets that have them: 'tf32' operands (10-bit mantissa), or the
   * program's own 16-bit type ('bf16', 'f16') where a matmul's reduction is a multiple of 16 (the
   * flash kernel's, whose operands are the 16-bit inputs and the probabilities); a backend without
   * tensor cores ignores it (and the interpreter computes in f64 regardless).
   */
  tensorCores?: 'tf32' | 'bf16' | 'f16';
  /**
   * With 16-bit tensor-core operands: the matmuls into row-owned tiles whose operands allow it run
   * as warpgroup MMA (a backend with it: CUDA sm_90a's wgmma.mma_async; the others ignore it).
   * From PlanOptions.warpgroupMma, else the profile's warpgroupMma.
   */
  warpgroupMma?: boolean;
  /**
   * Raw 32-bit words per thread a loop may hold for its next iteration's loads (a backend that
   * prefetches: CUDA's pipelinedLoop); unset: the backend's own bound. From PlanOptions.prefetchWords,
   * else the profile's pipelinedWords.
   */
  prefetchWords?: number;
  /**
   * Chunks whose loads a pipelined loop keeps in flight (a backend with asynchronous copies: CUDA
   * cp.async into a shared ring of this many slots); unset or 1: one chunk ahead, in registers.
   * From PlanOptions.prefetchDepth, else the profile's pipelinedDepth.
   */
  prefetchDepth?: number;
  /**
   * prefetchDepth as asked (PlanOptions.prefetchDepth, for measurements): the ring keeps its slots
   * even where they cost blocks per SM or fill the SM's shared memory (only the shared memory a
   * block may have bounds it).
   */
  prefetchDepthAsked?: boolean;
  /**
   * f32 shared tiles that a map copies unchanged from an f32 buffer (the recurrent kernel's
   * initial state) are filled by asynchronous copies (CUDA cp.async: every 16-byte copy of the
   * tile in flight at once, no registers), their rows unpadded. From PlanOptions.asyncState.
   */
  asyncState?: boolean;
  /**
   * Registers per thread below which a backend's launch bounds never push its compiler when they
   * ask for more blocks per SM (CUDA: minBlocksPerUnit's floor, 128 unless set). From
   * PlanOptions.registerFloor, else the profile's recurrentRegisterFloor for the recurrent form
   * and its intraRegisterFloor for the split chunk form's intra-chunk kernel.
   */
  registerFloor?: number;
}

/** A full plan for one spec on one target: kernels, run in order, sharing buffers by name. */
export interface Program {
  spec: string;
  target: string;
  form: 'chunk' | 'recurrent' | 'parallel';
  kernels: Kernel[];
  /** The uniform params every kernel may use, and how the host computes them. */
  params: ParamDecl[];
  /** Global buffers of the whole program (inputs, outputs, states, scratch). */
  buffers: BufferDecl[];
  /** Notes of the passes (choices and why), for `attnc explain`. */
  notes: string[];
}

/**
 * The C ABI of a compiled spec: the fields of its `attnc_<name>_args` struct, shared by the C
 * header, the host launchers, the manifest and the PyTorch loader (which mirrors the struct with
 * ctypes), so the four can never disagree.
 *
 * Fields, in order: the run shape (B, T, H, heads of each per-token input), the packed-sequence
 * description (cu_seqlens, num_seqs, max_seqlen), one pointer per input and parameter, the output,
 * the states (recurrent family), and the workspace.
 */
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import { inputBuf, paramBuf } from '../../compiler/passes/buffers.ts';

export interface AbiField {
  /** Field name in C (and in the ctypes mirror). */
  name: string;
  /** C declaration type. */
  ctype: string;
  /** ctypes kind. */
  py: 'int' | 'ptr' | 'size';
  /** The kernel buffer this pointer feeds, if any. */
  buffer?: string;
  /** Shape, as text, for comments and errors. */
  shape?: string;
  /** Element type of the pointed-to data. */
  dtype?: string;
  doc: string;
}

const C_KEYWORDS = new Set(
  'auto break case char const continue default do double else enum extern float for goto if inline int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false class namespace template typename this new delete operator private public protected virtual friend using asm'.split(' '),
);
const PY_KEYWORDS = new Set('False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(' '));
const RESERVED = new Set(['B', 'T', 'H', 'cu_seqlens', 'num_seqs', 'max_seqlen', 'o', 'initial_state', 'initial_z', 'initial_m', 'final_state', 'final_z', 'final_m', 'workspace', 'workspace_bytes', 'output_final_state']);

/** A spec name as a C field / Python argument: reserved words get a trailing underscore. */
export function fieldName(name: string): string {
  return C_KEYWORDS.has(name) || PY_KEYWORDS.has(name) || RESERVED.has(name) || name.startsWith('heads_') ? `${name}_` : name;
}

export function dtypeName(d: Dtype): string {
  return { f32: 'float32', f16: 'float16', bf16: 'bfloat16', i32: 'int32', u32: 'uint32' }[d];
}

export function abiFields(ir: AttentionIR, dtype: Dtype): AbiField[] {
  const K = ir.keyDim;
  const V = ir.valueDim;
  const real = ir.inputs.filter((i) => i.type === 'real');
  const f: AbiField[] = [
    { name: 'B', ctype: 'int', py: 'int', doc: 'batch size (1 with cu_seqlens)' },
    { name: 'T', ctype: 'int', py: 'int', doc: 'tokens per sequence (with cu_seqlens: all tokens)' },
    { name: 'H', ctype: 'int', py: 'int', doc: 'heads of the output' },
  ];
  for (const i of real) f.push({ name: `heads_${i.name}`, ctype: 'int', py: 'int', doc: `heads of ${i.name} (GQA/GVA: a divisor of H); 0 means H` });
  f.push(
    { name: 'cu_seqlens', ctype: 'const int32_t*', py: 'ptr', dtype: 'int32', shape: '[num_seqs + 1]', doc: 'device sequence offsets [0, …, T] of a packed batch (B = 1), or NULL' },
    { name: 'num_seqs', ctype: 'int', py: 'int', doc: 'sequences in cu_seqlens (ignored without it)' },
    { name: 'max_seqlen', ctype: 'int', py: 'int', doc: 'longest sequence in cu_seqlens (0: T, always safe; ignored without it)' },
  );
  for (const i of ir.inputs) {
    const shape = i.type === 'int' ? '[B, T]' : `[B, T, heads_${i.name}${i.shape.map((d) => `, ${d}`).join('')}]`;
    const dt = i.type === 'int' ? 'int32' : dtypeName(dtype);
    f.push({ name: fieldName(i.name), ctype: i.type === 'int' ? 'const int32_t*' : 'const void*', py: 'ptr', buffer: inputBuf(i.name), shape, dtype: dt, doc: `input ${i.name}` });
  }
  for (const p of ir.params) {
    const shape = `[${[...(p.perHead ? ['H'] : []), ...p.shape.map(String)].join(', ')}]`;
    f.push({ name: fieldName(p.name), ctype: 'const float*', py: 'ptr', buffer: paramBuf(p.name), shape, dtype: 'float32', doc: `parameter ${p.name}` });
  }
  f.push({ name: 'o', ctype: 'void*', py: 'ptr', buffer: 'out', shape: `[B, T, H, ${V}]`, dtype: dtypeName(dtype), doc: 'output (written)' });
  if (ir.family === 'recurrent') {
    const N = 'N';
    f.push({ name: 'initial_state', ctype: 'const float*', py: 'ptr', buffer: 'initial_state', shape: `[${N}, H, ${K}, ${V}]`, dtype: 'float32', doc: 'initial state S, or NULL for zeros (N = B, or num_seqs with cu_seqlens)' });
    if (ir.normalizer !== 'none') f.push({ name: 'initial_z', ctype: 'const float*', py: 'ptr', buffer: 'initial_z', shape: `[${N}, H, ${K}]`, dtype: 'float32', doc: 'initial normalizer state z (required with initial_state)' });
    if (ir.normalizer === 'maxabs') f.push({ name: 'initial_m', ctype: 'const float*', py: 'ptr', buffer: 'initial_m', shape: `[${N}, H]`, dtype: 'float32', doc: 'initial stabiliser m (required with initial_state)' });
    f.push({ name: 'final_state', ctype: 'float*', py: 'ptr', buffer: 'final_state', shape: `[${N}, H, ${K}, ${V}]`, dtype: 'float32', doc: 'final state S (written), or NULL not to store it' });
    if (ir.normalizer !== 'none') f.push({ name: 'final_z', ctype: 'float*', py: 'ptr', buffer: 'final_z', shape: `[${N}, H, ${K}]`, dtype: 'float32', doc: 'final normalizer state z (required with final_state)' });
    if (ir.normalizer === 'maxabs') f.push({ name: 'final_m', ctype: 'float*', py: 'ptr', buffer: 'final_m', shape: `[${N}, H]`, dtype: 'float32', doc: 'final stabiliser m (required with final_state)' });
  }
  f.push(
    { name: 'workspace', ctype: 'void*', py: 'ptr', doc: `device scratch (16-byte aligned) of attnc_${ir.name}_workspace_bytes() bytes, or NULL: forward() then allocates it on the stream` },
    { name: 'workspace_bytes', ctype: 'size_t', py: 'size', doc: 'size of workspace' },
  );
  return f;
}

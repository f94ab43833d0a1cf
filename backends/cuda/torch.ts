/**
 * `NAME_torch.py`: the PyTorch loader of a compiled spec. It builds NAME.cu into a shared library
 * with torch.utils.cpp_extension.load (nvcc with PyTorch's arch flags, cached by content) and calls
 * the C ABI through ctypes on the current stream — the ctypes struct is printed from the same
 * field list as the C header. `forward(q, k, v, …, initial_state=None, output_final_state=False,
 * cu_seqlens=None)` follows FLA's conventions and checks devices, dtypes and shapes with errors
 * that name the tensor and the shape it should have.
 */
import Handlebars from 'handlebars';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import type { TargetProfile } from '../../compiler/targets/profiles.ts';
import { VERSION } from '../../compiler/version.ts';
import { dtypeName, fieldName, type AbiField } from './abi.ts';
import type { CudaKernel } from './emit.ts';

/** A JSON-like value as a Python literal. */
export function pyLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `(${v.map(pyLiteral).join(', ')}${v.length === 1 ? ',' : ''})`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}: ${pyLiteral(x)}`).join(', ')}}`;
}

const hb = Handlebars.create();
hb.registerHelper('py', (v: unknown) => pyLiteral(v));

const LOADER = hb.compile(
  `"""{{file}}_torch: PyTorch loader for the CUDA kernels attnc {{version}} generated for the spec
'{{spec}}' ({{target}}; {{dtypeName}} inputs and outputs, float32 states and arithmetic). Do not
edit: regenerate with attnc compile SPEC --target cuda --cuda-profile {{target}} --dtype {{dtype}}.

    import {{file}}_torch as attn
    o = attn.forward({{example}}){{#if recurrent}}
    o, state = attn.forward(..., initial_state=state, output_final_state=True){{/if}}

Layout (FLA's): per-token inputs [B, T, heads, ...] (an input may have fewer heads than the output,
a divisor of H, for GQA/GVA), the output o [B, T, H, {{valueDim}}] in {{dtypeName}}.{{#if recurrent}} States are
float32: {{stateDoc}}, with N = B, or the number of sequences of cu_seqlens.{{/if}}
A packed batch of variable-length sequences has B = 1 and cu_seqlens = [0, ..., T] (int32 or int64).

The first call builds {{file}}.cu (beside this file) into a shared library with
torch.utils.cpp_extension.load (nvcc; cached under $ATTNC_BUILD_DIR, else
$TORCH_EXTENSIONS_DIR/attnc, else ~/.cache/torch_extensions/attnc) and calls its C ABI
({{file}}.h) through ctypes, on the current CUDA stream.
"""
import contextlib
import ctypes
import glob
import hashlib
import os
import threading

import torch

SPEC = {{{py spec}}}
TARGET = {{{py target}}}
DTYPE = torch.{{dtypeName}}
FAMILY = {{{py family}}}
NORMALIZER = {{{py normalizer}}}
KEY_DIM = {{keyDim}}
VALUE_DIM = {{valueDim}}
# Per-token inputs: (name, argument, 'real' | 'int', feature shape after [B, T, heads]).
INPUTS = {{{inputs}}}
# Parameters: (name, argument, one per head, shape after the head axis).
PARAMS = {{{params}}}
# States, in the order of initial_state / final_state tuples: (label, args field of the initial
# value, args field of the final value, shape with N and H as letters).
STATES = {{{states}}}
# The most dynamic shared memory one block of these kernels asks for (bytes).
MAX_DYNAMIC_SHARED = {{maxShared}}

_HERE = os.path.dirname(os.path.abspath(__file__))
_SOURCE = os.path.join(_HERE, {{{py cuFile}}})
_FLAGS = ['-O3', '-std=c++17', '-lineinfo', '-Xcompiler', '-fvisibility=hidden']
# The architecture the kernels need where it is not the device's own (sm_90a: warpgroup MMA);
# PyTorch's build takes it from TORCH_CUDA_ARCH_LIST.
_ARCH = {{{py archList}}}


class _Args(ctypes.Structure):
    """Mirror of {{name}}_args in {{file}}.h."""
    _fields_ = [
{{#each fields}}        ({{{py name}}}, ctypes.{{ctype}}),
{{/each}}    ]


_lib = None
_lock = threading.Lock()
# The host's work comes before the first launch and adds to every call's time. A call checks its
# arguments once per signature (the tensors' shapes, dtypes and devices; _signature) and caches
# what the checks found (_Plan: the args struct, output shapes, workspace size) for the next call
# like it, which then only allocates its outputs and launches; the shared-memory check is made
# once per device, and the stream and current device come from torch's C API where it has them.
_REF = next(x for x in INPUTS if x[2] == 'real')
_INPUT_NAMES = tuple(x[0] for x in INPUTS)
_PARAM_NAMES = tuple(x[0] for x in PARAMS)
_DEVICES_CHECKED = set()
_PLANS = {}
_raw_stream = getattr(torch._C, '_cuda_getCurrentRawStream', None)
_current_device = getattr(torch._C, '_cuda_getDevice', None) or torch.cuda.current_device


def _cache_root():
    if os.environ.get('ATTNC_BUILD_DIR'):
        return os.environ['ATTNC_BUILD_DIR']
    base = os.environ.get('TORCH_EXTENSIONS_DIR') or os.path.join(os.path.expanduser('~'), '.cache', 'torch_extensions')
    return os.path.join(base, 'attnc')


def build(verbose=False):
    """Compile {{file}}.cu (once per source and flags) and load it; returns the ctypes library."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        from torch.utils.cpp_extension import load
        with open(_SOURCE, 'rb') as f:
            digest = hashlib.sha256(f.read() + ' '.join(_FLAGS + [_ARCH or '']).encode()).hexdigest()[:16]
        name = 'attnc_{}_{}'.format(SPEC, digest)
        build_dir = os.path.join(_cache_root(), name)
        os.makedirs(build_dir, exist_ok=True)
        saved = os.environ.get('TORCH_CUDA_ARCH_LIST')
        if _ARCH:
            os.environ['TORCH_CUDA_ARCH_LIST'] = _ARCH
        try:
            load(name=name, sources=[_SOURCE], extra_cuda_cflags=_FLAGS, extra_include_paths=[_HERE],
                 build_directory=build_dir, is_python_module=False, verbose=verbose)
        finally:
            if _ARCH:
                if saved is None:
                    os.environ.pop('TORCH_CUDA_ARCH_LIST', None)
                else:
                    os.environ['TORCH_CUDA_ARCH_LIST'] = saved
        found = sorted(glob.glob(os.path.join(build_dir, name + '*.so')))
        if not found:
            raise RuntimeError('{}: the build in {} produced no shared library'.format(SPEC, build_dir))
        lib = ctypes.CDLL(found[-1])
        lib.{{name}}_forward.argtypes = [ctypes.POINTER(_Args), ctypes.c_void_p]
        lib.{{name}}_forward.restype = ctypes.c_int
        lib.{{name}}_workspace_bytes.argtypes = [ctypes.POINTER(_Args), ctypes.POINTER(ctypes.c_size_t)]
        lib.{{name}}_workspace_bytes.restype = ctypes.c_int
        lib.{{name}}_status_string.argtypes = [ctypes.c_int]
        lib.{{name}}_status_string.restype = ctypes.c_char_p
        lib.{{name}}_last_error.argtypes = []
        lib.{{name}}_last_error.restype = ctypes.c_char_p
        _lib = lib
        return lib


def _check(lib, status):
    if status != 0:
        what = lib.{{name}}_status_string(status).decode()
        detail = lib.{{name}}_last_error().decode()
        raise RuntimeError('{}: {} ({}): {}'.format(SPEC, what, status, detail))


def _tensor(value, arg):
    if not isinstance(value, torch.Tensor):
        raise TypeError("{}: '{}' must be a torch.Tensor, got {}".format(SPEC, arg, type(value).__name__))
    return value


def _float32(t):
    """t as a contiguous float32 tensor: itself when it already is one (no copy, no call)."""
    return t if t.dtype == torch.float32 and t.is_contiguous() else t.to(torch.float32).contiguous()


def _shape_text(shape):
    return '[' + ', '.join(str(d) for d in shape) + ']'


def _check_device(device):
    props = torch.cuda.get_device_properties(device)
    optin = getattr(props, 'shared_memory_per_block_optin', None)
    if optin is not None and MAX_DYNAMIC_SHARED > optin:
        raise RuntimeError('{}: these kernels need {} bytes of shared memory per block ({}); {} allows {}: compile for a smaller profile'.format(
            SPEC, MAX_DYNAMIC_SHARED, TARGET, props.name, optin))
    _DEVICES_CHECKED.add(device.index)


def _signature(inputs, params, initial_state, output_final_state):
    """The tensors a launch passes (inputs, parameters, initial states) and the key of a cached
    plan: their shapes, dtypes and devices; None where one is not a contiguous tensor."""
    tensors = [inputs[name] for name in _INPUT_NAMES] + [params[name] for name in _PARAM_NAMES]
    if initial_state is not None:
        tensors += initial_state if isinstance(initial_state, (tuple, list)) else (initial_state,)
    key = [bool(output_final_state), initial_state is None]
    for t in tensors:
        if not isinstance(t, torch.Tensor) or not t.is_contiguous():
            return tensors, None
        key += (t.shape, t.dtype, t.device)
    return tensors, tuple(key)


class _Plan:
    """What a call's checks found: the args struct without its pointers, the output and state
    shapes, the workspace size, and which fields take the tensors' pointers."""
    __slots__ = ('args', 'device', 'index', 'fields', 'out_shape', 'state_shapes', 'workspace_bytes', 'cu')


def _prepare(inputs, params, initial_state, output_final_state, cu_seqlens):
    """Every check of the arguments; returns the plan and the tensors to pass (contiguous, with
    integer inputs as int32 and parameters and states as float32: copies where they were not)."""
    ref_name, ref_arg, _, ref_shape = _REF
    ref = _tensor(inputs[ref_name], ref_arg)
    device = ref.device
    if device.type != 'cuda':
        raise ValueError("{}: '{}' is on {}; these kernels run on a CUDA device".format(SPEC, ref_arg, device))
    if ref.dim() < 3:
        raise ValueError("{}: '{}' has shape {}; expected [B, T, heads{}]".format(
            SPEC, ref_arg, _shape_text(ref.shape), ''.join(', {}'.format(d) for d in ref_shape)))
    B, T = int(ref.shape[0]), int(ref.shape[1])
    heads = {}
    tensors = []
    for name, arg, kind, shape in INPUTS:
        t = _tensor(inputs[name], arg)
        if t.device != device:
            raise ValueError("{}: '{}' is on {} but '{}' is on {}: put every tensor on one device".format(SPEC, arg, t.device, ref_arg, device))
        if kind == 'int':
            if tuple(t.shape) != (B, T):
                raise ValueError("{}: '{}' has shape {}; expected [B, T] = [{}, {}]".format(SPEC, arg, _shape_text(t.shape), B, T))
            if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
                raise TypeError("{}: '{}' must hold integers, got {}".format(SPEC, arg, t.dtype))
            tensors.append(t.to(torch.int32).contiguous())
            continue
        if t.dim() != 3 + len(shape) or tuple(t.shape[:2]) != (B, T) or tuple(t.shape[3:]) != tuple(shape):
            raise ValueError("{}: '{}' has shape {}; expected [B, T, heads{}] = [{}, {}, heads{}]".format(
                SPEC, arg, _shape_text(t.shape), ''.join(', {}'.format(d) for d in shape), B, T, ''.join(', {}'.format(d) for d in shape)))
        if t.dtype != DTYPE:
            raise TypeError("{}: '{}' is {}; these kernels were compiled for {} inputs: cast with .to({}) or compile with another --dtype".format(
                SPEC, arg, t.dtype, DTYPE, DTYPE))
        heads[name] = int(t.shape[2])
        tensors.append(t.contiguous())
    H = max(heads.values())
    for name, h in heads.items():
        if h < 1 or H % h != 0:
            raise ValueError("{}: '{}' has {} heads, which must divide H = {} (the most heads of any input; GQA/GVA)".format(SPEC, name, h, H))
    for name, arg, per_head, shape in PARAMS:
        t = _tensor(params[name], arg)
        want = ((H,) if per_head else ()) + tuple(shape)
        if t.device != device:
            raise ValueError("{}: parameter '{}' is on {}; the inputs are on {}".format(SPEC, arg, t.device, device))
        if tuple(t.shape) != want:
            raise ValueError("{}: parameter '{}' has shape {}; expected {}".format(SPEC, arg, _shape_text(t.shape), _shape_text(want)))
        if not t.is_floating_point():
            raise TypeError("{}: parameter '{}' must be a floating-point tensor, got {}".format(SPEC, arg, t.dtype))
        tensors.append(_float32(t))
    cu_dev = None
    N, max_seqlen = B, T
    if cu_seqlens is not None:
        cu_seqlens = _tensor(cu_seqlens, 'cu_seqlens')
        if cu_seqlens.dim() != 1 or cu_seqlens.dtype not in (torch.int32, torch.int64):
            raise TypeError('{}: cu_seqlens must be a 1-D int32 or int64 tensor, got {} {}'.format(SPEC, cu_seqlens.dtype, _shape_text(cu_seqlens.shape)))
        if B != 1:
            raise ValueError('{}: a packed batch (cu_seqlens) has B = 1, got B = {}: flatten the sequences into the time axis'.format(SPEC, B))
        cu = [int(x) for x in cu_seqlens.tolist()]
        if len(cu) < 2 or cu[0] != 0 or cu[-1] != T or any(b < a for a, b in zip(cu, cu[1:])):
            raise ValueError('{}: cu_seqlens must be non-decreasing, start at 0 and end at T = {}; got {}'.format(SPEC, T, cu if len(cu) <= 12 else cu[:6] + ['...'] + cu[-3:]))
        N = len(cu) - 1
        max_seqlen = max(b - a for a, b in zip(cu, cu[1:]))
        cu_dev = cu_seqlens.to(device=device, dtype=torch.int32).contiguous()
    if not STATES and (initial_state is not None or output_final_state):
        raise ValueError('{}: a softmax attention has no state: drop initial_state and output_final_state'.format(SPEC))
    shapes = [tuple({'N': N, 'H': H}.get(d, d) for d in shape) for _, _, _, shape in STATES]
    fields = [arg for _, arg, _, _ in INPUTS] + [arg for _, arg, _, _ in PARAMS]
    if initial_state is not None:
        parts = tuple(initial_state) if isinstance(initial_state, (tuple, list)) else (initial_state,)
        if len(parts) != len(STATES):
            raise ValueError('{}: initial_state is {}'.format(SPEC, _state_doc(shapes)))
        for (label, init_field, _, _), shape, t in zip(STATES, shapes, parts):
            t = _tensor(t, 'initial_state ' + label)
            if t.device != device or tuple(t.shape) != shape or not t.is_floating_point():
                raise ValueError('{}: initial_state {} is {} {} on {}; expected float32 {} on {}'.format(
                    SPEC, label, t.dtype, _shape_text(t.shape), t.device, _shape_text(shape), device))
            tensors.append(_float32(t))
            fields.append(init_field)
    if device.index not in _DEVICES_CHECKED:
        _check_device(device)
    plan = _Plan()
    plan.args = args = _Args()
    args.B, args.T, args.H = B, T, H
    for name, h in heads.items():
        setattr(args, 'heads_' + name, h)
    plan.cu = cu_dev
    if cu_dev is not None:
        args.cu_seqlens, args.num_seqs, args.max_seqlen = cu_dev.data_ptr(), N, max_seqlen
    lib = _lib or build()
    got = ctypes.c_size_t(0)
    _check(lib, lib.{{name}}_workspace_bytes(ctypes.byref(args), ctypes.byref(got)))
    args.workspace_bytes = plan.workspace_bytes = got.value
    plan.device, plan.index, plan.fields = device, device.index, fields
    plan.out_shape, plan.state_shapes = (B, T, H, VALUE_DIM), shapes
    return plan, tensors


def _launch(plan, tensors, output_final_state):
    args = _Args.from_buffer_copy(plan.args)
    for field, t in zip(plan.fields, tensors):
        setattr(args, field, t.data_ptr())
    o = torch.empty(plan.out_shape, dtype=DTYPE, device=plan.device)
    args.o = o.data_ptr()
    final = None
    if output_final_state:
        final = [torch.empty(shape, dtype=torch.float32, device=plan.device) for shape in plan.state_shapes]
        for (_, _, final_field, _), t in zip(STATES, final):
            setattr(args, final_field, t.data_ptr())
    workspace = None
    if plan.workspace_bytes:
        workspace = torch.empty(plan.workspace_bytes, dtype=torch.uint8, device=plan.device)
        args.workspace = workspace.data_ptr()
    # The launch goes to the tensors' device: switched to only when it is not the current one.
    index = plan.index
    with contextlib.nullcontext() if _current_device() == index else torch.cuda.device(plan.device):
        stream = _raw_stream(index) if _raw_stream else torch.cuda.current_stream(plan.device).cuda_stream
        _check(_lib, _lib.{{name}}_forward(ctypes.byref(args), stream))
    if output_final_state:
        return o, (final[0] if len(final) == 1 else tuple(final))
    return o


def _forward(inputs, params, initial_state, output_final_state, cu_seqlens):
    if cu_seqlens is None:
        tensors, key = _signature(inputs, params, initial_state, output_final_state)
        plan = _PLANS.get(key) if key is not None else None
        if plan is not None:
            return _launch(plan, tensors, output_final_state)
    plan, passed = _prepare(inputs, params, initial_state, output_final_state, cu_seqlens)
    # Cached only where the call passes the caller's own tensors (no copies made), so that a later
    # call with the same key may pass its tensors unchecked.
    if cu_seqlens is None and key is not None and all(a is b for a, b in zip(passed, tensors)):
        if len(_PLANS) > 4096:
            _PLANS.clear()
        _PLANS[key] = plan
    return _launch(plan, passed, output_final_state)


def _state_doc(shapes):
    if len(STATES) == 1:
        return 'a float32 tensor {}'.format(_shape_text(shapes[0]))
    return 'a tuple ({}) of float32 tensors {}'.format(', '.join(s[0] for s in STATES), ', '.join(_shape_text(s) for s in shapes))


def forward({{signature}}, initial_state=None, output_final_state=False, cu_seqlens=None):
    """{{spec}} forward pass.

    Args:
{{#each argDocs}}        {{this}}
{{/each}}        initial_state: {{initDoc}}
        output_final_state: {{finalDoc}}
        cu_seqlens: int32/int64 [N + 1] offsets of N packed sequences (B = 1), or None.

    Returns:
        o [B, T, H, {{valueDim}}] ({{dtypeName}}){{#if recurrent}}, or (o, final_state) with output_final_state{{/if}}.
    """
    return _forward({{{inputDict}}}, {{{paramDict}}}, initial_state, output_final_state, cu_seqlens)
`,
  { noEscape: true, strict: true },
);

/** `arch`: the architecture the file builds for (the manifest's: sm_90a where a kernel uses warpgroup MMA). */
export function torchLoader(ir: AttentionIR, o: { name: string; fields: AbiField[]; kernels: CudaKernel[]; profile: TargetProfile; dtype: Dtype; arch: string }): string {
  const recurrent = ir.family === 'recurrent';
  const K = ir.keyDim;
  const V = ir.valueDim;
  const states: [string, string, string, (string | number)[]][] = [];
  if (recurrent) {
    states.push(['S', 'initial_state', 'final_state', ['N', 'H', K, V]]);
    if (ir.normalizer !== 'none') states.push(['z', 'initial_z', 'final_z', ['N', 'H', K]]);
    if (ir.normalizer === 'maxabs') states.push(['m', 'initial_m', 'final_m', ['N', 'H']]);
  }
  const stateDoc = states.length === 1 ? `S [N, H, ${K}, ${V}]` : `a tuple (${states.map((s) => s[0]).join(', ')}) of ${states.map((s) => `[${s[3].join(', ')}]`).join(', ')}`;
  const args = [...ir.inputs.map((i) => fieldName(i.name)), ...ir.params.map((p) => fieldName(p.name))];
  const argDocs = [
    ...ir.inputs.map((i) => `${fieldName(i.name)}: ${i.type === 'int' ? 'integer [B, T]' : `${dtypeName(o.dtype)} [B, T, heads${i.shape.map((d) => `, ${d}`).join('')}]`}.`),
    ...ir.params.map((p) => `${fieldName(p.name)}: float [${[...(p.perHead ? ['H'] : []), ...p.shape].join(', ')}] (a parameter).`),
  ];
  const ctype = (f: AbiField) => (f.py === 'int' ? 'c_int' : f.py === 'size' ? 'c_size_t' : 'c_void_p');
  return LOADER({
    file: ir.name,
    name: o.name,
    version: VERSION,
    spec: ir.name,
    target: o.profile.name,
    dtype: o.dtype,
    dtypeName: dtypeName(o.dtype),
    family: ir.family,
    normalizer: ir.normalizer,
    keyDim: K,
    valueDim: V,
    recurrent,
    stateDoc,
    example: args.join(', '),
    inputs: pyLiteral(ir.inputs.map((i) => [i.name, fieldName(i.name), i.type, [...i.shape]])),
    params: pyLiteral(ir.params.map((p) => [p.name, fieldName(p.name), p.perHead, [...p.shape]])),
    states: pyLiteral(states),
    maxShared: Math.max(0, ...o.kernels.map((k) => k.dynamicSharedBytes)),
    // An architecture-specific target (sm_90a) as PyTorch names it ('9.0a'); the device's own otherwise.
    archList: o.arch.endsWith('a') ? o.arch.replace(/^sm_(\d+)(\d)a$/, '$1.$2a') : null,
    cuFile: `${ir.name}.cu`,
    fields: o.fields.map((f) => ({ name: f.name, ctype: ctype(f) })),
    signature: args.join(', '),
    argDocs,
    initDoc: recurrent ? `${stateDoc} (float32), or None for zeros.` : 'not available (softmax attention has no state).',
    finalDoc: recurrent ? 'also return the final state (same layout as initial_state).' : 'not available (softmax attention has no state).',
    inputDict: `{${ir.inputs.map((i) => `${JSON.stringify(i.name)}: ${fieldName(i.name)}`).join(', ')}}`,
    paramDict: `{${ir.params.map((p) => `${JSON.stringify(p.name)}: ${fieldName(p.name)}`).join(', ')}}`,
  });
}

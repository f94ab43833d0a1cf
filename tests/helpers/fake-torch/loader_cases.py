"""Runs a generated PyTorch loader (NAME_torch.py) on the stand-in torch beside this file, with a
fake shared library that records each launch's args struct, and checks the loader's per-signature
plan cache: a second call like the first skips the checks and passes its own tensors; calls whose
tensors needed a copy, or with cu_seqlens, are checked every time; a call that differs in dtype or
shape is checked again (and fails where it should).

    python3 loader_cases.py LOADER.py    prints 'ok: N cases' or fails with an AssertionError
"""
import ctypes
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402 - the stand-in

path = sys.argv[1]
spec = importlib.util.spec_from_file_location('loader_under_test', path)
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
name = 'attnc_' + m.SPEC
launches = []


class FakeLib:
    pass


lib = FakeLib()


def _forward(ref, stream):
    s = ref._obj
    launches.append({f: getattr(s, f) for f, _ in s._fields_})
    return 0


def _workspace(ref, got):
    got._obj.value = 4096
    return 0


setattr(lib, name + '_forward', _forward)
setattr(lib, name + '_workspace_bytes', _workspace)
setattr(lib, name + '_status_string', lambda st: b'error')
setattr(lib, name + '_last_error', lambda: b'')
m._lib = lib

prepared = [0]
_prepare = m._prepare


def counting_prepare(*a):
    prepared[0] += 1
    return _prepare(*a)


m._prepare = counting_prepare

B, T, H = 2, 64, 4


def make_args(T=T, dtype=m.DTYPE, contiguous=True, param_dtype=torch.float32, batch=B):
    args = []
    for _, _, kind, shape in m.INPUTS:
        args.append(torch.Tensor(((batch, T) if kind == 'int' else (batch, T, H) + tuple(shape)), torch.int32 if kind == 'int' else dtype, contiguous=contiguous))
    for _, _, per_head, shape in m.PARAMS:
        args.append(torch.Tensor(((H,) if per_head else ()) + tuple(shape), param_dtype))
    return args


def pointers(args):
    return [t.data_ptr() for t in args]


def passed(launch):
    return [launch[arg] for _, arg, _, _ in m.INPUTS] + [launch[arg] for _, arg, _, _ in m.PARAMS]


cases = 0
# 1. The first call checks and caches; a second like it does not check and passes its own tensors.
a1 = make_args()
m.forward(*a1)
assert prepared[0] == 1 and len(launches) == 1
a2 = make_args()
m.forward(*a2)
assert prepared[0] == 1, 'a call like the first takes the cached plan'
assert passed(launches[1]) == pointers(a2), 'the cached plan passes the call\'s own tensors'
same = ('B', 'T', 'H', 'workspace_bytes') + tuple('heads_' + n for n, _, kind, _ in m.INPUTS if kind == 'real')
assert all(launches[0][f] == launches[1][f] for f in same), 'the same shapes in the args struct'
assert launches[0]['o'] != launches[1]['o'] and launches[0]['workspace'] != launches[1]['workspace'], 'fresh outputs and workspace'
cases += 1
# 2. Non-contiguous inputs are copied, and such calls are checked every time.
n0 = prepared[0]
a3 = make_args(contiguous=False)
m.forward(*a3)
m.forward(*a3)
assert prepared[0] == n0 + 2, 'calls that need copies are never cached'
assert passed(launches[-1])[0] != a3[0].data_ptr(), 'the copy is passed, not the strided tensor'
cases += 1
# 3. Another dtype with the same shapes is checked again, and fails.
try:
    m.forward(*make_args(dtype=torch.float16 if m.DTYPE is not torch.float16 else torch.bfloat16))
    raise AssertionError('a wrong input dtype after a cached plan must fail')
except TypeError as e:
    assert 'compiled for' in str(e), e
cases += 1
# 4. Another length is a new plan.
n0 = prepared[0]
m.forward(*make_args(T=32))
assert prepared[0] == n0 + 1 and launches[-1]['T'] == 32
cases += 1
# 5. Parameters in float64 are converted, and such calls are never cached.
if m.PARAMS:
    n0 = prepared[0]
    a5 = make_args(param_dtype=torch.float64)
    m.forward(*a5)
    m.forward(*a5)
    assert prepared[0] == n0 + 2
    assert passed(launches[-1])[len(m.INPUTS)] != a5[len(m.INPUTS)].data_ptr()
    cases += 1
# 6. States: the initial state is passed, a fresh final state allocated each call; the plan cached.
if m.STATES:
    shapes = [tuple({'N': B, 'H': H}.get(d, d) for d in shape) for _, _, _, shape in m.STATES]
    init = [torch.Tensor(s, torch.float32) for s in shapes]
    state = init[0] if len(init) == 1 else tuple(init)
    n0 = prepared[0]
    m.forward(*make_args(), initial_state=state, output_final_state=True)
    o, final = m.forward(*make_args(), initial_state=state, output_final_state=True)
    assert prepared[0] == n0 + 1, 'a call with a state like the one before takes its plan'
    assert launches[-1]['initial_state'] == init[0].data_ptr()
    assert launches[-1]['final_state'] == (final if len(init) == 1 else final[0]).data_ptr() != launches[-2]['final_state']
    cases += 1
# 7. cu_seqlens: checked every call.
n0 = prepared[0]
packed = make_args(batch=1)
cu = torch.Tensor((3,), torch.int32, values=[0, 20, T])
m.forward(*packed, cu_seqlens=cu)
m.forward(*packed, cu_seqlens=cu)
assert prepared[0] == n0 + 2 and launches[-1]['num_seqs'] == 2 and launches[-1]['max_seqlen'] == 44
cases += 1
print('ok: {} cases'.format(cases))

#!/usr/bin/env python3
"""CUDA kernels = float64 reference, on a GPU machine.

    node --import tsx bench/gpu/export_reference.ts --out DIR      # anywhere: inputs, references, CUDA artefacts
    python3 bench/gpu/check.py DIR [--specs a,b] [--dtypes bf16,f16,f32] [--jobs N] [--no-fla]

For every spec, storage type and case that export_reference.ts wrote, this loads the spec through
its generated loader (DIR/SPEC/DTYPE/SPEC_torch.py: builds SPEC.cu with torch.utils.cpp_extension
and calls the C ABI), runs it on the case's inputs and compares with the float64 reference of the
attnc interpreter: relative RMSE ||ref - out||_2 / ||ref||_2 <= 5e-3 for bf16/f16 storage and
<= 1e-4 for f32, for the output and every part of the final state. The recurrent cases also run
without output_final_state (the kernels' no-store path). Where flash-linear-attention is
importable and has the mechanism, its naive PyTorch reference (fla.ops.*.naive) runs on the same
inputs, and the CUDA output is compared with it too (same tolerance; a naive function whose
signature this script does not know is reported, not failed).

Prints a table (spec, dtype, case, rel. error of the output and of the state, vs FLA, pass/fail)
and exits 1 if anything failed, 2 on bad usage.
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import time
import traceback
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

TORCH_DTYPES = {'bf16': 'bfloat16', 'f16': 'float16', 'f32': 'float32'}


def load_loader(root, spec, dtype):
    """Import DIR/SPEC/DTYPE/SPEC_torch.py under a unique module name."""
    path = os.path.join(root, spec, dtype, spec + '_torch.py')
    name = 'attnc_check_{}_{}'.format(spec, dtype)
    mod_spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


def _build(args):
    root, spec, dtype = args
    t0 = time.time()
    try:
        load_loader(root, spec, dtype).build()
        return spec, dtype, None, time.time() - t0
    except Exception as e:  # noqa: BLE001 - reported in the table
        return spec, dtype, '{}: {}'.format(type(e).__name__, e), time.time() - t0


def rel_err(ref, out):
    ref = np.asarray(ref, dtype=np.float64).ravel()
    out = np.asarray(out, dtype=np.float64).ravel()
    if ref.shape != out.shape:
        return math.inf
    if not np.all(np.isfinite(out)):
        return math.inf
    denom = np.linalg.norm(ref)
    num = np.linalg.norm(ref - out)
    return float(num / denom) if denom > 0 else float(num)


def to_numpy(t):
    return t.detach().float().cpu().numpy().astype(np.float64)


# ── FLA's naive references ────────────────────────────────────────────────────────────────────
# Each adapter takes the case's float32 tensors (on the GPU) and returns (o [B, T, H, V], final S
# [B, H, K, V] or None), applying the spec's feature maps and gates the way the stdlib spec
# writes them. Only cases with B sequences, no GQA and no initial state are compared.

def _fla():
    try:
        import fla  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


def _l2n(x):
    import torch
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + 1e-6)


def _fla_adapters():
    import torch
    import torch.nn.functional as F

    def head_first(x):
        return x.transpose(1, 2).contiguous()

    def gated_deltanet(t, K, V):
        from fla.ops.gated_delta_rule.naive import naive_recurrent_gated_delta_rule
        g = -torch.exp(t['A_log'])[None, None, :] * F.softplus(t['a'] + t['dt_bias'][None, None, :])
        return naive_recurrent_gated_delta_rule(_l2n(t['q']), _l2n(t['k']), t['v'], beta=torch.sigmoid(t['b']), g=g,
                                                scale=K ** -0.5, output_final_state=True)

    def deltanet(t, K, V):
        from fla.ops.delta_rule.naive import delta_rule_recurrence
        o, s = delta_rule_recurrence(head_first(_l2n(t['q'])), head_first(_l2n(t['k'])), head_first(t['v']),
                                     head_first(torch.sigmoid(t['b'])), output_final_state=True)
        return o.transpose(1, 2), s

    def gla(t, K, V):
        from fla.ops.gla.naive import naive_recurrent_gla
        return naive_recurrent_gla(t['q'], t['k'], t['v'], F.logsigmoid(t['gk']) / 16, output_final_state=True)

    def simple_gla(t, K, V):
        from fla.ops.simple_gla.naive import naive_recurrent_simple_gla
        return naive_recurrent_simple_gla(t['q'], t['k'], t['v'], torch.clamp(t['g'], max=0.0), scale=K ** -0.5, output_final_state=True)

    def kda(t, K, V):
        from fla.ops.kda.naive import naive_recurrent_kda
        g = -torch.exp(t['A_log'])[None, None, :, None] * F.softplus(t['g'] + t['dt_bias'][None, None, :, :])
        return naive_recurrent_kda(_l2n(t['q']), _l2n(t['k']), t['v'], g, torch.sigmoid(t['b']), scale=K ** -0.5, output_final_state=True)

    def rwkv6(t, K, V):
        from fla.ops.rwkv6.recurrent_naive import naive_recurrent_rwkv6
        o, s = naive_recurrent_rwkv6(head_first(t['q']), head_first(t['k']), head_first(t['v']), head_first(-torch.exp(t['w'])),
                                     t['u'], scale=K ** -0.5, output_final_state=True)
        return o.transpose(1, 2), s

    def retnet(t, K, V):
        from fla.ops.retention.naive import naive_retention
        return naive_retention(head_first(t['q']), head_first(t['k']), head_first(t['v'])).transpose(1, 2), None

    def mamba2(t, K, V):
        from fla.ops.simple_gla.naive import naive_recurrent_simple_gla
        delta = F.softplus(t['dt'] + t['dt_bias'][None, None, :])
        g = -torch.exp(t['A_log'])[None, None, :] * delta
        o, s = naive_recurrent_simple_gla(t['q'], t['k'], t['v'] * delta[..., None], g, scale=1.0, output_final_state=True)
        return o + t['D'][None, None, :, None] * t['v'], s

    def linear_attention(t, K, V):
        from fla.ops.linear_attn.naive import naive_recurrent_linear_attn
        phi = lambda x: F.elu(x) + 1  # noqa: E731
        o, _ = naive_recurrent_linear_attn(phi(t['q']), phi(t['k']), t['v'], scale=1.0, normalize=True)
        return o, None

    def based(t, K, V):
        from fla.ops.based.naive import naive_parallel_based
        D = t['q'].shape[-1]
        o = naive_parallel_based(head_first(t['q'] * D ** -0.25), head_first(t['k'] * D ** -0.25), head_first(t['v']), scale=1.0, use_norm=True)
        return o.transpose(1, 2), None

    def forgetting_attention(t, K, V):
        from fla.ops.forgetting_attn.naive import naive_forgetting_attn
        return naive_forgetting_attn(t['q'], t['k'], t['v'], F.logsigmoid(t['f']), scale=K ** -0.5), None

    def _attn(t, K):
        from fla.ops.attn.naive import naive_parallel_attn
        o = naive_parallel_attn(t['q'], t['k'], t['v'], scale=K ** -0.5)
        return o[0] if isinstance(o, tuple) else o

    def softmax(t, K, V):
        return _attn(t, K), None

    def gated_softmax(t, K, V):
        return _attn(t, K) * torch.sigmoid(t['x']), None

    return {
        'gated_deltanet': gated_deltanet, 'deltanet': deltanet, 'gla': gla, 'simple_gla': simple_gla, 'kda': kda,
        'rwkv6': rwkv6, 'retnet': retnet, 'mamba2': mamba2, 'linear_attention': linear_attention, 'based': based,
        'forgetting_attention': forgetting_attention, 'softmax': softmax, 'gated_softmax': gated_softmax,
    }


def fla_reference(spec, tensors, K, V):
    """(o, S) from FLA's naive reference, or a string saying why there is none."""
    import torch
    adapters = _fla_adapters()
    if spec not in adapters:
        return 'no FLA mechanism'
    try:
        with torch.no_grad():
            t = {k: v.float() for k, v in tensors.items()}
            o, s = adapters[spec](t, K, V)
        return to_numpy(o), (to_numpy(s) if s is not None else None)
    except Exception as e:  # noqa: BLE001 - API drift across FLA versions is reported, not failed
        return 'FLA error: {}: {}'.format(type(e).__name__, str(e).splitlines()[0][:80] if str(e) else '')


# ── the check ─────────────────────────────────────────────────────────────────────────────────

def run_case(mod, entry, case, data, device):
    import torch
    dtype = mod.DTYPE
    inputs = {}
    by_name = {}
    for name, arg, kind, _shape in mod.INPUTS:
        a = data[name]
        inputs[arg] = by_name[name] = torch.from_numpy(a).to(device=device, dtype=torch.int32 if kind == 'int' else dtype)
    for name, arg, _per_head, _shape in mod.PARAMS:
        inputs[arg] = by_name[name] = torch.from_numpy(data[name]).to(device=device, dtype=torch.float32)
    kwargs = {}
    if 'cu_seqlens' in data:
        kwargs['cu_seqlens'] = torch.from_numpy(data['cu_seqlens']).to(device=device)
    if case['initialState']:
        parts = [torch.from_numpy(data['initial_state']).to(device)]
        for suffix in ('_z', '_m'):
            if 'initial_state' + suffix in data:
                parts.append(torch.from_numpy(data['initial_state' + suffix]).to(device))
        kwargs['initial_state'] = parts[0] if len(parts) == 1 else tuple(parts)
    results = {'o': 0.0}
    # Every call twice: the second finds the launch plan the first cached (the loaders' path
    # without checks), and both must match the reference.
    for _ in range(2):
        if case['finalState']:
            o, state = mod.forward(**inputs, output_final_state=True, **kwargs)
            parts = state if isinstance(state, tuple) else (state,)
            errs = []
            for part, suffix in zip(parts, ['', '_z', '_m']):
                errs.append(rel_err(data['ref_final_state' + suffix], to_numpy(part)))
            results['state'] = max([results.get('state', 0.0)] + errs)
            results['o'] = max(results['o'], rel_err(data['ref_o'], to_numpy(o)))
            # The same run without storing the final state.
            o2 = mod.forward(**inputs, **kwargs)
            results['o'] = max(results['o'], rel_err(data['ref_o'], to_numpy(o2)))
        else:
            o = mod.forward(**inputs, **kwargs)
            results['o'] = max(results['o'], rel_err(data['ref_o'], to_numpy(o)))
        results['out'] = o
    torch.cuda.synchronize(device)
    return results, by_name


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('dir', help='output folder of export_reference.ts')
    ap.add_argument('--specs', default='', help='comma-separated spec names (default: all)')
    ap.add_argument('--dtypes', default='', help='comma-separated storage types (default: those exported)')
    ap.add_argument('--jobs', type=int, default=min(16, os.cpu_count() or 1), help='parallel builds')
    ap.add_argument('--no-fla', action='store_true', help='skip the comparison with FLA naive references')
    ap.add_argument('--device', default='cuda')
    args = ap.parse_args(argv)
    index_path = os.path.join(args.dir, 'index.json')
    if not os.path.exists(index_path):
        print('check.py: {} not found: run bench/gpu/export_reference.ts --out {} first'.format(index_path, args.dir), file=sys.stderr)
        return 2
    import torch
    if not torch.cuda.is_available():
        print('check.py: no CUDA device (torch.cuda.is_available() is False)', file=sys.stderr)
        return 2
    with open(index_path) as f:
        index = json.load(f)
    only = [s for s in args.specs.split(',') if s]
    dtypes = [d for d in (args.dtypes.split(',') if args.dtypes else index['dtypes']) if d]
    specs = [s for s in index['specs'] if not only or s['name'] in only]
    root = os.path.abspath(args.dir)
    device = torch.device(args.device)
    tol = index['tolerance']
    use_fla = not args.no_fla and _fla()
    print('device: {} (sm_{}{}), torch {}, profile {}, FLA naive references: {}'.format(
        torch.cuda.get_device_name(device), *torch.cuda.get_device_capability(device), torch.__version__, index['profile'],
        'yes' if use_fla else ('off' if args.no_fla else 'not importable (column skipped)')), flush=True)

    # Build every loader's library in parallel (each build is cached by content; the loads below reuse it).
    t0 = time.time()
    jobs = [(root, s['name'], d) for s in specs for d in dtypes]
    build_errors = {}
    # spawn, not fork: this process has initialised CUDA already.
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=multiprocessing.get_context('spawn')) as ex:
        for spec, dtype, err, secs in ex.map(_build, jobs):
            if err:
                build_errors[(spec, dtype)] = err
    print('built {} libraries in {:.0f} s ({} failed)'.format(len(jobs), time.time() - t0, len(build_errors)), flush=True)

    rows = []
    failures = 0
    header = '{:<22} {:<5} {:<10} {:>10} {:>10} {:>10}  {}'.format('spec', 'dtype', 'case', 'output', 'state', 'vs FLA', 'result')
    print(header)
    print('-' * len(header))
    for s in specs:
        fla_cache = {}
        for dtype in dtypes:
            if (s['name'], dtype) in build_errors:
                failures += 1
                print('{:<22} {:<5} {:<10} {:>10} {:>10} {:>10}  FAIL build: {}'.format(s['name'], dtype, '-', '-', '-', '-', build_errors[(s['name'], dtype)][:300]), flush=True)
                continue
            mod = load_loader(root, s['name'], dtype)
            limit = tol[dtype]
            for case in s['cases']:
                with np.load(os.path.join(root, case['file'])) as z:
                    data = {k: z[k] for k in z.files}
                try:
                    res, tensors = run_case(mod, s, case, data, device)
                except Exception as e:  # noqa: BLE001 - a failing case is a table row
                    failures += 1
                    msg = '{}: {}'.format(type(e).__name__, e)
                    print('{:<22} {:<5} {:<10} {:>10} {:>10} {:>10}  FAIL {}'.format(s['name'], dtype, case['name'], '-', '-', '-', msg[:300]), flush=True)
                    if os.environ.get('ATTNC_CHECK_TRACEBACK'):
                        traceback.print_exc()
                    continue
                fla_text = '-'
                fla_ok = True
                if use_fla and case['name'] == 'plain':
                    if case['name'] not in fla_cache:
                        fla_cache[case['name']] = fla_reference(s['name'], {k: v for k, v in tensors.items()}, mod.KEY_DIM, mod.VALUE_DIM)
                    ref = fla_cache[case['name']]
                    if isinstance(ref, str):
                        fla_text = 'n/a'
                    else:
                        e = rel_err(ref[0], to_numpy(res['out']))
                        fla_text = '{:.2e}'.format(e)
                        fla_ok = e <= limit
                ok = res['o'] <= limit and res.get('state', 0.0) <= limit and fla_ok
                failures += 0 if ok else 1
                why = ''
                if use_fla and case['name'] == 'plain' and isinstance(fla_cache.get('plain'), str) and fla_cache['plain'] != 'no FLA mechanism':
                    why = ' ({})'.format(fla_cache['plain'])
                print('{:<22} {:<5} {:<10} {:>10} {:>10} {:>10}  {}{}'.format(
                    s['name'], dtype, case['name'], '{:.2e}'.format(res['o']),
                    '{:.2e}'.format(res['state']) if 'state' in res else '-', fla_text,
                    'pass' if ok else 'FAIL (tolerance {:g})'.format(limit), why), flush=True)
                rows.append((s['name'], dtype, case['name'], res['o'], res.get('state'), fla_text, ok))
    print('\n{} passed, {} failed'.format(sum(1 for r in rows if r[6]), failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

"""Side-by-side forward timings on one GPU, in one process: attnc's generated CUDA kernels against
flash-linear-attention's chunk kernels, PyTorch SDPA and FlexAttention.

    python3 bench/gpu/compare.py DIR [--reps 30] [--shapes 16x1024,4x4096,1x16384] [--only a,b] [--json FILE]
    python3 bench/gpu/compare.py DIR --only gated_deltanet --skip-others --variants

DIR holds `attnc compile --target cuda` outputs, one folder per spec (SPEC/cuda/SPEC_torch.py),
DIR/decode/gated_deltanet for the decode row and DIR/variants/NAME/gated_deltanet for the tile
variants that --variants times, each at every shape, in a table of variant × shape
(bench/gpu/prepare-compare.sh makes them all: `attnc compile --chunk C --tiles BV=…`). FLA is
imported from PYTHONPATH (a checkout kept outside the repository); rows whose library is missing
are reported as such. H = 16, K = V = 128, bf16 inputs, fp32 state, forward only; each timing is
the median of --reps CUDA-event measurements after warm-up. Rows print as they finish.
"""
import argparse
import concurrent.futures
import glob
import importlib.util
import json
import math
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

H = 16
D = 128
DEV = 'cuda'

# attnc spec → (FLA function label, how to call it).
PAIRS = [
    ('linear_attention', 'FLA chunk_linear_attn'),
    ('retnet', 'FLA chunk_retention'),
    ('simple_gla', 'FLA chunk_simple_gla'),
    ('gla', 'FLA chunk_gla'),
    ('deltanet', 'FLA chunk_delta_rule'),
    ('gated_deltanet', 'FLA chunk_gated_delta_rule'),
    ('kda', 'FLA chunk_kda'),
    ('rwkv6', 'FLA chunk_rwkv6'),
    ('softmax', 'SDPA causal'),
    ('softmax', 'Flex causal'),
    ('swa_sink', 'Flex sliding window 512'),
    ('alibi', 'Flex ALiBi causal'),
]


def median_ms(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def load_loader(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name + '_' + str(abs(hash(path))), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tiling_note(loader_path):
    """The planner's tiling note from the manifest beside a loader ('chunk 32, value tile 32 (requested), …'), or ''."""
    folder = os.path.dirname(loader_path)
    spec = os.path.basename(loader_path)[:-len('_torch.py')]
    try:
        with open(os.path.join(folder, spec + '.manifest.json')) as f:
            notes = json.load(f).get('notes', [])
    except (OSError, ValueError):
        return ''
    return next((n[len('tiling: '):] for n in notes if n.startswith('tiling: chunk')), '')


def attnc_args(mod, B, T, gen):
    """Random inputs for a generated loader, in its argument order: per-token inputs, then parameters."""
    args = []
    for name, _arg, kind, feat in mod.INPUTS:
        if kind != 'real':
            args.append(torch.zeros((B, T), dtype=torch.int32, device=DEV))
            continue
        args.append(torch.randn((B, T, H) + tuple(feat), generator=gen, device=DEV).to(mod.DTYPE))
    for name, _arg, per_head, shape in mod.PARAMS:
        shp = ((H,) if per_head else ()) + tuple(shape)
        args.append((0.5 * torch.randn(shp, generator=gen, device=DEV)).float())
    return args


def attnc_state(mod, N, gen):
    """A random initial state for a generated loader (its STATES, N sequences), as forward() takes it."""
    parts = tuple(0.1 * torch.randn(tuple({'N': N, 'H': H}.get(d, d) for d in shape), generator=gen, device=DEV) for _, _, _, shape in mod.STATES)
    return parts[0] if len(parts) == 1 else parts


def fla_call(label, B, T, gen):
    """The FLA (or PyTorch) call of a row, with inputs made once; returns a thunk, or raises ImportError."""
    r = lambda *s: torch.randn(*s, generator=gen, device=DEV)
    q, k, v = (r(B, T, H, D).bfloat16() for _ in range(3))
    if label == 'FLA chunk_linear_attn':
        from fla.ops.linear_attn import chunk_linear_attn
        return lambda: chunk_linear_attn(q, k, v, normalize=True)
    if label == 'FLA chunk_retention':
        from fla.ops.retention import chunk_retention
        return lambda: chunk_retention(q, k, v)
    if label == 'FLA chunk_simple_gla':
        from fla.ops.simple_gla import chunk_simple_gla
        g = F.logsigmoid(r(B, T, H)).float()
        return lambda: chunk_simple_gla(q, k, v, g=g)
    if label == 'FLA chunk_gla':
        from fla.ops.gla import chunk_gla
        g = (F.logsigmoid(r(B, T, H, D)) / 16).float()
        return lambda: chunk_gla(q, k, v, g=g)
    if label == 'FLA chunk_delta_rule':
        from fla.ops.delta_rule import chunk_delta_rule
        beta = torch.sigmoid(r(B, T, H)).bfloat16()
        return lambda: chunk_delta_rule(q, k, v, beta, use_qk_l2norm_in_kernel=True)
    if label == 'FLA chunk_gated_delta_rule':
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        g = F.logsigmoid(r(B, T, H)).float()
        beta = torch.sigmoid(r(B, T, H)).bfloat16()
        return lambda: chunk_gated_delta_rule(q, k, v, g, beta, use_qk_l2norm_in_kernel=True)
    if label == 'FLA chunk_kda':
        from fla.ops.kda import chunk_kda
        g = (F.logsigmoid(r(B, T, H, D)) / 16).float()
        beta = torch.sigmoid(r(B, T, H)).bfloat16()
        return lambda: chunk_kda(q, k, v, g, beta, use_qk_l2norm_in_kernel=True)
    if label == 'FLA chunk_rwkv6':
        from fla.ops.rwkv6 import chunk_rwkv6
        w = (F.logsigmoid(r(B, T, H, D)) / 16).float()
        u = r(H, D).bfloat16()
        return lambda: chunk_rwkv6(q, k, v, w, u)
    qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
    if label == 'SDPA causal':
        return lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    if 'fn' not in FLEX:
        # One compiled flex_attention serves every mask and shape; past dynamo's default of 8
        # recompiles it silently fell back to the unfused path (a 2026-11-23 run timed Flex ALiBi at
        # B=1 T=16384 that way: 191 ms).
        for knob in ('recompile_limit', 'cache_size_limit'):
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, 64)
        FLEX['fn'] = torch.compile(flex_attention, dynamic=False)
    flex = FLEX['fn']
    if label == 'Flex causal':
        bm = create_block_mask(lambda b, h, i, j: i >= j, None, None, T, T, device=DEV)
        return lambda: flex(qt, kt, vt, block_mask=bm)
    if label == 'Flex sliding window 512':
        bm = create_block_mask(lambda b, h, i, j: (i >= j) & (i - j < 512), None, None, T, T, device=DEV)
        return lambda: flex(qt, kt, vt, block_mask=bm)
    if label == 'Flex ALiBi causal':
        slopes = torch.tensor([2.0 ** (-8.0 * (i + 1) / H) for i in range(H)], device=DEV)
        bm = create_block_mask(lambda b, h, i, j: i >= j, None, None, T, T, device=DEV)
        return lambda: flex(qt, kt, vt, score_mod=lambda s, b, h, i, j: s - slopes[h] * (i - j), block_mask=bm)
    raise ValueError(label)


FLEX = {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--reps', type=int, default=30)
    ap.add_argument('--shapes', default='16x1024,4x4096,1x16384')
    ap.add_argument('--only', default='')
    ap.add_argument('--json', default='')
    ap.add_argument('--skip-others', action='store_true', help='attnc only (no FLA, SDPA or Flex)')
    ap.add_argument('--variants', action='store_true', help='also time every tile variant DIR/variants/*/gated_deltanet at each shape (table: variant x shape)')
    a = ap.parse_args()
    shapes = [tuple(int(x) for x in s.split('x')) for s in a.shapes.split(',')]
    only = set(filter(None, a.only.split(',')))
    pairs = [p for p in PAIRS if not only or p[0] in only]
    print('device:', torch.cuda.get_device_name(), '| torch', torch.__version__, '| H=16 K=V=128 bf16 forward, median of', a.reps, flush=True)

    specs = sorted({s for s, _ in pairs})
    mods = {}
    for s in specs:
        path = os.path.join(a.dir, s, 'cuda', s + '_torch.py')
        if os.path.exists(path):
            mods[s] = load_loader(path)
    decode_path = os.path.join(a.dir, 'decode', 'gated_deltanet', 'cuda', 'gated_deltanet_torch.py')
    decode = load_loader(decode_path) if os.path.exists(decode_path) and (not only or 'gated_deltanet' in only) else None
    # Tile variants: DIR/variants/NAME/gated_deltanet/cuda/gated_deltanet_torch.py, by NAME.
    variants = {}
    if a.variants:
        for path in sorted(glob.glob(os.path.join(a.dir, 'variants', '*', 'gated_deltanet', 'cuda', 'gated_deltanet_torch.py'))):
            name = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(path))))
            variants[name] = load_loader(path)
            print(f'variant {name}: {tiling_note(path) or "tiling unknown"}', flush=True)
        if not variants:
            print(f'--variants: no DIR/variants/*/gated_deltanet/cuda/gated_deltanet_torch.py under {a.dir} (bench/gpu/prepare-compare.sh makes them)', flush=True)
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        builds = {s: ex.submit(m.build) for s, m in list(mods.items()) + ([('decode', decode)] if decode else [])}
        builds.update({'variant ' + n: ex.submit(m.build) for n, m in variants.items()})
        for s, f in builds.items():
            try:
                f.result()
            except Exception as e:  # noqa: BLE001
                print(f'attnc {s}: build failed: {e}', flush=True)
                mods.pop(s, None)
                variants.pop(s[len('variant '):] if s.startswith('variant ') else None, None)
    print(f'built {len(builds)} attnc libraries in {time.time() - t0:.0f} s', flush=True)

    results = []
    gen = torch.Generator(device=DEV)
    done_attnc = {}
    for spec, other in pairs:
        for B, T in shapes:
            row = {'spec': spec, 'other': other, 'B': B, 'T': T}
            if (spec, B, T) in done_attnc:
                row['attnc_ms'] = done_attnc[(spec, B, T)]
            elif spec in mods:
                try:
                    gen.manual_seed(0)
                    args = attnc_args(mods[spec], B, T, gen)
                    out = mods[spec].forward(*args)
                    o = out[0] if isinstance(out, tuple) else out
                    row['attnc_finite'] = bool(torch.isfinite(o.float()).all())
                    row['attnc_ms'] = median_ms(lambda: mods[spec].forward(*args), a.reps)
                    del args, out, o
                except Exception as e:  # noqa: BLE001
                    row['attnc_error'] = f'{type(e).__name__}: {e}'[:300]
                done_attnc[(spec, B, T)] = row.get('attnc_ms')
            if not a.skip_others:
                try:
                    gen.manual_seed(1)
                    fn = fla_call(other, B, T, gen)
                    row['other_ms'] = median_ms(fn, a.reps)
                    del fn
                except ImportError as e:
                    row['other_error'] = f'not importable: {e}'[:200]
                except Exception as e:  # noqa: BLE001
                    row['other_error'] = f'{type(e).__name__}: {e}'[:300]
                    if os.environ.get('ATTNC_COMPARE_TRACEBACK'):
                        traceback.print_exc()
            torch.cuda.empty_cache()
            results.append(row)
            ratio = row['other_ms'] / row['attnc_ms'] if row.get('other_ms') and row.get('attnc_ms') else float('nan')
            print(f"{spec:18s} vs {other:28s} B={B:<3d} T={T:<6d} attnc {row.get('attnc_ms', float('nan')):8.3f} ms  other {row.get('other_ms', float('nan')):8.3f} ms  other/attnc {ratio:6.2f}"
                  + (f"  [attnc: {row['attnc_error']}]" if 'attnc_error' in row else '') + (f"  [other: {row['other_error']}]" if 'other_error' in row else '')
                  + ('' if row.get('attnc_finite', True) else '  [attnc output NOT FINITE]'), flush=True)

    for name, mod in variants.items():
        for B, T in shapes:
            row = {'spec': 'gated_deltanet', 'other': None, 'variant': name, 'B': B, 'T': T}
            try:
                gen.manual_seed(0)
                args = attnc_args(mod, B, T, gen)
                out = mod.forward(*args)
                o = out[0] if isinstance(out, tuple) else out
                row['attnc_finite'] = bool(torch.isfinite(o.float()).all())
                row['attnc_ms'] = median_ms(lambda: mod.forward(*args), a.reps)
                del args, out, o
            except Exception as e:  # noqa: BLE001
                row['attnc_error'] = f'{type(e).__name__}: {e}'[:300]
            torch.cuda.empty_cache()
            results.append(row)
            print(f"gated_deltanet variant {name:12s} B={B:<3d} T={T:<6d} attnc {row.get('attnc_ms', float('nan')):8.3f} ms"
                  + (f"  [attnc: {row['attnc_error']}]" if 'attnc_error' in row else '')
                  + ('' if row.get('attnc_finite', True) else '  [attnc output NOT FINITE]'), flush=True)

    if decode is not None:
        Bd = 64
        gen.manual_seed(2)
        args = attnc_args(decode, Bd, 1, gen)
        h0 = torch.randn(Bd, H, D, D, generator=gen, device=DEV) * 0.1
        row = {'spec': 'gated_deltanet decode', 'other': 'FLA fused_recurrent_gated_delta_rule', 'B': Bd, 'T': 1}
        try:
            row['attnc_ms'] = median_ms(lambda: decode.forward(*args, initial_state=h0, output_final_state=True), a.reps)
        except Exception as e:  # noqa: BLE001
            row['attnc_error'] = f'{type(e).__name__}: {e}'[:300]
        if not a.skip_others:
            try:
                from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule
                q, k, v = (torch.randn(Bd, 1, H, D, generator=gen, device=DEV).bfloat16() for _ in range(3))
                g = F.logsigmoid(torch.randn(Bd, 1, H, generator=gen, device=DEV)).float()
                beta = torch.sigmoid(torch.randn(Bd, 1, H, generator=gen, device=DEV)).bfloat16()
                row['other_ms'] = median_ms(lambda: fused_recurrent_gated_delta_rule(q, k, v, g, beta=beta, initial_state=h0, output_final_state=True, use_qk_l2norm_in_kernel=True), a.reps)
            except Exception as e:  # noqa: BLE001
                row['other_error'] = f'{type(e).__name__}: {e}'[:300]
        results.append(row)
        print(f"decode B=64 one token: attnc {row.get('attnc_ms', float('nan')):.3f} ms, FLA fused_recurrent {row.get('other_ms', float('nan')):.3f} ms", flush=True)

    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'device': torch.cuda.get_device_name(), 'torch': torch.__version__, 'reps': a.reps, 'rows': results}, f, indent=1)

    # Markdown table: one row per pair, columns per shape.
    print('\n| kernel | ' + ' | '.join(f'B={B} T={T}' for B, T in shapes) + ' |')
    print('|---|' + '---:|' * len(shapes))
    fmt = lambda x: '—' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.3f}'
    seen = set()
    for spec, other in pairs:
        cells = [next((r for r in results if r['spec'] == spec and r['other'] == other and r['B'] == B and r['T'] == T), {}) for B, T in shapes]
        if spec not in seen:
            print(f'| attnc {spec} | ' + ' | '.join(fmt(c.get('attnc_ms')) for c in cells) + ' |')
            seen.add(spec)
        if not a.skip_others:
            print(f'| {other} | ' + ' | '.join(fmt(c.get('other_ms')) for c in cells) + ' |')
            print(f'| {other} ÷ attnc | ' + ' | '.join(fmt(c['other_ms'] / c['attnc_ms']) if c.get('other_ms') and c.get('attnc_ms') else '—' for c in cells) + ' |')

    # Tile variants: one row per variant, columns per shape (ms), the default build first.
    if variants:
        print('\n| gated_deltanet tiles | ' + ' | '.join(f'B={B} T={T}' for B, T in shapes) + ' |')
        print('|---|' + '---:|' * len(shapes))
        if 'gated_deltanet' in mods:
            print('| default | ' + ' | '.join(fmt(done_attnc.get(('gated_deltanet', B, T))) for B, T in shapes) + ' |')
        for name in variants:
            cells = [next((r for r in results if r.get('variant') == name and r['B'] == B and r['T'] == T), {}) for B, T in shapes]
            print(f'| {name} | ' + ' | '.join(fmt(c.get('attnc_ms')) for c in cells) + ' |')


if __name__ == '__main__':
    sys.exit(main())

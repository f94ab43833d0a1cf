"""Per-kernel GPU time of attnc's generated CUDA programs (torch.profiler, no ncu needed).

    python3 bench/gpu/kernel_times.py DIR [--only a,b] [--shape 4x4096] [--reps 10] [--state]

DIR holds SPEC/cuda/SPEC_torch.py loaders (bench/gpu/prepare-compare.sh writes .gpu/compare).
Prints, per spec, each kernel's mean time per forward call and its share of the call, so a
benchmark row can be split into the kernels that make it (H=16, K=V=128, as in compare.py), and
the whole call as compare.py times it (CUDA events around forward(): the kernels, the gaps
between them and the host's work before the first launch). --state passes a random initial state
and asks for the final one, as a decode step does (compare.py's decode row: DIR/decode, 64x1).
"""
import argparse
import collections
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import DEV, PAIRS, attnc_args, attnc_state, fla_call, load_loader, median_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--only', default='')
    ap.add_argument('--shape', default='4x4096')
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--state', action='store_true', help='an initial state in, the final state out')
    ap.add_argument('--fla', action='store_true', help="also split the spec's FLA (or Flex) call of compare.py into its kernels")
    a = ap.parse_args()
    B, T = (int(x) for x in a.shape.split('x'))
    only = set(filter(None, a.only.split(',')))
    specs = sorted(s for s in os.listdir(a.dir) if os.path.exists(os.path.join(a.dir, s, 'cuda', f'{s}_torch.py')) and (not only or s in only))
    print(f'device: {torch.cuda.get_device_name()} | B={B} T={T} H=16 K=V=128 bf16 forward | mean of {a.reps} calls')
    print('\n| spec | kernel | ms/call | share |\n|---|---|---:|---:|')
    for s in specs:
        mod = load_loader(os.path.join(a.dir, s, 'cuda', f'{s}_torch.py'))
        mod.build()
        gen = torch.Generator(device=DEV).manual_seed(0)
        args = attnc_args(mod, B, T, gen)
        kw = {}
        if a.state and mod.STATES:
            kw = {'initial_state': attnc_state(mod, B, gen), 'output_final_state': True}
        for _ in range(3):
            mod.forward(*args, **kw)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(a.reps):
                mod.forward(*args, **kw)
            torch.cuda.synchronize()
        per = collections.defaultdict(float)
        for ev in prof.events():
            if ev.device_type == torch.autograd.DeviceType.CUDA and ev.name.startswith('attnc_'):
                per[ev.name] += ev.device_time_total / 1000.0 / a.reps
        total = sum(per.values()) or float('nan')
        for name, ms in sorted(per.items(), key=lambda kv: -kv[1]):
            print(f'| {s} | {name} | {ms:.3f} | {100 * ms / total:.0f} % |', flush=True)
        call = median_ms(lambda: mod.forward(*args, **kw), a.reps)
        print(f'| {s} | whole call (CUDA events, median): kernels {total:.3f} + host and gaps {call - total:.3f} | {call:.3f} | |', flush=True)
        if a.fla:
            for spec, label in PAIRS:
                if spec == s and not label.startswith('SDPA'):
                    split_call(s, label, lambda: fla_call(label, B, T, torch.Generator(device=DEV).manual_seed(0)), a.reps)


def split_call(spec, label, make, reps):
    """Per-kernel GPU time of another system's call (every CUDA kernel it launches), as for attnc's."""
    try:
        fn = make()
    except ImportError as e:
        print(f'| {spec} | {label}: not importable ({e}) | | |', flush=True)
        return
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    per = collections.defaultdict(float)
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            per[ev.name[:60]] += ev.device_time_total / 1000.0 / reps
    total = sum(per.values()) or float('nan')
    for name, ms in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f'| {spec} | {label}: {name} | {ms:.3f} | {100 * ms / total:.0f} % |', flush=True)
    call = median_ms(fn, reps)
    print(f'| {spec} | {label}: whole call: kernels {total:.3f} + host and gaps {call - total:.3f} | {call:.3f} | |', flush=True)


if __name__ == '__main__':
    main()

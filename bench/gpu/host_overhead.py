"""Host time per forward() call of attnc's generated PyTorch loaders: the Python checks, the ctypes
call and the kernel launches, without the GPU's work.

    python3 bench/gpu/host_overhead.py DIR [DIR2 ...] [--only a,b] [--calls 2000] [--profile]

Each DIR holds SPEC/cuda/SPEC_torch.py loaders (bench/gpu/prepare-compare.sh writes .gpu/compare;
DIR/decode holds the decode build). At B=1 T=1 the GPU finishes each call's kernels before the
host has issued the next call's, so the wall time of a run of calls is the host's time per call:
everything before the first launch adds to a benchmark row's time as compare.py measures it
(CUDA events around forward()). Prints one table row per loader, and with --profile the functions
that take the host's time (cProfile), plus the cost of the torch calls a loader may make. The
B=64 T=1 row (a decode step with the state read and written) is the larger of the host's and the
GPU's time per call.
"""
import argparse
import cProfile
import os
import pstats
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import DEV, H, attnc_args, attnc_state, load_loader  # noqa: E402


def per_call_us(fn, calls):
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    best = float('inf')
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(calls):
            fn()
            if i % 200 == 199:
                torch.cuda.synchronize()
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / calls * 1e6)
    return best


def device_context():
    with torch.cuda.device(DEV):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dirs', nargs='+')
    ap.add_argument('--only', default='')
    ap.add_argument('--calls', type=int, default=2000)
    ap.add_argument('--profile', action='store_true')
    a = ap.parse_args()
    only = set(filter(None, a.only.split(',')))
    print(f'device: {torch.cuda.get_device_name()} | torch {torch.__version__} | host µs per forward() call, best of 3 runs of {a.calls}')
    print('\n| loader | spec | shape | state in/out | µs/call |\n|---|---|---|---|---:|')
    gen = torch.Generator(device=DEV).manual_seed(0)
    for d in a.dirs:
        for s in sorted(os.listdir(d)):
            path = os.path.join(d, s, 'cuda', f'{s}_torch.py')
            if not os.path.exists(path) or (only and s not in only):
                continue
            mod = load_loader(path)
            mod.build()
            for B, T in ((1, 1), (64, 1)):
                args = attnc_args(mod, B, T, gen)
                fn = lambda: mod.forward(*args)
                label = 'no'
                if mod.STATES:
                    h0 = attnc_state(mod, B, gen)
                    fn = lambda: mod.forward(*args, initial_state=h0, output_final_state=True)
                    label = 'yes'
                print(f'| {d} | {s} | {B}x{T} | {label} | {per_call_us(fn, a.calls):.1f} |', flush=True)
                if a.profile and B == 1:
                    pr = cProfile.Profile()
                    pr.enable()
                    for _ in range(a.calls):
                        fn()
                    pr.disable()
                    torch.cuda.synchronize()
                    print('```')
                    pstats.Stats(pr).sort_stats('tottime').print_stats(14)
                    print('```')
    try:
        import torch.nn.functional as F
        from fla.ops.gated_delta_rule import fused_recurrent_gated_delta_rule
        for B in (1, 64):
            q, k, v = (torch.randn(B, 1, H, 128, device=DEV).bfloat16() for _ in range(3))
            g = F.logsigmoid(torch.randn(B, 1, H, device=DEV)).float()
            beta = torch.sigmoid(torch.randn(B, 1, H, device=DEV)).bfloat16()
            h0 = torch.zeros(B, H, 128, 128, device=DEV)
            fn = lambda: fused_recurrent_gated_delta_rule(q, k, v, g, beta=beta, initial_state=h0, output_final_state=True, use_qk_l2norm_in_kernel=True)
            print(f'| FLA | fused_recurrent_gated_delta_rule | {B}x1 | yes | {per_call_us(fn, a.calls):.1f} |', flush=True)
    except ImportError:
        pass
    if a.profile:
        dev = torch.device(DEV)
        x = torch.zeros(16, device=DEV)
        probes = {
            'torch.cuda.get_device_properties(dev)': lambda: torch.cuda.get_device_properties(dev),
            'with torch.cuda.device(dev): pass': device_context,
            'torch.cuda.current_stream(dev).cuda_stream': lambda: torch.cuda.current_stream(dev).cuda_stream,
            'torch.cuda.current_device()': lambda: torch.cuda.current_device(),
            'torch.empty(1024, uint8, cuda)': lambda: torch.empty(1024, dtype=torch.uint8, device=dev),
            'x.contiguous()': lambda: x.contiguous(),
            'x.to(torch.float32)': lambda: x.to(torch.float32),
            'x.device != dev': lambda: x.device != dev,
            'x.data_ptr()': lambda: x.data_ptr(),
        }
        print('\n| probe | µs |\n|---|---:|')
        for name, fn in probes.items():
            n = 20000
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            print(f'| {name} | {(time.perf_counter() - t0) / n * 1e6:.2f} |', flush=True)


if __name__ == '__main__':
    main()

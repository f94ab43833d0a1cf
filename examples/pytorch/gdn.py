#!/usr/bin/env python3
"""Gated DeltaNet on an NVIDIA GPU through attnc's CUDA backend, with flash-linear-attention's
calling convention.

attnc compiles examples/pytorch/gdn.attn (inputs q, k, v, g, beta as FLA passes them) to CUDA C, a
C ABI header and a PyTorch loader, gdn_torch.py, whose entry point is

    forward(q, k, v, g, beta, initial_state=None, output_final_state=False, cu_seqlens=None)

with q, k: [B, T, H, K], v: [B, T, H, V], g (log-decay, <= 0) and beta: [B, T, H], all bfloat16,
and float32 states [N, H, K, V]. This script compiles the spec (node and the built attnc CLI are
needed; `npm run build` once), loads the loader (its first call builds the .cu with nvcc through
torch.utils.cpp_extension), runs a batch with an initial state and a packed variable-length batch
(cu_seqlens), and compares both with a naive float32 recurrence: relative error
||ref - out||_2 / ||ref||_2 <= 5e-3 for bf16, FLA's own criterion. When FLA is installed it also
compares with and times against FLA's chunk_gated_delta_rule (CUDA events, median of repeats).

    python examples/pytorch/gdn.py                      # B=2 T=1024 H=8, K=V=128
    python examples/pytorch/gdn.py --B 4 --T 4096 --H 16 --profile cuda-sm80
    python examples/pytorch/gdn.py --out /tmp/gdn --no-compile   # use files compiled before
"""
import argparse
import glob
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPEC = os.path.join(HERE, 'gdn.attn')


def compile_spec(out, profile):
    """attnc compile gdn.attn --target cuda: gdn.cu, gdn.h and gdn_torch.py under OUT."""
    cmd = ['node', os.path.join(ROOT, 'bin', 'attnc'), 'compile', SPEC, '--target', 'cuda', '--cuda-profile', profile, '--dtype', 'bf16', '--out', out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def load_loader(out):
    found = sorted(glob.glob(os.path.join(out, '**', 'gdn_torch.py'), recursive=True))
    if not found:
        sys.exit('no gdn_torch.py under {}: compile first (drop --no-compile)'.format(out))
    spec = importlib.util.spec_from_file_location('gdn_torch', found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def l2norm(x):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + 1e-6)


def naive_gdn(q, k, v, g, beta, initial_state=None):
    """The recurrence in float32, one token at a time (FLA's naive_recurrent_gated_delta_rule):
    S_t = (I - b_t k_t k_t^T) exp(g_t) S_{t-1} + b_t k_t v_t^T,  o_t = S_t^T q_t, with
    q = l2norm(q) K^-1/2, k = l2norm(k). Shapes [B, T, H, ...]; returns o [B, T, H, V], S."""
    q, k, v, g, beta = (x.float() for x in (q, k, v, g, beta))
    B, T, H, K = q.shape
    V = v.shape[-1]
    q = l2norm(q) * K ** -0.5
    k = l2norm(k)
    S = torch.zeros(B, H, K, V, device=q.device) if initial_state is None else initial_state.float().clone()
    o = torch.empty(B, T, H, V, device=q.device)
    for t in range(T):
        S = S * g[:, t].exp()[..., None, None]
        kt = k[:, t]
        u = v[:, t] - torch.einsum('bhk,bhkv->bhv', kt, S)
        S = S + torch.einsum('bhk,bhv->bhkv', kt * beta[:, t, :, None], u)
        o[:, t] = torch.einsum('bhk,bhkv->bhv', q[:, t], S)
    return o, S


def rel_err(ref, out):
    ref, out = ref.float(), out.float()
    return ((ref - out).norm() / ref.norm()).item()


def inputs(B, T, H, K, V, device, seed):
    gen = torch.Generator(device=device).manual_seed(seed)
    r = lambda *s: torch.randn(*s, device=device, generator=gen)
    bf = torch.bfloat16
    q, k, v = r(B, T, H, K).to(bf), r(B, T, H, K).to(bf), r(B, T, H, V).to(bf)
    g = F.logsigmoid(r(B, T, H)).to(bf)       # log-decay <= 0, as FLA takes it
    beta = torch.sigmoid(r(B, T, H)).to(bf)
    return q, k, v, g, beta


def cuda_time(fn, warmup=3, repeats=20):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--B', type=int, default=2)
    p.add_argument('--T', type=int, default=1024)
    p.add_argument('--H', type=int, default=8)
    p.add_argument('--profile', default='cuda-sm90', help='cuda-sm80 or cuda-sm90')
    p.add_argument('--out', default=os.path.join(tempfile.gettempdir(), 'attnc-pytorch-gdn'), help='where the generated files go')
    p.add_argument('--no-compile', action='store_true', help='use the files already under --out')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit('this example needs a CUDA GPU')
    if not a.no_compile:
        compile_spec(a.out, a.profile)
    gdn = load_loader(a.out)
    K, V, dev = gdn.KEY_DIM, gdn.VALUE_DIM, torch.device('cuda')
    tol = 5e-3
    failed = False

    # 1. A batch, from an initial state, returning the final state.
    q, k, v, g, beta = inputs(a.B, a.T, a.H, K, V, dev, a.seed)
    h0 = torch.randn(a.B, a.H, K, V, device=dev) * 0.1
    o, ht = gdn.forward(q, k, v, g, beta, initial_state=h0, output_final_state=True)
    ref_o, ref_s = naive_gdn(q, k, v, g, beta, h0)
    e_o, e_s = rel_err(ref_o, o), rel_err(ref_s, ht)
    print('batch  B={} T={} H={} K={} V={}: output rel. error {:.2e}, final state {:.2e}'.format(a.B, a.T, a.H, K, V, e_o, e_s))
    failed |= max(e_o, e_s) > tol

    # 2. Packed variable-length sequences (B = 1, cu_seqlens), each from its own initial state.
    lengths = [a.T // 4 + 3, a.T // 2 - 7, a.T // 4 + 4]
    cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32, device=dev)
    Tp = int(cu[-1])
    q, k, v, g, beta = inputs(1, Tp, a.H, K, V, dev, a.seed + 1)
    h0 = torch.randn(len(lengths), a.H, K, V, device=dev) * 0.1
    o, ht = gdn.forward(q, k, v, g, beta, initial_state=h0, output_final_state=True, cu_seqlens=cu)
    errs = []
    for n in range(len(lengths)):
        s, e = int(cu[n]), int(cu[n + 1])
        ref_o, ref_s = naive_gdn(q[:, s:e], k[:, s:e], v[:, s:e], g[:, s:e], beta[:, s:e], h0[n:n + 1])
        errs += [rel_err(ref_o, o[:, s:e]), rel_err(ref_s, ht[n:n + 1])]
    print('varlen {} sequences ({} tokens): worst rel. error {:.2e}'.format(len(lengths), Tp, max(errs)))
    failed |= max(errs) > tol

    # 3. FLA, when installed: the same inputs, its chunk kernel, and timings.
    try:
        from fla.ops.gated_delta_rule import chunk_gated_delta_rule
    except ImportError:
        chunk_gated_delta_rule = None
        print('flash-linear-attention is not installed: no comparison with chunk_gated_delta_rule')
    q, k, v, g, beta = inputs(a.B, a.T, a.H, K, V, dev, a.seed + 2)
    ours = cuda_time(lambda: gdn.forward(q, k, v, g, beta))
    line = 'time   attnc {:.3f} ms'.format(ours)
    if chunk_gated_delta_rule is not None:
        run_fla = lambda: chunk_gated_delta_rule(q, k, v, g, beta, scale=K ** -0.5, use_qk_l2norm_in_kernel=True)
        o_fla = run_fla()[0]
        print('FLA chunk_gated_delta_rule vs attnc: rel. error {:.2e}'.format(rel_err(o_fla, gdn.forward(q, k, v, g, beta))))
        line += ', FLA chunk_gated_delta_rule {:.3f} ms'.format(cuda_time(run_fla))
    print(line + ' (B={} T={} H={}, bf16, forward; CUDA events, median of 20)'.format(a.B, a.T, a.H))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()

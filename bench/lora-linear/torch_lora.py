"""PyTorch doing PEFT's unfused LoRA linear (and the base linear alone) at the shapes
bench/lora-linear/bench.mjs measures, on CUDA, in f32. One JSON line per (shape, rank).
Usage: python3 bench/lora-linear/torch_lora.py [--reps 10] [--iters 8] [--ranks 8,16,24,64]

Timed exactly as bench.mjs times medctc, so the two are comparable: per round and variant, the host
wall clock (time.perf_counter) around `iters` back-to-back calls and one torch.cuda.synchronize(),
divided by `iters`; one warm-up batch first; variants interleaved within a round (base, LoRA) so
load changes hit both; the time reported is the median over `reps` rounds, kept to 4 significant
digits in ms. Python and autograd launch overhead count, as koffi's launch overhead counts for medctc.
The backward is torch.autograd.grad over a retained graph: the base gives dx only, LoRA dx, dA, dB
(medctc's base backward computes dx, its LoRA backward dx, dA, dB)."""
import argparse, json, statistics, time
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--reps', type=int, default=10)
p.add_argument('--iters', type=int, default=8)
p.add_argument('--ranks', default='8,16,24,64')
p.add_argument('--m-image', type=int, default=13824)
p.add_argument('--m-text', type=int, default=512)
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False  # medctc's kernels are plain f32
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
SHAPES = [('image 512->256', a.m_image, 512, 256), ('image 512->512', a.m_image, 512, 512), ('text 768->768', a.m_text, 768, 768)]


def sig4(x):
    return float(f'{x:.4g}')


def time_interleaved(variants):
    """variants: name -> zero-argument callable. Returns name -> median ms per call."""
    for fn in variants.values():  # warm-up (cuBLAS handles, autotuning)
        for _ in range(a.iters):
            fn()
        torch.cuda.synchronize()
    times = {name: [] for name in variants}
    for _ in range(a.reps):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            for _ in range(a.iters):
                fn()
            torch.cuda.synchronize()
            times[name].append((time.perf_counter() - t0) * 1000 / a.iters)
    return {name: statistics.median(ts) for name, ts in times.items()}


for name, m, k, n in SHAPES:
    for r in map(int, a.ranks.split(',')):
        g = torch.Generator(device=dev).manual_seed(0)
        x = torch.randn(m, k, device=dev, generator=g, requires_grad=True)
        w = torch.randn(n, k, device=dev, generator=g)
        b = torch.randn(n, device=dev, generator=g)
        A = torch.randn(r, k, device=dev, generator=g, requires_grad=True)
        B = torch.randn(n, r, device=dev, generator=g, requires_grad=True)
        dy = torch.randn(m, n, device=dev, generator=g)
        drop = torch.nn.Dropout(0.1)
        base = lambda: F.linear(x, w, b)
        lora = lambda: F.linear(x, w, b) + F.linear(F.linear(drop(x), A), B) * 2.0
        with torch.no_grad():
            fwd = time_interleaved({'base': base, 'lora': lora})
        y_base, y_lora = base(), lora()
        bwd = time_interleaved({
            'base': lambda: torch.autograd.grad(y_base, [x], dy, retain_graph=True),
            'lora': lambda: torch.autograd.grad(y_lora, [x, A, B], dy, retain_graph=True),
        })
        print(json.dumps({'device': torch.cuda.get_device_name(), 'shape': name, 'm': m, 'r': r, 'reps': a.reps, 'iters': a.iters,
                          'torch_base_fwd_ms': sig4(fwd['base']), 'torch_unfused_fwd_ms': sig4(fwd['lora']),
                          'torch_base_bwd_ms': sig4(bwd['base']), 'torch_unfused_bwd_ms': sig4(bwd['lora'])}), flush=True)

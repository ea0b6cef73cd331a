"""PyTorch doing PEFT's unfused LoRA linear (and the base linear alone) at the shapes
bench/lora-linear/bench.mjs measures, on CUDA, in f32. One JSON line per (shape, rank).
Usage: python3 bench/lora-linear/torch_lora.py [--reps 20] [--ranks 8,16,24,64]"""
import argparse, json
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--reps', type=int, default=20)
p.add_argument('--ranks', default='8,16,24,64')
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False  # medctc's kernels are plain f32
dev = 'cuda'
SHAPES = [('image 512->256', 13824, 512, 256), ('image 512->512', 13824, 512, 512), ('text 768->768', 512, 768, 768)]


def timed(fn):
    fn(); torch.cuda.synchronize()
    best = float('inf')
    for _ in range(a.reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        best = min(best, s.elapsed_time(e))
    return best


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
            t_base = timed(base)
            t_lora = timed(lora)
        def bwd(f):
            y = f()
            return lambda: torch.autograd.grad(y, [x, A, B] if f is lora else [x], dy, retain_graph=True)
        t_base_bwd = timed(bwd(base))
        t_lora_bwd = timed(bwd(lora))
        print(json.dumps({'shape': name, 'm': m, 'r': r, 'torch_base_fwd_ms': round(t_base, 4), 'torch_unfused_fwd_ms': round(t_lora, 4),
                          'torch_base_bwd_ms': round(t_base_bwd, 4), 'torch_unfused_bwd_ms': round(t_lora_bwd, 4)}), flush=True)

"""ct_clip_tiny in PyTorch eager: the contender of bench/native/ct-clip-tiny.mjs.

The same architecture and sizes as compiler/models/ct_clip.ts with the ct_clip_tiny preset
(CTViT: patch embedding, spatial/temporal transformers with PEG depthwise convs, l2-normed q/k
with learned scales, continuous position bias, GEGLU feed-forwards, cosine VQ with a
straight-through estimator; a 2-layer BERT; CLIP heads), and the quickstart's training setup:
LoRA r=8, alpha=16, dropout 0.05 on the text q/k/v and image to_q/to_kv linears, the two latent
heads trained (modules_to_save), pair-MSE loss over (present, absent) prompt pairs, grad clip
1.0, AdamW (lr 1e-3, weight decay 0.01). Batch: 4 volumes of 32^3 and 36 prompts of 32 tokens.

  /usr/bin/python3 bench/native/torch_ct_clip_tiny.py [--threads N] [--steps N]

Prints one JSON line: median train step ms (forward + backward + clip + AdamW), median eval
forward ms per volume (text latents computed once, LoRA merged, batch 1, no_grad), the weight
count the forward reads (499,141, as medctc's eval plan) and the trainable count (86,016).
"""
import argparse, json, math, time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIM, HEADS, DH, FF_INNER = 64, 4, 16, int(4 * 2 / 3 * 64)
T, HW, PATCH = 4, 4, 8
CODEBOOK = 512
VOCAB, HIDDEN, LAYERS, THEADS, INTER, MAXPOS, MAXLEN = 512, 64, 2, 4, 256, 64, 32
LATENT = 64
RANK, ALPHA, LORA_DROPOUT = 8, 16, 0.05


class LoraLinear(nn.Module):
    def __init__(self, inf, outf, bias):
        super().__init__()
        self.base = nn.Linear(inf, outf, bias=bias)
        self.lora_A = nn.Parameter(torch.randn(RANK, inf) / math.sqrt(inf))
        self.lora_B = nn.Parameter(torch.randn(outf, RANK) * 0.05)
        self.scaling = ALPHA / RANK
        self.merged = False

    def forward(self, x):
        y = self.base(x)
        if self.merged:
            return y
        return y + (F.dropout(x, LORA_DROPOUT, self.training) @ self.lora_A.t() @ self.lora_B.t()) * self.scaling

    def merge(self):
        with torch.no_grad():
            self.base.weight += self.scaling * self.lora_B @ self.lora_A
        self.merged = True


class GammaLN(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.register_buffer('beta', torch.zeros(n))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.gamma, self.beta, 1e-5)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        inner = HEADS * DH
        self.norm = GammaLN(DIM)  # context_norm: only used with a context (never here), so left out
        self.q_scale, self.k_scale = nn.Parameter(torch.ones(DH)), nn.Parameter(torch.ones(DH))
        self.to_q = LoraLinear(DIM, inner, False)
        self.to_kv = LoraLinear(DIM, 2 * inner, False)
        self.to_out = nn.Linear(inner, DIM, bias=False)

    def forward(self, x, bias):
        b, n, _ = x.shape
        q = self.to_q(self.norm(x))
        k, v = self.to_kv(x).chunk(2, dim=-1)  # the released code: kv from x before the norm
        q, k, v = (t.reshape(b, n, HEADS, DH).transpose(1, 2) for t in (q, k, v))
        q = F.normalize(q, dim=-1) * self.q_scale
        k = F.normalize(k, dim=-1) * self.k_scale
        sim = q @ k.transpose(-1, -2) * 8
        if bias is not None:
            sim = sim + bias
        o = sim.softmax(dim=-1) @ v
        return self.to_out(o.transpose(1, 2).reshape(b, n, HEADS * DH))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.peg = nn.Conv3d(DIM, DIM, 3, groups=DIM)
        self.attn = Attention()
        self.ff_norm = nn.LayerNorm(DIM)
        self.ff_in = nn.Linear(DIM, 2 * FF_INNER, bias=False)
        self.ff_out = nn.Linear(FF_INNER, DIM, bias=False)

    def forward(self, x, video, bias):
        shape = x.shape
        v = x.reshape(*video, DIM).permute(0, 4, 1, 2, 3)
        v = F.pad(v, (1, 1, 1, 1, 2, 0))
        x = self.peg(v).permute(0, 2, 3, 4, 1).reshape(shape) + x
        x = self.attn(x, bias) + x
        a, g = self.ff_in(self.ff_norm(x)).chunk(2, dim=-1)
        return self.ff_out(a * F.gelu(g)) + x


class Transformer(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.layers = nn.ModuleList(Layer() for _ in range(depth))
        self.norm_out = GammaLN(DIM)

    def forward(self, x, video, bias=None):
        for l in self.layers:
            x = l(x, video, bias)
        return self.norm_out(x)


class CTViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Sequential(nn.Linear(2, DIM), nn.LeakyReLU(0.1), nn.Linear(DIM, DIM), nn.LeakyReLU(0.1), nn.Linear(DIM, HEADS))
        self.patch_ln1, self.patch_lin, self.patch_ln2 = nn.LayerNorm(PATCH ** 3), nn.Linear(PATCH ** 3, DIM), nn.LayerNorm(DIM)
        self.spatial, self.temporal = Transformer(2), Transformer(2)
        self.register_buffer('codebook', torch.randn(CODEBOOK, DIM))
        ij = torch.stack(torch.meshgrid(torch.arange(HW), torch.arange(HW), indexing='ij'), -1).reshape(-1, 2).float()
        d = ij[:, None, :] - ij[None, :, :]
        self.register_buffer('rel', torch.sign(d) * torch.log(d.abs() + 1))

    def forward(self, vol):
        b = vol.shape[0]
        bias = self.pos(self.rel).permute(2, 0, 1)
        x = vol.reshape(b, 1, T, PATCH, HW, PATCH, HW, PATCH).permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, T, HW, HW, PATCH ** 3)
        x = self.patch_ln2(self.patch_lin(self.patch_ln1(x)))
        video = (b, T, HW, HW)
        x = self.spatial(x.reshape(b * T, HW * HW, DIM), video, bias)
        x = x.reshape(b, T, HW * HW, DIM).transpose(1, 2).reshape(b * HW * HW, T, DIM)
        x = self.temporal(x, video)
        x = x.reshape(b, HW * HW, T, DIM).transpose(1, 2).reshape(b, T * HW * HW, DIM)
        sim = F.normalize(x, dim=-1) @ F.normalize(self.codebook, dim=-1).t()
        q = self.codebook[sim.argmax(-1)]
        x = x + (q - x).detach()
        return x.reshape(b, T, HW, HW, DIM)


class BertLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = (LoraLinear(HIDDEN, HIDDEN, True) for _ in range(3))
        self.dense, self.ln1 = nn.Linear(HIDDEN, HIDDEN), nn.LayerNorm(HIDDEN, eps=1e-12)
        self.inter, self.out, self.ln2 = nn.Linear(HIDDEN, INTER), nn.Linear(INTER, HIDDEN), nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, x, mask_bias):
        n, L, _ = x.shape
        q, k, v = (f(x).reshape(n, L, THEADS, HIDDEN // THEADS).transpose(1, 2) for f in (self.query, self.key, self.value))
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(HIDDEN // THEADS) + mask_bias).softmax(-1) @ v
        x = self.ln1(self.dense(att.transpose(1, 2).reshape(n, L, HIDDEN)) + x)
        return self.ln2(self.out(F.gelu(self.inter(x))) + x)


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.tok_type = nn.Embedding(VOCAB, HIDDEN), nn.Embedding(MAXPOS, HIDDEN), nn.Embedding(2, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = nn.ModuleList(BertLayer() for _ in range(LAYERS))

    def forward(self, ids, mask):
        L = ids.shape[1]
        x = self.ln(self.word(ids) + self.pos.weight[:L] + self.tok_type.weight[:1])
        mask_bias = ((1 - mask) * -1e9)[:, None, None, :]
        for l in self.layers:
            x = l(x, mask_bias)
        return x[:, 0]


class CTCLIP(nn.Module):
    def __init__(self):
        super().__init__()
        self.text, self.visual = Bert(), CTViT()
        self.to_text_latent = nn.Linear(HIDDEN, LATENT, bias=False)
        self.to_visual_latent = nn.Linear(HW * HW * DIM, LATENT, bias=False)
        self.temperature = nn.Parameter(torch.tensor(1.0))

    def text_latent(self, ids, mask):
        return F.normalize(self.to_text_latent(self.text(ids, mask)), dim=-1)

    def image_latent(self, vol):
        tok = self.visual(vol).mean(dim=1)
        return F.normalize(self.to_visual_latent(tok.reshape(vol.shape[0], -1)), dim=-1)

    def forward(self, vol, ids, mask):
        return self.image_latent(vol) @ self.text_latent(ids, mask).t() * self.temperature.exp()


def pair_mse(logits, targets):
    p = logits.reshape(logits.shape[0], -1, 2).softmax(-1)
    t = torch.stack([targets, 1 - targets], -1)
    return ((p - t) ** 2).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    model = CTCLIP()
    for n, p in model.named_parameters():
        p.requires_grad = 'lora_' in n or n.startswith('to_text_latent') or n.startswith('to_visual_latent')
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
    vol = torch.randn(4, 1, 32, 32, 32)
    ids = torch.randint(1, VOCAB, (36, MAXLEN))
    mask = torch.ones(36, MAXLEN)
    mask[:, 20:] = 0
    targets = (torch.rand(4, 18) < 0.5).float()
    model.train()
    times = []
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        loss = pair_mse(model(vol, ids, mask), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        if s > 0:
            times.append((time.perf_counter() - t0) * 1e3)
    train_ms = sorted(times)[len(times) // 2]
    model.eval()
    for m in model.modules():
        if isinstance(m, LoraLinear):
            m.merge()
    etimes = []
    with torch.no_grad():
        text = model.text_latent(ids, mask)
        scale = model.temperature.exp()
        for s in range(a.steps + 1):
            v = torch.randn(1, 1, 32, 32, 32)
            t0 = time.perf_counter()
            logits = model.image_latent(v) @ text.t() * scale
            if s > 0:
                etimes.append((time.perf_counter() - t0) * 1e3)
    # The weights the forward reads, as medctc's eval plan counts them: parameters plus the codebook and LN beta buffers.
    params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if n.endswith(('codebook', 'beta')))
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'trainStepMs': round(train_ms, 2),
                      'evalVolumeMs': round(sorted(etimes)[len(etimes) // 2], 3), 'params': params,
                      'trainable': sum(p.numel() for p in trainable), 'loss': float(loss)}))


if __name__ == '__main__':
    main()

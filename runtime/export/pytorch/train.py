"""CT-CLIP + LoRA training and zero-shot evaluation in PyTorch, exported by `medctc export --target pytorch`.

Everything experiment-specific is read from experiment.json beside this file (sizes, LoRA targets
with their resolved ranks/alphas/scaling, prompts as token ids, loss, optimizer, schedule, seed,
evaluation); the data from the bundle medctc wrote (data/*.safetensors: preprocessed volumes,
labels, prompt token ids). README.md beside this file says what matches medctc and what does not.

  python3 train.py                               # train, then evaluate; one process, CPU or one GPU
  torchrun --nproc_per_node N train.py           # DistributedDataParallel (nccl on GPUs, gloo on CPUs)
  RANK=r WORLD_SIZE=n MASTER_ADDR=a MASTER_PORT=p python3 train.py   # any launcher
  python3 train.py --evaluate-only [--adapter DIR]
  python3 train.py forward --inputs DIR --out DIR [--adapter DIR]    # raw eval forward (tests)
"""
import argparse, contextlib, json, math, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
KEY_PREFIX = 'base_model.model.'

# ----------------------------------------------------------------------------- safetensors
# A reader and writer of the format (huggingface/safetensors) without the package: Debian ships
# python3-torch but not safetensors. Reading maps the file, so a large bundle is never held whole.

_ST_DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I32': np.int32, 'I64': np.int64,
              'U8': np.uint8, 'I8': np.int8, 'I16': np.int16, 'U16': np.uint16, 'U32': np.uint32, 'BOOL': np.bool_}


def read_safetensors(path):
    """{name: numpy array (a read-only memory map)}; BF16 is widened to float32."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop('__metadata__', None)
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        shape = tuple(info['shape'])
        if info['dtype'] == 'BF16':
            raw = np.memmap(path, dtype=np.uint16, mode='r', offset=8 + n + b, shape=((e - b) // 2,))
            out[name] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
            continue
        dt = np.dtype(_ST_DTYPES[info['dtype']])
        count = (e - b) // dt.itemsize
        out[name] = np.memmap(path, dtype=dt, mode='r', offset=8 + n + b, shape=(count,)).reshape(shape) if count else np.zeros(shape, dt)
    return out


def write_safetensors(path, tensors):
    """F32 tensors, sorted by name (every one is 4-byte aligned), header padded to 8 bytes; atomic."""
    names = sorted(tensors)
    header, off, blobs = {}, 0, []
    for k in names:
        a = np.ascontiguousarray(tensors[k].detach().cpu().to(torch.float32).numpy())
        blobs.append(a.tobytes())
        header[k] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [off, off + len(blobs[-1])]}
        off += len(blobs[-1])
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    atomic_write(path, [struct.pack('<Q', len(h)), h, *blobs])


def atomic_write(path, parts):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'wb') as f:
        for p in parts:
            f.write(p.encode() if isinstance(p, str) else p)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- medctc's RNG
# xoshiro128** seeded through splitmix64 with FNV-1a stream labels (runtime/util/rng.ts), so the
# data order and the LoRA A init are medctc's for the same seed.

M32, M64 = 0xFFFFFFFF, (1 << 64) - 1


def _splitmix64(state):
    s = (state + 0x9E3779B97F4A7C15) & M64
    z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return s, z ^ (z >> 31)


def _fnv1a(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32



class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm computed in fp32 (state-dict names unchanged): what CUDA autocast does with it,
    and what CPU autocast in torch 1.13 cannot (its layer_norm wants the weights' dtype)."""

    def forward(self, x):
        return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)

class Rng:
    def __init__(self, seed, *labels):
        state = seed & M64
        for label in labels:
            state = _splitmix64(state ^ _fnv1a(str(label)))[1]
        words = []
        for _ in range(2):
            state, out = _splitmix64(state)
            words += [out & M32, out >> 32]
        self.s = words
        if not any(words):
            self.s[0] = 1

    def next_u32(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & M32, 7) * 9) & M32
        t = (s1 << 9) & M32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 11)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        hi, lo = self.next_u32() >> 5, self.next_u32() >> 6
        return (hi * 67108864 + lo) / 9007199254740992

    def int(self, n):
        limit = 2 ** 32 - (2 ** 32 % n)
        while True:
            x = self.next_u32()
            if x < limit:
                return x % n

    def normal(self, std):
        # Box-Muller in pairs, as Rng.normal (the second value kept for the next draw).
        if getattr(self, 'spare', None) is not None:
            z, self.spare = self.spare, None
            return std * z
        u, v = 1 - self.uniform(), self.uniform()
        r = math.sqrt(-2 * math.log(u))
        self.spare = r * math.sin(2 * math.pi * v)
        return std * r * math.cos(2 * math.pi * v)

    def shuffle(self, xs):
        for i in range(len(xs) - 1, 0, -1):
            j = self.int(i + 1)
            xs[i], xs[j] = xs[j], xs[i]
        return xs


def _mul32(h, c):
    """(h * c) mod 2^32 on int64 tensors without overflowing int64 (h, c < 2^32)."""
    return ((h & 0xFFFF) * c + ((((h >> 16) * c) & 0xFFFF) << 16)) & M32


def _lowbias32(h):
    h = h ^ (h >> 16)
    h = _mul32(h, 0x7FEB352D)
    h = h ^ (h >> 15)
    h = _mul32(h, 0x846CA68B)
    return h ^ (h >> 16)


def stream_key(stream):
    """compiler/codegen/kernels/program.ts dropoutStreamKey."""
    return int(_lowbias32(torch.tensor([((stream + 1) * 0x9E3779B9) & M32], dtype=torch.int64))[0])


def dropout_seed(seed, step):
    """runtime/run/train.ts dropoutSeed: the u32 the masks of (1-based) step `step` derive from."""
    return Rng(seed, 'dropout', step).next_u32()


class MedctcDropout(nn.Module):
    """medctc's counter-based LoRA dropout (runtime/device/cpu/rng.ts): element i of the adapter's
    input (flat index in the whole batch) is kept iff lowbias32(i * phi ^ (stepSeed ^ key(stream))) >> 8
    >= round(p * 2^24), and scaled by 1/(1-p). Same seed, same masks as medctc; under DDP a rank's
    image rows are its share of the batch, so their indices start at rank * (its element count)."""

    step_seed = 0
    rank = 0

    def __init__(self, p, stream, sharded):
        super().__init__()
        self.p, self.key, self.sharded = p, stream_key(stream), sharded
        self.threshold = min(2 ** 24, math.floor(p * 2 ** 24 + 0.5))

    def forward(self, x):
        if not self.training or self.p <= 0:
            return x
        n = x.numel()
        start = MedctcDropout.rank * n if self.sharded else 0
        idx = torch.arange(start, start + n, device=x.device, dtype=torch.int64)
        bits = _lowbias32(_mul32(idx, 0x9E3779B9) ^ (MedctcDropout.step_seed ^ self.key)) >> 8
        keep = (bits >= self.threshold).reshape(x.shape)
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


def epoch_order(n, seed, epoch):
    """runtime/run/train.ts epochOrder: the volume order of one (1-based) epoch."""
    return Rng(seed, 'shuffle', epoch).shuffle(list(range(n)))


def init_tensor(name, shape, init, seed):
    """runtime/exec/init.ts: one stream per tensor, Rng(seed, 'init', name), row-major, rounded to float32."""
    n = int(np.prod(shape)) if shape else 1
    kind = init['kind']
    if kind == 'zeros':
        v = np.zeros(n)
    elif kind == 'ones':
        v = np.ones(n)
    elif kind == 'const':
        v = np.full(n, init['value'])
    elif kind == 'uniform':
        r, b = Rng(seed, 'init', name), init['bound']
        v = np.array([-b + 2 * b * r.uniform() for _ in range(n)])
    elif kind == 'normal':
        r = Rng(seed, 'init', name)
        v = np.array([r.normal(init['std']) for _ in range(n)])
    else:
        raise ValueError(f'unknown init {kind} for {name}')
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


# ----------------------------------------------------------------------------- the model
# CT-CLIP as released (CT-CLIP's CTViT and CXR-BERT), with the official module paths, so an
# official state dict loads by name. Sizes come from experiment.json. Base dropouts are left out,
# as in medctc's graph: the base is frozen and only LoRA's dropout acts in training.

class GammaLayerNorm(nn.Module):
    """CTViT's LayerNorm: learned gamma, beta a zero buffer."""

    def __init__(self, n):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.register_buffer('beta', torch.zeros(n))

    def forward(self, x):
        return F.layer_norm(x.float(), x.shape[-1:], self.gamma, self.beta, 1e-5)


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        self.norm = GammaLayerNorm(dim)
        self.context_norm = GammaLayerNorm(dim)  # only used with a context; in the state dict
        self.null_kv = nn.Parameter(torch.randn(heads, 0, dim_head))  # no null keys (num_null_kv = 0)
        self.q_scale = nn.Parameter(torch.ones(dim_head))
        self.k_scale = nn.Parameter(torch.ones(dim_head))
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x, bias=None):
        b, n, _ = x.shape
        q = self.to_q(self.norm(x))
        k, v = self.to_kv(x).chunk(2, dim=-1)  # the released code feeds to_kv x before the norm
        q, k, v = (t.reshape(b, n, self.heads, self.dim_head).transpose(1, 2) for t in (q, k, v))
        q = F.normalize(q, dim=-1, eps=1e-12) * self.q_scale
        k = F.normalize(k, dim=-1, eps=1e-12) * self.k_scale
        sim = (q @ k.transpose(-1, -2)) * 8
        if bias is not None:
            sim = sim + bias
        out = sim.softmax(dim=-1) @ v
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))


class PEG(nn.Module):
    """Depthwise 3x3x3 conv over (t, h, w), causal in time. A plain reshape to the video shape: in
    the temporal transformer that scrambles the layout, exactly as the released code does."""

    def __init__(self, dim):
        super().__init__()
        self.dsconv = nn.Conv3d(dim, dim, 3, groups=dim)

    def forward(self, x, video):
        shape = x.shape
        v = x.reshape(*video, shape[-1]).permute(0, 4, 1, 2, 3)
        v = F.pad(v, (1, 1, 1, 1, 2, 0))
        return self.dsconv(v).permute(0, 2, 3, 4, 1).reshape(shape)


class GEGLU(nn.Module):
    def forward(self, x):
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


class Transformer(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, ff_inner):
        super().__init__()
        ff = lambda: nn.Sequential(LayerNorm(dim), nn.Linear(dim, 2 * ff_inner, bias=False), GEGLU(), nn.Dropout(0.0), nn.Linear(ff_inner, dim, bias=False))
        # [PEG, Attention, cross-attention (absent), FeedForward], as the released layers.
        self.layers = nn.ModuleList(nn.ModuleList([PEG(dim), Attention(dim, heads, dim_head), None, ff()]) for _ in range(depth))
        self.norm_out = GammaLayerNorm(dim)

    def forward(self, x, video, bias=None):
        for peg, attn, _, ff in self.layers:
            x = peg(x, video) + x
            x = attn(x, bias) + x
            x = ff(x) + x
        return self.norm_out(x)


class ContinuousPositionBias(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.net = nn.ModuleList([nn.Sequential(nn.Linear(2, dim), nn.LeakyReLU(0.1)), nn.Sequential(nn.Linear(dim, dim), nn.LeakyReLU(0.1)), nn.Linear(dim, heads)])

    def forward(self, h, w):
        dev = self.net[2].weight.device
        grid = torch.stack(torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing='ij')).reshape(2, -1).t()
        rel = grid[:, None, :] - grid[None, :, :]
        rel = (torch.sign(rel) * torch.log(rel.abs() + 1)).float()
        for layer in self.net:
            rel = layer(rel)
        return rel.permute(2, 0, 1)


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, q):
        return q

    @staticmethod
    def backward(ctx, g):
        return g, None


class Codebook(nn.Module):
    def __init__(self, size, dim):
        super().__init__()
        self.register_buffer('initted', torch.ones(1))
        self.register_buffer('cluster_size', torch.zeros(1, size))
        self.register_buffer('embed', torch.randn(1, size, dim))


class VectorQuantize(nn.Module):
    """Cosine-similarity VQ in eval behaviour (no EMA update, even in training); gradients pass straight through."""

    def __init__(self, size, dim):
        super().__init__()
        self._codebook = Codebook(size, dim)

    def forward(self, x):
        embed = self._codebook.embed[0]
        with torch.no_grad():
            idx = (F.normalize(x, dim=-1) @ F.normalize(embed, dim=-1).t()).argmax(dim=-1)
        return _StraightThrough.apply(x, embed[idx])


class CTViT(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        dim, p, pt = s['dim'], s['patchSize'], s['temporalPatchSize']
        self.spatial_rel_pos_bias = ContinuousPositionBias(dim, s['heads'])
        self.to_patch_emb_first_frame = nn.Sequential(nn.Identity(), LayerNorm(p * p), nn.Linear(p * p, dim), LayerNorm(dim))
        self.to_patch_emb = nn.Sequential(nn.Identity(), LayerNorm(pt * p * p), nn.Linear(pt * p * p, dim), LayerNorm(dim))
        self.enc_spatial_transformer = Transformer(dim, s['spatialDepth'], s['heads'], s['dimHead'], s['ffInner'])
        self.enc_temporal_transformer = Transformer(dim, s['temporalDepth'], s['heads'], s['dimHead'], s['ffInner'])
        self.vq = VectorQuantize(s['codebookSize'], dim)
        self.to_pixels_first_frame = nn.Sequential(nn.Linear(dim, p * p))
        self.to_pixels = nn.Sequential(nn.Linear(dim, pt * p * p))

    def forward(self, vol):
        s = self.s
        b, dim, p, pt = vol.shape[0], s['dim'], s['patchSize'], s['temporalPatchSize']
        t, h = s['frames'] // pt, s['imageSize'] // p
        w = h
        bias = self.spatial_rel_pos_bias(h, w)
        # 'b c (t pt) (h p1) (w p2) -> b t h w (c pt p1 p2)'
        x = vol.reshape(b, 1, t, pt, h, p, w, p).permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, t, h, w, pt * p * p)
        x = self.to_patch_emb[1:](x)
        video = (b, t, h, w)
        x = self.enc_spatial_transformer(x.reshape(b * t, h * w, dim), video, bias)
        x = x.reshape(b, t, h * w, dim).transpose(1, 2).reshape(b * h * w, t, dim)
        x = self.enc_temporal_transformer(x, video)
        x = x.reshape(b, h * w, t, dim).transpose(1, 2).reshape(b, t * h * w, dim)
        # `quantize false`: the tokens go on unquantised (the codebook stays in the state dict).
        if s.get('quantize', True):
            x = self.vq(x)
        return x.reshape(b, t, h, w, dim)


class BertEmbeddings(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.word_embeddings = nn.Embedding(s['vocabSize'], s['hidden'])
        self.position_embeddings = nn.Embedding(s['maxPositions'], s['hidden'])
        self.token_type_embeddings = nn.Embedding(s['typeVocabSize'], s['hidden'])
        self.LayerNorm = LayerNorm(s['hidden'], eps=1e-12)

    def forward(self, ids):
        n = ids.shape[1]
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings.weight[:n] + self.token_type_embeddings.weight[:1])


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)

    def forward(self, x, mask_bias):
        n, L, hid = x.shape
        dh = hid // self.heads
        q, k, v = (f(x).reshape(n, L, self.heads, dh).transpose(1, 2) for f in (self.query, self.key, self.value))
        att = ((q @ k.transpose(-1, -2)) * (1 / math.sqrt(dh)) + mask_bias).softmax(dim=-1) @ v
        return att.transpose(1, 2).reshape(n, L, hid)


class _DenseLN(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(i, o), LayerNorm(o, eps=1e-12)


class _Dense(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class BertAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.self = BertSelfAttention(hidden, heads)
        self.output = _DenseLN(hidden, hidden)


class BertLayer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.attention = BertAttention(s['hidden'], s['heads'])
        self.intermediate = _Dense(s['hidden'], s['intermediate'])
        self.output = _DenseLN(s['intermediate'], s['hidden'])

    def forward(self, x, mask_bias):
        o = self.attention.output
        x = o.LayerNorm(o.dense(self.attention.self(x, mask_bias)) + x)
        return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(x))) + x)


class BertEncoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(s) for _ in range(s['layers']))


class BertModel(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embeddings = BertEmbeddings(s)
        self.encoder = BertEncoder(s)
        self.pooler = _Dense(s['hidden'], s['hidden'])  # unused by CT-CLIP; in the state dict

    def forward(self, ids, mask):
        x = self.embeddings(ids)
        # A padded key gets float32's lowest value added (HF BERT's extended mask; medctc's attention op).
        mask_bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, mask_bias)
        return x


class CTCLIP(nn.Module):
    def __init__(self, m):
        super().__init__()
        s, tx = m['image'], m['text']
        flat = (s['imageSize'] // s['patchSize']) ** 2 * s['dim']
        # State-dict order of the released CTCLIP.
        self.text_transformer = BertModel(tx)
        self.visual_transformer = CTViT(s)
        self.to_text_latent = nn.Linear(tx['hidden'], m['latentDim'], bias=False)
        self.to_visual_latent = nn.Linear(flat, m['latentDim'], bias=False)
        self.to_text_latent_extra = nn.Linear(tx['hidden'], m['latentDim'], bias=False)
        self.to_visual_latent_extra = nn.Linear(flat, m['latentDim'], bias=False)
        self.temperature = nn.Parameter(torch.tensor(1.0))

    def text_latent(self, ids, mask):
        return F.normalize(self.to_text_latent(self.text_transformer(ids, mask)[:, 0]), dim=-1, eps=1e-12)

    def image_latent(self, vol):
        tokens = self.visual_transformer(vol).mean(dim=1)
        return F.normalize(self.to_visual_latent(tokens.reshape(vol.shape[0], -1)), dim=-1, eps=1e-12)

    def forward(self, vol, ids, mask):
        img, txt = self.image_latent(vol), self.text_latent(ids, mask)
        return img @ txt.t() * self.temperature.exp(), img, txt


# ----------------------------------------------------------------------------- LoRA

class LoraLinear(nn.Module):
    """PEFT's LoRA Linear, minimal: y = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling.
    Parameter names are PEFT's with the adapter name stripped (as PEFT saves them)."""

    def __init__(self, base, rank, scaling, dropout):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = scaling

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def get_module(root, path):
    m = root
    for part in path.split('.'):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


def set_module(root, path, new):
    parent, _, leaf = path.rpartition('.')
    p = get_module(root, parent) if parent else root
    if leaf.isdigit():
        p[int(leaf)] = new
    else:
        setattr(p, leaf, new)


def use_peft(args):
    if args.no_peft or os.environ.get('MEDCTC_NO_PEFT') == '1':
        return None
    try:
        import peft  # noqa: F401
        return peft
    except ImportError:
        return None


def add_lora(model, cfg, peft):
    """LoRA on exactly the resolved modules, with medctc's seeded A init (B = 0). Returns the model to train."""
    lora = cfg['lora']
    if lora is None:
        return model
    if peft is not None:
        with open(os.path.join(HERE, 'adapter_config.json')) as f:
            pc = json.load(f)
        keep = {k: pc[k] for k in ('r', 'lora_alpha', 'lora_dropout', 'target_modules', 'rank_pattern', 'alpha_pattern', 'modules_to_save', 'use_rslora', 'bias', 'init_lora_weights')}
        model = peft.get_peft_model(model, peft.LoraConfig(**keep))
    for a in lora['adapters']:
        if peft is None:
            set_module(model, a['module'], LoraLinear(get_module(model, a['module']), a['rank'], a['scaling'], lora['dropout']))
        layer = get_module(model.base_model.model, a['module']) if peft is not None else get_module(model, a['module'])
        if lora['dropout'] > 0:
            # medctc's masks instead of torch's (text prompts are the same on every rank; image rows are sharded).
            drop = MedctcDropout(lora['dropout'], a['stream'], a['encoder'] == 'image')
            if peft is not None:
                layer.lora_dropout['default'] = drop
            else:
                layer.lora_dropout = drop
        A = layer.lora_A['default'] if peft is not None else layer.lora_A
        B = layer.lora_B['default'] if peft is not None else layer.lora_B
        if peft is not None and abs(layer.scaling['default'] - a['scaling']) > 1e-12:
            raise SystemExit(f"peft resolved scaling {layer.scaling['default']} for {a['module']}, medctc {a['scaling']}")
        with torch.no_grad():
            A.weight.copy_(init_tensor(a['module'] + '.lora_A.weight', [a['rank'], a['in']], a['initA'], cfg['seed']))
            B.weight.zero_()
    return model


def base_of(model):
    return model.base_model.model if hasattr(model, 'base_model') and hasattr(model, 'peft_config') else model


def adapter_state(model, cfg, peft):
    """{PEFT key: tensor}: base_model.model.<path>.lora_A.weight, ... and modules_to_save parameters."""
    if peft is not None:
        from peft import get_peft_model_state_dict
        return dict(get_peft_model_state_dict(model))
    out = {}
    for name, p in model.named_parameters():
        if '.lora_A.' in name or '.lora_B.' in name:
            out[KEY_PREFIX + name] = p
    for path in cfg['lora']['modulesToSave'] if cfg['lora'] else []:
        for name, p in get_module(model, path).named_parameters():
            out[f'{KEY_PREFIX}{path}.{name}'] = p
    return out


def save_adapter(model, cfg, peft, out_dir):
    write_safetensors(os.path.join(out_dir, 'adapter_model.safetensors'), adapter_state(model, cfg, peft))
    with open(os.path.join(HERE, 'adapter_config.json'), 'rb') as f:
        atomic_write(os.path.join(out_dir, 'adapter_config.json'), [f.read()])


def load_adapter(model, cfg, peft, adapter_dir):
    st = read_safetensors(os.path.join(adapter_dir, 'adapter_model.safetensors'))
    if peft is not None:
        from peft import set_peft_model_state_dict
        set_peft_model_state_dict(model, {k: torch.from_numpy(np.array(v)) for k, v in st.items()})
        return
    params = dict(model.named_parameters())
    for key, v in st.items():
        name = key[len(KEY_PREFIX):] if key.startswith(KEY_PREFIX) else key
        if name not in params:
            # A modules_to_save parameter names the module as the base has it.
            raise SystemExit(f'{adapter_dir}: tensor {key} has no parameter {name} in the model')
        with torch.no_grad():
            params[name].copy_(torch.from_numpy(np.array(v)).reshape(params[name].shape))


# ----------------------------------------------------------------------------- weights

def load_base(model, cfg, path, rank):
    """The base weights by name (official module paths). Every tensor of the model must be in the
    file with its shape; extra tensors (EMA buffers, position_ids) are listed and ignored."""
    want = {t['name']: t for t in cfg['tensors']}
    sd = model.state_dict()
    if path is None:
        # No weights file: medctc's seeded init (runtime/exec/init.ts), tensor by tensor.
        with torch.no_grad():
            for name, t in want.items():
                sd[name].copy_(init_tensor(name, t['shape'], t['init'], cfg['seed']))
        return
    if path.endswith('.safetensors'):
        st = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(path).items()}
    else:
        # A torch.save state dict (the released CT_CLIP_zeroshot.pt); tensors only, nothing else is unpickled.
        try:
            st = torch.load(path, map_location='cpu', weights_only=True)
        except TypeError:  # PyTorch < 1.13 has no weights_only
            st = torch.load(path, map_location='cpu')
        if isinstance(st, dict) and isinstance(st.get('state_dict'), dict):
            st = st['state_dict']
    missing = [n for n in want if n not in st]
    bad = [f"{n}: file {list(st[n].shape)}, model {want[n]['shape']}" for n in want if n in st and list(st[n].shape) != want[n]['shape']]
    if missing or bad:
        raise SystemExit(f'{path}: ' + '; '.join(([f'missing {", ".join(missing[:5])}'] if missing else []) + bad[:5]))
    extra = sorted(set(st) - set(want))
    if extra and rank == 0:
        print(f'note: {path} holds {len(extra)} tensor(s) the model does not use, e.g. {", ".join(extra[:3])}', file=sys.stderr)
    with torch.no_grad():
        for name in want:
            sd[name].copy_(st[name].to(torch.float32))


# ----------------------------------------------------------------------------- losses, schedule

def pair_loss(kind, logits, targets):
    """logits [B, 2P] with texts (p0 present, p0 absent, ...); targets [B, P]."""
    pair = logits.reshape(logits.shape[0], -1, 2)
    if kind == 'pair_ce':
        lp = pair.log_softmax(dim=-1)
        return -(targets * lp[..., 0] + (1 - targets) * lp[..., 1]).mean()
    p = pair.softmax(dim=-1)
    return ((p - torch.stack([targets, 1 - targets], dim=-1)) ** 2).mean()


def clip_loss(logits):
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def learning_rate(schedule, base_lr, step, total):
    """runtime/train/schedule.ts (transformers' get_*_schedule_with_warmup); step is 0-based."""
    w = schedule['warmupSteps']
    if step < w:
        return base_lr * step / w
    p = min(1.0, (step - w) / max(1, total - w))
    if schedule['kind'] == 'constant':
        return base_lr
    if schedule['kind'] == 'linear':
        return base_lr * max(0.0, 1 - p)
    return base_lr * 0.5 * (1 + math.cos(math.pi * p))


# ----------------------------------------------------------------------------- metrics

GRID = np.linspace(0, 1, 100)


def auroc(s, y):
    P, N = int(y.sum()), int(len(y) - y.sum())
    if P == 0 or N == 0:
        return float('nan')
    order = np.argsort(s, kind='mergesort')
    ranks = np.empty(len(s))
    ss = s[order]
    i = 0
    while i < len(ss):  # average ranks over ties (Mann-Whitney U)
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - P * (P + 1) / 2) / (P * N))


def roc_curve_thresholds(s, y):
    """scikit-learn roc_curve(drop_intermediate=True): fpr, tpr, thresholds (descending, +inf first)."""
    order = np.argsort(-s, kind='mergesort')
    ss, yy = s[order], y[order]
    idx = np.r_[np.where(np.diff(ss))[0], len(ss) - 1]
    tps, fps, thr = np.cumsum(yy)[idx], 1 + idx - np.cumsum(yy)[idx], ss[idx]
    if len(tps) > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps, thr = tps[keep], fps[keep], thr[keep]
    return np.r_[0, fps / fps[-1]], np.r_[0, tps / tps[-1]], np.r_[np.inf, thr]


def threshold_for(s, y, rule):
    """runtime/eval/threshold.ts: roc_corner is CT-CLIP's find_threshold (P > t over linspace(0, 1, 100),
    minimum distance to the ROC corner, ties to the larger t); youden as roc_curve (P >= t)."""
    if rule['kind'] == 'fixed':
        return rule['value']
    P, N = int(y.sum()), int(len(y) - y.sum())
    if P == 0 or N == 0:
        return 0.0
    if rule['kind'] == 'youden':
        fpr, tpr, thr = roc_curve_thresholds(s, y)
        return float(thr[int(np.argmax(tpr - fpr))])
    best, best_d = 0.0, math.inf
    for t in GRID:
        pred = s > t
        tpr = (pred & (y == 1)).sum() / P
        fpr = (pred & (y == 0)).sum() / N
        d = math.sqrt((1 - tpr) ** 2 + fpr ** 2)
        if d <= best_d:
            best, best_d = float(t), d
    return best


def metrics(scores, truth, labels, rule):
    """Per label and mean: AUROC, threshold, accuracy, precision, recall, specificity, F1 and the
    support-weighted F1, as runtime/eval/metrics.ts (0/0 is 0; NaN AUROC left out of the mean)."""
    ratio = lambda a, b: a / b if b else 0.0
    per = []
    for l, name in enumerate(labels):
        s, y = scores[:, l], truth[:, l].astype(np.int64)
        t = threshold_for(s, y, rule)
        pred = s >= t if rule['kind'] == 'youden' else s > t
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
        P, N = tp + fn, tn + fp
        f1, f1n = ratio(2 * tp, 2 * tp + fp + fn), ratio(2 * tn, 2 * tn + fn + fp)
        per.append({'label': name, 'positives': P, 'negatives': N, 'auroc': auroc(s, y), 'threshold': t,
                    'accuracy': ratio(tp + tn, P + N), 'precision': ratio(tp, tp + fp), 'recall': ratio(tp, P),
                    'specificity': ratio(tn, N), 'f1': f1, 'weightedF1': ratio(P * f1 + N * f1n, P + N)})
    mean = {}
    for key, field in [('auroc', 'auroc'), ('accuracy', 'accuracy'), ('precision', 'precision'), ('recall', 'recall'),
                       ('specificity', 'specificity'), ('macroF1', 'f1'), ('weightedF1', 'weightedF1')]:
        xs = [m[field] for m in per if not math.isnan(m[field])]
        mean[key] = sum(xs) / len(xs) if xs else None
    for m in per:
        if math.isnan(m['auroc']):
            m['auroc'] = None
    return {'labels': per, 'mean': mean}


def zero_shot_scores(images, texts, temperature):
    """runtime/eval/score.ts in float64: P(present) = logistic(exp(T) * (cos(img, present) - cos(img, absent)))."""
    img = images.astype(np.float64)
    txt = texts.astype(np.float64)
    img = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)
    txt = txt / np.maximum(np.linalg.norm(txt, axis=1, keepdims=True), 1e-12)
    cos = img @ txt.T
    diff = math.exp(temperature) * (cos[:, 0::2] - cos[:, 1::2])
    return 1 / (1 + np.exp(-diff))


def scores_csv(path, names, labels, scores, truth):
    """runtime/eval/scores-csv.ts: VolumeName, then per label the score and its truth."""
    q = lambda s: '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s
    rows = [','.join(q(x) for x in ['VolumeName'] + [c for l in labels for c in (l, f'{l} (truth)')])]
    for v, name in enumerate(names):
        rows.append(','.join([q(name)] + [c for l in range(len(labels)) for c in (repr(float(scores[v, l])), str(int(truth[v, l])))]))
    atomic_write(path, ['\n'.join(rows) + '\n'])


# ----------------------------------------------------------------------------- data

class Split:
    """One split of the bundle: volumes [N, 1, D, H, W] float32 (memory-mapped), labels [N, P], names."""

    def __init__(self, data_dir, name):
        st = read_safetensors(os.path.join(data_dir, f'{name}.safetensors'))
        self.volumes, self.labels = st['volumes'], st['labels']
        with open(os.path.join(data_dir, f'{name}.json')) as f:
            meta = json.load(f)
        self.names = meta['volumes']
        self.report_ids = st.get('report_input_ids')
        self.report_mask = st.get('report_attention_mask')

    def __len__(self):
        return len(self.names)


# ----------------------------------------------------------------------------- the program

def setup_distributed():
    """RANK/WORLD_SIZE from torchrun or any launcher; nccl on GPUs, gloo on CPUs."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', str(rank)))
    cuda = torch.cuda.is_available() and os.environ.get('MEDCTC_DEVICE', '') != 'cpu'
    dev = torch.device('cuda', local % torch.cuda.device_count()) if cuda else torch.device('cpu')
    if cuda:
        torch.cuda.set_device(dev)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group('nccl' if cuda else 'gloo', rank=rank, world_size=world)
    return rank, world, dev


def build_model(cfg, args, rank, dev, peft):
    model = CTCLIP(cfg['model'])
    want = sorted(t['name'] for t in cfg['tensors'])
    have = sorted(model.state_dict())
    if want != have:
        raise SystemExit(f'internal: the PyTorch state dict differs from medctc\'s model: {sorted(set(want) ^ set(have))[:8]}')
    weights = args.weights if args.weights is not None else (os.path.join(HERE, cfg['model']['weights']) if cfg['model']['weights'] else None)
    load_base(model, cfg, weights, rank)
    model = add_lora(model, cfg, peft)
    if peft is None:
        # medctc's trainable set, by medctc's tensor names (a wrapped base linear is `<path>.base_layer`).
        names = set(cfg['trainable'])
        for name, p in model.named_parameters():
            p.requires_grad = name.replace('.base_layer.', '.') in names
    # With peft, PEFT decides (LoRA and modules_to_save copies); main() checks the count against medctc's.
    return model.to(dev)


def trainable_count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def precision_of(cfg):
    return (cfg['train'] or {}).get('precision', 'fp32')


def autocast(cfg, dev):
    """`precision bf16|fp16` as PyTorch AMP: the forward under autocast (16-bit matmul inputs and
    results, fp32 accumulation), fp32 weights, gradients and optimizer state. medctc stores the
    frozen weights and the activations in 16 bits with fp32 arithmetic (spec/compiler.md, "Mixed
    precision"): the same idea, rounded at other points, so the two agree to 16-bit tolerance."""
    p = precision_of(cfg)
    if p == 'fp32':
        return contextlib.nullcontext()
    if p == 'fp16' and dev.type != 'cuda':
        raise SystemExit('precision fp16 needs a CUDA device here (autocast on the CPU is bf16 only): use precision bf16 or a GPU')
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16 if p == 'bf16' else torch.float16)


def evaluate(model, cfg, split, prompts, dev):
    net = base_of(model)
    net.eval()
    ids, mask = prompts
    with torch.no_grad(), autocast(cfg, dev):
        txt = net.text_latent(ids.to(dev), mask.to(dev)).float().cpu().numpy()
    imgs = []
    for v in range(len(split)):
        vol = torch.from_numpy(np.array(split.volumes[v:v + 1])).to(dev)
        with torch.no_grad(), autocast(cfg, dev):
            imgs.append(net.image_latent(vol).float().cpu().numpy()[0])
    scores = zero_shot_scores(np.stack(imgs), txt, float(net.temperature))
    truth = np.array(split.labels, dtype=np.uint8)
    return scores, truth, metrics(scores, truth, cfg['prompts']['pathologies'], cfg['evaluate']['threshold'])


def write_eval(out, tag, cfg, split, scores, truth, m):
    stem = 'scores.csv' if tag == 'final' else f'scores.{tag}.csv'
    scores_csv(os.path.join(out, stem), split.names, cfg['prompts']['pathologies'], scores, truth)
    return m


def train(model, cfg, args, split, prompts, rank, world, dev, peft, out):
    tr = cfg['train']
    if tr['batchSize'] % world:
        raise SystemExit(f"train.batch {tr['batchSize']} is not a multiple of WORLD_SIZE {world}: each rank takes an equal share of every batch")
    if tr['loss'] == 'clip' and world > 1:
        # Each rank would contrast only its own share of the batch: fewer negatives than medctc's loss.
        raise SystemExit('the clip loss contrasts every volume of the batch with every report; run it in one process (WORLD_SIZE 1)')
    per_rank = tr['batchSize'] // world
    batches = len(split) // tr['batchSize']
    if batches == 0:
        raise SystemExit(f"the train split has {len(split)} volume(s), fewer than one batch of {tr['batchSize']}")
    epochs = args.epochs or tr['epochs']
    total = epochs * batches
    schedule = dict(tr['schedule'], warmupSteps=tr['schedule']['warmupSteps'] + round(tr['schedule'].get('warmupEpochs', 0) * batches))
    if schedule['warmupSteps'] > total:
        raise SystemExit(f"warmup of {schedule['warmupSteps']} steps is longer than the {total} training steps")
    params = [p for p in model.parameters() if p.requires_grad]
    o = tr['optimizer']
    opt = torch.optim.AdamW(params, lr=o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'], weight_decay=o['weightDecay'])
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        # Only trainable tensors are DDP's: the frozen base and the buffers are loaded from the same
        # file on every rank and never change, so broadcasting them is wasted work (and gloo cannot
        # broadcast CTViT's zero-size null_kv).
        frozen = [n for n, p in model.named_parameters() if not p.requires_grad] + [n for n, _ in model.named_buffers()]
        DDP._set_params_and_buffers_to_ignore_for_model(model, frozen)
        unused = cfg['lora'] is not None and any(not a['used'] for a in cfg['lora']['adapters'])
        net = DDP(model, device_ids=[dev.index] if dev.type == 'cuda' else None, find_unused_parameters=unused)
    ids, mask = prompts[0].to(dev), prompts[1].to(dev)
    MedctcDropout.rank = rank
    log = open(os.path.join(out, 'train_log.jsonl'), 'w') if rank == 0 else None
    # fp16's range is short: scale the loss (bf16 has f32's range and needs none).
    scaler = torch.cuda.amp.GradScaler(enabled=precision_of(cfg) == 'fp16')
    t0, step, limit = time.time(), 0, args.max_steps or total
    base_of(model).train()
    for epoch in range(1, epochs + 1):
        order = epoch_order(len(split), cfg['seed'], epoch)
        for b in range(batches):
            if step >= limit:
                break
            step += 1
            batch = order[b * tr['batchSize']:(b + 1) * tr['batchSize']]
            rows = batch[rank * per_rank:(rank + 1) * per_rank]  # this rank's share of the global batch
            vol = torch.from_numpy(np.stack([np.array(split.volumes[i]) for i in rows])).to(dev)
            lr = learning_rate(schedule, o['lr'], step - 1, total)
            MedctcDropout.step_seed = dropout_seed(cfg['seed'], step)
            for g in opt.param_groups:
                g['lr'] = lr
            with autocast(cfg, dev):
                if tr['loss'] == 'clip':
                    rid = torch.from_numpy(np.stack([np.array(split.report_ids[i]) for i in rows])).to(dev)
                    rmask = torch.from_numpy(np.stack([np.array(split.report_mask[i]) for i in rows])).to(dev)
                    loss = clip_loss(net(vol, rid, rmask)[0].float())
                else:
                    targets = torch.from_numpy(np.stack([np.array(split.labels[i]) for i in rows]).astype(np.float32)).to(dev)
                    loss = pair_loss(tr['loss'], net(vol, ids, mask)[0].float(), targets)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            if tr['gradClip'] is not None:
                gnorm = float(torch.nn.utils.clip_grad_norm_(params, tr['gradClip']))
            else:
                gnorm = float(torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None])))
            scaler.step(opt)
            scaler.update()
            shown = loss.detach()
            if world > 1:
                import torch.distributed as dist
                dist.all_reduce(shown)
                shown = shown / world
            if not math.isfinite(float(shown)):
                raise SystemExit(f'training loss is {float(shown)} at step {step}: lower train.optimizer.lr or set train.grad_clip')
            if log:
                log.write(json.dumps({'step': step, 'epoch': epoch, 'batch': b + 1, 'loss': float(shown), 'lr': lr, 'gradNorm': gnorm,
                                      'elapsed': time.time() - t0, 'volumes': [split.names[i] for i in batch]}) + '\n')
                log.flush()
    if log:
        log.close()
    return {'steps': step, 'seconds': time.time() - t0, 'batchesPerEpoch': batches, 'epochs': epochs}


def forward_command(cfg, args, dev, peft):
    """Raw eval forward on given inputs (volume.npy, input_ids.npy, attention_mask.npy) -> outputs .npy."""
    model = build_model(cfg, args, 0, dev, peft)
    if args.adapter:
        load_adapter(model, cfg, peft, args.adapter)
    net = base_of(model).eval()
    load = lambda n: torch.from_numpy(np.load(os.path.join(args.inputs, f'{n}.npy'))).to(dev)
    with torch.no_grad(), autocast(cfg, dev):
        logits, img, txt = net(load('volume'), load('input_ids').long(), load('attention_mask'))
    os.makedirs(args.out, exist_ok=True)
    for n, t in [('logits', logits), ('image_latent', img), ('text_latent', txt)]:
        np.save(os.path.join(args.out, f'{n}.npy'), t.float().cpu().numpy())
    print(json.dumps({'trainable': trainable_count(model), 'peft': peft is not None}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('command', nargs='?', default='run', choices=['run', 'forward', 'count'])
    ap.add_argument('--data', default=os.path.join(HERE, 'data'), help='the data bundle (default: data/ beside this file)')
    ap.add_argument('--weights', default=None, help='base weights (.safetensors or a torch.save state dict); default: experiment.json')
    ap.add_argument('--out', default=os.path.join(HERE, 'runs'), help='output folder (adapter/, scores.csv, metrics.json, train_log.jsonl)')
    ap.add_argument('--adapter', default=None, help='a PEFT adapter folder to evaluate (with --evaluate-only) or to run `forward` with')
    ap.add_argument('--evaluate-only', action='store_true')
    ap.add_argument('--epochs', type=int, default=None, help='override train.epochs')
    ap.add_argument('--max-steps', type=int, default=None, help='stop after N optimizer steps (the schedule still spans the full run)')
    ap.add_argument('--inputs', default=None, help='`forward`: folder with volume.npy, input_ids.npy, attention_mask.npy')
    ap.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    ap.add_argument('--no-peft', action='store_true', help='use the built-in LoRA even when peft is importable')
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(os.path.join(HERE, 'experiment.json')) as f:
        cfg = json.load(f)
    peft = use_peft(args)
    rank, world, dev = setup_distributed()
    torch.manual_seed(cfg['seed'])
    if args.command == 'forward':
        return forward_command(cfg, args, dev, peft)
    if args.command == 'count':
        model = build_model(cfg, args, rank, dev, peft)
        print(json.dumps({'trainable': trainable_count(model), 'medctc': cfg['parameters']['trainable'], 'peft': peft is not None}))
        return
    model = build_model(cfg, args, rank, dev, peft)
    if trainable_count(model) != cfg['parameters']['trainable']:
        raise SystemExit(f"internal: {trainable_count(model)} trainable parameters, medctc counts {cfg['parameters']['trainable']}")
    os.makedirs(args.out, exist_ok=True)
    pst = read_safetensors(os.path.join(args.data, 'prompts.safetensors'))
    prompts = (torch.from_numpy(np.array(pst['input_ids'])).long(), torch.from_numpy(np.array(pst['attention_mask'])))
    ev = Split(args.data, 'eval')
    summary = {'experiment': cfg['experiment'], 'lock': cfg['lock'], 'worldSize': world, 'peft': peft is not None,
               'trainable': trainable_count(model), 'torch': torch.__version__, 'device': str(dev)}
    if args.adapter:
        load_adapter(model, cfg, peft, args.adapter)
    do_train = cfg['train'] is not None and not args.evaluate_only
    if do_train and cfg['evaluate']['baseline'] and rank == 0:
        s, t, m = evaluate(model, cfg, ev, prompts, dev)
        summary['baseline'] = write_eval(args.out, 'baseline', cfg, ev, s, t, m)
    if do_train:
        summary['train'] = train(model, cfg, args, Split(args.data, 'train'), prompts, rank, world, dev, peft, args.out)
        if cfg['lora'] is not None:
            # Every rank saves (rank 0 into --out/adapter, others beside it) so the ranks can be compared.
            save_adapter(model, cfg, peft, os.path.join(args.out, 'adapter' if rank == 0 else f'adapter.rank{rank}'))
    if rank == 0:
        s, t, m = evaluate(model, cfg, ev, prompts, dev)
        summary['final'] = write_eval(args.out, 'final', cfg, ev, s, t, m)
        atomic_write(os.path.join(args.out, 'metrics.json'), [json.dumps(summary, indent=2, sort_keys=True) + '\n'])
        mean = m['mean']
        pct = lambda x: '-' if x is None else f'{100 * x:.1f}%'
        print(f"{cfg['experiment']}: mean AUROC {pct(mean['auroc'])}, accuracy {pct(mean['accuracy'])}, macro-F1 {pct(mean['macroF1'])} over {len(ev)} volumes -> {args.out}")
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()


if __name__ == '__main__':
    main()

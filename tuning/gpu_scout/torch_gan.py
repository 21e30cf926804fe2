"""A PyTorch port of keras_mnist_gan's seed architecture, for scouting
training settings on a GPU (see README.md beside this file).

K configurations of the same batch size train *side by side in one process*:
every parameter has a leading model axis K, convolutions run with
``groups=K`` (model k's channels are group k), dense layers as batched
matrix products, BatchNorm per channel (= per model). The models never mix:
the summed loss gives each model exactly the gradient of its own loss. All
models of a group see the same real batches (their noise and initial weights
are their own).

Subcommands:

    python torch_gan.py check  --ref .scout/keras_reference.npz --evw .scout/evaluator_weights.npz
    python torch_gan.py sweep  --plan smoke|main|... --out DIR --deadline SECONDS
    python torch_gan.py group  (started by sweep)

Numpy, scipy and torch only; nothing from keras_mnist_gan is imported (the
bicubic matrix below is a copy of keras_mnist_gan.layers.resize_matrix).
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import signal
import subprocess
import sys
import tarfile
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SCOUT_WORK", "/tmp/scout")


# --------------------------------------------------------------------------
# The bicubic resize matrix: a copy of keras_mnist_gan/layers.py.

def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    table = 1024
    pos = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    base = np.floor(pos).astype(int)
    frac = np.round((pos - base) * table) / table
    m = np.zeros((size_out, size_in), np.float64)
    for tap, dist in ((-1, 1 + frac), (0, frac), (1, 1 - frac), (2, 2 - frac)):
        idx = base + tap
        inside = (idx >= 0) & (idx < size_in)
        m[np.arange(size_out)[inside], idx[inside]] += _keys_cubic(dist[inside])
    return (m / m.sum(axis=1, keepdims=True)).astype("float32")


# --------------------------------------------------------------------------
# Parameters. Shapes per model (the stacked tensors add a leading K).

D_SHAPES = {
    "w1": (32, 1, 5, 5), "b1": (32,),
    "w2": (64, 32, 5, 5), "b2": (64,),
    "w3": (3136, 1024), "b3": (1024,),
    "w4": (1024, 1), "b4": (1,),
}
G_SHAPES = {
    "wd": (100, 3136), "bd": (3136,),
    "g1": (1,), "be1": (1,),
    "wc1": (50, 1, 3, 3), "bc1": (50,),
    "g2": (50,), "be2": (50,),
    "wc2": (25, 50, 3, 3), "bc2": (25,),
    "g3": (25,), "be3": (25,),
    "wc3": (1, 25, 1, 1), "bc3": (1,),
}
SEED_STD = 0.01


def _trunc_normal(shape, std, gen):
    """Keras TruncatedNormal: normal(0, std), redrawn beyond 2 std."""
    import torch

    x = torch.randn(shape, generator=gen, dtype=torch.float64) * std
    while True:
        bad = x.abs() > 2 * std
        n = int(bad.sum())
        if n == 0:
            return x.float()
        x[bad] = torch.randn(n, generator=gen, dtype=torch.float64) * std


def init_params(shapes: dict, seeds: list[int], device) -> dict:
    """Seed init: weights truncated normal std 0.01, biases 0, BN gamma 1 beta 0."""
    import torch

    per_model = []
    for s in seeds:
        gen = torch.Generator().manual_seed(int(s))
        p = {}
        for name, shape in shapes.items():
            if name.startswith("w"):
                p[name] = _trunc_normal(shape, SEED_STD, gen)
            elif name.startswith("g"):
                p[name] = torch.ones(shape)
            else:  # b*, be*
                p[name] = torch.zeros(shape)
        per_model.append(p)
    return {
        name: torch.stack([p[name] for p in per_model]).to(device).requires_grad_(True)
        for name in shapes
    }


# --------------------------------------------------------------------------
# Forward passes of K models at once.

def d_forward(P: dict, x):
    """x: (N, K, 28, 28) in [0,1], channel k for model k -> logits (K, N)."""
    import torch
    import torch.nn.functional as F

    K = P["w1"].shape[0]
    n = x.shape[0]
    h = F.conv2d(x, P["w1"].reshape(K * 32, 1, 5, 5), P["b1"].reshape(-1), padding=2, groups=K)
    h = F.avg_pool2d(F.relu(h), 2)
    h = F.conv2d(h, P["w2"].reshape(K * 64, 32, 5, 5), P["b2"].reshape(-1), padding=2, groups=K)
    h = F.avg_pool2d(F.relu(h), 2)  # (N, K*64, 7, 7)
    h = h.reshape(n, K, 64 * 49).transpose(0, 1)  # (K, N, 3136), CHW order per model
    h = F.relu(torch.baddbmm(P["b3"].unsqueeze(1), h, P["w3"]))
    return torch.baddbmm(P["b4"].unsqueeze(1), h, P["w4"]).squeeze(-1)


def _bn(h, gamma, beta):
    import torch.nn.functional as F

    # Training-mode BatchNorm: batch statistics (biased variance), per
    # channel, i.e. per model and channel. No running statistics: samples
    # are drawn in training mode with batches of 500 (what the Keras code's
    # calibrate_batchnorm + inference mode amounts to).
    return F.batch_norm(h, None, None, gamma.reshape(-1), beta.reshape(-1), training=True, eps=1e-5)


def g_forward(P: dict, z, A):
    """z: (K, N, 100) -> images (K, N, 28, 28) in [0, 1]."""
    import torch
    import torch.nn.functional as F

    K, n, _ = z.shape
    At = A.t()
    h = torch.baddbmm(P["bd"].unsqueeze(1), z, P["wd"])  # (K, N, 3136)
    h = h.reshape(K, n, 56, 56).transpose(0, 1)  # (N, K, 56, 56): Keras Reshape((56,56,1))
    h = F.relu(_bn(h, P["g1"], P["be1"]))
    # TF 'same' padding, stride 2, even input: 0 before, 1 after.
    h = F.conv2d(F.pad(h, (0, 1, 0, 1)), P["wc1"].reshape(K * 50, 1, 3, 3), P["bc1"].reshape(-1),
                 stride=2, groups=K)  # (N, K*50, 28, 28)
    h = F.relu(_bn(h, P["g2"], P["be2"]))
    h = torch.matmul(torch.matmul(A, h), At)  # bicubic 28 -> 56
    h = F.conv2d(F.pad(h, (0, 1, 0, 1)), P["wc2"].reshape(K * 25, 50, 3, 3), P["bc2"].reshape(-1),
                 stride=2, groups=K)  # (N, K*25, 28, 28)
    h = F.relu(_bn(h, P["g3"], P["be3"]))
    h = torch.matmul(torch.matmul(A, h), At)
    h = h[:, :, ::2, ::2]  # 1x1 conv, stride 2, 'same': every other pixel from 0
    h = F.conv2d(h, P["wc3"].reshape(K, 25, 1, 1), P["bc3"].reshape(-1), groups=K)  # (N, K, 28, 28)
    return torch.sigmoid(h).transpose(0, 1)


# --------------------------------------------------------------------------
# The project's evaluator, ported (weights from evaluator.keras).

class TorchEvaluator:
    def __init__(self, path: str, device):
        import torch

        w = np.load(path)
        conv = lambda k: torch.tensor(w[k].transpose(3, 2, 0, 1).copy(), device=device)  # noqa: E731
        vec = lambda k: torch.tensor(w[k], device=device)  # noqa: E731
        self.c = [(conv(f"{n}__0"), vec(f"{n}__1")) for n in ("conv2d", "conv2d_1", "conv2d_2", "conv2d_3")]
        self.wf, self.bf = vec("features__0"), vec("features__1")
        self.wp, self.bp = vec("probs__0"), vec("probs__1")
        self.device = device

    def features_and_probs(self, images: np.ndarray, batch: int = 1000):
        """images: (n, 28, 28) uint8 or float in [0,1] -> float64 feats, probs."""
        import torch
        import torch.nn.functional as F

        feats, probs = [], []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.as_tensor(np.asarray(images[i:i + batch]), device=self.device)
                x = (x.float() / 255.0 if x.dtype == torch.uint8 else x.float()).reshape(-1, 1, 28, 28)
                h = F.relu(F.conv2d(x, *self.c[0]))
                h = F.max_pool2d(F.relu(F.conv2d(h, *self.c[1])), 2)
                h = F.relu(F.conv2d(h, *self.c[2]))
                h = F.max_pool2d(F.relu(F.conv2d(h, *self.c[3])), 2)
                h = h.permute(0, 2, 3, 1).reshape(len(x), -1)  # Keras Flatten: HWC
                f = F.relu(h @ self.wf + self.bf)
                p = torch.softmax(f @ self.wp + self.bp, dim=1)
                feats.append(f.double().cpu().numpy())
                probs.append(p.double().cpu().numpy())
        return np.concatenate(feats), np.concatenate(probs)


def frechet_distance(fa, fb) -> float:
    import warnings

    from scipy import linalg

    warnings.simplefilter("ignore", linalg.LinAlgWarning)

    mu_a, mu_b = fa.mean(0), fb.mean(0)
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = linalg.sqrtm(ca @ cb)
    if not np.isfinite(covmean).all():
        eps = 1e-6 * np.eye(len(ca))
        covmean = linalg.sqrtm((ca + eps) @ (cb + eps))
    covmean = np.real(covmean)
    d = mu_a - mu_b
    return float(max(d @ d + np.trace(ca) + np.trace(cb) - 2 * np.trace(covmean), 0.0))


def quality(feats, probs, real_feats) -> dict:
    p = np.clip(probs, 1e-12, 1.0)
    marg = p.mean(0, keepdims=True)
    score = float(math.exp(np.mean(np.sum(p * (np.log(p) - np.log(marg)), axis=1))))
    counts = np.bincount(probs.argmax(1), minlength=10)
    share = counts / counts.sum()
    nz = share[share > 0]
    return {
        "fid": frechet_distance(feats, real_feats),
        "score": score,
        "entropy": float(-(nz * np.log2(nz)).sum()),
        "rarest": float(share.min()),
        "conf": float(probs.max(1).mean()),
    }


# --------------------------------------------------------------------------
# Adam, Keras's formula, vectorised over the model axis (per-model lr/betas).

class VAdam:
    def __init__(self, params: list, lr, b1, b2, eps: float = 1e-7):
        import torch

        self.params = params
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.t = 0
        shp = lambda p: (-1,) + (1,) * (p.dim() - 1)  # noqa: E731
        self.views = [(b1.view(shp(p)), (1 - b1).view(shp(p)), b2.view(shp(p)), (1 - b2).view(shp(p)), shp(p))
                      for p in params]

    def step(self, grads: list) -> None:
        import torch

        self.t += 1
        alpha = self.lr * torch.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)  # (K,)
        with torch.no_grad():
            for p, g, m, v, (b1, nb1, b2, nb2, shp) in zip(self.params, grads, self.m, self.v, self.views):
                m.mul_(b1).add_(g * nb1)
                v.mul_(b2).add_(g * g * nb2)
                p.sub_(alpha.view(shp) * m / (v.sqrt() + self.eps))


# --------------------------------------------------------------------------
# Plans: groups of configurations that share batch size, steps and D mode.

def cfg(name, lr_d, lr_g, b1=0.5, b2=0.999, ls=0.1, r1=0.0, inoise=0.0, seed=None):
    return dict(name=name, lr_d=lr_d, lr_g=lr_g, b1=b1, b2=b2, ls=ls, r1=r1, inoise=inoise,
                seed=seed if seed is not None else (zlib.crc32(name.encode()) % 100000))


def _grid(lrds, ratios, b1s, ls=0.1):
    out = []
    for b1 in b1s:
        for lrd in lrds:
            for r in ratios:
                out.append(cfg(f"lrd{lrd:.0e}_x{r:g}_b{b1:g}".replace("e-0", "e-"), lrd, lrd * r, b1=b1, ls=ls))
    return out


def ckpts(steps, fracs=(0.2, 0.4, 0.6, 0.8, 1.0)):
    return [int(round(steps * f)) for f in fracs]


STABLE = dict(lr_d=1e-4, lr_g=2e-4, b1=0.5, ls=0.1)


def plan_groups(plan: str) -> dict:
    """name -> dict(batch, steps, warmup, split, ckpts, configs)."""
    G = {}
    if plan == "smoke":
        G["smoke_seed"] = dict(batch=50, steps=300, warmup=50, split=True, ckpts=[150, 300],
                               configs=[cfg("seed", 3e-4, 1e-4, b1=0.9, ls=0.0)])
        G["smoke_r1"] = dict(batch=50, steps=200, warmup=50, split=False, ckpts=[200],
                             configs=[cfg("stable_r1", **{**STABLE, "ls": 0.0}, r1=1.0),
                                      cfg("stable_in", **STABLE, inoise=0.1)])
        G["smoke_k32"] = dict(batch=50, steps=400, warmup=50, split=False, ckpts=[400],
                              configs=_grid([5e-5, 1e-4, 2e-4, 4e-4], [1, 2, 4], [0.5, 0.0])
                              + [cfg(f"extra{i}", **STABLE) for i in range(8)])
        G["smoke_b200"] = dict(batch=200, steps=100, warmup=20, split=False, ckpts=[100],
                               configs=[cfg("stable_b200", **STABLE), cfg("x_b200", 2e-4, 4e-4)])
        return G
    if plan == "tiny":  # a CPU test of every code path
        G["t_split"] = dict(batch=50, steps=40, warmup=10, split=True, ckpts=[20, 40],
                            configs=[cfg("seed", 3e-4, 1e-4, b1=0.9, ls=0.0)])
        G["t_r1in"] = dict(batch=20, steps=30, warmup=10, split=False, ckpts=[30],
                           configs=[cfg("r1", **{**STABLE, "ls": 0.0}, r1=1.0), cfg("in", **STABLE, inoise=0.1),
                                    cfg("plain", 2e-4, 2e-4, b1=0.0)])
        return G
    if plan == "r1more":  # follow-up on the warm machine: R1 around the best result
        L0 = {**STABLE, "ls": 0.0}
        G["r1x"] = dict(batch=50, steps=10000, warmup=300, split=False, ckpts=ckpts(10000),
                        configs=[cfg("stable_ls0_r1g1_rep2", **L0, r1=1.0, seed=778),
                                 cfg("stable_ls0_r1g0.3", **L0, r1=0.3),
                                 cfg("stable_ls0_r1g3", **L0, r1=3.0),
                                 cfg("stable_r1g1", **STABLE, r1=1.0),
                                 cfg("lrd2e-4_x2_b0.5_ls0_r1g1", 2e-4, 4e-4, b1=0.5, ls=0.0, r1=1.0),
                                 cfg("lrd2e-4_x1_b0_ls0_r1g1", 2e-4, 2e-4, b1=0.0, ls=0.0, r1=1.0)])
        return G
    if plan == "long":  # the earlier `quality` rates past the 10,000-step budget: where do they level off?
        Q = dict(lr_d=2e-4, lr_g=4e-4, b1=0.5, ls=0.0, r1=1.0)
        G["q25k"] = dict(batch=50, steps=25000, warmup=300, split=False,
                         ckpts=[5000, 10000, 15000, 20000, 25000],
                         configs=[cfg(f"quality_s{i}", **Q, seed=9100 + i) for i in range(4)])
        return G
    if plan == "faster":  # can higher learning rates with R1 buy the 10,000-step budget more quality?
        G["fast"] = dict(batch=50, steps=10000, warmup=300, split=False,
                         ckpts=[2000, 4000, 6000, 8000, 10000],
                         configs=[cfg(f"r1_lrd{d:.0e}_x{r:g}_s{i}".replace("e-0", "e-"), d, d * r, b1=0.5, ls=0.0,
                                      r1=1.0, seed=9200 + 10 * k + i)
                                  for k, (d, r) in enumerate([(4e-4, 2), (2e-4, 4), (5e-4, 4), (1e-3, 2)])
                                  for i in range(2)])
        return G
    if plan.startswith("main"):
        steps = 10000
        small = plan == "main_small"
        lrds = [1e-4, 2e-4, 4e-4] if small else [5e-5, 1e-4, 2e-4, 4e-4]
        grid = _grid(lrds, [1, 2, 4], [0.5, 0.0])
        extras = [
            cfg("stable_rep2", **STABLE, seed=777),
            cfg("stable_ls0", **{**STABLE, "ls": 0.0}),
            cfg("stable_b2.9", **STABLE, b2=0.9),
            cfg("stable_in0.1", **STABLE, inoise=0.1),
            cfg("lrd2e-4_x1_b0.5_ls0", 2e-4, 2e-4, b1=0.5, ls=0.0),
            cfg("lrd2e-4_x2_b0_b2.9", 2e-4, 4e-4, b1=0.0, b2=0.9),
            cfg("lrd4e-4_x0.5_b0.5", 4e-4, 2e-4, b1=0.5),
            cfg("lrd2e-4_x0.5_b0.5", 2e-4, 1e-4, b1=0.5),
        ]
        if small:
            extras = extras[:6]
        G["b50"] = dict(batch=50, steps=steps, warmup=300, split=False, ckpts=ckpts(steps), configs=grid + extras)
        G["seed"] = dict(batch=50, steps=steps, warmup=300, split=True, ckpts=ckpts(steps),
                         configs=[cfg("seed", 3e-4, 1e-4, b1=0.9, ls=0.0),
                                  cfg("seed_b0.5_ls0.1", 3e-4, 1e-4, b1=0.5, ls=0.1)])
        G["r1"] = dict(batch=50, steps=steps, warmup=300, split=False, ckpts=ckpts(steps),
                       configs=[cfg("stable_ls0_r1g1", **{**STABLE, "ls": 0.0}, r1=1.0),
                                cfg("stable_ls0_r1g10", **{**STABLE, "ls": 0.0}, r1=10.0),
                                cfg("stable_ls0_r1g0.1", **{**STABLE, "ls": 0.0}, r1=0.1),
                                cfg("lrd2e-4_x1_b0_ls0_r1g1", 2e-4, 2e-4, b1=0.0, ls=0.0, r1=1.0)])
        G["b100"] = dict(batch=100, steps=steps // 2, warmup=150, split=False, ckpts=ckpts(steps // 2),
                         configs=[cfg("stable_B100", **STABLE),
                                  cfg("lrd2e-4_x2_b0.5_B100", 2e-4, 4e-4),
                                  cfg("lrd2e-4_x1_b0.5_B100", 2e-4, 2e-4),
                                  cfg("lrd4e-4_x1_b0_B100", 4e-4, 4e-4, b1=0.0)])
        G["b200"] = dict(batch=200, steps=steps // 4, warmup=75, split=False, ckpts=ckpts(steps // 4),
                         configs=[cfg("stable_B200", **STABLE),
                                  cfg("lrd2e-4_x2_b0.5_B200", 2e-4, 4e-4),
                                  cfg("lrd4e-4_x2_b0.5_B200", 4e-4, 8e-4),
                                  cfg("lrd4e-4_x1_b0.5_B200", 4e-4, 4e-4)])
        if small:
            G["r1"]["configs"] = G["r1"]["configs"][:2]
        if plan == "main_min":
            keep = {"lrd1e-4_x2_b0.5", "lrd2e-4_x2_b0.5", "lrd2e-4_x1_b0.5", "lrd4e-4_x1_b0.5", "lrd4e-4_x2_b0.5",
                    "lrd1e-4_x2_b0", "lrd2e-4_x1_b0", "lrd2e-4_x2_b0", "lrd4e-4_x1_b0",
                    "stable_rep2", "stable_ls0", "stable_b2.9", "stable_in0.1"}
            G["b50"]["configs"] = [c for c in G["b50"]["configs"] if c["name"] in keep]
            G["r1"]["configs"] = G["r1"]["configs"][:1]
            G["b100"]["configs"] = G["b100"]["configs"][:2]
            G["b200"]["configs"] = G["b200"]["configs"][:2]
        return G
    raise ValueError(plan)


# --------------------------------------------------------------------------
# One group: train K models side by side, checkpoint samples and metrics.

N_EVAL = 4000
EVAL_BATCH = 500   # generator batch when sampling (BatchNorm in training mode)
SAMPLE_CHUNK = 4   # models per sampling call (memory)


def run_group(args) -> None:
    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec = plan_groups(args.plan)[args.group]
    confs = spec["configs"]
    K, N, steps, warmup = len(confs), spec["batch"], spec["steps"], spec["warmup"]
    split, cks = spec["split"], set(spec["ckpts"])
    print(f"[{args.group}] K={K} batch={N} steps={steps} warmup={warmup} split={split} ckpts={sorted(cks)} "
          f"device={dev}", flush=True)
    os.makedirs(f"{WORK}/sets", exist_ok=True)
    os.makedirs(f"{WORK}/metrics", exist_ok=True)
    mpath = f"{WORK}/metrics/{args.group}.jsonl"

    data = np.load(args.data)
    x_train = torch.as_tensor(data["x_train"], device=dev)  # uint8 (60000, 28, 28)
    ev = TorchEvaluator(args.evw, dev)
    real_feats, _ = ev.features_and_probs(data["x_test"][:N_EVAL])

    A = torch.tensor(resize_matrix(28, 56), device=dev)
    D = init_params(D_SHAPES, [c["seed"] for c in confs], dev)
    Gp = init_params(G_SHAPES, [c["seed"] + 50000 for c in confs], dev)
    dnames, gnames = list(D_SHAPES), list(G_SHAPES)
    dpar, gpar = [D[k] for k in dnames], [Gp[k] for k in gnames]
    hp = lambda key: torch.tensor([float(c[key]) for c in confs], device=dev)  # noqa: E731
    lr_d, lr_g, b1, b2 = hp("lr_d"), hp("lr_g"), hp("b1"), hp("b2")
    opt_d = VAdam(dpar, lr_d, b1, b2)
    opt_d2 = VAdam(dpar, lr_d, b1, b2) if split else None
    opt_g = VAdam(gpar, lr_g, b1, b2)
    real_target = (1.0 - hp("ls")).view(K, 1)
    r1 = hp("r1")
    use_r1 = bool((r1 > 0).any())
    inoise = hp("inoise").view(1, K, 1, 1)
    use_in = bool((inoise > 0).any())
    ema_decay = 0.999 ** (N / 50)  # same horizon in digits for every batch size
    ema = {k: Gp[k].detach().clone() for k in gnames}
    gen = torch.Generator(device=dev).manual_seed(1000 + zlib.crc32(args.group.encode()) % 1000)
    z_eval = torch.randn((N_EVAL, 100), generator=torch.Generator(device=dev).manual_seed(4242), device=dev)
    bce = lambda logits, target: F.binary_cross_entropy_with_logits(  # noqa: E731
        logits, target.expand_as(logits), reduction="none").mean(1)
    ones = torch.ones(K, 1, device=dev)
    zeros = torch.zeros(K, 1, device=dev)

    perm, pos = None, 0
    t0 = time.time()
    t_train = 0.0
    t_mark = time.time()
    loss_acc = torch.zeros(3, K, device=dev)
    n_acc = 0
    tg = 0

    def sample(params) -> np.ndarray:
        out = np.empty((K, N_EVAL, 28, 28), np.uint8)
        with torch.no_grad():
            for k0 in range(0, K, SAMPLE_CHUNK):
                sub = {k: v[k0:k0 + SAMPLE_CHUNK] for k, v in params.items()}
                kk = sub["wd"].shape[0]
                for i in range(0, N_EVAL, EVAL_BATCH):
                    z = z_eval[i:i + EVAL_BATCH].unsqueeze(0).expand(kk, -1, -1).contiguous()
                    img = g_forward(sub, z, A)
                    img = torch.nan_to_num(img, nan=0.0)
                    out[k0:k0 + kk, i:i + EVAL_BATCH] = (img * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        return out

    def checkpoint(step: int) -> None:
        tc = time.time()
        losses = (loss_acc / max(n_acc, 1)).cpu().numpy()
        rows = []
        for which, params in (("raw", Gp), ("ema", ema)):
            imgs = sample(params)
            for k, c in enumerate(confs):
                key = f"{c['name']}__step{step}__{which}"
                np.save(f"{WORK}/sets/{key}.npy", imgs[k])
                f, p = ev.features_and_probs(imgs[k])
                q = quality(f, p, real_feats)
                rows.append(dict(config=c["name"], group=args.group, step=step, kimg=step * N / 1000, which=which,
                                 batch=N, steps=steps, warmup=warmup, split=split, K=K,
                                 d_loss_real=float(losses[0, k]), d_loss_fake=float(losses[1, k]),
                                 g_loss=float(losses[2, k]), train_s=round(t_train, 1),
                                 hp={kk: c[kk] for kk in ("lr_d", "lr_g", "b1", "b2", "ls", "r1", "inoise", "seed")},
                                 **q))
        with open(mpath, "a") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        best = sorted(rows, key=lambda r: r["fid"])[:3]
        print(f"[{args.group}] ckpt {step}: train {t_train:.0f}s, ckpt {time.time() - tc:.1f}s; best "
              + "; ".join(f"{r['config']}/{r['which']} fid {r['fid']:.1f} sc {r['score']:.2f} rare {r['rarest']:.3f}"
                          for r in best), flush=True)

    every = 100 if steps <= 1000 else 500
    for step in range(1, steps + 1):
        ts = time.time()
        if perm is None or pos + N > len(x_train):
            perm = torch.randperm(len(x_train), generator=gen, device=dev)
            pos = 0
        real = x_train[perm[pos:pos + N]].float() / 255.0  # (N, 28, 28)
        pos += N
        sig = None
        if use_in:
            sig = inoise * max(0.0, 1.0 - step / (0.6 * steps))

        # ---- discriminator step
        with torch.no_grad():
            fake = g_forward(Gp, torch.randn((K, N, 100), generator=gen, device=dev), A)  # (K, N, 28, 28)
        real_in = real.unsqueeze(1).expand(N, K, 28, 28)
        if use_r1:
            real_in = real_in.contiguous().requires_grad_(True)
        x = torch.cat([real_in, fake.transpose(0, 1)], dim=0)
        if sig is not None:
            x = x + sig * torch.randn(x.shape, generator=gen, device=dev)
        logits = d_forward(D, x)  # (K, 2N)
        l_real = bce(logits[:, :N], real_target)
        l_fake = bce(logits[:, N:], zeros)
        if split:
            g_real = torch.autograd.grad(l_real.sum(), dpar, retain_graph=True)
            g_fake = torch.autograd.grad(l_fake.sum(), dpar)
            opt_d.step(g_real)
            opt_d2.step(g_fake)
        else:
            loss = (l_real + l_fake).sum()
            if use_r1:
                (gx,) = torch.autograd.grad(logits[:, :N].sum(), real_in, create_graph=True)
                pen = (gx ** 2).sum(dim=(2, 3)).mean(0)  # (K,)
                loss = loss + (0.5 * r1 * pen).sum()
            opt_d.step(torch.autograd.grad(loss, dpar))

        # ---- generator step
        if step > warmup:
            img = g_forward(Gp, torch.randn((K, N, 100), generator=gen, device=dev), A).transpose(0, 1)
            if sig is not None:
                img = img + sig * torch.randn(img.shape, generator=gen, device=dev)
            l_g = bce(d_forward(D, img.contiguous()), ones)
            opt_g.step(torch.autograd.grad(l_g.sum(), gpar))
            tg += 1
            d = min(ema_decay, (1 + tg) / (10 + tg))
            with torch.no_grad():
                for k in gnames:
                    ema[k].lerp_(Gp[k], 1 - d)
        else:
            l_g = bce(logits[:, N:].detach(), ones)
            with torch.no_grad():
                for k in gnames:
                    ema[k].copy_(Gp[k])
        with torch.no_grad():
            loss_acc[0] += l_real.detach()
            loss_acc[1] += l_fake.detach()
            loss_acc[2] += l_g.detach()
        n_acc += 1

        if step % 100 == 0 or step in cks:
            torch.cuda.synchronize() if dev.type == "cuda" else None
        t_train += time.time() - ts
        if step % every == 0:
            now = time.time()
            l = (loss_acc / n_acc).mean(1).cpu().numpy()
            print(f"[{args.group}] step {step}/{steps} {1000 * (now - t_mark) / every:.2f} ms/step "
                  f"(train {t_train:.0f}s, wall {now - t0:.0f}s) mean d_real {l[0]:.3f} d_fake {l[1]:.3f} g {l[2]:.3f}",
                  flush=True)
            t_mark = now
        if step in cks:
            checkpoint(step)
            t_mark = time.time()
            loss_acc.zero_()
            n_acc = 0
    print(f"[{args.group}] done: train {t_train:.0f}s wall {time.time() - t0:.0f}s", flush=True)


# --------------------------------------------------------------------------
# Check the port against the Keras reference outputs.

def run_check(args) -> int:
    import torch

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref = np.load(args.ref)
    A = torch.tensor(resize_matrix(28, 56), device=dev)
    ok = True

    def rel(a, b):
        return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))

    # Generator. Keras weight order: dense k,b; bn1 gamma,beta,mm,mv; conv1 k,b;
    # bn2 (4); conv2 k,b; bn3 (4); pixels k,b.
    w = [ref[f"g_w{i:02d}"] for i in range(20)]
    conv = lambda a: a.transpose(3, 2, 0, 1)  # noqa: E731
    gk = {"wd": w[0], "bd": w[1], "g1": w[2], "be1": w[3], "wc1": conv(w[6]), "bc1": w[7],
          "g2": w[8], "be2": w[9], "wc2": conv(w[12]), "bc2": w[13], "g3": w[14], "be3": w[15],
          "wc3": conv(w[18]), "bc3": w[19]}
    for k, shape in G_SHAPES.items():
        assert gk[k].shape == shape, (k, gk[k].shape, shape)
    # Two copies of the model (K=2) with the second one's noise permuted, to
    # check that the models do not mix.
    Pg = {k: torch.tensor(np.stack([v, v]), device=dev) for k, v in gk.items()}
    z = torch.tensor(ref["g_z"], device=dev)
    zz = torch.stack([z, z.flip(0)])
    with torch.no_grad():
        out = g_forward(Pg, zz, A).cpu().numpy()
    want = ref["g_out_train"][..., 0]
    e1, e2 = rel(out[0], want), rel(out[1][::-1], want)
    # Keras (TF, oneDNN) and this port differ by ~1e-4 relative on these
    # deliberately large random weights (torch float32 = float64 to 1e-7).
    print(f"generator vs Keras (training mode): rel err {e1:.2e}, second model {e2:.2e}")
    ok &= e1 < 1e-3 and e2 < 1e-3

    # Discriminator.
    dw = [ref[f"d_w{i:02d}"] for i in range(8)]
    w3 = dw[4].reshape(7, 7, 64, 1024).transpose(2, 0, 1, 3).reshape(3136, 1024)  # HWC -> CHW rows
    dk = {"w1": conv(dw[0]), "b1": dw[1], "w2": conv(dw[2]), "b2": dw[3], "w3": w3, "b3": dw[5],
          "w4": dw[6], "b4": dw[7]}
    for k, shape in D_SHAPES.items():
        assert dk[k].shape == shape, (k, dk[k].shape, shape)
    Pd = {k: torch.tensor(np.stack([v, v]), device=dev) for k, v in dk.items()}
    x = torch.tensor(ref["d_x"][..., 0], device=dev)
    xx = torch.stack([x, x.flip(0)], dim=1)  # (N, 2, 28, 28)
    with torch.no_grad():
        lo = d_forward(Pd, xx).cpu().numpy()
    want = ref["d_out"][:, 0]
    e1, e2 = rel(lo[0], want), rel(lo[1][::-1], want)
    print(f"discriminator vs Keras: rel err {e1:.2e}, second model {e2:.2e}")
    ok &= e1 < 1e-4 and e2 < 1e-4

    ev = TorchEvaluator(args.evw, dev)
    f, p = ev.features_and_probs(ref["e_x"])
    e1, e2 = rel(f, ref["e_feats"]), rel(p, ref["e_probs"])
    print(f"evaluator vs Keras: features rel err {e1:.2e}, probs {e2:.2e}")
    ok &= e1 < 1e-4 and e2 < 1e-4

    # Init statistics.
    P = init_params(G_SHAPES, [1, 2], dev)
    wd = P["wd"].detach().cpu().numpy()
    print(f"init wd std {wd.std():.5f} (want ~0.0088 = 0.01 truncated at 2 std), max |w| {np.abs(wd).max():.4f}")
    ok &= abs(wd.std() - 0.00880) < 3e-4 and np.abs(wd).max() <= 0.02 and not np.allclose(wd[0], wd[1])
    print("CHECK", "OK" if ok else "FAILED")
    return 0 if ok else 1


# --------------------------------------------------------------------------
# The sweep driver: one process per group, a deadline, then packing.

def read_metrics() -> list:
    rows = []
    for path in sorted(glob.glob(f"{WORK}/metrics/*.jsonl")):
        with open(path) as fh:
            for line in fh:
                try:
                    rows.append(json.loads(line))
                except ValueError:  # a line cut short by the deadline
                    pass
    return rows


def pack(out_dir: str, max_files: int = 6, per_file: float = 15.5e6, total: float = 62e6) -> list:
    rows = read_metrics()
    fid = {(r["config"], r["step"], r["which"]): r["fid"] for r in rows}
    steps_of = {}
    for r in rows:
        steps_of.setdefault(r["config"], set()).add((r["step"], r["steps"]))
    # Tier 0: each config's last checkpoint; then 60%, 80%, 40%, 20% of its run.
    order = {1.0: 0, 0.6: 1, 0.8: 2, 0.4: 3, 0.2: 4}
    cands = []
    for path in glob.glob(f"{WORK}/sets/*.npy"):
        key = os.path.basename(path)[:-4]
        name, st, which = key.split("__")
        step = int(st[4:])
        done = max(s for s, _ in steps_of.get(name, {(step, step)}))
        total_steps = max(t for _, t in steps_of.get(name, {(step, step)}))
        frac = round(step / total_steps, 1)
        tier = 0 if step == done else 1 + order.get(frac, 5)
        cands.append((tier, fid.get((name, step, which), 1e9), key, path))
    cands.sort()

    def comp(c):
        try:
            arr = np.load(c[3])
            assert arr.shape == (N_EVAL, 28, 28) and arr.dtype == np.uint8
        except Exception:  # a file cut short by the deadline
            return c, None, None
        return c, zlib.compress(np.ascontiguousarray(arr).tobytes(), 6), arr.shape

    files, cur, cur_size, used, packed = [], None, 0.0, 0.0, []
    with ThreadPoolExecutor(14) as ex:
        for c, blob, shape in ex.map(comp, cands):
            if blob is None or used + len(blob) > total:
                continue
            if cur is None or cur_size + len(blob) > per_file:
                if cur is not None:
                    cur.close()
                if len(files) >= max_files:
                    cur = None
                    break
                fn = f"{out_dir}/samples_{len(files)}.tar"
                files.append(fn)
                cur, cur_size = tarfile.open(fn, "w"), 0.0
            name = f"{c[2]}__{'x'.join(map(str, shape))}.u8.zlib"
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            cur.addfile(info, io.BytesIO(blob))
            cur_size += len(blob) + 1024
            used += len(blob) + 1024
            packed.append(c[2])
    if cur is not None:
        cur.close()
    print(f"packed {len(packed)} of {len(cands)} sample sets into {len(files)} files, {used / 1e6:.1f} MB", flush=True)
    return packed


def run_sweep(args) -> None:
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(f"{WORK}/logs", exist_ok=True)
    groups = list(plan_groups(args.plan))
    if args.only:
        groups = [g for g in groups if g in args.only.split(",")]
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    procs = {}

    def start(g):
        log = open(f"{WORK}/logs/{g}.log", "w")
        cmd = [sys.executable, os.path.abspath(__file__), "group", "--plan", args.plan, "--group", g,
               "--data", args.data, "--evw", args.evw]
        procs[g] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=False), log, time.time())
        print(f"[sweep] started {g} at {time.time() - t0:.0f}s", flush=True)

    pending = list(groups)
    if not args.sequential:
        for g in pending:
            start(g)
        pending = []
    last_print = 0.0
    while True:
        if args.sequential and pending and not any(p.poll() is None for p, _, _ in procs.values()):
            start(pending.pop(0))
        running = [g for g, (p, _, _) in procs.items() if p.poll() is None]
        if not running and not pending:
            break
        el = time.time() - t0
        if el > args.deadline:
            print(f"[sweep] deadline {args.deadline}s reached: stopping {running}", flush=True)
            for g in running:
                procs[g][0].send_signal(signal.SIGKILL)
            break
        if el - last_print > 30:
            last_print = el
            for g in running:
                try:
                    with open(f"{WORK}/logs/{g}.log") as fh:
                        lines = [ln.rstrip() for ln in fh if ln.strip()]
                    print(f"[sweep {el:.0f}s] {lines[-1] if lines else g + ': (no output yet)'}", flush=True)
                except OSError:
                    pass
        time.sleep(2)
    for g, (p, log, ts) in procs.items():
        p.wait()
        log.close()
        print(f"[sweep] {g}: exit {p.returncode}, {time.time() - ts:.0f}s", flush=True)
    print(f"[sweep] training over at {time.time() - t0:.0f}s", flush=True)

    with open(f"{args.out}/logs.txt", "w") as out:
        for g in groups:
            try:
                with open(f"{WORK}/logs/{g}.log") as fh:
                    out.write(f"===== {g}\n" + fh.read())
            except OSError:
                out.write(f"===== {g}: no log\n")
    rows = read_metrics()
    with open(f"{args.out}/metrics.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    try:
        pack(args.out)
    except Exception:
        traceback.print_exc()
    # Summary: last checkpoint of each config, raw and EMA.
    last = {}
    for r in rows:
        k = (r["config"], r["which"])
        if k not in last or r["step"] > last[k]["step"]:
            last[k] = r
    print(f"{'config':28s} {'which':4s} {'step':>6s} {'fid':>7s} {'score':>6s} {'ent':>5s} {'rare':>6s}")
    for r in sorted(last.values(), key=lambda r: r["fid"]):
        print(f"{r['config']:28s} {r['which']:4s} {r['step']:6d} {r['fid']:7.2f} {r['score']:6.2f} "
              f"{r['entropy']:5.2f} {r['rarest']:6.3f}")
    print(f"[sweep] all done at {time.time() - t0:.0f}s", flush=True)


def plan_cost(plan: str) -> float:
    """Model-equivalents of a plan: sum of K x digits/500k x cost factor."""
    total = 0.0
    for g in plan_groups(plan).values():
        factor = 3.0 if any(c["r1"] > 0 for c in g["configs"]) else (1.3 if g["split"] else 1.0)
        total += len(g["configs"]) * factor * g["steps"] * g["batch"] / 500000
    return total


def run_choose(args) -> int:
    """Pick the largest main plan whose predicted time fits --deadline,
    from the smoke's K=32 ms/step (read from its log)."""
    ms = None
    try:
        with open(f"{WORK}/logs/smoke_k32.log") as fh:
            for line in fh:
                if "ms/step" in line:
                    ms = float(line.split(" ms/step")[0].split()[-1])
    except OSError:
        pass
    if ms is None:
        print("main_min")
        return 0
    choice = "main_min"
    for plan in ("main", "main_small", "main_min"):
        pred = 10 * ms / 32 * plan_cost(plan) * 1.2 + 60  # 10000 steps, ms -> s
        print(f"plan {plan}: {plan_cost(plan):.1f} model-eq, predicted {pred:.0f}s (K=32 {ms:.1f} ms/step)",
              file=sys.stderr)
        if pred <= args.deadline:
            choice = plan
            break
    print(choice)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["check", "sweep", "group", "choose"])
    ap.add_argument("--plan", default="smoke")
    ap.add_argument("--group")
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/scout_out"))
    ap.add_argument("--deadline", type=float, default=400)
    ap.add_argument("--sequential", action="store_true")
    ap.add_argument("--data", default=".scout/mnist.npz")
    ap.add_argument("--evw", default=".scout/evaluator_weights.npz")
    ap.add_argument("--ref", default=".scout/keras_reference.npz")
    args = ap.parse_args()
    if args.cmd == "check":
        return run_check(args)
    if args.cmd == "choose":
        return run_choose(args)
    if args.cmd == "group":
        try:
            run_group(args)
        except Exception:
            traceback.print_exc()
            return 1
        return 0
    run_sweep(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""pytorch_ref.py - the SC-VAE of an scvae model file, written in PyTorch (Python), for side-by-side timing.

    python3 bench/pytorch_ref.py MODEL.scvm [--size 256] [--images 16] [--threads 2] [--train-batch 4]
                                 [--train-steps 3] [--check CODES_IMAGE.png RECON.png]

Builds the same networks as lib/src/torch_modules.cpp (VQGAN encoder/decoder of the paper's Table 4, Learned
ISTA), loads the model file's weights (format: man/scvae-model.5), and times, in this process, at batch 1 and the
given threads: encode (encoder + LISTA), decode (D z + decoder) and encode+decode per S x S image, and one
training step (forward, loss, backward, Adam) at batch --train-batch. Inputs are random images (the cost does not
depend on the pixels). Prints one JSON document. A dependency of the benchmarks only (Debian's python3-torch).
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_model(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"SCVAEMDL":
        sys.exit(f"{path}: not an scvae model file")
    version, hlen = struct.unpack_from("<II", data, 8)
    header = json.loads(data[16:16 + hlen])
    base = 16 + hlen
    tensors = {}
    for t in header["tensors"]:
        raw = data[base + t["offset"]: base + t["offset"] + t["bytes"]]
        dtype = np.float16 if t["dtype"] == "f16" else np.float32
        tensors[t["name"]] = torch.from_numpy(np.frombuffer(raw, dtype=dtype).astype(np.float32).reshape(t["shape"]))
    return header["config"], tensors


def norm(groups, ch):
    g = max(1, min(groups, ch))
    while ch % g:
        g -= 1
    return nn.GroupNorm(g, ch, eps=1e-6, affine=True)


def swish(x):
    return x * torch.sigmoid(x)


class Swish(nn.Module):
    def forward(self, x):
        return swish(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = norm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = norm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        return (self.nin_shortcut(x) if self.nin_shortcut is not None else x) + h


class AttnBlock(nn.Module):
    def __init__(self, ch, groups):
        super().__init__()
        self.norm = norm(groups, ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        h = self.norm(x)
        B, C, H, W = x.shape
        q = self.q(h).reshape(B, C, H * W).permute(0, 2, 1)
        k = self.k(h).reshape(B, C, H * W)
        v = self.v(h).reshape(B, C, H * W).permute(0, 2, 1)
        w = torch.softmax(torch.bmm(q, k) / math.sqrt(C), dim=2)
        out = torch.bmm(w, v).permute(0, 2, 1).reshape(B, C, H, W)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        ch, mult, layers = c["channels"], c["ch_mult"], []
        layers.append(nn.Conv2d(c["in_channels"], ch, 3, 1, 1))
        bin_ = ch
        for i, m in enumerate(mult):
            for _ in range(c["num_res_blocks"]):
                layers.append(ResnetBlock(bin_, ch * m, c["groups"]))
                bin_ = ch * m
                if i in c["attn_levels"]:
                    layers.append(AttnBlock(bin_, c["groups"]))
            if i != len(mult) - 1:
                layers.append(Downsample(bin_))
        layers.append(ResnetBlock(bin_, bin_, c["groups"]))
        if c["mid_attention"]:
            layers.append(AttnBlock(bin_, c["groups"]))
        layers += [ResnetBlock(bin_, bin_, c["groups"]), norm(c["groups"], bin_), Swish(),
                   nn.Conv2d(bin_, c["n"], 3, 1, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        ch, mult, layers = c["channels"], c["ch_mult"], []
        bin_ = ch * mult[-1]
        layers += [nn.Conv2d(c["n"], bin_, 3, 1, 1), ResnetBlock(bin_, bin_, c["groups"])]
        if c["mid_attention"]:
            layers.append(AttnBlock(bin_, c["groups"]))
        layers.append(ResnetBlock(bin_, bin_, c["groups"]))
        for i in reversed(range(len(mult))):
            for _ in range(c["num_res_blocks"] + 1):
                layers.append(ResnetBlock(bin_, ch * mult[i], c["groups"]))
                bin_ = ch * mult[i]
                if i in c["attn_levels"]:
                    layers.append(AttnBlock(bin_, c["groups"]))
            if i != 0:
                layers.append(Upsample(bin_))
        layers += [norm(c["groups"], bin_), Swish(), nn.Conv2d(bin_, c["in_channels"], 3, 1, 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        return self.body(z)


class LISTA(nn.Module):
    def __init__(self, n, K, steps):
        super().__init__()
        self.steps = steps
        self.register_buffer("D", torch.zeros(n, K))
        self.W_e = nn.Parameter(torch.zeros(K, n))
        self.S = nn.Parameter(torch.zeros(K, K))
        self.theta = nn.Parameter(torch.zeros(K))

    def forward(self, x):
        b = x @ self.W_e.t()
        z = torch.sign(b) * F.relu(b.abs() - self.theta)
        St = self.S.t()
        for _ in range(1, self.steps):
            v = b + z @ St
            z = torch.sign(v) * F.relu(v.abs() - self.theta)
        return z


class SCVAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.encoder = Encoder(c)
        self.lista = LISTA(c["n"], c["K"], c["steps"])
        self.decoder = Decoder(c)

    def encode_codes(self, x):
        lat = self.encoder(x)
        B, n, h, w = lat.shape
        return self.lista(lat.permute(0, 2, 3, 1).reshape(B * h * w, n)).reshape(B, h, w, -1)

    def decode_codes(self, z):
        B, h, w, K = z.shape
        lat = (z.reshape(B * h * w, K) @ self.lista.D.t()).reshape(B, h, w, -1).permute(0, 3, 1, 2).contiguous()
        return self.decoder(lat)

    def forward(self, x):
        lat = self.encoder(x)
        B, n, h, w = lat.shape
        z = self.lista(lat.permute(0, 2, 3, 1).reshape(B * h * w, n))
        lat_hat = (z @ self.lista.D.t()).reshape(B, h, w, n).permute(0, 3, 1, 2).contiguous()
        return self.decoder(lat_hat), lat, lat_hat, z


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, tensors = read_model(a.model)
    net = SCVAE(cfg)
    missing = net.load_state_dict(tensors, strict=True)
    net.eval()
    torch.manual_seed(1)
    S = a.size
    out = {"torch": torch.__version__, "threads": a.threads, "size": S, "images": a.images, "config": cfg}
    with torch.inference_mode():
        x = torch.rand(1, 3, S, S) * 2 - 1
        z = net.encode_codes(x)
        net.decode_codes(z)
        t0 = time.perf_counter()
        for _ in range(a.images):
            z = net.encode_codes(x)
        enc = (time.perf_counter() - t0) / a.images
        t0 = time.perf_counter()
        for _ in range(a.images):
            net.decode_codes(z)
        dec = (time.perf_counter() - t0) / a.images
    out.update({"encode_s": enc, "decode_s": dec, "encode_decode_s": enc + dec})
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)
    xb = torch.rand(a.train_batch, 3, S, S) * 2 - 1

    def step():
        x_hat, lat, lat_hat, zz = net(xb)
        hw = lat.shape[2] * lat.shape[3]
        rec = (((x_hat - xb) * 0.5) ** 2).sum() / a.train_batch
        latent = (((lat - lat_hat) ** 2).sum() + a.alpha * zz.abs().sum()) / a.train_batch
        loss = rec + latent / hw
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(a.train_steps):
        step()
    st = (time.perf_counter() - t0) / a.train_steps
    out.update({"train_batch": a.train_batch, "train_step_s": st, "train_images_per_s": a.train_batch / st})
    print(json.dumps(out))


if __name__ == "__main__":
    main()

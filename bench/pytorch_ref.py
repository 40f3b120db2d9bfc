#!/usr/bin/env python3
"""pytorch_ref.py - the SC-VAE of an scvae model file, written in PyTorch (Python), for side-by-side timing.

    python3 bench/pytorch_ref.py MODEL.scvm [--size 256] [--images 16] [--threads 2] [--train-batch 4]
                                 [--train-steps 3]

Takes the network from python/scvae_torch.py (the PyTorch rebuild of lib/src/model/networks.cpp that `scvae-model
export` uses: VQGAN encoder/decoder of the paper's Table 4, Learned
ISTA), loads the model file's weights (format: man/scvae-model.5), and times, in this process, at batch 1 and the
given threads: encode (encoder + LISTA), decode (D z + decoder) and encode+decode per S x S image, and one
training step (forward, loss, backward, Adam) at batch --train-batch. Inputs are random images (the cost does not
depend on the pixels). Prints one JSON document. A dependency of the benchmarks only (Debian's python3-torch).
"""
import argparse
import json
import pathlib
import sys
import time

import torch


def load_net(path):
    """The network of the model file, from python/scvae_torch.py (the same PyTorch rebuild scvae-model export
    uses; its tests check it against scvae-encode and scvae-decode)."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "python"))
    import scvae_torch
    return scvae_torch.load(path)


def encode_codes(net, x):
    """Encoder + LISTA on an input already in [-1, 1] and a multiple of 2^d (what scvae-encode times)."""
    lat = net.encoder(x)
    B, n, h, w = lat.shape
    return net.latent(lat.permute(0, 2, 3, 1).reshape(B * h * w, n)).reshape(B, h, w, -1)


def decode_codes(net, z):
    B, h, w, K = z.shape
    lat = (z.reshape(B * h * w, K) @ net.latent.D.t()).reshape(B, h, w, -1).permute(0, 3, 1, 2).contiguous()
    return net.decoder(lat)


def forward(net, x):
    lat = net.encoder(x)
    B, n, h, w = lat.shape
    z = net.latent(lat.permute(0, 2, 3, 1).reshape(B * h * w, n))
    lat_hat = (z @ net.latent.D.t()).reshape(B, h, w, n).permute(0, 3, 1, 2).contiguous()
    return net.decoder(lat_hat), lat, lat_hat, z


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
    net = load_net(a.model)
    cfg = {"n": net.n, "K": net.K, "d": net.d, "fingerprint": net.fingerprint}
    torch.manual_seed(1)
    S = a.size
    out = {"torch": torch.__version__, "threads": a.threads, "size": S, "images": a.images, "config": cfg}
    with torch.inference_mode():
        x = torch.rand(1, 3, S, S) * 2 - 1
        z = encode_codes(net, x)
        decode_codes(net, z)
        t0 = time.perf_counter()
        for _ in range(a.images):
            z = encode_codes(net, x)
        enc = (time.perf_counter() - t0) / a.images
        t0 = time.perf_counter()
        for _ in range(a.images):
            decode_codes(net, z)
        dec = (time.perf_counter() - t0) / a.images
    out.update({"encode_s": enc, "decode_s": dec, "encode_decode_s": enc + dec})
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)
    xb = torch.rand(a.train_batch, 3, S, S) * 2 - 1

    def step():
        x_hat, lat, lat_hat, zz = forward(net, xb)
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

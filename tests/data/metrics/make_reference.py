#!/usr/bin/python3
"""Generates the reference values in this folder ONCE (needs Debian's python3-skimage and python3-scipy).

The tests never run this script: they read the committed JSON/PNG files.
    /usr/bin/python3 tests/data/metrics/make_reference.py tests/data/metrics

Images are defined by integer formulas so that tests/unit/test_metrics.cpp can rebuild the very same pixels.
"""
import json
import os
import sys

import numpy as np
from PIL import Image
from scipy import linalg
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity, peak_signal_noise_ratio, mean_squared_error


def pattern_a(h, w, c):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((x * x * 3 + y * 7 + ch * 50 + ((x * y) % 23) * 4) % 256).astype(np.int64)


def pattern_b(a):
    h, w, c = a.shape
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return np.clip(a + ((x * 13 + y * 29 + ch * 7) % 41) - 20, 0, 255).astype(np.int64)


def smooth_a(h, w, c):
    # A smooth image (so that the coarse MS-SSIM scales are meaningful).
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((x * 2 + y * 3 + ch * 40 + ((x // 8 + y // 8) % 3) * 30) % 256).astype(np.int64)


def ssim_map_parts(a, b):
    """Independent SSIM/CS per channel with scipy (reflect padding, 11-tap Gaussian, crop 5)."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    C1 = (0.01 * 255) ** 2
    C2 = (0.03 * 255) ** 2
    ssims, css = [], []
    for c in range(a.shape[2]):
        x, y = a[:, :, c], b[:, :, c]
        f = lambda v: gaussian_filter(v, sigma=1.5, truncate=3.5, mode="reflect")
        ux, uy = f(x), f(y)
        vx = f(x * x) - ux * ux
        vy = f(y * y) - uy * uy
        vxy = f(x * y) - ux * uy
        cs = (2 * vxy + C2) / (vx + vy + C2)
        s = (2 * ux * uy + C1) / (ux * ux + uy * uy + C1) * cs
        ssims.append(s[5:-5, 5:-5].mean())
        css.append(cs[5:-5, 5:-5].mean())
    return float(np.mean(ssims)), float(np.mean(css))


def ms_ssim(a, b):
    w = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    scales = 0
    h, wd = a.shape[:2]
    while scales < 5 and min(h, wd) >= 11:
        scales += 1
        h //= 2
        wd //= 2
    w = w[:scales] / w[:scales].sum()
    val = 1.0
    for i in range(scales):
        s, cs = ssim_map_parts(a, b)
        if i == scales - 1:
            val *= max(s, 0.0) ** w[i]
        else:
            val *= max(cs, 0.0) ** w[i]
            hh, ww = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
            a = a[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2, -1).mean(axis=(1, 3))
            b = b[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2, -1).mean(axis=(1, 3))
    return float(val), scales


def save_png(path, arr):
    arr = arr.astype(np.uint8)
    if arr.shape[2] == 1:
        Image.fromarray(arr[:, :, 0], mode="L").save(path)
    else:
        Image.fromarray(arr, mode="RGB").save(path)


def image_entry(name, a, b, outdir, png):
    ua, ub = a.astype(np.uint8), b.astype(np.uint8)
    ssim_sk = structural_similarity(ua.astype(np.float64), ub.astype(np.float64), gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1)
    ssim_ind, _ = ssim_map_parts(a, b)
    assert abs(ssim_sk - ssim_ind) < 1e-12, (ssim_sk, ssim_ind)
    mse = float(mean_squared_error(ua.astype(np.float64), ub.astype(np.float64)))
    psnr = float(peak_signal_noise_ratio(ua, ub, data_range=255))
    ms, scales = ms_ssim(a, b)
    if png:
        save_png(os.path.join(outdir, "ref", name + ".png"), a)
        save_png(os.path.join(outdir, "dist", name + ".png"), b)
    return {"name": name, "height": a.shape[0], "width": a.shape[1], "channels": a.shape[2],
            "mse": mse, "psnr": psnr, "ssim": float(ssim_sk), "ms_ssim": ms, "ms_ssim_scales": scales}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    os.makedirs(os.path.join(out, "dist"), exist_ok=True)
    entries = []
    a = pattern_a(29, 37, 3)
    entries.append(image_entry("noise", a, pattern_b(a), out, True))
    a = pattern_a(24, 20, 1)
    entries.append(image_entry("gray", a, pattern_b(a), out, True))
    a = smooth_a(64, 72, 3)
    entries.append(image_entry("smooth64", a, pattern_b(a), out, True))
    a = smooth_a(180, 192, 3)
    entries.append(image_entry("smooth180", a, pattern_b(a), False and out, False))
    with open(os.path.join(out, "ssim_reference.json"), "w") as f:
        json.dump({"generator": "make_reference.py (scikit-image %s, scipy, numpy %s)" % (
            __import__("skimage").__version__, np.__version__), "images": entries}, f, indent=1)

    # FID arithmetic: the pytorch-fid formula with scipy.linalg.sqrtm, float64.
    rng = np.random.RandomState(1234)
    cases = []
    for (n1, n2, d, shift) in [(12, 10, 4, 0.3), (7, 9, 6, 1.0), (5, 5, 8, 0.0)]:
        f1 = rng.randn(n1, d).round(4)
        f2 = (rng.randn(n2, d) * 1.3 + shift).round(4)
        if n1 == 5:
            f2 = f1.copy()  # identical sets: FID 0
        mu1, mu2 = f1.mean(0), f2.mean(0)
        s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
        covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
        covmean = covmean.real
        diff = mu1 - mu2
        fid = float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
        cases.append({"features1": f1.tolist(), "features2": f2.tolist(), "fid": fid})
    with open(os.path.join(out, "fid_reference.json"), "w") as f:
        json.dump({"generator": "make_reference.py (scipy.linalg.sqrtm, float64, np.cov ddof=1)",
                   "cases": cases}, f, indent=1)

    # Masks for IoU/Dice: 40x30 prediction vs 20x15 ground truth (resized to 128x128 nearest).
    yy, xx = np.meshgrid(np.arange(30), np.arange(40), indexing="ij")
    pred = (((xx - 18) ** 2 + (yy - 14) ** 2) < 100).astype(np.uint8) * 255
    yy, xx = np.meshgrid(np.arange(15), np.arange(20), indexing="ij")
    gt = ((xx >= 5) & (xx < 15) & (yy >= 3) & (yy < 12)).astype(np.uint8) * 200
    os.makedirs(os.path.join(out, "masks", "pred"), exist_ok=True)
    os.makedirs(os.path.join(out, "masks", "gt"), exist_ok=True)
    Image.fromarray(pred, mode="L").save(os.path.join(out, "masks", "pred", "m1.png"))
    Image.fromarray(gt, mode="L").save(os.path.join(out, "masks", "gt", "m1.png"))

    def nearest(m, size=128):
        # Nearest neighbour: source index floor((i + 0.5) * in / out) (pixel centres).
        h, w = m.shape
        ys = np.minimum(((np.arange(size) + 0.5) * h / size).astype(int), h - 1)
        xs = np.minimum(((np.arange(size) + 0.5) * w / size).astype(int), w - 1)
        return m[ys][:, xs]
    p = nearest(pred) >= 128
    g = nearest(gt) >= 128
    inter, union = (p & g).sum(), (p | g).sum()
    with open(os.path.join(out, "masks", "reference.json"), "w") as f:
        json.dump({"m1": {"iou": float(inter / union), "dice": float(2 * inter / (p.sum() + g.sum()))}}, f,
                  indent=1)


if __name__ == "__main__":
    main()

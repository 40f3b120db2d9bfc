#!/usr/bin/env python3
"""scvae_torch - an scvae model (.scvm) as a PyTorch module, and its export to TorchScript.

    python3 scvae_torch.py export MODEL.scvm -o MODEL.pt      (what `scvae-model export` runs)

    import scvae_torch
    net = scvae_torch.load("model.scvm")          # an nn.Module with the file's weights, in eval mode
    ts = torch.jit.load("model.pt")               # the exported TorchScript module: no scvae code needed
    z = ts.encode(x)      # x: B x 3 x H x W RGB in [0, 1] -> codes B x h x w x K (dense; h = ceil(H / 2^d))
    y = ts.decode(z)      # codes B x h x w x K -> B x 3 x (h 2^d) x (w 2^d) in [0, 1]
    y = ts(x)             # encode, decode, cropped back to H x W

The network is rebuilt here in PyTorch, layer for layer as lib/src/model/networks.cpp builds it (VQGAN-style
encoder and decoder, Learned ISTA; ISTA and FISTA for models that use them), and the file's tensors are loaded
into it by name with every name and shape checked (strict). encode pads the image on the right and bottom to a
multiple of 2^d by reflection (replication when the image is smaller than the pad), as scvae-encode does; the
module's attributes fingerprint, n, K, d and factor describe the model. Gray images must be given as 3 equal
channels and alpha composited beforehand (scvae-encode does both). Reads model files with scvae_codes.py
(numpy); needs PyTorch (Debian's python3-torch).
"""

import math
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as _e:  # said plainly: this is the one dependency the C++ tools do not have
    if __name__ == "__main__":
        print(f"{os.environ.get('SCVAE_PROG', 'scvae_torch.py')}: export needs PyTorch and numpy, but "
              f"{sys.executable} cannot import them ({_e}); set SCVAE_PYTHON to a Python that can "
              f"(on Debian: apt install python3-torch, SCVAE_PYTHON=/usr/bin/python3)", file=sys.stderr)
        sys.exit(1)
    raise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scvae_codes  # noqa: E402


def _norm(groups: int, ch: int) -> nn.GroupNorm:
    g = max(1, min(groups, ch))
    while ch % g:
        g -= 1
    return nn.GroupNorm(g, ch, eps=1e-6, affine=True)


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = _norm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2 = _norm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h = self.conv1(h * torch.sigmoid(h))
        h = self.norm2(h)
        h = self.conv2(h * torch.sigmoid(h))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = _norm(groups, ch)
        self.q = nn.Conv2d(ch, ch, 1)
        self.k = nn.Conv2d(ch, ch, 1)
        self.v = nn.Conv2d(ch, ch, 1)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        B, C, H, W = x.shape
        q = self.q(h).reshape(B, C, H * W).permute(0, 2, 1)
        k = self.k(h).reshape(B, C, H * W)
        v = self.v(h).reshape(B, C, H * W).permute(0, 2, 1)
        w = torch.softmax(torch.bmm(q, k) / math.sqrt(C), dim=2)
        out = torch.bmm(w, v).permute(0, 2, 1).reshape(B, C, H, W)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, [0, 1, 0, 1]))


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _encoder(c) -> nn.Sequential:
    ch, mult, layers = c["channels"], c["ch_mult"], []
    layers.append(nn.Conv2d(c["in_channels"], ch, 3, 1, 1))
    b = ch
    for i, m in enumerate(mult):
        for _ in range(c["num_res_blocks"]):
            layers.append(ResnetBlock(b, ch * m, c["groups"]))
            b = ch * m
            if i in c["attn_levels"]:
                layers.append(AttnBlock(b, c["groups"]))
        if i != len(mult) - 1:
            layers.append(Downsample(b))
    layers.append(ResnetBlock(b, b, c["groups"]))
    if c["mid_attention"]:
        layers.append(AttnBlock(b, c["groups"]))
    layers += [ResnetBlock(b, b, c["groups"]), _norm(c["groups"], b), Swish(), nn.Conv2d(b, c["n"], 3, 1, 1)]
    return nn.Sequential(*layers)


def _decoder(c) -> nn.Sequential:
    ch, mult, layers = c["channels"], c["ch_mult"], []
    b = ch * mult[-1]
    layers += [nn.Conv2d(c["n"], b, 3, 1, 1), ResnetBlock(b, b, c["groups"])]
    if c["mid_attention"]:
        layers.append(AttnBlock(b, c["groups"]))
    layers.append(ResnetBlock(b, b, c["groups"]))
    for i in reversed(range(len(mult))):
        for _ in range(c["num_res_blocks"] + 1):
            layers.append(ResnetBlock(b, ch * mult[i], c["groups"]))
            b = ch * mult[i]
            if i in c["attn_levels"]:
                layers.append(AttnBlock(b, c["groups"]))
        if i != 0:
            layers.append(Upsample(b))
    layers += [_norm(c["groups"], b), Swish(), nn.Conv2d(b, c["in_channels"], 3, 1, 1)]
    return nn.Sequential(*layers)


class _Body(nn.Module):
    def __init__(self, body: nn.Sequential):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _soft(v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * F.relu(v.abs() - theta)


class LISTA(nn.Module):
    def __init__(self, n: int, K: int, steps: int, alpha: float, solver: str):
        super().__init__()
        self.steps = steps
        self.alpha = alpha
        self.solver = solver
        self.L = 1.0  # set from D once the weights are loaded (ISTA/FISTA only)
        self.register_buffer("D", torch.zeros(n, K))
        self.W_e = nn.Parameter(torch.zeros(K, n))
        self.S = nn.Parameter(torch.zeros(K, K))
        self.theta = nn.Parameter(torch.zeros(K))

    @torch.jit.export
    def atoms(self) -> torch.Tensor:
        return self.D

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.solver == "lista":
            b = x @ self.W_e.t()
            z = _soft(b, self.theta)
            St = self.S.t()
            for _ in range(1, self.steps):
                z = _soft(b + z @ St, self.theta)
            return z
        # ISTA / FISTA on the fixed dictionary
        L = self.L
        theta = torch.full([self.D.size(1)], self.alpha / L, dtype=x.dtype, device=x.device)
        z = torch.zeros(x.size(0), self.D.size(1), dtype=x.dtype, device=x.device)
        y = z
        xD = x @ self.D
        G = self.D.t() @ self.D
        tk = 1.0
        for _ in range(self.steps):
            if self.solver == "ista":
                z = _soft(z - (z @ G - xD) / L, theta)
            else:
                z_next = _soft(y - (y @ G - xD) / L, theta)
                tn = (1.0 + math.sqrt(1.0 + 4.0 * tk * tk)) / 2.0
                y = z_next + ((tk - 1.0) / tn) * (z_next - z)
                z = z_next
                tk = tn
        return z


class VQ(nn.Module):
    """The VQ-VAE latent: each vector -> the one-hot code of its nearest codebook entry (lowest index on ties)."""

    def __init__(self, n: int, K: int, ema: bool):
        super().__init__()
        self.K = K
        if ema:
            self.register_buffer("codebook", torch.zeros(K, n))
            self.register_buffer("ema_count", torch.zeros(K))
            self.register_buffer("ema_sum", torch.zeros(K, n))
        else:
            self.codebook = nn.Parameter(torch.zeros(K, n))

    @torch.jit.export
    def atoms(self) -> torch.Tensor:
        return self.codebook.t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cb = self.codebook
        dist = torch.addmm((cb * cb).sum(1).unsqueeze(0), x, cb.t(), beta=1.0, alpha=-2.0)
        idx = dist.argmin(1)
        return torch.zeros(x.size(0), self.K, dtype=x.dtype, device=x.device).scatter_(1, idx.unsqueeze(1), 1.0)


class SCVAE(nn.Module):
    """The SC-VAE of a model file: encode (image -> codes), decode (codes -> image), forward (both)."""

    def __init__(self, config, fingerprint: str = ""):
        super().__init__()
        c = config
        self.encoder = _Body(_encoder(c))
        # The latent module: LISTA (the model file's "lista.*" tensors) or VQ ("vq.*"); load() renames them to
        # "latent.*", so one attribute serves both kinds in TorchScript.
        self.vq = c.get("latent", "sc") == "vq"
        if self.vq:
            self.latent = VQ(c["n"], c["K"], float(c.get("ema_decay", 0.0)) > 0)
        else:
            self.latent = LISTA(c["n"], c["K"], c["steps"], float(c.get("alpha", 1.0)), c.get("solver", "lista"))
        self.decoder = _Body(_decoder(c))
        self.n = int(c["n"])
        self.K = int(c["K"])
        self.d = len(c["ch_mult"]) - 1
        self.factor = 2 ** self.d
        self.fingerprint = fingerprint

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """B x 3 x H x W RGB in [0, 1] -> dense codes B x h x w x K over the padded image."""
        H, W = x.size(2), x.size(3)
        f = self.factor
        pr, pb = (W + f - 1) // f * f - W, (H + f - 1) // f * f - H
        t = x * 2.0 - 1.0
        if pr > 0 or pb > 0:
            t = F.pad(t, [0, pr, 0, pb], mode="reflect" if pr < W and pb < H else "replicate")
        lat = self.encoder(t)
        B, n, h, w = lat.shape
        z = self.latent(lat.permute(0, 2, 3, 1).reshape(B * h * w, n))
        return z.reshape(B, h, w, self.K)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes B x h x w x K -> B x 3 x (h 2^d) x (w 2^d) RGB in [0, 1]."""
        B, h, w, K = z.shape
        lat = (z.reshape(B * h * w, K) @ self.latent.atoms().t()).reshape(B, h, w, self.n).permute(0, 3, 1, 2).contiguous()
        return ((self.decoder(lat) + 1.0) * 0.5).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))[:, :, : x.size(2), : x.size(3)]


def load(path) -> SCVAE:
    """The model file's network with its weights, in eval mode (float32, CPU)."""
    m = scvae_codes.read_model(path)
    net = SCVAE(m["config"], m["fingerprint"])
    def own_name(k):
        for prefix in ("lista.", "vq."):
            if k.startswith(prefix):
                return "latent." + k[len(prefix):]
        return k

    state = {own_name(k): torch.from_numpy(np.ascontiguousarray(v)) for k, v in m["tensors"].items()}
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise scvae_codes.ModelError(f"{path}: tensors do not fit the architecture (missing {missing[:3]}, "
                                     f"unknown {extra[:3]})")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise scvae_codes.ModelError(f"{path}: tensor {k} has shape {list(v.shape)}, config expects "
                                         f"{list(own[k].shape)}")
    net.load_state_dict(state, strict=True)
    if not net.vq:
        D64 = net.latent.D.detach().double()
        G = D64 @ D64.t() if D64.size(0) <= D64.size(1) else D64.t() @ D64
        net.latent.L = float(np.float32(torch.linalg.eigvalsh(G).max().item()))
    net.eval()
    return net


def export(model_path, output):
    """Writes the TorchScript module of a model file to `output` ("-" = stdout), atomically."""
    net = load(model_path)
    scripted = torch.jit.script(net)
    if output == "-":
        import io
        buf = io.BytesIO()
        torch.jit.save(scripted, buf)
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return
    folder = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(output) + ".tmp.", dir=folder)
    os.close(fd)
    try:
        torch.jit.save(scripted, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def main(argv):
    prog = os.environ.get("SCVAE_PROG", "scvae_torch.py")
    if len(argv) == 4 and argv[0] == "export" and argv[2] == "-o":
        try:
            torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
            export(argv[1], argv[3])
        except (scvae_codes.ModelError, OSError) as e:
            print(f"{prog}: {e}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            return 1
        return 0
    print(f"usage: {prog} export MODEL.scvm -o OUTPUT.pt", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

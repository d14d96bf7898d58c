"""Kernels section of bench_gpu.py: curves + 3D-LUT throughput, ours (Triton) vs the rest.

Mpx/s (median of 30 calls, CUDA events) on a 3840x2160 image of uniform random colours with
one random 33^3 LUT, for

* ``triton``: ``ppr10k.lut.trilinear(..., backend="triton")`` (the fused kernels);
* ``grid_sample``: ``torch.nn.functional.grid_sample`` on the LUT as a 5-D volume (trilinear,
  align_corners=True, border padding), the grid built from the image in the timed call;
* ``torch``: ``trilinear(..., backend="torch")`` (the pure-torch op);
* ``official``: the 3D-LUT authors' CUDA kernel, only with ``--official-src DIR`` (a folder
  holding its ``*.cu`` and ``*_cuda.cpp`` source, built here with
  ``torch.utils.cpp_extension.load``; its ``forward``/``backward`` bindings are called as the
  authors' Python wrapper calls them; its backward gives the LUT gradient only).

Figures: forward; forward + backward with the LUT gradient only (what the official kernel
computes) and with the LUT and image gradients; the training shape (16 x 448^2, one LUT per
image) forward + backward; curves (AdaInt-like, 33 knots) + LUT forward and forward +
backward (all gradients); the largest error of our forward against the pure-torch op in
float64; the issue's goals as ratios; and a small study of launch parameters (pixels per
program, LUT-gradient copies on a smooth, photo-like image whose pixels share few cells).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gpu_sections import median_ms, row
from ppr10k.lut import apply_curves_and_lut, identity_lut, trilinear, triton_kernels

GOAL_FORWARD = 28_000.0  # Mpx/s, issue 11: 2x the official kernel's 14,239 on an H200


@dataclass
class Options:
    official_src: Path | None = None


OPTIONS = Options()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--official-src", type=Path, default=None, metavar="DIR",
                        help="folder with the official 3D-LUT CUDA source (*.cu, *_cuda.cpp)")


def configure(args: argparse.Namespace) -> None:
    OPTIONS.official_src = args.official_src


@dataclass(frozen=True)
class Sizes:
    height: int
    width: int
    dim: int
    train_batch: int
    train_side: int
    knots: int
    repeats: int


FULL = Sizes(2160, 3840, 33, 16, 448, 33, 30)
QUICK = Sizes(8, 24, 33, 2, 8, 33, 2)

Op = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def run(device: torch.device, quick: bool) -> list[dict]:
    sizes = QUICK if quick else FULL
    gen = torch.Generator(device="cpu").manual_seed(0)
    dim = sizes.dim
    lut = (identity_lut(dim) + 0.1 * torch.randn(3, dim, dim, dim, generator=gen)).to(device)
    image = torch.rand(1, 3, sizes.height, sizes.width, generator=gen).to(device)
    grad_out = torch.rand(image.shape, generator=gen).to(device)
    mpx = image[0, 0].numel() / 1e6
    repeats, warmup = sizes.repeats, 1 if quick else 3
    triton_note = triton_unavailable(device)
    official, official_note = build_official(OPTIONS.official_src, device)

    ops: dict[str, Op | None] = {
        "triton": None if triton_note else (lambda t, x: trilinear(t, x, backend="triton")),
        "grid_sample": grid_sample_lut,
        "torch": lambda t, x: trilinear(t, x, backend="torch"),
    }
    rows: list[dict] = []
    found: dict[str, float | None] = {}

    def measure(label: str, name: str, fn: Callable[[], object] | None, pixels: float,
                note: str = "", against: str = "grid_sample") -> float | None:
        """Time ``fn``, add its row, compared with the row ``against`` of the same label."""
        value = None if fn is None else pixels / (median_ms(fn, device, repeats, warmup) / 1e3)
        found[f"{label} {name}"] = value
        baseline = found.get(f"{label} {against}")
        ratio = None if value is None or not baseline or name == against else value / baseline
        rows.append(row(f"{label}: {name}", value, "Mpx/s", "" if name == against else against,
                        ratio, note))
        return value

    # forward, 4K, one LUT ----------------------------------------------------------------
    for name in ("grid_sample", "triton", "torch"):
        op = ops[name]
        measure("fwd 4K", name, None if op is None else no_grad(lambda op=op: op(lut, image)),
                mpx, triton_note if op is None else "")
    measure("fwd 4K", "official", None if official is None else no_grad(
        lambda: official.forward(lut, image)), mpx, official_note)

    # forward + backward, LUT gradient only / LUT and image gradients -------------------------
    for label, image_grad in (("fwd+bwd 4K, LUT grad", False),
                              ("fwd+bwd 4K, LUT+image grads", True)):
        for name in ("grid_sample", "triton", "torch"):
            op = ops[name]
            fn = None if op is None else backward_call(op, lut, image, grad_out, image_grad)
            measure(label, name, fn, mpx, triton_note if op is None else "")
        if not image_grad:
            measure(label, "official", None if official is None else (
                lambda: official.forward_backward(lut, image, grad_out)), mpx, official_note)

    # training shape: 16 x 448^2, per-image LUTs -----------------------------------------------
    batch, side = sizes.train_batch, sizes.train_side
    luts = (identity_lut(dim) + 0.1 * torch.randn(batch, 3, dim, dim, dim, generator=gen)
            ).to(device)
    crops = torch.rand(batch, 3, side, side, generator=gen).to(device)
    crop_grad = torch.rand(crops.shape, generator=gen).to(device)
    for name in ("grid_sample", "triton", "torch"):
        op = ops[name]
        fn = None if op is None else backward_call(op, luts, crops, crop_grad, True)
        measure(f"train {batch}x{side}^2 fwd+bwd", name, fn, batch * side * side / 1e6,
                triton_note if op is None else "")

    # curves (AdaInt-like, 33 knots) + LUT ----------------------------------------------------
    knots, values = adaint_curves(sizes.knots, device)
    for name in ("torch", "triton"):
        usable = not (name == "triton" and triton_note)
        note = "" if usable else triton_note

        def curves_op(t, x, k=knots, v=values, backend=name):
            return apply_curves_and_lut(t, x, (k, v), backend=backend)

        measure("curves+LUT fwd 4K", name,
                no_grad(lambda op=curves_op: op(lut, image)) if usable else None, mpx, note,
                against="torch")
        measure("curves+LUT fwd+bwd 4K, all grads", name,
                curves_backward_call(curves_op, lut, image, knots, values, grad_out)
                if usable else None, mpx, note, against="torch")

    # error and goals ---------------------------------------------------------------------------
    if not triton_note:
        with torch.no_grad():
            err = (trilinear(lut, image, backend="triton").double()
                   - trilinear(lut.double(), image.double(), backend="torch")).abs().max()
        rows.append(row("fwd 4K: max |triton - float64 torch|", float(err), "",
                        note="goal <= 1e-6"))
    fwd = found["fwd 4K triton"]
    rows.append(row("goal: triton fwd 4K >= 28,000 Mpx/s", fwd, "Mpx/s", "28,000",
                    None if fwd is None else fwd / GOAL_FORWARD))
    for label in ("fwd 4K", "fwd+bwd 4K, LUT grad"):
        ours, theirs = found[f"{label} triton"], found.get(f"{label} official")
        rows.append(row(f"goal: triton vs official, {label}", ours, "Mpx/s", "official",
                        None if not (ours and theirs) else ours / theirs,
                        "" if theirs else official_note or triton_note))

    if not triton_note:
        rows.extend(launch_study(device, quick, lut, image, grad_out, repeats, warmup, gen))
    return rows


def launch_study(device, quick, lut, image, grad_out, repeats, warmup, gen) -> list[dict]:
    """Launch parameters: forward/backward blocks, LUT-gradient copies on a smooth image."""
    mpx = image[0, 0].numel() / 1e6
    default = triton_kernels.DEFAULT_CONFIG
    launch = triton_kernels.LaunchConfig
    configs = [launch(128, 4), launch(512, 8), launch(512, 16)] if not quick \
        else [launch(128, 4)]
    rows = []

    def rate(fn) -> float:
        return mpx / (median_ms(fn, device, repeats, warmup) / 1e3)

    def fwd(config):
        return no_grad(lambda: triton_kernels.curves_and_lut(lut, image, config=config))

    def fwd_bwd(config, x):
        return backward_call(lambda t, y: triton_kernels.curves_and_lut(t, y, config=config),
                             lut, x, grad_out, False)

    base_f, base_b = rate(fwd(default)), rate(fwd_bwd(default, image))
    f, b = default.forward, default.backward
    rows.append(row(f"study fwd: default block {f.block} warps {f.num_warps}", base_f, "Mpx/s"))
    for config in configs:
        value = rate(fwd(triton_kernels.KernelConfig(forward=config)))
        rows.append(row(f"study fwd: block {config.block} warps {config.num_warps}", value,
                        "Mpx/s", "default", value / base_f))
    rows.append(row(f"study fwd+bwd LUT grad: default block {b.block} warps {b.num_warps}",
                    base_b, "Mpx/s"))
    for config in configs:
        value = rate(fwd_bwd(triton_kernels.KernelConfig(backward=config), image))
        rows.append(row(f"study fwd+bwd LUT grad: block {config.block} warps {config.num_warps}",
                        value, "Mpx/s", "default", value / base_b))
    smooth = smooth_image(image.shape, gen).to(device)
    value = rate(no_grad(lambda: triton_kernels.curves_and_lut(lut, smooth)))
    rows.append(row("study smooth image fwd (cache-friendly colours)", value, "Mpx/s",
                    "default (random)", value / base_f))
    pixels = image[0, 0].numel()
    auto = triton_kernels.lut_grad_copies(pixels)
    smooth_default = rate(fwd_bwd(default, smooth))
    rows.append(row(f"study smooth image fwd+bwd LUT grad: {auto} copies (default)",
                    smooth_default, "Mpx/s"))
    for copies in sorted({1, 2, 16} - {auto}):
        value = rate(fwd_bwd(triton_kernels.KernelConfig(lut_grad_copies=copies), smooth))
        rows.append(row(f"study smooth image fwd+bwd LUT grad: {copies} copies", value,
                        "Mpx/s", "default", value / smooth_default))
    return rows


# ---- building blocks ---------------------------------------------------------------------------

def triton_unavailable(device: torch.device) -> str:
    """Why the Triton rows cannot run here ("" when they can)."""
    if not triton_kernels.triton_importable():
        return "triton not installed"
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return "needs CUDA (or TRITON_INTERPRET=1)"
    return ""


def grid_sample_lut(lut: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The same lookup with grid_sample: the LUT as a (B, 3, D, D, D) volume indexed
    (x = r, y = g, z = b), the image's colours as a (B, 1, H, W, 3) grid in [-1, 1]."""
    if lut.ndim == 4:
        lut = lut.unsqueeze(0).expand(images.shape[0], -1, -1, -1, -1)
    grid = images.permute(0, 2, 3, 1).unsqueeze(1) * 2 - 1
    return F.grid_sample(lut, grid, mode="bilinear", padding_mode="border",
                         align_corners=True).squeeze(2)


def no_grad(fn: Callable[[], object]) -> Callable[[], object]:
    def call():
        with torch.no_grad():
            return fn()
    return call


def backward_call(op: Op, lut: torch.Tensor, images: torch.Tensor, grad_out: torch.Tensor,
                  image_grad: bool) -> Callable[[], object]:
    """Forward + backward of ``op`` for the LUT gradient (and the image's)."""
    table = lut.detach().requires_grad_(True)
    x = images.detach().requires_grad_(image_grad)
    leaves = [table, x] if image_grad else [table]
    return lambda: torch.autograd.grad(op(table, x), leaves, grad_out)


def curves_backward_call(op, lut, images, knots, values, grad_out) -> Callable[[], object]:
    leaves = [t.detach().requires_grad_(True) for t in (lut, images, knots, values)]
    return lambda: torch.autograd.grad(op(leaves[0], leaves[1], leaves[2], leaves[3]), leaves,
                                       grad_out)


def adaint_curves(n_knots: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """AdaInt-like (3, K) curves: knots the cumulative sum of a softmax after 0, values k/(K-1)."""
    gen = torch.Generator().manual_seed(1)
    widths = torch.softmax(torch.randn(3, n_knots - 1, generator=gen), dim=1)
    knots = torch.cat([torch.zeros(3, 1), widths.cumsum(1)], dim=1)
    values = torch.linspace(0, 1, n_knots).expand(3, -1).contiguous()
    return knots.to(device), values.to(device)


def smooth_image(shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """A low-frequency random field in [0.05, 0.95] (a photo's few colours per region)."""
    coarse = torch.rand(shape[0], 3, 6, 9, generator=gen) * 0.9 + 0.05
    return F.interpolate(coarse, size=tuple(shape[-2:]), mode="bilinear", align_corners=True)


# ---- the official kernel ---------------------------------------------------------------------

class Official:
    """The authors' extension: ``forward(lut, x, out, dim, shift, binsize, W, H, batch)`` and
    ``backward(x, grad_out, lut_grad, ...)``, called as their Python wrapper calls them."""

    def __init__(self, module) -> None:
        self.module = module

    def _args(self, lut: torch.Tensor, x: torch.Tensor) -> tuple:
        dim = lut.shape[-1]
        return dim, dim ** 3, 1.000001 / (dim - 1), x.shape[2], x.shape[3], x.shape[0]

    def forward(self, lut: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        self.module.forward(lut, x, out, *self._args(lut, x))
        return out

    def forward_backward(self, lut: torch.Tensor, x: torch.Tensor,
                         grad_out: torch.Tensor) -> torch.Tensor:
        self.forward(lut, x)
        lut_grad = torch.zeros_like(lut)
        self.module.backward(x, grad_out, lut_grad, *self._args(lut, x))
        return lut_grad


def build_official(src: Path | None, device: torch.device) -> tuple[Official | None, str]:
    """The official kernel built from ``src``, or None and why not (one line)."""
    if src is None:
        return None, "no --official-src"
    if device.type != "cuda":
        return None, "official kernel needs CUDA"
    sources = sorted(src.rglob("*.cu")) + sorted(p for p in src.rglob("*.cpp")
                                                  if "cuda" in p.stem.lower())
    if not any(p.suffix == ".cu" for p in sources):
        return None, f"no .cu source under {src}"
    from torch.utils.cpp_extension import load

    try:
        module = load(name="official_trilinear_bench", sources=[str(p) for p in sources],
                      extra_include_paths=sorted({str(p.parent) for p in sources}),
                      build_directory=tempfile.mkdtemp(prefix="official-lut-"), verbose=False)
    except Exception as error:  # noqa: BLE001 (compiler errors come in many types)
        lines = str(error).strip().splitlines()
        return None, f"not built: {lines[-1] if lines else type(error).__name__}"[:160]
    return Official(module), ""

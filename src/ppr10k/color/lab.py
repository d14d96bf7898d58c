"""sRGB -> CIE 1976 L*a*b* (D65), in NumPy and in torch.

Defines
    - :func:`srgb_decode`: the sRGB electro-optical transfer function (gamma-encoded -> linear).
    - :func:`srgb_decode_table`: that function tabulated for every 8-bit (or 16-bit) code.
    - :func:`linear_srgb_to_xyz`: linear sRGB -> CIE XYZ (Y of the white = 1).
    - :func:`xyz_to_lab`: CIE XYZ -> CIE L*a*b*.
    - :func:`srgb_to_lab`: the three above chained, for NumPy arrays ``(..., 3)``.
    - :func:`srgb_to_lab_tensor`: the same for torch tensors ``(*, 3, H, W)`` (differentiable).
    - :func:`delta_e_cie1976`: Euclidean distance of two L*a*b* arrays.

The conversion is the one MATLAB's ``rgb2lab`` performs by default (sRGB input, D65 white),
which the PPR10K evaluation script uses (spec §5):

1. decode with the piecewise IEC 61966-2-1 curve,
2. multiply by the sRGB normalised primary matrix, derived from the sRGB primaries and the
   D65 white chromaticity ``(0.3127, 0.3290)`` so that RGB white maps exactly onto the white
   used in step 3 (``L* = 100, a* = b* = 0``; greys are exactly neutral),
3. CIE 1976 L*a*b* relative to that white, with the exact CIE constants
   ``epsilon = 216/24389`` and ``kappa = 24389/27``.

Notes:
    MATLAB rounds its D65 white to ``[0.9504, 1.0000, 1.0888]``; ours is the white computed
    from ``(0.3127, 0.3290)``: ``[0.950456, 1, 1.089058]``. The two differ in the fourth
    significant digit. colour-science's default ``sRGB`` colourspace uses the rounded
    4-digit IEC matrix instead of the derived one, which maps white to ``a* = 0.008``.

References:
    - IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and
      management - Part 2-1: Default RGB colour space - sRGB.
    - CIE 15:2004, Colorimetry, 3rd edition (CIELAB, §8.2.1).
    - Liang et al., PPR10K, CVPR 2021 (evaluation: ΔE in CIELAB).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

__all__ = [
    "CIE_EPSILON",
    "CIE_KAPPA",
    "D65_WHITE_XY",
    "D65_WHITE_XYZ",
    "SRGB_PRIMARIES_XY",
    "SRGB_TO_XYZ",
    "delta_e_cie1976",
    "linear_srgb_to_xyz",
    "srgb_decode",
    "srgb_decode_table",
    "srgb_to_lab",
    "srgb_to_lab_tensor",
    "xyz_to_lab",
]

#: CIE 1931 2° chromaticity of the D65 white, as IEC 61966-2-1 specifies it.
D65_WHITE_XY = (0.3127, 0.3290)
#: Chromaticities of the sRGB (= ITU-R BT.709) red, green and blue primaries.
SRGB_PRIMARIES_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
#: CIELAB constants (CIE 15:2004): the linear segment is used for ``t <= epsilon``.
CIE_EPSILON = 216.0 / 24389.0
CIE_KAPPA = 24389.0 / 27.0

# sRGB decode: below the threshold the curve is linear with this slope.
_SRGB_THRESHOLD = 0.04045
_SRGB_SLOPE = 12.92
_SRGB_OFFSET = 0.055
_SRGB_GAMMA = 2.4


def _xy_to_xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _normalised_primary_matrix(primaries, white_xy) -> np.ndarray:
    """RGB -> XYZ matrix whose columns are the primaries scaled so that RGB (1,1,1) -> white."""
    columns = np.stack([_xy_to_xyz(p) for p in primaries], axis=1)
    scale = np.linalg.solve(columns, _xy_to_xyz(white_xy))
    return columns * scale[None, :]


#: CIE XYZ of the D65 white with Y = 1: ``[0.950456, 1.0, 1.089058]``.
D65_WHITE_XYZ = _xy_to_xyz(D65_WHITE_XY)
D65_WHITE_XYZ.setflags(write=False)
#: Linear sRGB -> CIE XYZ (D65), rows X, Y, Z; derived, not the 4-digit rounded table.
SRGB_TO_XYZ = _normalised_primary_matrix(SRGB_PRIMARIES_XY, D65_WHITE_XY)
SRGB_TO_XYZ.setflags(write=False)


def srgb_decode(values: np.ndarray) -> np.ndarray:
    """sRGB EOTF: gamma-encoded values -> linear light (IEC 61966-2-1, piecewise).

    Args:
        values: encoded values, nominally in [0, 1] (any shape).

    Returns:
        float64 linear values of the same shape:
        ``v / 12.92`` for ``v <= 0.04045``, else ``((v + 0.055) / 1.055) ** 2.4``.
    """
    v = np.asarray(values, dtype=np.float64)
    high = ((np.maximum(v, _SRGB_THRESHOLD) + _SRGB_OFFSET) / (1.0 + _SRGB_OFFSET)) ** _SRGB_GAMMA
    return np.where(v <= _SRGB_THRESHOLD, v / _SRGB_SLOPE, high)


@lru_cache(maxsize=2)
def srgb_decode_table(bits: int = 8) -> np.ndarray:
    """:func:`srgb_decode` of every code ``0 .. 2**bits - 1`` (read-only float64 table).

    Indexing the table with a uint8/uint16 image decodes it exactly and fast.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    codes = np.arange(2**bits, dtype=np.float64) / (2**bits - 1)
    table = srgb_decode(codes)
    table.setflags(write=False)
    return table


def linear_srgb_to_xyz(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB ``(..., 3)`` -> CIE XYZ ``(..., 3)`` (D65, white has Y = 1)."""
    linear = np.asarray(linear, dtype=np.float64)
    _check_last_axis(linear)
    return linear @ SRGB_TO_XYZ.T


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > CIE_EPSILON, np.cbrt(t), (CIE_KAPPA * t + 16.0) / 116.0)


def xyz_to_lab(xyz: np.ndarray, white: np.ndarray = D65_WHITE_XYZ) -> np.ndarray:
    """CIE XYZ ``(..., 3)`` -> CIE 1976 L*a*b* ``(..., 3)`` relative to ``white``.

    Args:
        xyz: tristimulus values on the scale of ``white`` (Y of the white = 1).
        white: XYZ of the reference white, default D65.

    Returns:
        float64 ``(..., 3)``: L* in [0, 100], a* and b* roughly in [-128, 128].
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    _check_last_axis(xyz)
    f = _lab_f(xyz / np.asarray(white, dtype=np.float64))
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def srgb_to_lab(image: np.ndarray) -> np.ndarray:
    """sRGB image -> CIE L*a*b* (D65), like MATLAB's ``rgb2lab`` default.

    Args:
        image: ``(..., 3)`` array, channels last: uint8 (0..255), uint16 (0..65535) or float
            in [0, 1]. Integer inputs are decoded through :func:`srgb_decode_table`.

    Returns:
        float64 ``(..., 3)`` array of L*, a*, b*.

    Example:
        >>> (srgb_to_lab(np.array([255, 255, 255], dtype=np.uint8)).round(6) + 0.0).tolist()
        [100.0, 0.0, 0.0]
    """
    image = np.asarray(image)
    _check_last_axis(image)
    if image.dtype == np.uint8:
        linear = srgb_decode_table(8)[image]
    elif image.dtype == np.uint16:
        linear = srgb_decode_table(16)[image]
    elif np.issubdtype(image.dtype, np.floating):
        linear = srgb_decode(image)
    else:
        raise TypeError(f"unsupported sample type {image.dtype}; use uint8, uint16 or float")
    return xyz_to_lab(linear_srgb_to_xyz(linear))


def srgb_to_lab_tensor(image: torch.Tensor) -> torch.Tensor:
    """sRGB tensor ``(*, 3, H, W)`` in [0, 1] -> L*a*b* ``(*, 3, H, W)`` (D65), differentiable.

    Same conversion as :func:`srgb_to_lab`, in the tensor's dtype and device.

    Example:
        >>> srgb_to_lab_tensor(torch.ones(1, 3, 2, 2))[0, :, 0, 0].round(decimals=3) + 0.0
        tensor([100.,   0.,   0.])
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(image).__name__}")
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"expected shape (*, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"expected a float tensor in [0, 1], got {image.dtype}")
    high = ((image.clamp_min(_SRGB_THRESHOLD) + _SRGB_OFFSET) / (1.0 + _SRGB_OFFSET)) ** _SRGB_GAMMA
    linear = torch.where(image <= _SRGB_THRESHOLD, image / _SRGB_SLOPE, high)
    matrix = torch.as_tensor(SRGB_TO_XYZ / D65_WHITE_XYZ[:, None], dtype=image.dtype,
                             device=image.device)
    t = torch.einsum("ij,...jhw->...ihw", matrix, linear)
    f = torch.where(t > CIE_EPSILON, t.clamp_min(CIE_EPSILON) ** (1.0 / 3.0),
                    (CIE_KAPPA * t + 16.0) / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)


def delta_e_cie1976(lab_1: np.ndarray, lab_2: np.ndarray) -> np.ndarray:
    """Per-pixel CIE 1976 colour difference ``||Lab_1 - Lab_2||`` of two ``(..., 3)`` arrays."""
    lab_1 = np.asarray(lab_1, dtype=np.float64)
    lab_2 = np.asarray(lab_2, dtype=np.float64)
    if lab_1.shape != lab_2.shape:
        raise ValueError(f"shapes differ: {lab_1.shape} vs {lab_2.shape}")
    _check_last_axis(lab_1)
    return np.sqrt(np.sum((lab_1 - lab_2) ** 2, axis=-1))


def _check_last_axis(array: np.ndarray) -> None:
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ValueError(f"expected channels last (..., 3), got shape {array.shape}")

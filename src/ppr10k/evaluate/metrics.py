"""Image quality measures of the PPR10K paper (spec §5).

Defines
    - :func:`psnr`: PSNR over all pixels and channels.
    - :func:`delta_e`: mean CIE 1976 ΔE*ab of two sRGB images (D65).
    - :func:`human_centered_weights`: ``w = 1`` on the human region, ``0.5`` elsewhere.
    - :func:`human_centered_psnr`: PSNR^HC, ``10 log10(1 / MSE(w x, w y))``, x, y in [0, 1].
    - :func:`human_centered_delta_e`: ΔE^HC, mean of ``||w Lab(x) - w Lab(y)||``.
    - :func:`mean_ab`: an image's mean a* and b* (the input of M^GLC).
    - :func:`group_consistency`: one group's M^GLC term; :func:`group_level_consistency`:
      M^GLC of a set of groups.
    - :func:`to_uint8`, :func:`resize_mask`: the input handling of the reference script.
    - :func:`score_pair`: all per-image measures of one pair at once (fast, numba).

These follow the PPR10K evaluation script (``calculate_metrics.m``), with these differences:
    - its group table is pre-sized for 325 groups and groups are found by changes of the
      id in sorted file order; here groups are the distinct ids (stem before the first ``_``),
      so any number of groups works;
    - 16-bit files are reduced to 8 bits by rounding (``round(v * 255 / 65535)``) before
      scoring, as an 8-bit export would be; MATLAB's ``psnr`` would use a peak of 65535;
    - identical images have an infinite PSNR; :func:`psnr` returns ``inf`` (as MATLAB does)
      and the folder averages cap it (see :func:`ppr10k.evaluate.evaluate_folders`).

References:
    - Liang, Zeng, Cui, Xie, Zhang, "PPR10K: A Large-Scale Portrait Photo Retouching Dataset
      with Human-Region Mask and Group-Level Consistency", CVPR 2021, §5 (measures).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from PIL import Image

from ppr10k.color.lab import srgb_to_lab
from ppr10k.evaluate import _kernel

#: Weight of background pixels (mask == 0) in the human-centred measures.
BACKGROUND_WEIGHT = 0.5
#: Weight of human pixels (mask != 0).
HUMAN_WEIGHT = 1.0


def psnr(prediction: np.ndarray, target: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB: ``10 log10(peak^2 / MSE)`` over all pixels and channels.

    Args:
        prediction, target: arrays of the same shape (8-bit values for the paper's PSNR).
        peak: the largest sample value (255 for 8-bit).

    Returns:
        PSNR in dB; ``inf`` for identical images.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {prediction.shape} vs {target.shape}")
    mse = np.mean((prediction.astype(np.float64) - target.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Samples -> uint8 the way an 8-bit export rounds them.

    Args:
        image: uint8 (returned as is), uint16 (``round(v * 255 / 65535)``, computed exactly as
            ``(v + 128) // 257``) or float in [0, 1] (``round(clip(v) * 255)``).
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise TypeError(f"unsupported sample type {image.dtype}; use uint8, uint16 or float")


def _unit(image: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float image -> float64 in [0, 1] (MATLAB's ``im2double``)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float64) / 65535.0
    if np.issubdtype(image.dtype, np.floating):
        return image.astype(np.float64)
    raise TypeError(f"unsupported sample type {image.dtype}; use uint8, uint16 or float")


def _check_pair(prediction: np.ndarray, target: np.ndarray) -> None:
    if prediction.shape != target.shape:
        raise ValueError(f"shapes differ: {prediction.shape} vs {target.shape}")
    if prediction.ndim != 3 or prediction.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) images, got shape {prediction.shape}")


def delta_e(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean CIE 1976 colour difference ΔE*ab of two sRGB images (D65 white).

    Args:
        prediction, target: ``(H, W, 3)`` sRGB images, uint8, uint16 or float in [0, 1].

    Returns:
        ``mean over pixels of ||Lab(prediction) - Lab(target)||``, in ΔE units.
    """
    _check_pair(prediction, target)
    difference = srgb_to_lab(prediction) - srgb_to_lab(target)
    return float(np.mean(np.sqrt(np.sum(difference**2, axis=-1))))


def human_centered_weights(mask: np.ndarray) -> np.ndarray:
    """Per-pixel weights of the human-centred measures: 1 where ``mask != 0``, else 0.5.

    Args:
        mask: ``(H, W)`` human-region mask (bool or numeric; non-zero = human).

    Returns:
        float64 ``(H, W)`` weights.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    return np.where(mask != 0, HUMAN_WEIGHT, BACKGROUND_WEIGHT)


def _check_mask(mask: np.ndarray, image: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise ValueError(
            f"mask shape {mask.shape} differs from image size {image.shape[:2]}; "
            "resize it first with resize_mask()"
        )
    return human_centered_weights(mask)


def human_centered_psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """PSNR^HC in dB: ``10 log10(1 / MSE(w x, w y))`` with x, y in [0, 1].

    Args:
        prediction, target: ``(H, W, 3)`` images, uint8 (divided by 255), uint16 (by 65535)
            or float in [0, 1].
        mask: ``(H, W)`` human-region mask of the same size; see
            :func:`human_centered_weights`.

    Returns:
        PSNR^HC in dB; ``inf`` for identical images.

    Notes:
        The weight multiplies both images, so a background error counts 0.25x in the MSE.
    """
    _check_pair(prediction, target)
    weights = _check_mask(mask, prediction)[:, :, None]
    mse = np.mean((weights * _unit(prediction) - weights * _unit(target)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def human_centered_delta_e(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """ΔE^HC: mean over pixels of ``||w Lab(prediction) - w Lab(target)||`` (D65).

    Args:
        prediction, target: ``(H, W, 3)`` sRGB images, uint8, uint16 or float in [0, 1].
        mask: ``(H, W)`` human-region mask of the same size.
    """
    _check_pair(prediction, target)
    weights = _check_mask(mask, prediction)[:, :, None]
    difference = weights * srgb_to_lab(prediction) - weights * srgb_to_lab(target)
    return float(np.mean(np.sqrt(np.sum(difference**2, axis=-1))))


def mean_ab(image: np.ndarray) -> np.ndarray:
    """Mean a* and mean b* of an sRGB image over all its pixels: float64 ``(2,)``."""
    lab = srgb_to_lab(image)
    return lab[..., 1:].reshape(-1, 2).mean(axis=0)


def group_consistency(mean_ab_values: np.ndarray) -> float:
    """One group's M^GLC term: mean of the sample variances (N - 1) of its a* and b* means.

    Args:
        mean_ab_values: ``(N, 2)`` per-photo mean a* and b* of the group's results.

    Returns:
        ``(var(a) + var(b)) / 2``; 0 for a one-photo group (MATLAB's ``var`` of one value).
    """
    values = np.asarray(mean_ab_values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 2 or values.shape[0] == 0:
        raise ValueError(f"expected (N >= 1, 2) mean a*, b* values, got shape {values.shape}")
    if values.shape[0] == 1:
        return 0.0
    return float(np.mean(np.var(values, axis=0, ddof=1)))


def group_level_consistency(
    groups: Mapping[object, np.ndarray] | Iterable[np.ndarray],
) -> float:
    """M^GLC: :func:`group_consistency` averaged over groups (lower is more consistent).

    Args:
        groups: per group, the ``(N, 2)`` mean a*, b* of its photos (a mapping group -> array,
            or any iterable of arrays).
    """
    values = groups.values() if isinstance(groups, Mapping) else groups
    terms = [group_consistency(v) for v in values]
    if not terms:
        raise ValueError("no groups")
    return float(np.mean(terms))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a human-region mask to ``size = (H, W)`` as the reference script does.

    The mask is binarised (non-zero -> 255), resized with Pillow's bicubic filter (which, like
    MATLAB's ``imresize``, widens the kernel when shrinking) and rounded to 8 bits; pixels
    that come out exactly 0 are background, all others human.

    Returns:
        bool ``(H, W)``.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    height, width = size
    if mask.shape == (height, width):
        return mask != 0
    image = Image.fromarray(np.where(mask != 0, 255, 0).astype(np.uint8), mode="L")
    resized = image.resize((width, height), resample=Image.Resampling.BICUBIC)
    return np.asarray(resized) != 0


def score_pair(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """All per-image measures of one pair, in one pass (numba kernel).

    Args:
        prediction, target: ``(H, W, 3)`` images; converted with :func:`to_uint8` first.
        mask: ``(H, W)`` human-region mask of the same size (non-zero = human).

    Returns:
        ``psnr``, ``delta_e``, ``psnr_hc``, ``delta_e_hc`` (as the functions above compute
        them on the 8-bit images), the prediction's ``mean_L``, ``mean_a``, ``mean_b``, and
        ``human_fraction`` (share of human pixels).
    """
    prediction = to_uint8(prediction)
    target = to_uint8(target)
    _check_pair(prediction, target)
    mask = np.asarray(mask)
    if mask.shape != prediction.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} differs from image size {prediction.shape[:2]}")
    n = prediction.shape[0] * prediction.shape[1]
    if n == 0:
        raise ValueError("empty image")
    sse_human, sse_background, n_human, sum_de, sum_de_human, sum_l, sum_a, sum_b = (
        _kernel.score_pixels(
            _kernel.as_kernel_array(prediction).reshape(-1, 3),
            _kernel.as_kernel_array(target).reshape(-1, 3),
            _kernel.as_kernel_array(mask != 0).reshape(-1),
            _kernel.DECODE_TABLE,
            _kernel.MATRIX,
            _kernel.INV_CBRT_NODES,
        )
    )
    sse = sse_human + sse_background
    # MSE(w x, w y) with x, y = codes / 255: human pixels weigh 1, background 0.5 ** 2.
    sse_hc = (sse_human + BACKGROUND_WEIGHT**2 * sse_background) / 255.0**2
    de_background = sum_de - sum_de_human
    return {
        "psnr": _psnr_from_sse(sse, 3 * n, 255.0),
        "delta_e": sum_de / n,
        "psnr_hc": _psnr_from_sse(sse_hc, 3 * n, 1.0),
        "delta_e_hc": (HUMAN_WEIGHT * sum_de_human + BACKGROUND_WEIGHT * de_background) / n,
        "mean_L": sum_l / n,
        "mean_a": sum_a / n,
        "mean_b": sum_b / n,
        "human_fraction": n_human / n,
    }


def _psnr_from_sse(sse: float, count: int, peak: float) -> float:
    if sse == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 * count / sse))

"""ppr10k: portrait photo retouching with the PPR10K dataset.

Image convention used everywhere in the package:

* At the edges (files, NumPy): float32 RGB in [0, 1], shape ``(H, W, 3)`` (HWC).
* Inside (PyTorch): float32 RGB in [0, 1], shape ``(B, 3, H, W)`` (BCHW).
* LUTs: ``(3, D, D, D)`` in the official PPR10K layout ``lut[c, b, g, r]``
  (output channel, then blue, green, red index; red varies fastest).

Only :mod:`ppr10k.io` knows file formats; conversions happen there.
"""

__version__ = "0.1.0"

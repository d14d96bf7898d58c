"""bf16 autocast of the backbone only (``backbone_autocast``): tested on the CPU by naming
the CPU among the device types it applies to (on CUDA it is the default)."""

from __future__ import annotations

import torch

from ppr10k.models import AdaptiveLUT, ModelConfig
from ppr10k.train.loop import backbone_autocast

CPU = torch.device("cpu")


def model() -> AdaptiveLUT:
    torch.manual_seed(0)
    m = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=3, init="reference"))
    with torch.no_grad():
        m.luts.add_(0.05 * torch.randn_like(m.luts))
    return m.eval()


def test_backbone_in_bf16_head_and_luts_in_float32() -> None:
    m, images = model(), torch.rand(2, 3, 40, 56)
    keys = list(m.state_dict())
    codes = []
    m.backbone.register_forward_hook(lambda module, args, out: codes.append(out))
    with torch.no_grad():
        reference, _ = m(images)
        with backbone_autocast(m, CPU, device_types=("cpu",)):
            prediction, params = m(images)
    code = codes[-1]
    assert code.dtype == torch.float32  # handed to the head as float32 ...
    assert torch.equal(code, code.bfloat16().float())  # ... with bf16's precision
    assert not torch.equal(code, codes[0])  # and not the float32 backbone's values
    assert params["weights"].dtype == torch.float32 and prediction.dtype == torch.float32
    # the LUT step is float32: the prediction is exactly what the float32 plan gives
    with torch.no_grad():
        assert torch.equal(prediction, m.plan(params).apply(images))
    torch.testing.assert_close(prediction, reference, rtol=0, atol=2e-2)
    # restored: the class's forward, same state dict keys
    assert "forward" not in vars(m.backbone) and list(m.state_dict()) == keys


def test_nothing_changes_on_devices_not_named() -> None:
    m, images = model(), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        reference, _ = m(images)
        with backbone_autocast(m, CPU):  # default: CUDA only
            assert "forward" not in vars(m.backbone)
            prediction, _ = m(images)
    assert torch.equal(prediction, reference)

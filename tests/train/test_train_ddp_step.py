"""One DistributedDataParallel step on two gloo processes equals one single-process step on
the two halves together: the training step's loss (MSE with HRP, the family's regularisers
read through the DDP wrapper) averaged over processes has the gradient of the whole batch.
Also the rank/collective helpers (``all_sum``, ``share``) on a real process group."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from ppr10k.models import AdaptiveLUT, ModelConfig
from ppr10k.train import TrainConfig, training_step
from ppr10k.train.distributed import Distributed

CPU = torch.device("cpu")


def make_model() -> AdaptiveLUT:
    torch.manual_seed(0)
    model = AdaptiveLUT(ModelConfig(backbone="tiny", lut_dim=5, n_luts=3, init="reference"))
    with torch.no_grad():
        model.luts.add_(0.05 * torch.randn_like(model.luts))
    return model.eval()  # no dropout: both sides compute the same function


def make_batch() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    source = torch.rand(4, 3, 24, 24, generator=gen)
    mask = (torch.rand(4, 1, 24, 24, generator=gen) > 0.5).float()
    return {"source": source, "target": (source ** 0.7).clamp(0, 1), "mask": mask}


CONFIG = TrainConfig(hrp=True, glc=False, device="cpu", lambda_smooth=0.05, lambda_mono=0.5,
                     model=ModelConfig(backbone="tiny", lut_dim=5, n_luts=3))


def _worker(rank: int, port: int, out: str, threads: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # the parent's thread count: torch's CPU kernels split their sums by it, and the
    # reference below is computed in the parent
    torch.set_num_threads(threads)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    try:
        dist = Distributed(rank, 2, CPU)
        model = dist.wrap(make_model())
        half = {k: v[2 * rank:2 * rank + 2] for k, v in make_batch().items()}
        loss, _ = training_step(model, half, CONFIG, CPU)
        loss.backward()
        total = dist.all_sum(loss.detach())
        shared = dist.share(f"from rank {rank}")
        if rank == 0:
            grads = {n: p.grad.clone() for n, p in model.module.named_parameters()}
            torch.save({"grads": grads, "loss_sum": total, "shared": shared}, out)
        dist.barrier()
    finally:
        torch.distributed.destroy_process_group()
    # as the product does under torchrun (ppr10k.cli.main.exit_with): skip the interpreter
    # shutdown that gloo processes of torch 2.14 sometimes abort in; the results are saved
    os._exit(0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two interpreters start: 20-30 s on 2 shared cores
def test_ddp_step_has_the_whole_batchs_gradient(tmp_path: Path) -> None:
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(free_port(), str(out), torch.get_num_threads()), nprocs=2,
             join=True)
    got = torch.load(out, weights_only=True)

    model = make_model()
    loss, _ = training_step(model, make_batch(), CONFIG, CPU)
    loss.backward()
    halves = [training_step(make_model(), {k: v[s] for k, v in make_batch().items()}, CONFIG,
                            CPU)[0].detach() for s in (slice(0, 2), slice(2, 4))]
    torch.testing.assert_close(got["loss_sum"], halves[0] + halves[1])
    assert got["shared"] == "from rank 0"
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().max() > 0, name
        # float32 sums in another order (2 + 2 images vs 4): 1e-5 of the largest entry;
        # a sum instead of a mean, or one process's half alone, is off by far more
        scale = float(parameter.grad.abs().max())
        torch.testing.assert_close(got["grads"][name], parameter.grad, rtol=1e-4,
                                   atol=1e-5 * scale, msg=name)
        assert not torch.allclose(2 * got["grads"][name], parameter.grad, rtol=1e-2), name

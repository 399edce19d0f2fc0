"""Data-parallel training under ``torchrun``: the process group, small collectives, synchronised
batch norm and the launch command (``docs/training.md``).

One process per device; ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE`` and the rendezvous address (``MASTER_ADDR``/``MASTER_PORT``), and
:func:`start` joins the group through ``env://``: NCCL on GPUs, gloo on CPUs
(PyTorch, "Getting started with distributed data parallel"). Without ``torchrun`` every function
here works for the one process there is, so single-process code needs no branch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from seldlib.device import resolve_device

# Generous: rank 0 validates while the others wait in their next collective.
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world`` processes, ``local_rank`` of ``local_world`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that validates, logs and writes files."""
        return self.rank == 0


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another ``env://`` launcher)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def current() -> Context:
    """The context of the running process group, or the single-process one if none is running."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)),
                   int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())))


def _die_with_launcher() -> None:
    """``torchrun`` starts every worker in a session of its own, so killing the launcher (SIGKILL, or
    the stage's process group) would leave the workers training and writing: on Linux the kernel is
    asked to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0 and os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGKILL)  # the launcher died before the request was made


def start(device_name: str) -> Context:
    """Join the process group ``torchrun`` set up (a no-op for a single process): NCCL when the
    resolved device is a GPU (this rank's ``cuda:LOCAL_RANK``), gloo otherwise. The process ends
    when its launcher does (Linux)."""
    if not launched() or int(os.environ["WORLD_SIZE"]) == 1:
        return Context()
    _die_with_launcher()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = resolve_device(device_name, local_rank=local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://", timeout=TIMEOUT)
    return current()


def stop() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_mean(values: Sequence[float]) -> list[float]:
    """The mean of each value over the ranks (the values themselves for a single process)."""
    if current().world == 1:
        return list(values)
    t = torch.tensor(list(values), dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def gather(obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order (picklable objects; small ones: this goes through pickle)."""
    if current().world == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if current().world == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class _AllSum(torch.autograd.Function):
    """Sum over the ranks whose gradient is the sum of the ranks' gradients (each rank's loss
    depends on every rank's input through the sum)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlooSyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics cover the whole global batch, for CPU process groups
    (``torch.nn.SyncBatchNorm`` runs on GPUs only).

    Two-pass statistics (mean, then the mean squared deviation) over every rank's ``(N, *)`` items
    per channel, summed over the ranks by an all-reduce whose backward is an all-reduce too, so the
    gradient flows through the other ranks' statistics as in single-process batch norm (Ioffe &
    Szegedy, ICML 2015). Every rank must hold the same number of items. Running statistics are
    updated with the unbiased global variance, as ``nn.BatchNorm`` does; in eval mode it is plain
    batch norm on the running statistics. State-dict keys are those of the module it replaces.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not dist.is_initialized():
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, x.shape[1], *([1] * (x.dim() - 2))]
        count = x.numel() // x.shape[1] * dist.get_world_size()  # equal shards on every rank
        mean = _AllSum.apply(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = _AllSum.apply((centred * centred).sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / max(count - 1, 1), momentum)
        return y


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every batch norm computing its statistics over the global batch:
    ``torch.nn.SyncBatchNorm`` on a GPU, :class:`GlooSyncBatchNorm` on a CPU."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if isinstance(child, _BatchNorm):
            sync = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                     child.track_running_stats, device=device)
            sync.load_state_dict(child.state_dict())
            setattr(model, name, sync)
        else:
            sync_batchnorm(child, device)
    return model


def torchrun_command(nproc: int, module: str, argv: Sequence[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m <module> <argv>``: one
    node, a free rendezvous port chosen by the launcher."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", module, *argv]


def run_torchrun(nproc: int, module: str, argv: Sequence[str]) -> int:
    """Run :func:`torchrun_command` and return its exit code; if this process is interrupted, the
    launcher is stopped with SIGTERM, which it passes on to its workers, so none is left behind.
    Unless ``OMP_NUM_THREADS`` is set, each process gets an equal share of the cores (torchrun's own
    default is 1 thread)."""
    threads = str(max(1, (os.cpu_count() or 1) // nproc))
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads)}
    with subprocess.Popen(torchrun_command(nproc, module, argv), env=env) as proc:
        try:
            return proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise


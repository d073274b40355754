"""PyTorch set-up shared by the PyTorch programs (not a program: the registry loads programs by name)."""

from __future__ import annotations


def seed_everything(seed: int) -> None:
    """Seeded, deterministic, one intra-op thread (two programs share the two cores).

    Imports torch here, inside a run's training, so listing runs stays cheap.
    """
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

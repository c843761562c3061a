"""The learning-rate schedule every training loop here uses (the tracker network, the hand detector)."""

from __future__ import annotations

import math


def warmup_cosine(step: int, peak: float, warmup_steps: int, total_steps: int, floor_ratio: float = 0.0) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to ``floor_ratio * peak`` at ``total_steps``."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return peak * (floor_ratio + (1.0 - floor_ratio) * cosine)

"""Loading and saving network weights safely (``torch.load(..., weights_only=True)`` only).

A checkpoint is either a plain state_dict (the released ``pretrained_weights.torch`` layout) or our
training checkpoint, a dict with ``"model"`` (state_dict), ``"config"`` and training state.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from umetrack.errors import FormatError
from umetrack.fileio import atomic_write_bytes


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint file with ``weights_only=True``; a corrupt or foreign file raises FormatError."""
    path = Path(path)
    if not path.exists():
        raise FormatError(path, "", "file not found")
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError) as exc:
        raise FormatError(path, "", f"not a readable torch checkpoint (corrupt, truncated, or unsafe content): {exc}") from None
    if not isinstance(document, dict):
        raise FormatError(path, "", f"expected a dict (state_dict or checkpoint), got {type(document).__name__}")
    return document


def state_dict_of(document: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The model state_dict inside a plain state_dict or a training checkpoint."""
    state = document.get("model", document)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FormatError(path, "model", "does not hold a state_dict of tensors")
    return state


def load_state_dict_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """``load_state_dict(strict=True)`` with one clear error listing missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        def listing(name: str, keys: list[str]) -> str:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            return f"{name}: {shown}" if keys else ""

        parts = [p for p in (listing("missing keys", missing), listing("unexpected keys", unexpected), listing("shape mismatches", mismatched)) if p]
        raise FormatError(source, "state_dict", "weights do not fit this network architecture; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def save_checkpoint(path: str | Path, document: dict[str, Any]) -> None:
    """Atomically write a checkpoint dict (tensors, numbers, strings, lists, dicts only)."""
    buffer = io.BytesIO()
    torch.save(document, buffer)
    atomic_write_bytes(path, buffer.getvalue())

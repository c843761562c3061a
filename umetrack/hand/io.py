"""Reading and writing UmeTrack hand models (millimetres on disk, metres in memory).

Containers accepted by ``load_hand_model``:
* the generic model JSON (the model dict at top level),
* HOT3D ``umetrack_hand_user_profile.json`` (``{"hand_model": {...}}``),
* UmeTrack raw-data labels (key ``"hand_model"``),
* Hand Tracking Challenge ``__hand_shapes.json__`` (key ``"umetrack"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from umetrack.errors import FormatError
from umetrack.fileio import array_field, atomic_write_json, read_json, require
from umetrack.hand.model import (
    NO_INDEX,
    NUM_JOINTS,
    NUM_LANDMARKS,
    NUM_SKINNING_FRAMES,
    HandModel,
)

MM_PER_M = 1000.0
_LENGTH_FIELDS = ("joint_rest_positions", "landmark_rest_positions", "mesh_vertices")
_MIN_PLAUSIBLE_HAND_MM = 30.0
"""A real hand spans 100-250 mm wrist to fingertip; a model whose points all lie within 30 units
of the wrist is almost surely stored in metres (or cm) and is rejected rather than silently shrunk."""


def hand_model_from_dict(document: Any, source: str | Path | None = None, parent: str = "") -> HandModel:
    """Build a HandModel (metres) from the UmeTrack model dict (millimetres).

    Raises FormatError naming ``source`` and the field for any missing key, wrong shape, NaN,
    out-of-range index, non-unit axis, weights that do not sum to one, or values in the wrong unit.
    """

    def arr(key: str, shape: tuple[int | None, ...], dtype=np.float64) -> np.ndarray:
        return array_field(document, key, shape, source, parent, dtype)

    def field(key: str) -> str:
        return f"{parent}.{key}" if parent else key

    axes = arr("joint_rotation_axes", (NUM_JOINTS, 3))
    norms = np.linalg.norm(axes, axis=1)
    if np.abs(norms - 1.0).max() > 1e-3:
        raise FormatError(source, field("joint_rotation_axes"), f"axes must be unit vectors (norms {norms.min():.4g}..{norms.max():.4g})")
    joint_rest = arr("joint_rest_positions", (NUM_JOINTS, 3))
    frame_index = arr("joint_frame_index", (NUM_JOINTS,), np.int64)
    parent_idx = arr("joint_parent", (NUM_JOINTS,), np.int64)
    first_child = arr("joint_first_child", (NUM_JOINTS,), np.int64)
    next_sibling = arr("joint_next_sibling", (NUM_JOINTS,), np.int64)
    for key, values, limit in (
        ("joint_frame_index", frame_index, NUM_SKINNING_FRAMES),
        ("joint_parent", parent_idx, NUM_JOINTS),
        ("joint_first_child", first_child, NUM_JOINTS),
        ("joint_next_sibling", next_sibling, NUM_JOINTS),
    ):
        bad = (values != NO_INDEX) & ((values < 0) | (values >= limit))
        if bad.any():
            raise FormatError(source, field(key), f"index {int(values[bad][0])} out of range 0..{limit - 1} (or {NO_INDEX})")
    landmark_rest = arr("landmark_rest_positions", (NUM_LANDMARKS, 3))
    landmark_weights = arr("landmark_rest_bone_weights", (NUM_LANDMARKS, 3))
    landmark_indices = arr("landmark_rest_bone_indices", (NUM_LANDMARKS, 3), np.int64)
    if ((landmark_indices < 0) | (landmark_indices >= NUM_SKINNING_FRAMES)).any():
        raise FormatError(source, field("landmark_rest_bone_indices"), f"frame indices must lie in 0..{NUM_SKINNING_FRAMES - 1}")
    if np.abs(landmark_weights.sum(1) - 1.0).max() > 1e-3:
        raise FormatError(source, field("landmark_rest_bone_weights"), "each landmark's weights must sum to 1")
    hand_scale = float(arr("hand_scale", ()))
    vertices = arr("mesh_vertices", (None, 3))
    triangles = arr("mesh_triangles", (None, 3), np.int64)
    if len(triangles) and (triangles.min() < 0 or triangles.max() >= len(vertices)):
        raise FormatError(source, field("mesh_triangles"), f"vertex index out of range 0..{len(vertices) - 1}")
    dense = arr("dense_bone_weights", (len(vertices), NUM_SKINNING_FRAMES))
    if len(dense) and np.abs(dense.sum(1) - 1.0).max() > 1e-3:
        row = int(np.abs(dense.sum(1) - 1.0).argmax())
        raise FormatError(source, field("dense_bone_weights"), f"row {row} sums to {dense[row].sum():.4g}, expected 1")
    limits = arr("joint_limits", (NUM_JOINTS, 2))
    if (limits[:, 0] > limits[:, 1]).any():
        raise FormatError(source, field("joint_limits"), "a minimum exceeds its maximum")

    extent = np.abs(landmark_rest - landmark_rest[5]).max()
    if extent < _MIN_PLAUSIBLE_HAND_MM:
        raise FormatError(
            source,
            field("landmark_rest_positions"),
            f"hand spans only {extent:.3g} units from the wrist; lengths must be millimetres (metres given?)",
        )

    def t(a: np.ndarray, scale: float = 1.0) -> torch.Tensor:
        return torch.as_tensor(a * scale if scale != 1.0 else a, dtype=torch.float32 if a.dtype == np.float64 else torch.int64)

    inv = 1.0 / MM_PER_M
    return HandModel(
        joint_rotation_axes=t(axes),
        joint_rest_positions=t(joint_rest, inv),
        joint_frame_index=t(frame_index),
        joint_parent=t(parent_idx),
        joint_first_child=t(first_child),
        joint_next_sibling=t(next_sibling),
        landmark_rest_positions=t(landmark_rest, inv),
        landmark_rest_bone_weights=t(landmark_weights),
        landmark_rest_bone_indices=t(landmark_indices),
        hand_scale=hand_scale,
        mesh_vertices=t(vertices, inv),
        mesh_triangles=t(triangles),
        dense_bone_weights=t(dense),
        joint_limits=t(limits),
    )


def hand_model_to_dict(model: HandModel) -> dict[str, Any]:
    """The UmeTrack JSON model dict (millimetres; integer arrays as floats like the released files,
    except ``landmark_rest_bone_indices`` which is stored as ints)."""

    def floats(x: torch.Tensor, scale: float = 1.0) -> list:
        return (x.detach().double().cpu() * scale).tolist()

    return {
        "joint_rotation_axes": floats(model.joint_rotation_axes),
        "joint_rest_positions": floats(model.joint_rest_positions, MM_PER_M),
        "joint_frame_index": floats(model.joint_frame_index),
        "joint_parent": floats(model.joint_parent),
        "joint_first_child": floats(model.joint_first_child),
        "joint_next_sibling": floats(model.joint_next_sibling),
        "landmark_rest_positions": floats(model.landmark_rest_positions, MM_PER_M),
        "landmark_rest_bone_weights": floats(model.landmark_rest_bone_weights),
        "landmark_rest_bone_indices": model.landmark_rest_bone_indices.cpu().tolist(),
        "hand_scale": float(model.hand_scale),
        "mesh_vertices": floats(model.mesh_vertices, MM_PER_M),
        "mesh_triangles": floats(model.mesh_triangles),
        "dense_bone_weights": floats(model.dense_bone_weights),
        "joint_limits": floats(model.joint_limits),
    }


_CONTAINER_KEYS = ("hand_model", "umetrack")


def load_hand_model(path: str | Path) -> HandModel:
    """Load a hand model from any container listed in the module docstring (metres in memory)."""
    document = read_json(path)
    if isinstance(document, dict) and "joint_rotation_axes" not in document:
        for key in _CONTAINER_KEYS:
            if key in document:
                return hand_model_from_dict(require(document, key, path), path, parent=key)
        raise FormatError(path, "", "no hand model found (expected model keys at top level, or 'hand_model' / 'umetrack')")
    return hand_model_from_dict(document, path)


def save_hand_model(path: str | Path, model: HandModel, container: str | None = None) -> None:
    """Write ``model`` atomically as UmeTrack JSON (mm). ``container="hand_model"`` writes the HOT3D
    user-profile layout ``{"hand_model": {...}}``; None writes the bare generic-model layout."""
    document: Any = hand_model_to_dict(model)
    if container is not None:
        document = {container: document}
    atomic_write_json(path, document)

"""A hand model with fewer triangles for drawing: same skeleton, landmarks and limits, a simplified
skinned mesh.

The project's own model has 2,416 vertices and 4,828 triangles, three times the released UmeTrack
mesh (788 / 1,544). At the size a hand is drawn in the app, the difference does not show, but every
vertex is skinned, shaded and uploaded on every frame of playback. The mesh is simplified by
quadric edge collapse (``fast_simplification``), which keeps it closed and consistently wound; each
new vertex is skinned with the weights of the original vertices nearest to it.
"""

from __future__ import annotations

from dataclasses import replace

import fast_simplification
import numpy as np
import torch
from scipy.spatial import cKDTree

from umetrack.hand.model import HandModel

DISPLAY_TRIANGLES = 1544
"""Triangles of the app's display meshes: the released UmeTrack mesh's count."""
_NEIGHBOURS = 3


def simplified(model: HandModel, max_triangles: int = DISPLAY_TRIANGLES) -> HandModel:
    """``model`` with its mesh reduced to about ``max_triangles`` triangles (``model`` itself when it
    has no more than that).

    Each new rest vertex takes the inverse-distance mean of the skinning weights of its 3 nearest
    original rest vertices (rows still sum to 1), so it moves with the surface it replaces. Everything
    but ``mesh_vertices``, ``mesh_triangles`` and ``dense_bone_weights`` is shared with ``model``.
    """
    triangles = model.mesh_triangles
    if len(triangles) <= max_triangles:
        return model
    rest = model.mesh_vertices.detach().cpu().double().numpy()
    vertices, faces = fast_simplification.simplify(rest, triangles.cpu().numpy().astype(np.int64), target_count=max_triangles)
    distance, nearest = cKDTree(rest).query(vertices, k=_NEIGHBOURS)
    closeness = 1.0 / np.maximum(distance, 1e-9)
    closeness /= closeness.sum(axis=1, keepdims=True)
    weights = model.dense_bone_weights.detach().cpu().double().numpy()
    blended = np.einsum("vk,vkf->vf", closeness, weights[nearest])
    blended /= blended.sum(axis=1, keepdims=True)
    device = model.mesh_vertices.device
    return replace(
        model,
        mesh_vertices=torch.as_tensor(vertices, dtype=model.mesh_vertices.dtype, device=device),
        mesh_triangles=torch.as_tensor(faces, dtype=triangles.dtype, device=device),
        dense_bone_weights=torch.as_tensor(blended, dtype=model.dense_bone_weights.dtype, device=device),
    )

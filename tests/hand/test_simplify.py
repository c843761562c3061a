"""The simplified display mesh: smaller, closed, and on the full mesh's surface in any pose."""

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from umetrack.hand import fk
from umetrack.hand.builder import demo_poses
from umetrack.hand.simplify import DISPLAY_TRIANGLES, simplified


def test_simplified_mesh_is_closed_and_stays_on_the_full_surface_when_posed(hand_model):
    small = simplified(hand_model)
    assert len(small.mesh_triangles) <= DISPLAY_TRIANGLES < len(hand_model.mesh_triangles)
    assert small.num_vertices < hand_model.num_vertices / 2
    weights = small.dense_bone_weights.double()
    assert (weights >= 0).all() and torch.allclose(weights.sum(1), torch.ones(small.num_vertices, dtype=torch.float64), atol=1e-5)
    # Skeleton and landmarks are the model's own: the same landmarks in every pose.
    assert small.landmark_rest_positions is hand_model.landmark_rest_positions
    for name, angles in demo_poses().items():
        for hand in (0, 1):
            full = fk.mesh_vertices(hand_model, angles, torch.eye(4), hand).double().numpy()
            posed = fk.mesh_vertices(small, angles, torch.eye(4), hand).double().numpy()
            surface = trimesh.Trimesh(full, fk.mesh_triangles(hand_model, hand).numpy(), process=False)
            mesh = trimesh.Trimesh(posed, fk.mesh_triangles(small, hand).numpy(), process=False)
            assert mesh.is_watertight and mesh.is_winding_consistent, name
            assert mesh.volume > 0 and abs(mesh.volume / surface.volume - 1) < 0.06, name  # wound outwards, little shrinkage
            samples, _ = trimesh.sample.sample_surface(surface, 100_000, seed=0)
            distance, _ = cKDTree(samples).query(posed)
            assert distance.max() < 0.003 and distance.mean() < 0.001, (name, hand, distance.max())


def test_a_mesh_already_small_enough_is_kept(hand_model):
    assert simplified(hand_model, max_triangles=len(hand_model.mesh_triangles)) is hand_model

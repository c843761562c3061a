"""The project's own hand model: the shipped resource is sound and is exactly what the builder makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from umetrack.hand import fk
from umetrack.hand.builder import build_hand_model, demo_poses
from umetrack.hand.io import load_hand_model
from umetrack.hand.model import HandModel

RESOURCE = Path(__file__).resolve().parents[2] / "resources" / "hand_model.json"

# Reference tables of the UmeTrack model (shared/reference/hand_model.md, sections 2-5).
NONE = 255
FRAME_INDEX = [NONE, 2, 3, 4, NONE, 5, 6, 7, NONE, 8, 9, 10, NONE, 11, 12, 13, NONE, 14, 15, 16, NONE, 0]
PARENT = [NONE, 0, 1, 2, NONE, 4, 5, 6, NONE, 8, 9, 10, NONE, 12, 13, 14, NONE, 16, 17, 18, NONE, 20]
FIRST_CHILD = [1, 2, 3, NONE, 5, 6, 7, NONE, 9, 10, 11, NONE, 13, 14, 15, NONE, 17, 18, 19, NONE, 21, NONE]
NEXT_SIBLING = [4, NONE, NONE, NONE, 8, NONE, NONE, NONE, 12, NONE, NONE, NONE, 16, NONE, NONE, NONE, 20] + [NONE] * 5
LANDMARK_FRAME = [4, 7, 10, 13, 16, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 1, 14, 15]
# Landmark at a pivot -> (DOF whose pivot it is, the frame that DOF's rotation produces).
PIVOT_LANDMARKS = {6: (2, 3), 7: (3, 4)}
for _f in range(4):
    PIVOT_LANDMARKS.update({8 + 3 * _f: (4 + 4 * _f, 5 + 3 * _f), 9 + 3 * _f: (6 + 4 * _f, 6 + 3 * _f), 10 + 3 * _f: (7 + 4 * _f, 7 + 3 * _f)})


@pytest.fixture(scope="module")
def shipped() -> HandModel:
    return load_hand_model(RESOURCE)


@pytest.fixture(scope="module")
def built() -> HandModel:
    return build_hand_model()


def _mesh(vertices: torch.Tensor, model: HandModel) -> trimesh.Trimesh:
    return trimesh.Trimesh(vertices.double().numpy(), model.mesh_triangles.numpy(), process=False)


def _winding_numbers(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    """Generalised winding number of points (n, 3) w.r.t. a closed mesh: ~1 inside, ~0 outside."""
    a, b, c = (mesh.vertices[mesh.faces[:, k]][None] - points[:, None] for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=2) for x in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    den = la * lb * lc + (a * b).sum(2) * lc + (b * c).sum(2) * la + (c * a).sum(2) * lb
    return (2 * np.arctan2(det, den)).sum(1) / (4 * np.pi)


def _posed(model: HandModel, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    wrist = torch.eye(4)
    return fk.mesh_vertices(model, angles, wrist), fk.landmarks(model, angles, wrist)


def test_shipped_mesh_is_a_closed_outward_surface_of_budget_size(shipped):
    mesh = _mesh(shipped.mesh_vertices, shipped)
    assert 1000 <= shipped.num_vertices <= 4000
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0  # outward normals for the left hand as stored
    assert 250e-6 < mesh.volume < 500e-6  # hand plus a short forearm stub, m^3


def test_skinning_weights_are_normalised_and_sparse(shipped):
    weights = shipped.dense_bone_weights
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(shipped.num_vertices), atol=1e-5, rtol=0)
    assert int((weights > 0).sum(1).max()) <= 3
    # every bone carries its own patch of skin; frame 0 (same transform as frame 1) is unused
    assert (weights[:, 1:].max(0).values > 0.85).all()
    assert ((weights[:, 1:] > 0.5).sum(0) >= 30).all()


def test_topology_and_landmark_attachment_follow_the_reference(shipped):
    assert shipped.joint_frame_index.tolist() == FRAME_INDEX
    assert shipped.joint_parent.tolist() == PARENT
    assert shipped.joint_first_child.tolist() == FIRST_CHILD
    assert shipped.joint_next_sibling.tolist() == NEXT_SIBLING
    assert shipped.hand_scale == 1.0
    weights, indices = shipped.landmark_rest_bone_weights, shipped.landmark_rest_bone_indices
    assert weights[:20, 0].tolist() == [1.0] * 20 and indices[:20, 0].tolist() == LANDMARK_FRAME
    assert (weights[:20, 1:] == 0).all() and (indices[:20, 1:] == indices[:20, :1]).all()
    assert (weights[20] > 0).sum() >= 2 and indices[20, 0] == 1  # palm centre: a blend led by the palm
    for landmark, (dof, _) in PIVOT_LANDMARKS.items():
        torch.testing.assert_close(shipped.landmark_rest_positions[landmark], shipped.joint_rest_positions[dof])
    torch.testing.assert_close(shipped.joint_rest_positions[[4, 8, 12, 16]], shipped.joint_rest_positions[[5, 9, 13, 17]])
    torch.testing.assert_close(shipped.joint_rotation_axes[20:], torch.eye(3)[1:])
    torch.testing.assert_close(shipped.joint_rotation_axes.norm(dim=1), torch.ones(22))
    assert (shipped.joint_limits[:, 0] < shipped.joint_limits[:, 1]).all()
    assert ((shipped.joint_limits[:, 0] <= 0) & (shipped.joint_limits[:, 1] >= 0)).all()  # rest pose is legal


def test_hand_frame_and_size(shipped):
    landmarks = shipped.landmark_rest_positions
    assert 0.17 <= float(landmarks[2].norm()) <= 0.20  # wrist to middle fingertip
    assert float(landmarks[5].norm()) == 0.0
    assert (landmarks[:5, 0] > 0.08).all()  # fingers towards +x
    assert landmarks[0, 2] > landmarks[1, 2] > landmarks[2, 2] > landmarks[3, 2] > landmarks[4, 2]  # thumb at +z
    # positive MCP flexion curls the fingers towards the palm (-y)
    angles = torch.zeros(22)
    angles[[5, 9, 13, 17]] = 0.5
    _, posed = _posed(shipped, angles)
    assert (posed[1:5, 1] < landmarks[1:5, 1] - 0.02).all()


def test_builder_reproduces_the_shipped_file(built, shipped):
    for name in ("joint_frame_index", "joint_parent", "joint_first_child", "joint_next_sibling",
                 "landmark_rest_bone_indices", "mesh_triangles"):  # fmt: skip
        assert torch.equal(getattr(built, name), getattr(shipped, name)), name
    for name in ("joint_rotation_axes", "landmark_rest_bone_weights", "dense_bone_weights", "joint_limits"):
        torch.testing.assert_close(getattr(built, name), getattr(shipped, name), atol=1e-5, rtol=0, msg=name)
    for name in ("joint_rest_positions", "landmark_rest_positions", "mesh_vertices"):  # metres: 1 micron
        torch.testing.assert_close(getattr(built, name), getattr(shipped, name), atol=1e-6, rtol=0, msg=name)
    assert built.hand_scale == shipped.hand_scale


@pytest.mark.parametrize("pose", ["fist", "point", "pinch"])
def test_posed_mesh_keeps_its_volume_and_holds_the_landmarks(shipped, pose):
    rest_volume = _mesh(shipped.mesh_vertices, shipped).volume
    vertices, landmarks = _posed(shipped, demo_poses()[pose])
    mesh = _mesh(vertices, shipped)
    assert abs(mesh.volume / rest_volume - 1.0) < 0.15
    # every landmark (tips included) is still inside the skin: nothing turned inside out
    assert (_winding_numbers(landmarks.double().numpy(), mesh) > 0.5).all()


def test_fist_brings_the_fingertips_to_the_palm(shipped):
    _, landmarks = _posed(shipped, demo_poses()["fist"])
    palm = landmarks[20]
    distances = (landmarks[1:5] - palm).norm(dim=1)
    assert (distances < 0.06).all(), distances


def test_pivot_landmarks_stay_at_their_pivots(shipped):
    angles = demo_poses()["fist"]
    frames = fk.skinning_frames(shipped, angles, torch.eye(4))
    _, landmarks = _posed(shipped, angles)
    for landmark, (dof, frame) in PIVOT_LANDMARKS.items():
        # the joint's own rotation fixes its pivot, so the bones on both sides agree on it
        pivot = shipped.joint_rest_positions[dof]
        moved = frames[frame, :3, :3] @ pivot + frames[frame, :3, 3]
        torch.testing.assert_close(landmarks[landmark], moved, atol=1e-6, rtol=0)

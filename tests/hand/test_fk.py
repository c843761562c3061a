import json

import pytest
import torch

from umetrack.errors import FormatError, InvalidPoseError
from umetrack.geometry import axis_angle_to_matrix, make_transform
from umetrack.hand import fk
from umetrack.hand.io import hand_model_to_dict, load_hand_model, save_hand_model
from umetrack.hand.model import LEFT, RIGHT
from umetrack.hand.pose import HandPose

MM = 1000.0


def _translation(x, y, z, dtype=torch.float32):
    T = torch.eye(4, dtype=dtype)
    T[:3, 3] = torch.tensor([x, y, z], dtype=dtype)
    return T


def test_reference_vectors_generic_model(generic_hand_model_path):
    """hand_model.md §8: neutral pose, known wrist transforms, left and right handling."""
    model = load_hand_model(generic_hand_model_path)
    neutral = model.neutral_angles
    right = fk.landmarks(model, neutral, _translation(0.010, 0.020, 0.030), RIGHT) * MM
    torch.testing.assert_close(right[0], torch.tensor([-100.944, -49.448, 50.256]), atol=2e-3, rtol=0)
    torch.testing.assert_close(right[1], torch.tensor([-106.198, -52.801, 50.503]), atol=2e-3, rtol=0)
    left = fk.landmarks(model, neutral, torch.eye(4), LEFT) * MM
    torch.testing.assert_close(left[0], torch.tensor([110.944, -69.448, 20.256]), atol=2e-3, rtol=0)
    torch.testing.assert_close(left[1], torch.tensor([116.198, -72.801, 20.503]), atol=2e-3, rtol=0)
    torch.testing.assert_close(left[20], torch.tensor([81.077, -19.406, 4.418]), atol=2e-3, rtol=0)


def test_index_flexion_reference_vector(generic_hand_model_path):
    """hand_model.md §6: DOF 5 = 0.5 rad moves the index tip from (180.0,-10.6,17.9) to (168.0,-50.4,15.6) mm."""
    model = load_hand_model(generic_hand_model_path)
    angles = torch.zeros(22)
    tip_rest = fk.landmarks(model, angles, torch.eye(4))[1] * MM
    angles[5] = 0.5
    tip_flexed = fk.landmarks(model, angles, torch.eye(4))[1] * MM
    torch.testing.assert_close(tip_rest, torch.tensor([180.0, -10.6, 17.9]), atol=0.06, rtol=0)
    torch.testing.assert_close(tip_flexed, torch.tensor([168.0, -50.4, 15.6]), atol=0.06, rtol=0)


def test_rest_pose_reproduces_rest_positions(hand_model):
    angles = torch.zeros(22)
    torch.testing.assert_close(fk.landmarks(hand_model, angles, torch.eye(4)), hand_model.landmark_rest_positions)
    torch.testing.assert_close(fk.mesh_vertices(hand_model, angles, torch.eye(4)), hand_model.mesh_vertices)


def test_wrist_dofs_20_21_are_ignored_and_20_angles_accepted(hand_model):
    angles = torch.linspace(-0.3, 0.6, 22)
    with_wrist = angles.clone()
    with_wrist[20:] = torch.tensor([0.7, -0.4])
    a = fk.landmarks(hand_model, angles, torch.eye(4))
    torch.testing.assert_close(fk.landmarks(hand_model, with_wrist, torch.eye(4)), a)
    torch.testing.assert_close(fk.landmarks(hand_model, angles[:20], torch.eye(4)), a)


def test_joint_landmark_stays_at_pivot_of_own_rotation(hand_model):
    """A landmark at a joint pivot is attached to the frame before that joint: rotating the joint leaves it put."""
    angles = torch.zeros(22)
    before = fk.landmarks(hand_model, angles, torch.eye(4))
    angles[6] = 1.2  # index PIP: landmark 9 sits at its pivot; the index tip (1) moves
    after = fk.landmarks(hand_model, angles, torch.eye(4))
    torch.testing.assert_close(after[9], before[9])
    assert (after[1] - before[1]).norm() > 0.02


def test_mirrored_model_equals_column_negation(hand_model):
    angles = hand_model.neutral_angles + 0.1
    R = axis_angle_to_matrix(torch.tensor([0.3, -1.1, 0.4]))
    W = make_transform(R, torch.tensor([0.1, -0.2, 0.4]))
    negated = fk.mesh_vertices(hand_model, angles, W, RIGHT)
    mirrored = fk.mesh_vertices(hand_model.mirrored(), angles, W, LEFT)
    torch.testing.assert_close(mirrored, negated, atol=1e-6, rtol=0)
    # A right hand is the mirror image of a left hand posed with the mirrored wrist.
    M = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    left = fk.landmarks(hand_model, angles, M @ W @ M, LEFT)
    right = fk.landmarks(hand_model, angles, W, RIGHT)
    torch.testing.assert_close(right * torch.tensor([-1.0, 1.0, 1.0]), left, atol=1e-6, rtol=0)


def test_batched_frames_and_hands_match_single_calls(hand_model):
    generator = torch.Generator().manual_seed(0)
    angles = torch.rand(5, 2, 22, generator=generator) * 0.8
    rotvec = torch.randn(5, 2, 3, generator=generator)
    W = make_transform(axis_angle_to_matrix(rotvec), torch.randn(5, 2, 3, generator=generator) * 0.3)
    hands = torch.tensor([LEFT, RIGHT])
    batched = fk.landmarks(hand_model, angles, W, hands)
    for t in range(5):
        for h in range(2):
            single = fk.landmarks(hand_model, angles[t, h], W[t, h], int(hands[h]))
            torch.testing.assert_close(batched[t, h], single, atol=1e-6, rtol=0)


def test_scale_scales_about_the_wrist(hand_model):
    angles = hand_model.neutral_angles
    W = _translation(0.1, 0.2, 0.3)
    base = fk.landmarks(hand_model, angles, W)
    scaled = fk.landmarks(hand_model, angles, W, scale=torch.tensor(1.1))
    torch.testing.assert_close(scaled - W[:3, 3], (base - W[:3, 3]) * 1.1, atol=1e-6, rtol=0)
    torch.testing.assert_close(fk.landmarks(hand_model.scaled(1.1), angles, W), scaled, atol=1e-6, rtol=0)


def test_gradcheck_fk_and_skinning(hand_model):
    model = hand_model.to(torch.float64)
    sub = torch.arange(0, model.num_vertices, max(1, model.num_vertices // 40))
    generator = torch.Generator().manual_seed(1)
    angles = (torch.rand(2, 22, generator=generator, dtype=torch.float64) * 0.8).requires_grad_()
    rotvec = torch.randn(2, 3, generator=generator, dtype=torch.float64).requires_grad_()
    translation = torch.randn(2, 3, generator=generator, dtype=torch.float64).requires_grad_()
    scale = torch.tensor([0.9, 1.1], dtype=torch.float64, requires_grad=True)

    def run(angles, rotvec, translation, scale):
        W = make_transform(axis_angle_to_matrix(rotvec), translation)
        lm = fk.landmarks(model, angles, W, torch.tensor([0, 1]), scale)
        verts = fk.mesh_vertices(model, angles, W, torch.tensor([0, 1]), scale)[:, sub]
        return lm, verts

    assert torch.autograd.gradcheck(run, (angles, rotvec, translation, scale), eps=1e-6, atol=1e-6)


def test_gradient_finite_at_zero_angles(hand_model):
    angles = torch.zeros(22, requires_grad=True)
    fk.landmarks(hand_model, angles, torch.eye(4)).sum().backward()
    assert torch.isfinite(angles.grad).all()
    assert angles.grad[:20].abs().sum() > 0


def test_save_load_round_trip(hand_model, tmp_path):
    path = tmp_path / "model.json"
    save_hand_model(path, hand_model)
    loaded = load_hand_model(path)
    for key, value in hand_model_to_dict(hand_model).items():
        torch.testing.assert_close(
            torch.as_tensor(hand_model_to_dict(loaded)[key], dtype=torch.float64),
            torch.as_tensor(value, dtype=torch.float64),
            atol=1e-4,
            rtol=1e-6,
            msg=key,
        )
    profile = tmp_path / "profile.json"
    save_hand_model(profile, hand_model, container="hand_model")
    assert "hand_model" in json.loads(profile.read_text())
    torch.testing.assert_close(load_hand_model(profile).mesh_vertices, hand_model.mesh_vertices)


def test_hot3d_profile_differs_from_generic_only_in_user_fields(hot3d_dir, generic_hand_model_path):
    profile = load_hand_model(hot3d_dir / "umetrack_hand_user_profile.json")
    generic = load_hand_model(generic_hand_model_path)
    torch.testing.assert_close(profile.dense_bone_weights, generic.dense_bone_weights)
    torch.testing.assert_close(profile.mesh_triangles, generic.mesh_triangles)
    assert not torch.allclose(profile.joint_rest_positions, generic.joint_rest_positions)
    # Metres after load: a real hand is 0.1-0.25 m from wrist to middle fingertip.
    assert 0.1 < (profile.landmark_rest_positions[2] - profile.landmark_rest_positions[5]).norm() < 0.25


@pytest.fixture
def model_document(hand_model):
    return hand_model_to_dict(hand_model)


def _write(tmp_path, document, name="bad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("joint_limits"), "joint_limits"),
        (lambda d: d.__setitem__("joint_rest_positions", d["joint_rest_positions"][:5]), "joint_rest_positions"),
        (lambda d: d["joint_rotation_axes"][3].__setitem__(1, float("nan")), "joint_rotation_axes"),
        (lambda d: d.__setitem__("mesh_triangles", [[0, 1, 10**6]]), "mesh_triangles"),
        (lambda d: d.__setitem__("landmark_rest_bone_indices", [[99, 0, 0]] * 21), "landmark_rest_bone_indices"),
        (lambda d: d.__setitem__("joint_rotation_axes", [[2.0, 0, 0]] * 22), "joint_rotation_axes"),
        (lambda d: d.__setitem__("dense_bone_weights", [[0.5] * 17] * len(d["mesh_vertices"])), "dense_bone_weights"),
        (lambda d: d.__setitem__("mesh_vertices", "oops"), "mesh_vertices"),
    ],
)
def test_malformed_model_names_file_and_field(model_document, tmp_path, mutate, field):
    mutate(model_document)
    path = _write(tmp_path, model_document)
    with pytest.raises(FormatError) as info:
        load_hand_model(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and field in str(info.value)


def test_model_in_metres_is_rejected_as_wrong_unit(model_document, tmp_path):
    for key in ("joint_rest_positions", "landmark_rest_positions", "mesh_vertices"):
        model_document[key] = (torch.tensor(model_document[key]) / 1000.0).tolist()
    with pytest.raises(FormatError, match="millimetres"):
        load_hand_model(_write(tmp_path, model_document))


def test_truncated_and_garbage_files(model_document, tmp_path):
    text = json.dumps(model_document)
    with pytest.raises(FormatError, match="truncated"):
        load_hand_model(_write(tmp_path, text[: len(text) // 2]))
    with pytest.raises(FormatError, match="malformed"):
        load_hand_model(_write(tmp_path, "{not json"))
    with pytest.raises(FormatError, match="no hand model"):
        load_hand_model(_write(tmp_path, {"something": 1}))
    with pytest.raises(FormatError, match="not found"):
        load_hand_model(tmp_path / "missing.json")


def test_invalid_poses_raise_typed_errors():
    good = torch.eye(4)
    with pytest.raises(InvalidPoseError, match="NaN"):
        HandPose(0, torch.full((22,), float("nan")), good).validated()
    sheared = good.clone()
    sheared[0, 1] = 0.5
    with pytest.raises(InvalidPoseError, match="rigid"):
        HandPose(0, torch.zeros(22), sheared).validated("frame 3 left")
    with pytest.raises(InvalidPoseError, match="20 or 22"):
        HandPose(0, torch.zeros(7), good).validated()

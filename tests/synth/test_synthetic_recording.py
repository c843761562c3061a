"""A synthetic recording end to end: rendered on demand, deterministic, written and read back by the CLI."""

import numpy as np
import pytest
import torch

from umetrack.cli import main
from umetrack.hand import fk
from umetrack.metrics import thumb_index_distance
from umetrack.recording import open_recording
from umetrack.synth.recording import synthetic_recording

FRAMES = 12


@pytest.fixture(scope="module")
def recording(hand_model):
    return synthetic_recording(hand_model, FRAMES, seed=5)


def test_same_seed_same_pixels_other_seed_other_pixels(recording, hand_model):
    again = synthetic_recording(hand_model, FRAMES, seed=5)
    for frame in (0, 7):
        for view in range(4):
            np.testing.assert_array_equal(recording.image(frame, view), again.image(frame, view))
    other = synthetic_recording(hand_model, FRAMES, seed=6)
    assert not np.array_equal(recording.image(3, 0), other.image(3, 0))


def test_frames_render_in_any_order(recording, hand_model):
    fresh = synthetic_recording(hand_model, FRAMES, seed=5)
    backwards = [fresh.image(f, 1) for f in (9, 2)]
    np.testing.assert_array_equal(backwards[0], recording.image(9, 1))
    np.testing.assert_array_equal(backwards[1], recording.image(2, 1))


def test_hands_are_brighter_than_their_surroundings_where_gt_projects(recording):
    """Real images: the pixels under visible GT fingertips differ from a hand-free render."""
    frame = 6
    cameras = recording.cameras(frame)
    model = recording.hand_model.to(torch.float64)
    checked = 0
    for hand, pose in recording.gt_poses(frame).items():
        landmarks = fk.landmarks(model, pose.joint_angles, pose.T_world_from_wrist, hand)
        for view, camera in enumerate(cameras):
            visible = camera.visible(landmarks)
            if int(visible.sum()) < 19:
                continue
            pixels, _ = camera.project_world(landmarks[5:6])  # the wrist: never occluded by its own fingers
            u, v = np.round(pixels[0].numpy()).astype(int)
            image = recording.image(frame, view).astype(float)
            assert image[v - 1 : v + 2, u - 1 : u + 2].mean() > 10  # skin, not the black outside the lens
            checked += 1
    assert checked >= 2


def test_cli_writes_a_recording_that_reads_back_with_exact_labels(hand_model, tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--frames", "8", "--seed", "3", "--views", "2", "--crf", "18"]) == 0
    assert "8 frames, 2 views" in capsys.readouterr().out
    written = open_recording(tmp_path / "recording_00.mp4")
    reference = synthetic_recording(hand_model, 8, seed=3, num_views=2)
    assert written.num_frames == 8 and written.num_views == 2
    np.testing.assert_allclose(written.T_world_from_camera, reference.T_world_from_camera, atol=1e-9)
    np.testing.assert_allclose(written.gt.joint_angles, reference.gt.joint_angles, atol=1e-9)
    np.testing.assert_allclose(written.gt.T_world_from_wrist, reference.gt.T_world_from_wrist, atol=1e-9)
    np.testing.assert_array_equal(written.pinch.frames, reference.pinch.frames)
    assert written.camera_models == reference.camera_models
    difference = np.mean([np.abs(written.image(f, v).astype(int) - reference.image(f, v).astype(int)).mean() for f in (0, 7) for v in (0, 1)])
    assert difference < 4.0  # codec tolerance at CRF 18 (sensor noise is what the codec smooths)


def test_pinch_labels_follow_the_rendered_hands_tip_distance(recording):
    landmarks = np.stack([
        np.stack([fk.landmarks(recording.hand_model.to(torch.float64), recording.gt.pose(f, h).joint_angles,
                               recording.gt.pose(f, h).T_world_from_wrist, h).numpy() for h in (0, 1)])
        for f in range(FRAMES)
    ])  # fmt: skip
    distance = thumb_index_distance(landmarks)
    assert (distance[recording.pinch.frames] < 0.02).all()
    assert not recording.pinch.frames[distance > 0.02].any()


def test_cli_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--frames", "0"])
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--views", "7"])

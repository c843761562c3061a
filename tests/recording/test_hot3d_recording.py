"""HOT3D Quest 3 recording folder -> Recording (the public 15-frame sample; skipped when absent)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from umetrack.camera import read_hot3d_camera_models
from umetrack.errors import FormatError
from umetrack.recording import ImagesUnavailableError, open_recording, read_hot3d_recording
from umetrack.recording.hot3d import read_hand_pose_trajectory, read_headset_trajectory


def test_sample_reads_with_gt_and_cameras(hot3d_dir):
    recording = open_recording(hot3d_dir)
    assert recording.name == "P0002_273c2819"
    assert recording.num_frames == 15 and recording.num_views == 2
    assert recording.view_labels == ("1201-1", "1201-2")
    assert recording.gt is not None and recording.gt.present.all()  # both hands in every frame
    assert recording.hand_model is not None and recording.pinch is None
    assert recording.camera_angles_deg == (0.0, 0.0)

    headset = read_headset_trajectory(hot3d_dir / "headset_trajectory.csv")
    devices = read_hot3d_camera_models(hot3d_dir / "camera_models.json")
    poses = read_hand_pose_trajectory(hot3d_dir / "umetrack_hand_pose_trajectory.jsonl")
    np.testing.assert_array_equal(recording.timestamps_ns, headset.timestamps_ns)
    for frame, timestamp in enumerate(recording.timestamps_ns):
        for camera in recording.cameras(frame):
            expected = devices[camera.label].in_world(headset.at(int(timestamp)))
            np.testing.assert_allclose(camera.T_world_from_camera.numpy(), expected.T_world_from_camera.numpy(), atol=1e-12)
            assert camera.model == devices[camera.label].model
        for hand, pose in recording.gt_poses(frame).items():
            stored = poses[int(timestamp)][hand]
            np.testing.assert_allclose(pose.T_world_from_wrist.numpy(), stored.T_world_from_wrist.numpy(), atol=1e-12)
            np.testing.assert_allclose(pose.joint_angles.numpy(), stored.joint_angles.numpy(), atol=1e-12)


def test_sample_has_no_images(hot3d_dir):
    recording = read_hot3d_recording(hot3d_dir)
    assert not recording.has_images
    assert recording.frames.view_sizes == ((1280, 1024), (1280, 1024))
    with pytest.raises(ImagesUnavailableError, match="VRS"):
        recording.image(0, 0)


def test_folder_without_camera_models(hot3d_dir, tmp_path):
    folder = tmp_path / "aria_like"
    shutil.copytree(hot3d_dir, folder)
    (folder / "camera_models.json").unlink()
    with pytest.raises(FormatError, match="not found") as error:
        open_recording(folder)
    assert error.value.source == str(folder / "camera_models.json")


def test_hand_poses_at_other_timestamps(hot3d_dir, tmp_path):
    folder = tmp_path / "shifted"
    shutil.copytree(hot3d_dir, folder)
    path = folder / "umetrack_hand_pose_trajectory.jsonl"
    path.write_text(path.read_text().replace('"timestamp_ns": 4312', '"timestamp_ns": 9912'))
    with pytest.raises(FormatError, match="no timestamp matches") as error:
        read_hot3d_recording(folder)
    assert error.value.source == str(path)


def test_malformed_headset_trajectory(hot3d_dir, tmp_path):
    folder = tmp_path / "bad_csv"
    shutil.copytree(hot3d_dir, folder)
    path = folder / "headset_trajectory.csv"
    lines = path.read_text().splitlines()
    fields = lines[3].split(",")
    fields[4] = "nan"
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as error:
        read_hot3d_recording(folder)
    assert error.value.source == str(path) and error.value.field == "row 4.t_wo_z[m]"

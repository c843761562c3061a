"""UmeTrack raw data: write -> read round trip, random access, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from umetrack.errors import FormatError
from umetrack.recording import VideoFrameSource, open_recording, read_umetrack_raw, write_umetrack_raw, write_video
from umetrack.recording.umetrack_raw import raw_paths

MAX_MEAN_ABS_ERROR = 1.0
"""Gray levels, mean over a frame; measured ~0.4 with the default CRF 10 on the test pattern."""


@pytest.fixture
def written(tmp_path, make_recording):
    recording = make_recording()
    video, labels = write_umetrack_raw(recording, tmp_path)
    return recording, video, labels


def test_round_trip_is_exact_for_labels_and_close_for_pixels(written):
    original, video, labels = written
    assert video.name == "recording_00.mp4" and labels.name == "recording_00.json"
    with read_umetrack_raw(video) as back:
        assert back.name == original.name
        assert back.num_frames == original.num_frames and back.num_views == original.num_views
        np.testing.assert_array_equal(back.timestamps_ns, original.timestamps_ns)
        assert back.view_labels == original.view_labels
        assert back.camera_models == original.camera_models
        assert back.camera_angles_deg == original.camera_angles_deg
        np.testing.assert_array_equal(back.headset_tracked, original.headset_tracked)
        np.testing.assert_allclose(back.T_world_from_camera, original.T_world_from_camera, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(back.gt.joint_angles, original.gt.joint_angles)
        np.testing.assert_allclose(back.gt.T_world_from_wrist, original.gt.T_world_from_wrist, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(back.gt.confidence, original.gt.confidence)
        np.testing.assert_array_equal(back.pinch.frames, original.pinch.frames)
        if original.hand_model is not None:
            np.testing.assert_allclose(back.hand_model.mesh_vertices, original.hand_model.mesh_vertices, rtol=0, atol=1e-7)
            np.testing.assert_allclose(back.hand_model.joint_rest_positions, original.hand_model.joint_rest_positions, rtol=0, atol=1e-7)

        errors = np.array([
            np.abs(back.image(i, v).astype(np.int16) - original.image(i, v)).mean()
            for i in range(original.num_frames)
            for v in range(original.num_views)
        ])  # fmt: skip
        print(f"pixel round trip: mean abs error {errors.mean():.3f} gray levels (worst frame {errors.max():.3f})")
        assert errors.max() < MAX_MEAN_ABS_ERROR
        assert back.image(0, 0).shape == (original.camera_models[0].height, original.camera_models[0].width)
        assert back.image(0, 0).dtype == np.uint8


def test_per_frame_accessors_after_round_trip(written):
    original, video, _ = written
    with open_recording(video) as back:
        assert back.cameras(5) is None  # frame 5 was written untracked
        cameras = back.cameras(7)
        assert [c.label for c in cameras] == ["cam0", "cam1"]
        np.testing.assert_allclose(cameras[1].T_world_from_camera.numpy(), original.T_world_from_camera[7, 1], atol=1e-12)
        assert set(back.gt_poses(1)) == {0}  # right hand absent in frames 0-2
        pose = back.gt_poses(10)[1]
        assert pose.hand_index == 1 and pose.confidence == 1.0
        np.testing.assert_allclose(pose.T_world_from_wrist.numpy(), original.gt.T_world_from_wrist[10, 1], atol=1e-12)
        assert [(e.start, e.end) for e in back.pinch.events(1)] == [(12, 15), (17, 20)]


def test_random_access_matches_sequential_decoding(written):
    _, video, _ = written
    with read_umetrack_raw(video) as sequential:
        reference = [sequential.images(i) for i in range(sequential.num_frames)]
    with read_umetrack_raw(video, cache_frames=0) as scrubbing:  # no cache: every read really decodes
        for frame in (17, 3, 17, 0, 19, 14, 15, 2):
            for view, image in enumerate(scrubbing.images(frame)):
                np.testing.assert_array_equal(image, reference[frame][view], err_msg=f"frame {frame} view {view}")


def test_cached_frames_are_read_only(written):
    _, video, _ = written
    with read_umetrack_raw(video) as back:
        with pytest.raises(ValueError):
            back.image(3, 0)[0, 0] = 1


def test_out_of_range_frame_is_an_index_error(written):
    _, video, _ = written
    with read_umetrack_raw(video) as back:
        with pytest.raises(IndexError):
            back.image(20, 0)
        with pytest.raises(IndexError):
            back.cameras(-1)


def test_writer_replaces_existing_files_and_drops_a_stale_pinch_file(tmp_path, make_recording):
    import dataclasses

    recording = make_recording()
    write_umetrack_raw(recording, tmp_path / "take")
    assert (tmp_path / "take.pinch.json").is_file()
    write_umetrack_raw(dataclasses.replace(recording, pinch=None), tmp_path / "take.mp4")
    assert not (tmp_path / "take.pinch.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.json", "take.mp4"]  # no temporaries left
    with read_umetrack_raw(tmp_path / "take") as back:
        assert back.pinch is None


def test_odd_view_width_is_padded_and_cropped_back(tmp_path, make_recording):
    recording = make_recording(num_frames=4, num_views=1, width=81, height=61)
    video, _ = write_umetrack_raw(recording, tmp_path)
    with read_umetrack_raw(video) as back:
        assert back.image(2, 0).shape == (61, 81)
        assert np.abs(back.image(2, 0).astype(int) - recording.image(2, 0)).mean() < MAX_MEAN_ABS_ERROR


# ---------------------------------------------------------------------------------------------
# Bad input: every case is a FormatError naming the file (and the field where there is one).


def _edit_labels(labels_path, edit):
    document = json.loads(labels_path.read_text())
    edit(document)
    labels_path.write_text(json.dumps(document))


def test_truncated_video(written):
    _, video, labels = written
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError) as error:
        read_umetrack_raw(labels)
    assert error.value.source == str(video)


def test_video_with_fewer_frames_than_the_header_lists(tmp_path, make_recording):
    """A faststart mp4 (index first) cut short: the header still lists every frame."""
    import av

    recording = make_recording()
    path = tmp_path / "faststart.mp4"
    container = av.open(str(path), "w", options={"movflags": "+faststart"})
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 320, 120, "yuv420p"
    for i in range(recording.num_frames):
        frame = av.VideoFrame.from_ndarray(np.hstack(recording.images(i)), format="gray")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(FormatError) as error:
        VideoFrameSource(path, [(160, 120), (160, 120)])
    assert error.value.source == str(path)


def test_frame_count_mismatch(written):
    original, video, labels = written
    write_video(video, (original.images(i) for i in range(original.num_frames - 1)), fps=30)
    with pytest.raises(FormatError, match="19 frames") as error:
        read_umetrack_raw(labels)
    assert error.value.source == str(video) and error.value.field == "frames"


def test_video_of_the_wrong_size(written):
    original, video, labels = written
    write_video(video, ([image[:, :-2] for image in original.images(i)] for i in range(original.num_frames)), fps=30)
    with pytest.raises(FormatError, match="calibration") as error:
        read_umetrack_raw(labels)
    assert error.value.source == str(video)


def test_missing_video(written):
    _, video, labels = written
    video.unlink()
    with pytest.raises(FormatError, match="not found") as error:
        read_umetrack_raw(labels)
    assert error.value.source == str(video)


def test_malformed_labels_json(written):
    _, video, labels = written
    labels.write_text(labels.read_text()[:-100])
    with pytest.raises(FormatError, match="JSON") as error:
        read_umetrack_raw(video)
    assert error.value.source == str(labels)


def test_missing_camera_key(written):
    _, video, labels = written
    _edit_labels(labels, lambda d: d["cameras"][1].pop("fx"))
    with pytest.raises(FormatError) as error:
        read_umetrack_raw(video)
    assert error.value.source == str(labels) and error.value.field == "cameras[1].fx"


@pytest.mark.parametrize("key", ["camera_to_world_transforms", "wrist_transforms", "joint_angles"])
def test_nan_in_labels(written, key):
    _, video, labels = written

    def poison(document):
        document[key][7][1][0] = [float("nan")] * len(document[key][7][1][0]) if key != "joint_angles" else float("nan")

    _edit_labels(labels, poison)
    with pytest.raises(FormatError, match="NaN") as error:
        read_umetrack_raw(video)
    assert error.value.source == str(labels) and error.value.field == key


def test_non_rigid_camera_transform(written):
    _, video, labels = written

    def skew(document):
        document["camera_to_world_transforms"][9][0][0][0] *= 1.5

    _edit_labels(labels, skew)
    with pytest.raises(FormatError, match="rigid") as error:
        read_umetrack_raw(video)
    assert error.value.field == "camera_to_world_transforms[9, 0]"


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d.pop("hand_confidences"), "hand_confidences"),
        (lambda d: d.__setitem__("joint_angles", d["joint_angles"][:-1]), "joint_angles"),
        (lambda d: d.__setitem__("camera_angles", [0.0]), "camera_angles"),
        (lambda d: d.__setitem__("cameras", {}), "cameras"),
        (lambda d: d["cameras"][0].__setitem__("DistortionModel", "Kannala"), "cameras[0].DistortionModel"),
        (lambda d: d.__setitem__("view_labels", [1, 2]), "view_labels"),
        (lambda d: d.__setitem__("timestamps_ns", d["timestamps_ns"][::-1]), "timestamps_ns"),
    ],
)
def test_malformed_label_fields(written, edit, field):
    _, video, labels = written
    _edit_labels(labels, edit)
    with pytest.raises(FormatError) as error:
        read_umetrack_raw(video)
    assert error.value.source == str(labels) and error.value.field == field


def test_labels_that_are_not_an_object(written):
    _, video, labels = written
    labels.write_text("[1, 2, 3]")
    with pytest.raises(FormatError) as error:
        read_umetrack_raw(video)
    assert error.value.source == str(labels)


@pytest.mark.parametrize(
    "content, field",
    [
        ({"format": "umetrack-studio.pinch", "version": 1, "num_frames": 19, "left": [], "right": []}, "num_frames"),
        ({"format": "umetrack-studio.pinch", "version": 1, "num_frames": 20, "left": [[5, 3]], "right": []}, "left"),
        ({"format": "umetrack-studio.pinch", "version": 1, "num_frames": 20, "left": [[0, 5], [4, 8]], "right": []}, "left"),
        ({"format": "umetrack-studio.pinch", "version": 1, "num_frames": 20, "left": []}, "right"),
        ({"format": "umetrack-studio.pinch", "version": 2, "num_frames": 20, "left": [], "right": []}, "version"),
    ],
)
def test_malformed_pinch_side_file(written, content, field):
    _, video, _ = written
    pinch_path = raw_paths(video)[2]
    pinch_path.write_text(json.dumps(content))
    with pytest.raises(FormatError) as error:
        read_umetrack_raw(video)
    assert error.value.source == str(pinch_path) and error.value.field == field


def test_a_copy_under_another_name_reads_the_same(written, tmp_path):
    _, video, labels = written
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copy(video, other / "recording_07.mp4")
    shutil.copy(labels, other / "recording_07.json")
    with open_recording(other / "recording_07") as back:
        assert back.name == "recording_07" and back.pinch is None

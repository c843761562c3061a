"""Live sources against real frames: the simulated headset renders the synthetic world on the wall
clock; OpenCVCameras reads real ``cv2.VideoCapture`` streams from video files (which play at their
own frame rate, like cameras) with a rig file; the recorder writes what they deliver."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from umetrack.errors import FormatError
from umetrack.live import (
    LiveRecorder,
    LiveSourceError,
    OpenCVCameras,
    Outage,
    SimulatedHeadset,
    live_info_path,
    read_live_info,
)
from umetrack.recording import open_recording, write_umetrack_raw, write_video
from umetrack.track.tracker import Reason, Tracker, TrackerOptions

FPS = 30.0
WIDTH, HEIGHT = 160, 120


def _frames_until(source, last_index: int, timeout_s: float = 30.0):
    frames = []
    deadline = time.monotonic() + timeout_s
    while (not frames or frames[-1].index < last_index) and time.monotonic() < deadline:
        frame = source.next_frame()
        if frame is not None:
            frames.append(frame)
    return frames


def test_simulated_headset_keeps_real_time_and_drops_frames_instead_of_queueing(hand_model):
    source = SimulatedHeadset(hand_model, seed=4, num_views=2, loop_s=2.0)
    try:
        started = time.monotonic()
        first = source.next_frame()
        frames = [first] + _frames_until(source, 20)
        assert first.index <= 1  # the clock starts with the first frame (set-up is not on it)
        indices = np.array([f.index for f in frames])
        assert (np.diff(indices) > 0).all()
        assert all(f.timestamp_ns == round(f.index * 1e9 / FPS) for f in frames)
        # Real time: the frame handed out is the one the wall clock is at (rendering takes < 0.2 s).
        elapsed = time.monotonic() - started
        assert abs(frames[-1].index / FPS - elapsed) < 0.25
        # A consumer that stalls gets the newest frame next, not a backlog of the frames it missed.
        before = source.next_frame()
        time.sleep(0.5)
        after = source.next_frame()
        following = source.next_frame()
        assert after.index - before.index >= 0.5 * FPS - 1
        assert following.index - after.index <= 0.25 * FPS
        assert source.frames_dropped >= after.index - before.index - 1
        # Every view has an image, the posed rig and both hands' ground truth.
        assert all(image is not None and image.shape == (480, 640) and image.dtype == np.uint8 for image in after.images)
        assert after.T_world_from_camera.shape == (2, 4, 4)
        assert sorted(after.gt) == [0, 1]
        assert len(after.cameras(source.rig)) == 2
    finally:
        source.close()


def test_simulated_unplug_marks_the_view_missing_for_exactly_the_window(hand_model):
    source = SimulatedHeadset(hand_model, seed=5, num_views=2, loop_s=2.0, outages=(Outage(view=1, start_s=0.3, duration_s=0.4),))
    try:
        window = Outage(1, 0.3, 0.4).frames(FPS)
        assert window == range(9, 21)
        frames = _frames_until(source, 27)
        inside = [f for f in frames if f.index in window]
        outside = [f for f in frames if f.index not in window]
        assert inside and any(f.index >= window.stop for f in outside)
        assert all(f.missing_views == (1,) and f.images[0] is not None for f in inside)
        assert all("disconnected" in f.view_errors[1] and f.view_errors[0] is None for f in inside)
        assert all(f.missing_views == () and f.view_errors == (None, None) for f in outside)
        # Unplugging while running starts with the next frame and ends by itself.
        outage = source.unplug(0, 0.6)  # long enough that a loaded machine cannot drop every frame of it
        later = _frames_until(source, outage.frames(FPS).stop + 3)
        assert outage.frames(FPS).start >= frames[-1].index + 1
        assert all((0 in f.missing_views) == (f.index in outage.frames(FPS)) for f in later)
        assert any(0 in f.missing_views for f in later) and later[-1].missing_views == ()
    finally:
        source.close()


# -- OpenCV cameras on video files --------------------------------------------------------------


def _video(path, num_frames: int, level: int, fps: float = FPS):
    """A gray video whose frame i shows ``level`` with a bright bar at column 4 i (so frames differ)."""
    frames = []
    for i in range(num_frames):
        image = np.full((HEIGHT, WIDTH), level, np.uint8)
        image[:, (4 * i) % WIDTH : (4 * i) % WIDTH + 4] = 250
        frames.append((image,))
    write_video(path, frames, fps, crf=18)
    return path


def _intrinsics(fx: float = 120.0) -> dict:
    return {"ImageSizeX": WIDTH, "ImageSizeY": HEIGHT, "fx": fx, "fy": 120.0, "cx": 79.5, "cy": 59.5, "DistortionModel": "PinholePlane"}


def _rig(tmp_path, devices, intrinsics=None, fps: float = FPS):
    document = {
        "format": "umetrack-studio.rig",
        "version": 1,
        "fps": fps,
        "cameras": [
            {
                "label": f"cam{i}",
                "device": device,
                "intrinsics": intrinsics or _intrinsics(),
                "T_rig_from_camera": {"quaternion_wxyz": [1, 0, 0, 0], "translation_xyz": [0.06 * i, 0, 0]},
            }
            for i, device in enumerate(devices)
        ],
    }
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(document))
    return path


def test_opencv_camera_whose_stream_ends_is_missing_then_reconnects(tmp_path):
    _video(tmp_path / "long.mp4", 150, 60)
    _video(tmp_path / "short.mp4", 6, 120)  # 0.2 s: "unplugged" when it ends, back when reopened
    source = OpenCVCameras(_rig(tmp_path, ["long.mp4", "short.mp4"]), stall_ms=300, backoff_s=0.1)
    try:
        assert source.rig.labels == ("cam0", "cam1")
        np.testing.assert_allclose(source.rig.cameras[1].T_device_from_camera[:3, 3].numpy(), [0.06, 0, 0])
        frames = [f for f in (source.next_frame() for _ in range(45)) if f is not None]
        assert len(frames) >= 40
        assert all(f.images[0] is not None for f in frames)  # the other camera keeps delivering
        present = [f.images[1] is not None for f in frames]
        first_gap = present.index(False)
        assert any(present[first_gap:])  # reconnected after the gap
        missing = [f for f in frames if f.images[1] is None]
        assert all("read failed" in f.view_errors[1] and "reconnecting" in f.view_errors[1] for f in missing)
        assert source.reconnects[1] >= 1 and source.reconnects[0] == 0
        image = frames[0].images[0]
        assert image.shape == (HEIGHT, WIDTH) and image.dtype == np.uint8
        assert abs(float(np.median(image)) - 60) < 4  # the file's own pixels (gray level 60)
        assert (np.diff([f.timestamp_ns for f in frames]) > 0).all()
    finally:
        source.close()


def test_opencv_camera_whose_file_is_deleted_stays_missing_until_it_is_back(tmp_path):
    _video(tmp_path / "long.mp4", 150, 60)
    short = _video(tmp_path / "short.mp4", 6, 120)
    source = OpenCVCameras(_rig(tmp_path, ["long.mp4", "short.mp4"]), stall_ms=300, backoff_s=0.05, max_backoff_s=0.2)
    try:
        short.unlink()
        frames = [source.next_frame() for _ in range(30)]
        assert frames[-1].images[1] is None and "cannot open" in frames[-1].view_errors[1]
        assert all(f.images[0] is not None for f in frames)
        _video(short, 30, 120)
        back = [source.next_frame() for _ in range(20)]
        assert any(f.images[1] is not None for f in back)
    finally:
        source.close()


def test_opencv_camera_that_delivers_too_slowly_is_reported_stalled(tmp_path):
    _video(tmp_path / "long.mp4", 150, 60)
    _video(tmp_path / "slow.mp4", 10, 120, fps=2.0)  # a frame every 0.5 s
    source = OpenCVCameras(_rig(tmp_path, ["long.mp4", "slow.mp4"]), stall_ms=200)
    try:
        frames = [source.next_frame() for _ in range(36)]
        stalled = [f for f in frames if f.images[1] is None]
        assert stalled and any(f.images[1] is not None for f in frames[10:])
        assert all("stalled (no frame for" in f.view_errors[1] for f in stalled)
        assert all(f.images[0] is not None for f in frames)
    finally:
        source.close()


def test_bad_rig_files_and_devices_give_clear_errors(tmp_path):
    _video(tmp_path / "long.mp4", 10, 60)
    bad = _intrinsics(fx=math.nan)
    with pytest.raises(FormatError, match=r"rig\.json.*cameras\[0\]\.intrinsics.*fx.*NaN"):
        OpenCVCameras(_rig(tmp_path, ["long.mp4"], intrinsics=bad))
    with pytest.raises(LiveSourceError, match=r"camera 1 \(cam1\): cannot open .*missing\.mp4"):
        OpenCVCameras(_rig(tmp_path, ["long.mp4", "missing.mp4"]))
    with pytest.raises(LiveSourceError, match="camera 0 .* delivers 160x120 frames, the rig file calibrates 320x120"):
        OpenCVCameras(_rig(tmp_path, ["long.mp4"], intrinsics=dict(_intrinsics(), ImageSizeX=320)))
    rig = _rig(tmp_path, ["long.mp4"])
    document = json.loads(rig.read_text())
    document["cameras"][0]["T_rig_from_camera"]["quaternion_wxyz"] = [2, 0, 0, 0]
    rig.write_text(json.dumps(document))
    with pytest.raises(FormatError, match="T_rig_from_camera.*unit quaternion"):
        OpenCVCameras(rig)


# -- recording ------------------------------------------------------------------------------------


def test_recorder_writes_a_recording_the_player_opens_with_missing_views_missing(hand_model, tmp_path):
    source = SimulatedHeadset(hand_model, seed=6, num_views=2, loop_s=2.0, outages=(Outage(view=0, start_s=0.2, duration_s=0.3),))
    recorder = LiveRecorder(source.rig, tmp_path / "live_00", source.name, has_ground_truth=True)
    try:
        frames = _frames_until(source, 24)
        for frame in frames:
            assert recorder.add(frame)
        video = recorder.finish()
    finally:
        source.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live_00.json", "live_00.live.json", "live_00.mp4"]
    info = read_live_info(video)
    with open_recording(video) as recording:
        assert recording.num_frames == len(frames) == info.num_frames
        np.testing.assert_array_equal(recording.timestamps_ns, [f.timestamp_ns for f in frames])
        np.testing.assert_array_equal(info.source_frame_index, [f.index for f in frames])
        expected_missing = np.array([[f.images[v] is None for v in range(2)] for f in frames])
        np.testing.assert_array_equal(info.missing, expected_missing)
        assert expected_missing[:, 0].any() and not expected_missing[:, 1].any()
        np.testing.assert_array_equal(recording.missing_views, expected_missing)
        for i, frame in enumerate(frames):
            images = recording.images(i)
            if frame.images[0] is None:
                assert images[0] is None and recording.image(i, 0) is None  # not the video's black stand-in
                filled = recording.filled_images(i)[0]
                assert filled.shape == (480, 640) and filled.max() == 0  # pictures and re-encoding get black
            else:
                assert np.abs(images[0].astype(int) - frame.images[0]).mean() < 3
            np.testing.assert_allclose(recording.T_world_from_camera[i], frame.T_world_from_camera, atol=1e-6)
            np.testing.assert_allclose(recording.gt.T_world_from_wrist[i, 1], frame.gt[1].T_world_from_wrist.numpy(), atol=1e-6)
        assert recording.hand_model is not None
        # Saving it elsewhere (File ▸ Save recording as…) keeps the missing views missing.
        copy, _labels = write_umetrack_raw(recording, tmp_path / "copy" / "live_00_copy")
    assert info.frames_dropped == 0 and live_info_path(video).exists()
    with open_recording(copy) as again:
        np.testing.assert_array_equal(again.missing_views, expected_missing)
        assert again.images(int(np.flatnonzero(expected_missing[:, 0])[0]))[0] is None
    assert read_live_info(copy).source == "re-saved recording live_00"


def _record(source, out, last_index: int):
    recorder = LiveRecorder(source.rig, out, source.name, has_ground_truth=True)
    try:
        for frame in _frames_until(source, last_index):
            assert recorder.add(frame)
        return recorder.finish()
    finally:
        source.close()


def test_views_unplugged_while_recording_are_missing_to_the_tracker(hand_model, steady_light_network, tmp_path):
    """The video's stand-in for an unplugged camera decodes to near-black whose H.264 ringing (from the
    view beside it) can exceed the tracker's black threshold, so the tracker would crop a black
    picture; the side file makes it a missing view."""
    outage = Outage(view=0, start_s=0.2, duration_s=0.3)
    source = SimulatedHeadset(hand_model, seed=6, num_views=2, loop_s=2.0, outages=(outage,))
    video = _record(source, tmp_path / "live_02", 20)
    with open_recording(video) as recording:
        missing = recording.missing_views
        assert missing[:, 0].any() and not missing[:, 0].all() and not missing[:, 1].any()
        tracker = Tracker(steady_light_network, recording.hand_model, TrackerOptions(crops="oracle"), camera_angles_deg=recording.camera_angles_deg)
        tracked_from_view_0 = False
        for i in range(recording.num_frames):
            images, present = recording.images(i), recording.gt_poses(i)
            assert [image is None for image in images] == list(missing[i])
            result = tracker.step(images, recording.cameras(i), present)
            for hand in present:
                views = result.hands[hand].views
                if missing[i, 0]:
                    assert 0 not in views  # tracked from the other camera only, or too few views
                    assert result.hands[hand].reason in (Reason.TRACKED, Reason.TOO_FEW_VIEWS, Reason.LOW_CONFIDENCE)
                else:
                    tracked_from_view_0 |= 0 in views
        assert tracked_from_view_0  # the hands are in view 0's sight: only the missing image keeps it out


def test_recorder_abort_leaves_nothing_behind(hand_model, tmp_path):
    source = SimulatedHeadset(hand_model, seed=6, num_views=1, loop_s=1.0)
    recorder = LiveRecorder(source.rig, tmp_path / "live_01", source.name)
    try:
        recorder.add(source.next_frame())
    finally:
        source.close()
    recorder.abort()
    assert list(tmp_path.iterdir()) == []

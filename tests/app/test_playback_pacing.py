"""What keeps playback cheap: landmarks computed once per frame for every panel, playback paced by
the display, overlays put on screen with their frame's images."""

import numpy as np
import pytest
import torch

from app.overlays import GROUND_TRUTH
from app.session import Session
from umetrack.hand import fk
from umetrack.recording import write_umetrack_raw

pytestmark = pytest.mark.gui


@pytest.fixture
def video(make_recording, tmp_path):
    recording = make_recording(num_frames=20, num_views=2, width=160, height=120)
    path, _ = write_umetrack_raw(recording, tmp_path / "recording_00")
    return recording, path


def test_displayed_landmarks_are_computed_once_per_frame_and_match_fk(video):
    recording, path = video
    session = Session()
    session.open_recording(path)
    session.seek(8)
    first = session.displayed_landmarks(0)
    assert session.displayed_landmarks(0) is first  # cached: every panel shares one FK call
    assert not first.flags.writeable
    pose = recording.gt.pose(8, 0)
    expected = fk.landmarks(recording.hand_model.to(torch.float64), pose.joint_angles, pose.T_world_from_wrist, 0).numpy()
    np.testing.assert_allclose(first, expected, atol=1e-9)
    session.seek(9)
    assert session.displayed_landmarks(0) is not first
    assert session.displayed_landmarks(1) is not None
    session.seek(1)
    assert session.displayed_landmarks(1) is None  # right hand absent in frames 0-2


def test_manual_pose_edits_refresh_the_cached_landmarks():
    session = Session()
    before = session.displayed_landmarks(0)
    session.set_joint_angle(0, 6, 1.2)
    after = session.displayed_landmarks(0)
    assert np.abs(after - before).max() > 0.005


def test_playing_from_the_first_frame_survives_an_early_timer_tick(main_window, video, qtbot):
    _recording, path = video
    main_window.open_recording(path)
    transport = main_window.transport
    transport.play(1)
    transport._tick()  # within the first frame interval: the clock still says frame 0
    assert transport.playing and main_window.session.playhead == 0
    transport.pause()


def test_playback_waits_for_the_frame_on_screen_before_moving_on(main_window, video, qtbot):
    import time

    from app.panels.transport import MAX_DISPLAY_WAIT_MS

    _recording, path = video
    window = main_window
    window.open_recording(path)
    qtbot.waitUntil(lambda: window.views.displayed_frame == 0, timeout=5000)
    window.views.loader.loaded.disconnect(window.views._on_loaded)  # frames decode but never show
    window.transport.play(1)
    qtbot.waitUntil(lambda: window.session.playhead > 0, timeout=2000)
    asked, since = window.session.playhead, time.monotonic()
    qtbot.wait(250)  # 7 frame intervals at 30 fps
    if time.monotonic() - since < 0.9 * MAX_DISPLAY_WAIT_MS / 1000:  # a starved test process may sleep past the give-up time
        assert window.session.playhead == asked  # not shown yet: playback holds instead of piling up moves
    qtbot.waitUntil(lambda: window.session.playhead > asked, timeout=2000)  # gives up waiting after MAX_DISPLAY_WAIT_MS
    window.transport.pause()


def test_a_frame_shown_late_moves_playback_on_at_once(main_window, video, qtbot):
    """When the frame asked for reaches the screen after its successor was due, playback asks for the
    successor right then, not at the timer's next tick; and the timer is set for the next frame's due time."""
    from app.panels.transport import CATCH_UP_FRAMES

    _recording, path = video
    window = main_window
    window.open_recording(path)
    qtbot.waitUntil(lambda: window.views.displayed_frame == 0, timeout=5000)
    window.views.loader.loaded.disconnect(window.views._on_loaded)  # frames decode but never show
    transport = window.transport
    transport.play(1)
    interval_ms = 1000.0 / (transport.fps * transport.speed)
    assert transport.timer.isSingleShot() and 0 < transport.timer.remainingTime() <= interval_ms + 1
    qtbot.waitUntil(lambda: window.session.playhead > 0, timeout=2000)
    asked = window.session.playhead
    assert transport._awaiting_display == asked
    qtbot.wait(int(3 * interval_ms))  # its successors fall due while it is not shown
    assert window.session.playhead == asked

    def clock_ahead_by(frames: int) -> None:
        transport._start_frame += window.session.playhead + frames - transport._clock_frame()

    clock_ahead_by(2)
    window.views.frame_shown.emit(asked)  # shown now, late: moves on within the display's own call,
    assert window.session.playhead == asked + 1  # to the next frame (a little behind: nothing skipped)
    clock_ahead_by(CATCH_UP_FRAMES + 3)  # far behind: skips to the clock's frame to stay in real time
    window.views.frame_shown.emit(asked + 1)
    assert abs(window.session.playhead - (asked + 1 + CATCH_UP_FRAMES + 3)) <= 1 < window.session.num_frames - window.session.playhead
    transport.pause()
    assert not transport.timer.isActive()


def test_overlays_reach_the_screen_with_their_images(main_window, video, qtbot):
    _recording, path = video
    window = main_window
    window.open_recording(path)
    qtbot.waitUntil(lambda: window.views.displayed_frame == 0, timeout=5000)
    window.session.seek(10)
    computed = window.views.overlay_pixels[(0, 0)]  # known at once (for inspection and tests)
    qtbot.waitUntil(lambda: window.views.displayed_frame == 10, timeout=5000)
    drawn = window.views.overlay_items[0].segments((GROUND_TRUTH, 0))
    finite = np.isfinite(computed).all(1)
    assert len(drawn) > 0 and set(np.round(drawn[:, 0], 6)) <= set(np.round(computed[finite, 0], 6))


def test_overlay_pixels_computed_by_chunk_match_a_projection_of_the_frame(main_window):
    """In playback the views project a chunk of frames at once (``FrameChunks``); every frame (played
    forwards, backwards, or sought to) must land on the pixels a projection of that frame alone gives."""
    from app.overlays import pixels_in_view
    from app.session import FRAME_CHUNK, SAMPLE_RECORDING

    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    session, views = window.session, window.views
    checked = 0
    frames = [*range(5, FRAME_CHUNK + 12), *range(140, 125, -1), 250, session.num_frames - 1]
    for frame in frames:
        session.seek(frame)
        cameras = session.recording.cameras(frame)
        for hand in (0, 1):
            landmarks = session.displayed_landmarks(hand)
            for view in range(session.recording.num_views):
                if landmarks is None or cameras is None:
                    assert (view, hand) not in views.overlay_pixels
                    continue
                expected = pixels_in_view(cameras[view], torch.tensor(landmarks))
                np.testing.assert_allclose(views.overlay_pixels[(view, hand)], expected, atol=1e-6)  # NaN where not visible
                checked += 1
    assert checked > 20


def test_frame_chunks_compute_ahead_in_playback_and_one_frame_for_a_seek():
    from app.session import FrameChunks

    computed = []

    def compute(_key, start, stop):
        computed.append((start, stop))
        return np.arange(start, stop) * 10

    chunks = FrameChunks(compute, keep=2, size=4)
    key = (object(),)
    assert chunks.get(key, 50, 100) == 500 and computed == [(50, 51)]  # a seek: that frame only
    assert [chunks.get(key, frame, 100) for frame in (51, 52, 53, 54, 55)] == [510, 520, 530, 540, 550]
    assert computed == [(50, 51), (51, 55), (55, 59)]  # playing forwards: 4 frames ahead
    assert chunks.get(key, 54, 100) == 540 and chunks.get(key, 53, 100) == 530 and len(computed) == 3  # kept
    chunks.get(key, 20, 100)
    chunks.get(key, 19, 100)
    assert computed[-2:] == [(20, 21), (16, 20)]  # backwards: the 4 frames before
    assert chunks.get(key, 98, 100) == 980 and chunks.get(key, 99, 100) == 990 and computed[-1] == (99, 100)  # clipped
    assert chunks.get((object(),), 99, 100) == 990 and computed[-1] == (99, 100) and len(computed) == 8  # new key: recomputed


def test_frame_chunks_prefetch_the_next_chunk_in_the_background_during_playback():
    import threading

    from app.session import FrameChunks

    computed = []

    def compute(key, start, stop):
        computed.append((threading.current_thread() is threading.main_thread(), start, stop))
        return np.arange(start, stop) * key[0]

    chunks = FrameChunks(compute, size=4, prefetch=True)
    assert chunks.get((10,), 50, 100) == 500 and computed == [(True, 50, 51)]  # a seek: nothing ahead
    assert chunks.get((10,), 51, 100) == 510
    chunks._pending[(55, 59)].result()  # started when playback began
    assert computed == [(True, 50, 51), (True, 51, 55), (False, 55, 59)]
    assert [chunks.get((10,), frame, 100) for frame in range(52, 59)] == [520, 530, 540, 550, 560, 570, 580]
    assert [c[1:] for c in computed if c[0]] == [(50, 51), (51, 55)]  # playback itself computed nothing more
    chunks._pending[(59, 63)].result()
    # Backwards, the chunk before is fetched ahead; a new key forgets what was computed for the old one.
    chunks.get((10,), 30, 100)
    assert chunks.get((10,), 29, 100) == 290 and computed[-1] == (True, 26, 30)
    chunks._pending[(22, 26)].result()
    assert computed[-1] == (False, 22, 26)
    assert chunks.get((7,), 27, 100) == 189 and computed[-1] == (True, 27, 28)


def test_a_seek_runs_gt_fk_once_for_the_session_and_the_views(main_window):
    """The session's landmarks and the views' overlay pixels need the same GT landmarks: computed
    once (``gt_landmarks_chunk`` keeps the last chunks), not once per consumer."""
    from app.session import SAMPLE_RECORDING, gt_landmarks_chunk

    window = main_window
    assert window.open_recording(SAMPLE_RECORDING)
    window.session.seek(200)
    before = gt_landmarks_chunk.cache_info()
    window.session.seek(100)  # a seek: one-frame chunks, computed at once
    after = gt_landmarks_chunk.cache_info()
    assert window.views.overlay_pixels  # the views drew frame 100's GT skeletons
    assert after.misses - before.misses == 1 and after.hits > before.hits

"""Live mode end to end: the simulated headset through the capture and tracking workers into the
live views, the HUD, a simulated unplug with its banner, recording, and back to the player."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from PySide6 import QtWidgets

from app.live_actions import LiveConfig
from app.overlays import GROUND_TRUTH, pixels_in_view
from umetrack.live import read_live_info
from umetrack.recording import open_recording
from umetrack.train.loop import TrainConfig, export_weights, make_network

pytestmark = pytest.mark.gui

FPS = 30.0


@pytest.fixture
def weights(tmp_path):
    """A randomly initialised light network, exported like shipped weights (accuracy is not the point)."""
    torch.manual_seed(0)
    path = tmp_path / "umetrack_light.pt"
    export_weights(make_network("light"), TrainConfig(encoder="light"), path)
    return path


def _hud_number(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in HUD:\n{text}"
    return float(match.group(1))


def test_simulated_live_source_tracks_survives_an_unplug_and_records(main_window, qtbot, weights, tmp_path):
    window, actions = main_window, main_window.live_actions
    live = window.session.live
    actions.start_live(LiveConfig(source="simulated", seed=3, num_views=2, model_path=weights, record_folder=tmp_path / "recordings"))
    qtbot.waitUntil(lambda: live.active, timeout=60000)
    assert window.centralWidget() is actions.panel and actions.toolbar.isVisible()

    # The HUD shows live rates and every stage's latency once the tracker has run a few frames.
    def measured() -> bool:
        stats = live.stats
        return stats.capture_fps > 0 and stats.tracking_fps > 0 and not any(math.isnan(v) for v in stats.stage_ms.values()) and not math.isnan(stats.latency_ms)

    qtbot.waitUntil(measured, timeout=90000)
    qtbot.wait(300)  # one more HUD refresh
    hud = actions.panel.hud.text()
    assert _hud_number(hud, r"capture (\d+\.\d) fps") > 0
    assert _hud_number(hud, r"tracking (\d+\.\d) fps") > 0
    for stage in ("capture", "crop", "network", "render", "end-to-end"):
        assert _hud_number(hud, rf"{stage} (\d+) ms") >= 0
    assert "umetrack_light.pt" in hud and "no model" not in hud
    assert live.prediction is not None and set(live.prediction.reasons) == {0, 1}
    # The newest prediction is drawn over the newest frame, in every view that has an image and sees it.
    frame, prediction = live.frame, live.prediction
    for view, camera in enumerate(frame.cameras(live.rig)):
        for hand, landmarks in prediction.landmarks.items():
            expected = pixels_in_view(camera, torch.as_tensor(landmarks, dtype=torch.float64))
            seen = frame.images[view] is not None and np.isfinite(expected).any()
            assert ((view, hand) in actions.panel.prediction_pixels) == seen
            if seen:
                np.testing.assert_allclose(actions.panel.prediction_pixels[(view, hand)], expected)

    actions.record_action.setChecked(True)
    assert live.recording_path is not None and live.recording_path.parent == tmp_path / "recordings"
    qtbot.wait(500)

    # Unplug camera 2: a banner names it, the other view keeps updating, the banner clears when it is back.
    actions.simulate_unplug(1, 1.0)
    outage = actions.capture.source.outages[-1]
    qtbot.waitUntil(lambda: actions.panel.banner.isVisible(), timeout=5000)
    assert "camera 2 (" in actions.panel.banner.text() and "disconnected — reconnecting…" in actions.panel.banner.text()
    assert set(live.disconnected) == {1} and live.frame.images[1] is None and live.frame.images[0] is not None
    assert actions.panel.title_items[1].toPlainText().endswith("no signal")
    assert not any(view == 1 for view, _hand in actions.panel.prediction_pixels)  # nothing drawn over a dead camera
    assert all(len(actions.panel.overlay_items[1].segments((GROUND_TRUTH, hand))) == 0 for hand in (0, 1))
    shown = actions.panel.shown_frame_index
    qtbot.waitUntil(lambda: actions.panel.shown_frame_index >= shown + 3, timeout=5000)
    assert live.frame.images[0] is not None
    qtbot.waitUntil(lambda: not actions.panel.banner.isVisible(), timeout=10000)
    assert live.disconnected == {} and live.frame.images[1] is not None
    assert live.frame.index >= outage.frames(FPS).stop
    qtbot.wait(500)

    actions.record_action.setChecked(False)
    assert live.recording_path is None
    qtbot.waitUntil(lambda: actions.last_recording is not None, timeout=60000)
    actions.stop_live()
    assert not live.active and window.centralWidget() is window.views

    info = read_live_info(actions.last_recording)
    with open_recording(actions.last_recording) as recording:
        assert recording.num_frames == info.num_frames >= 10
        assert recording.num_views == 2 and recording.gt is not None
        in_outage = np.isin(info.source_frame_index, list(outage.frames(FPS)))
        assert in_outage.any()
        np.testing.assert_array_equal(info.missing[:, 1], in_outage)  # missing exactly in the window, none lost
        assert not info.missing[:, 0].any()
        np.testing.assert_array_equal(recording.missing_views[:, 1], in_outage)
        for frame in np.flatnonzero(in_outage):
            # Missing, as the tracker expects: the video's black stand-in rings next to the live view.
            assert recording.images(int(frame))[1] is None and recording.images(int(frame))[0] is not None
        assert recording.images(0)[1].max() > 50
        span_s = (recording.timestamps_ns[-1] - recording.timestamps_ns[0]) / 1e9
        assert span_s > 1.8


def test_stopping_while_recording_opens_the_recording_in_the_player(main_window, qtbot, tmp_path):
    """Without weights live mode runs with "no model" in the HUD; stopping returns to the player with the recording open."""
    window, actions = main_window, main_window.live_actions
    live = window.session.live
    missing = tmp_path / "weights" / "umetrack_light.pt"
    actions.start_live(LiveConfig(source="simulated", seed=4, num_views=1, model_path=missing, record_folder=tmp_path))
    qtbot.waitUntil(lambda: live.active and live.stats.capture_fps > 0, timeout=60000)
    qtbot.wait(300)
    assert "no model" in actions.panel.hud.text() and actions.tracking is None
    assert _hud_number(actions.panel.hud.text(), r"display (\d+\.\d) fps") > 0
    actions.record_action.setChecked(True)
    qtbot.wait(1000)
    actions.stop_live()
    assert window.centralWidget() is window.views
    qtbot.waitUntil(lambda: window.session.recording_path == actions.last_recording and actions.last_recording is not None, timeout=60000)
    assert window.session.recording.num_frames == read_live_info(actions.last_recording).num_frames >= 5


def test_a_camera_that_cannot_be_opened_is_reported_and_the_player_stays(main_window, qtbot, tmp_path, monkeypatch):
    window, actions = main_window, main_window.live_actions
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    rig = tmp_path / "rig.json"
    rig.write_text(
        '{"format": "umetrack-studio.rig", "version": 1, "cameras": [{"label": "left", "device": "nowhere.mp4",'
        ' "intrinsics": {"ImageSizeX": 64, "ImageSizeY": 48, "fx": 50, "fy": 50, "cx": 31.5, "cy": 23.5, "DistortionModel": "PinholePlane"},'
        ' "T_rig_from_camera": {"quaternion_wxyz": [1, 0, 0, 0], "translation_xyz": [0, 0, 0]}}]}'
    )
    actions.start_live(LiveConfig(source="opencv", rig_path=rig))
    qtbot.waitUntil(lambda: bool(shown), timeout=30000)
    assert "camera 0 (left): cannot open" in shown[0] and "nowhere.mp4" in shown[0]
    assert not actions.active and not window.session.live.active and window.centralWidget() is window.views
    assert actions.live_action.isEnabled()


def test_live_dialog_starts_the_chosen_source_with_its_settings(main_window, monkeypatch, tmp_path):
    actions = main_window.live_actions
    main_window.settings.setValue("live/seed", 7)
    main_window.settings.setValue("live/views", 2)
    main_window.settings.setValue("live/record_folder", str(tmp_path))
    monkeypatch.setattr(QtWidgets.QDialog, "exec", lambda dialog: QtWidgets.QDialog.DialogCode.Accepted)
    started = []
    monkeypatch.setattr(actions, "start_live", started.append)
    actions.live_dialog()
    assert len(started) == 1
    config = started[0]
    assert (config.source, config.seed, config.num_views, config.record_folder) == ("simulated", 7, 2, tmp_path)
    assert config.model_path.name == "umetrack_light.pt"

"""The bundled sample recording opens in the app with its four views, ground truth and pinch labels."""

import numpy as np
import pytest

from app.session import SAMPLE_RECORDING

pytestmark = pytest.mark.gui


def test_bundled_sample_opens_with_views_and_overlays(main_window, qtbot):
    assert SAMPLE_RECORDING.exists(), "resources/sample/recording_00.mp4 is part of the repository"
    assert main_window.open_recording(SAMPLE_RECORDING)
    recording = main_window.session.recording
    assert recording.num_views == 4 and recording.num_frames >= 200
    assert recording.gt is not None and recording.pinch is not None and recording.pinch.frames.any()
    assert [label for label in recording.view_labels] == ["front-left", "front-right", "side-left", "side-right"]
    main_window.session.seek(120)
    qtbot.waitUntil(lambda: main_window.views.displayed_frame == 120, timeout=10000)
    image = main_window.views.image_items[0].image
    assert image.shape == (480, 640) and image.std() > 10
    # Both hands' GT skeletons are drawn in the front-left view, on bright (skin) pixels.
    for hand in (0, 1):
        pixels = main_window.views.overlay_pixels[(0, hand)]
        visible = np.isfinite(pixels).all(1)
        assert visible.sum() >= 15
        u, v = np.round(pixels[visible][:, 0]).astype(int), np.round(pixels[visible][:, 1]).astype(int)
        assert np.median(image[v, u]) > np.median(image) + 20

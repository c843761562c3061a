"""The seekable video source on a video like the released ones (not written by us): limited-range
yuv420p from RGB input, B-frames, long GOP."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from umetrack.recording import VideoFrameSource

from ..conftest import moving_pattern

N, H, W = 50, 96, 128


@pytest.fixture(scope="module")
def foreign_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "foreign.mp4"
    images = moving_pattern(N, 2, H, W)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 2 * W, H, "yuv420p"
    stream.codec_context.options = {"crf": "18", "bf": "3", "g": "40"}
    for i in range(N):
        rgb = np.repeat(np.hstack(list(images[i]))[..., None], 3, axis=2)
        for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def test_pixels_equal_the_released_loaders_channel_0(foreign_video):
    """UmeTrack's loader decodes with OpenCV and keeps channel 0 of RGB; we must read the same values."""
    source = VideoFrameSource(foreign_video, [(W, H), (W, H)], cache_frames=0)
    capture = cv2.VideoCapture(str(foreign_video))
    for i in range(N):
        ok, bgr = capture.read()
        assert ok
        np.testing.assert_array_equal(np.hstack(source.read(i)), bgr[..., 2], err_msg=f"frame {i}")
    source.close()


def test_seeks_are_exact_with_b_frames(foreign_video):
    source = VideoFrameSource(foreign_video, [(W, H), (W, H)], cache_frames=0)
    assert source.num_frames == N
    reference = [np.hstack(source.read(i)) for i in range(N)]
    for frame in (45, 3, 41, 40, 39, 12, 49, 0, 30, 45):
        np.testing.assert_array_equal(np.hstack(source.read(frame)), reference[frame], err_msg=f"frame {frame}")
    source.close()

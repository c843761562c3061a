"""The synchronized camera views of the open recording, with ground-truth skeletons overlaid."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtCore, QtWidgets

from app.overlays import GROUND_TRUTH, GT_LANDMARK_COLOURS, GT_SKELETON_PENS, PREDICTED, PREDICTION_SKELETON_PEN, CaptionItem, GreyImage, SkeletonOverlay, pixels_in_view, plain_background
from app.session import FrameChunks, Session, landmarks_chunk
from app.style import PANEL_BACKGROUND_RGB
from app.workers import FrameLoader
from umetrack.camera import Camera


def view_pixels_chunk(key: tuple, start: int, stop: int) -> np.ndarray:
    """(K, V, 4, 21, 2) pixels of frames start..stop-1 in every view, for ``key`` = (recording,
    tracking results or None, *``Session.landmarks_source()``): rows 0-1 the displayed GT landmarks
    of each hand, 2-3 the predicted ones; NaN where not visible in the image (behind the camera,
    beyond the lens, outside the frame) or absent. One projection per view for the whole chunk
    (``pixels_in_view`` with the chunk's camera poses)."""
    recording, tracking, *source = key
    points = np.full((stop - start, 4, 21, 3), np.nan)
    points[:, :2] = landmarks_chunk(tuple(source), start, stop)
    if tracking is not None:
        points[:, 2:] = tracking.landmarks[start:stop]
    out = np.full((stop - start, recording.num_views, 4 * 21, 2), np.nan)
    tracked = np.array(recording.headset_tracked[start:stop], bool)  # no camera poses elsewhere
    if tracked.any():
        points = torch.as_tensor(points.reshape(stop - start, 4 * 21, 3)[tracked])
        for view, model in enumerate(recording.camera_models):
            poses = torch.tensor(np.asarray(recording.T_world_from_camera[start:stop, view])[tracked], dtype=torch.float64)
            out[tracked, view] = pixels_in_view(Camera(model, poses), points)
    return out.reshape(stop - start, recording.num_views, 4, 21, 2)


class ViewsGridPanel(QtWidgets.QWidget):
    """One image per camera in a grid; decoding happens in a ``FrameLoader`` thread.

    Signals:
    frame_shown(frame): the decoded images of ``frame`` were put on display (video export and the
    playback benchmark wait for this, not for the playhead, which runs ahead of decoding).
    """

    frame_shown = QtCore.Signal(int)

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("views_grid")
        self.session = session
        self.graphics = plain_background(pg.GraphicsLayoutWidget(), PANEL_BACKGROUND_RGB)
        self.message = QtWidgets.QLabel("Open a recording (File ▸ Open recording…) to see its camera views.")
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.message)

        self.view_boxes: list[pg.ViewBox] = []
        self.image_items: list[GreyImage] = []
        self.overlay_items: list[SkeletonOverlay] = []
        """Per view: the GT (coloured, with landmark dots) and predicted (white, dashed) skeletons,
        layers (GROUND_TRUTH or PREDICTED, hand)."""
        self.title_items: list[CaptionItem] = []
        self.displayed_frame: int | None = None
        self.overlay_pixels: dict[tuple[int, int], np.ndarray] = {}
        """(view, hand) -> (21, 2) GT landmark pixels drawn at the playhead (NaN where not visible)."""
        self.prediction_pixels: dict[tuple[int, int], np.ndarray] = {}
        """(view, hand) -> (21, 2) predicted landmark pixels drawn at the playhead."""

        self._pixels = FrameChunks(view_pixels_chunk, prefetch=True)
        """Keyed (recording, tracking results, *``Session.landmarks_source()``)."""
        self.loader = FrameLoader(self)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.start()

        session.recording_changed.connect(self._on_recording_changed)
        session.playhead_changed.connect(self._on_playhead_changed)
        session.layer_toggled.connect(lambda name, visible: self._refresh_overlays())
        session.hand_model_changed.connect(lambda _m: self._refresh_overlays())
        session.tracking_changed.connect(lambda _r: self._refresh_overlays())
        self._on_recording_changed(session.recording)

    def shutdown(self) -> None:
        self.loader.stop()

    # -- layout ----------------------------------------------------------------------------------

    def _on_recording_changed(self, recording) -> None:
        self.graphics.clear()
        self.view_boxes.clear()
        self.image_items.clear()
        self.overlay_items.clear()
        self.title_items.clear()
        self.displayed_frame = None
        self.overlay_pixels.clear()
        self.message.setVisible(recording is None or not recording.has_images)
        if recording is None:
            self.message.setText("Open a recording (File ▸ Open recording…) to see its camera views.")
            return
        if not recording.has_images:
            self.message.setText("This recording has no images (ground truth and cameras only).")
        columns = max(1, math.ceil(math.sqrt(recording.num_views)))
        for view in range(recording.num_views):
            box = self.graphics.addViewBox(row=view // columns, col=view % columns, lockAspect=True, invertY=True, enableMenu=False)
            model = recording.camera_models[view]
            image = GreyImage(model.width, model.height)
            box.addItem(image)
            title = CaptionItem()  # its text and colour: _set_title, at the playhead below
            title.setPos(4, 4)
            box.addItem(title, ignoreBounds=True)
            overlay = SkeletonOverlay(model.width, model.height)
            box.addItem(overlay)
            box.setRange(xRange=(0, model.width), yRange=(0, model.height), padding=0.01)
            self.view_boxes.append(box)
            self.image_items.append(image)
            self.title_items.append(title)
            self.overlay_items.append(overlay)
        self._on_playhead_changed(self.session.playhead)

    # -- frames ----------------------------------------------------------------------------------

    def _on_playhead_changed(self, frame: int) -> None:
        recording = self.session.recording
        if recording is None:
            return
        if recording.has_images:
            self.loader.request(recording, frame)
        self._refresh_overlays()

    def _on_loaded(self, recording, frame: int, images: list[np.ndarray]) -> None:
        if recording is not self.session.recording:
            return  # a late frame of a recording that has since been closed
        for item, image in zip(self.image_items, images):
            item.set_image(image)
        self.displayed_frame = frame
        if frame == self.session.playhead:
            self._draw_overlays()
        self.frame_shown.emit(frame)

    def _on_failed(self, recording, frame: int, message: str) -> None:
        if recording is self.session.recording:
            self.message.setText(f"Frame {frame} could not be decoded: {message}")
            self.message.setVisible(True)

    # -- overlays --------------------------------------------------------------------------------

    def _refresh_overlays(self) -> None:
        """GT skeletons (coloured) and predicted ones (white, dashed) at the playhead, in every view.

        Every point drawn in a view goes through a single projection call per view: projecting is
        what costs, not the number of points. The pixels are computed at once (``overlay_pixels``),
        but put on screen together with the playhead's images when those are still being decoded:
        one repaint per frame instead of two, and skeletons never run ahead of the picture.
        """
        recording = self.session.recording
        if recording is None or not self.view_boxes:
            return
        frame = self.session.playhead
        self.overlay_pixels.clear()
        self.prediction_pixels.clear()
        tracking = self.session.tracking
        wanted: list[tuple[dict, int, int]] = []  # (dict to fill, hand, row of the chunk's points)
        if recording.headset_tracked[frame]:
            for hand in (0, 1):
                if self.session.visible_layers["skeleton"] and self.session.displayed_landmarks(hand) is not None:
                    wanted.append((self.overlay_pixels, hand, hand))
                if self.session.visible_layers["prediction"] and tracking is not None and np.isfinite(tracking.landmarks[frame, hand]).all():
                    wanted.append((self.prediction_pixels, hand, 2 + hand))
        pixels = None
        if wanted:
            key = (recording, tracking, *self.session.landmarks_source())
            pixels = self._pixels.get(key, frame, recording.num_frames)  # (V, 4, 21, 2)
        missing = recording.missing_views[frame] if recording.missing_views is not None else np.zeros(recording.num_views, bool)
        for view in range(recording.num_views):
            self._set_title(view, missing_image=bool(missing[view]))
            if missing[view] or pixels is None:
                continue  # no picture to draw on: a skeleton over black would look like a tracked view
            for drawn, hand, row in wanted:
                drawn[(view, hand)] = pixels[view, row]
        if not recording.has_images or self.displayed_frame == frame:
            self._draw_overlays()

    def _set_title(self, view: int, missing_image: bool) -> None:
        recording = self.session.recording
        label = recording.view_labels[view] if view < len(recording.view_labels) else f"view {view}"
        text = f"{label}: no image (camera missing)" if missing_image else label
        self.title_items[view].setText(text)
        self.title_items[view].set_rgb((255, 170, 60) if missing_image else (220, 220, 220))

    def _draw_overlays(self) -> None:
        """Put ``overlay_pixels`` and ``prediction_pixels`` on the view boxes' items."""
        for view, overlay in enumerate(self.overlay_items):
            for hand in (0, 1):
                overlay.set_skeleton((GROUND_TRUTH, hand), self.overlay_pixels.get((view, hand)), GT_SKELETON_PENS[hand], GT_LANDMARK_COLOURS[hand])
                overlay.set_skeleton((PREDICTED, hand), self.prediction_pixels.get((view, hand)), PREDICTION_SKELETON_PEN)

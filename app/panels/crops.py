"""The 96x96 perspective crops each hand was tracked from, per view, with GT and predicted landmarks
drawn in crop space and the crop camera's provenance (source view, focal length, field of view)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtWidgets

from app.overlays import CaptionItem, GreyImage, SkeletonOverlay, plain_background
from app.session import Session
from app.style import PANEL_BACKGROUND_RGB
from app.visibility import ShownWatcher, on_screen
from umetrack.crop import CROP_SIZE, CropCamera
from umetrack.hand.model import HAND_NAMES
from umetrack.track.results import REASONS

GT_PEN = pg.mkPen((120, 220, 120), width=1.5)
PREDICTION_PEN = pg.mkPen((255, 255, 255), width=1.5)
GT, PREDICTION = "gt", "prediction"
LAYERS = (GT, PREDICTION)
"""Overlay layers, painted in this order (the prediction over the ground truth)."""
BLANK_CROP = np.zeros((CROP_SIZE, CROP_SIZE), np.uint8)


class CropsPanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("crops")
        self.session = session
        self.graphics = plain_background(pg.GraphicsLayoutWidget(), PANEL_BACKGROUND_RGB)
        self.caption = QtWidgets.QLabel("Run the tracker (Tracking ▸ Run tracker…) to see the crops it used.")
        self.caption.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self.images: dict[tuple[int, int], GreyImage] = {}
        self.overlays: dict[tuple[int, int], SkeletonOverlay] = {}
        """(hand, slot) -> the GT and predicted skeletons in crop pixels (layers GT and PREDICTION)."""
        self.titles: dict[tuple[int, int], CaptionItem] = {}
        self.crop_landmarks: dict[tuple[int, int], np.ndarray] = {}
        """(hand, slot) -> (21, 2) predicted landmarks in crop pixels at the playhead."""
        for hand in (0, 1):
            for slot in (0, 1):
                box = self.graphics.addViewBox(row=hand, col=slot, lockAspect=True, invertY=True, enableMenu=False)
                image = GreyImage(CROP_SIZE, CROP_SIZE)
                box.addItem(image)
                overlay = SkeletonOverlay(CROP_SIZE, CROP_SIZE)
                title = CaptionItem()
                title.setPos(1, 1)
                box.addItem(overlay)
                box.addItem(title, ignoreBounds=True)
                box.setRange(xRange=(0, CROP_SIZE), yRange=(0, CROP_SIZE), padding=0.02)
                key = (hand, slot)
                self.images[key], self.overlays[key], self.titles[key] = image, overlay, title
        self.stale = False
        """The crops shown are not the playhead's: the panel was off screen (see ``refresh``)."""
        self.shown_watcher = ShownWatcher(self, lambda: self.refresh() if self.stale else None)
        session.tracking_changed.connect(lambda _r: self.refresh())
        session.playhead_changed.connect(lambda _f: self.refresh())
        session.recording_changed.connect(lambda _r: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Show the playhead's crops; while the panel is off screen (closed, or its dock tabbed away)
        only remember to do it when it comes back."""
        self.stale = not on_screen(self)
        if self.stale:
            return
        tracking = self.session.tracking
        recording = self.session.recording
        frame = self.session.playhead
        self.crop_landmarks.clear()
        self.caption.setVisible(tracking is None)
        pixels = self._crop_pixels(frame) if tracking is not None else None
        for (hand, slot), image in self.images.items():
            view = int(tracking.views[frame, hand, slot]) if tracking is not None else -1
            overlay = self.overlays[(hand, slot)]
            if view < 0:
                image.set_image(BLANK_CROP)
                overlay.clear_skeletons()
                reason = tracking.reason(frame, hand).value if tracking is not None else ""
                self.titles[(hand, slot)].setText(f"{HAND_NAMES[hand]}: {reason}" if slot == 0 and reason else "")
                continue
            image.set_image(tracking.crop_images[frame, hand, slot])
            fov = math.degrees(2 * math.atan(CROP_SIZE / 2 / float(tracking.focal[frame, hand, slot])))
            label = recording.view_labels[view] if recording is not None else str(view)
            status = REASONS[int(tracking.reasons[frame, hand])].value
            self.titles[(hand, slot)].setText(f"{HAND_NAMES[hand][0].upper()} {label} {fov:.0f}° {status}")
            for layer, pen in ((PREDICTION, PREDICTION_PEN), (GT, GT_PEN)):
                drawn = pixels[hand, slot, LAYERS.index(layer)]
                if not np.isfinite(drawn).all():
                    drawn = None
                elif layer == PREDICTION:
                    self.crop_landmarks[(hand, slot)] = drawn
                overlay.set_skeleton(layer, drawn, pen)

    def _crop_pixels(self, frame: int) -> np.ndarray:
        """(2 hands, 2 slots, 2 layers (``LAYERS``), 21, 2) landmark pixels of the frame's predicted and
        GT landmarks in each of its crops, NaN where a crop or a hand's landmarks are absent: one
        batched projection for the frame (one per crop and layer cost ~0.4 ms each)."""
        tracking = self.session.tracking
        points = np.full((2, len(LAYERS), 21, 3), np.nan)
        points[:, LAYERS.index(PREDICTION)] = tracking.landmarks[frame]
        if self.session.follows_recording:
            for hand in (0, 1):
                gt = self.session.displayed_landmarks(hand)
                if gt is not None:
                    points[hand, LAYERS.index(GT)] = gt
        crops = CropCamera(
            torch.as_tensor(tracking.T_crop_from_world[frame], dtype=torch.float64)[:, :, None],  # (2, 2, 1, 4, 4): NaN where no crop
            torch.as_tensor(tracking.focal[frame], dtype=torch.float64)[:, :, None],
            CROP_SIZE,
        )
        with torch.no_grad():
            return crops.project(torch.as_tensor(points)[:, None]).numpy()  # (2, 2, 2, 21, 2)


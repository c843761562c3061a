"""The 96x96 perspective crops each hand was tracked from, per view, with GT and predicted landmarks
drawn in crop space and the crop camera's provenance (source view, focal length, field of view)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtWidgets

from app.overlays import SkeletonOverlay
from app.session import Session
from app.visibility import ShownWatcher, on_screen
from umetrack.crop import CROP_SIZE, CropCamera
from umetrack.hand.model import HAND_NAMES
from umetrack.track.results import REASONS

GT_PEN = pg.mkPen((120, 220, 120), width=1.5)
PREDICTION_PEN = pg.mkPen((255, 255, 255), width=1.5)
GT, PREDICTION = "gt", "prediction"
"""Overlay layers, painted in this order (the prediction over the ground truth)."""


class CropsPanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("crops")
        self.session = session
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground((24, 26, 30))
        self.caption = QtWidgets.QLabel("Run the tracker (Tracking ▸ Run tracker…) to see the crops it used.")
        self.caption.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.caption)
        self.images: dict[tuple[int, int], pg.ImageItem] = {}
        self.overlays: dict[tuple[int, int], SkeletonOverlay] = {}
        """(hand, slot) -> the GT and predicted skeletons in crop pixels (layers GT and PREDICTION)."""
        self.titles: dict[tuple[int, int], pg.TextItem] = {}
        self.crop_landmarks: dict[tuple[int, int], np.ndarray] = {}
        """(hand, slot) -> (21, 2) predicted landmarks in crop pixels at the playhead."""
        for hand in (0, 1):
            for slot in (0, 1):
                box = self.graphics.addViewBox(row=hand, col=slot, lockAspect=True, invertY=True, enableMenu=False)
                image = pg.ImageItem(axisOrder="row-major")
                image.setImage(np.zeros((CROP_SIZE, CROP_SIZE), np.uint8), levels=None)
                box.addItem(image)
                overlay = SkeletonOverlay(CROP_SIZE, CROP_SIZE)
                title = pg.TextItem("", color=(230, 230, 230), anchor=(0, 0))
                title.setPos(1, 1)
                for item in (overlay, title):
                    box.addItem(item)
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
        for (hand, slot), image in self.images.items():
            view = int(tracking.views[frame, hand, slot]) if tracking is not None else -1
            if view < 0:
                image.setImage(np.zeros((CROP_SIZE, CROP_SIZE), np.uint8), levels=None)
                self.overlays[(hand, slot)].clear_skeletons()
                reason = tracking.reason(frame, hand).value if tracking is not None else ""
                self.titles[(hand, slot)].setText(f"{HAND_NAMES[hand]}: {reason}" if slot == 0 and reason else "")
                continue
            image.setImage(tracking.crop_images[frame, hand, slot], levels=None)
            crop = CropCamera(
                torch.as_tensor(tracking.T_crop_from_world[frame, hand, slot], dtype=torch.float64),
                torch.as_tensor(tracking.focal[frame, hand, slot], dtype=torch.float64),
                CROP_SIZE,
                hand,
            )
            fov = math.degrees(2 * math.atan(CROP_SIZE / 2 / float(crop.focal)))
            label = recording.view_labels[view] if recording is not None else str(view)
            status = REASONS[int(tracking.reasons[frame, hand])].value
            self.titles[(hand, slot)].setText(f"{HAND_NAMES[hand][0].upper()} {label} {fov:.0f}° {status}")
            predicted = tracking.landmarks[frame, hand]
            gt = self.session.displayed_landmarks(hand) if self.session.follows_recording else None
            overlay = self.overlays[(hand, slot)]
            for layer, points, pen in ((PREDICTION, predicted, PREDICTION_PEN), (GT, gt, GT_PEN)):
                pixels = None
                if points is not None and np.isfinite(points).all():
                    pixels = crop.project(torch.tensor(points, dtype=torch.float64)[None])[0].numpy()  # a copy: points may be read-only
                    if layer == PREDICTION:
                        self.crop_landmarks[(hand, slot)] = pixels
                overlay.set_skeleton(layer, pixels, pen)

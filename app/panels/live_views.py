"""Live camera views: the newest frame of every camera with ground truth (hand colours, when the
source knows it) and the newest prediction (white, dashed) projected into it, a HUD with per-stage
latency and fps, and a banner naming the cameras that are disconnected while they reconnect."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
import torch
from PySide6 import QtWidgets

from app.live_session import STAGES, LivePrediction, LiveStats, RateMeter, RollingMean
from app.overlays import GROUND_TRUTH, GT_SKELETON_PENS, PREDICTED, PREDICTION_SKELETON_PEN, CaptionItem, GreyImage, SkeletonOverlay, pixels_in_view, plain_background
from app.session import Session
from app.style import HAND_RGB, PANEL_BACKGROUND_RGB
from umetrack.hand import fk
from umetrack.live import LiveFrame, LiveRig

_HUD_STYLE = "background: rgba(10, 12, 16, 190); color: #e8e8e8; padding: 6px; font-family: monospace;"
_BANNER_STYLE = "background: #b8860b; color: black; padding: 6px; font-weight: bold;"


def _format_ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f} ms"


def hud_text(stats: LiveStats, model_status: str, prediction: LivePrediction | None, recording_s: float | None) -> str:
    """The HUD's lines: rates, per-stage latency, the model and the hands' state, the recording."""
    lines = [
        f"capture {stats.capture_fps:.1f} fps · tracking {stats.tracking_fps:.1f} fps · display {stats.display_fps:.1f} fps"
        f" · {stats.frames_dropped} frames dropped",
        "latency  " + " · ".join(f"{stage} {_format_ms(stats.stage_ms[stage])}" for stage in STAGES)
        + f" · end-to-end {_format_ms(stats.latency_ms)}",
    ]
    hands = ""
    if prediction is not None:
        hands = " — " + ", ".join(f"{('left', 'right')[h]} {reason}" for h, reason in sorted(prediction.reasons.items()))
    lines.append(f"model  {model_status}{hands}")
    if recording_s is not None:
        lines.append(f"● REC {int(recording_s // 60):02d}:{int(recording_s % 60):02d}")
    return "\n".join(lines)


def _hand_pixels(pixels: list[np.ndarray] | None, hands: list[int], view: int, hand: int) -> np.ndarray | None:
    """(21, 2) pixels of ``hand`` in ``view`` from per-view projections of the ``hands``' landmarks
    stacked in that order; None where the hand was not projected."""
    if pixels is None or hand not in hands:
        return None
    row = 21 * hands.index(hand)
    return pixels[view][row : row + 21]


class LiveViewsPanel(QtWidgets.QWidget):
    """Observes ``session.live``; only ever touched on the GUI thread."""

    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("live_views")
        self.session = session
        self.live = session.live
        self.banner = QtWidgets.QLabel()
        self.banner.setStyleSheet(_BANNER_STYLE)
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.graphics = plain_background(pg.GraphicsLayoutWidget(), PANEL_BACKGROUND_RGB)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.graphics, 1)
        self.hud = QtWidgets.QLabel(self.graphics)
        self.hud.setStyleSheet(_HUD_STYLE)
        self.hud.move(8, 8)

        self.display_rate = RateMeter()
        self.render_ms = RollingMean()
        self.image_items: list[GreyImage] = []
        self.title_items: list[CaptionItem] = []
        self.overlay_items: list[SkeletonOverlay] = []
        """Per view: GT (coloured) and predicted (white, dashed) skeletons, layers (GROUND_TRUTH or PREDICTED, hand)."""
        self.prediction_pixels: dict[tuple[int, int], np.ndarray] = {}
        """(view, hand) -> (21, 2) predicted landmark pixels drawn on the newest frame."""
        self.shown_frame_index: int | None = None
        self._rig: LiveRig | None = None
        self._hand_model_f64 = None

        self.live.started.connect(self._on_started)
        self.live.frame_changed.connect(self._on_frame)
        self.live.prediction_changed.connect(lambda _p: self._draw_predictions())
        self.live.views_status_changed.connect(self._on_views_status)
        self.live.stats_changed.connect(lambda _s: self._refresh_hud())
        self.live.recording_changed.connect(lambda _p: self._refresh_hud())
        self.live.stopped.connect(self._on_stopped)

    # -- layout -----------------------------------------------------------------------------------

    def _on_started(self, rig: LiveRig, source_name: str) -> None:
        self._rig = rig
        self._hand_model_f64 = rig.hand_model.to(torch.float64) if rig.hand_model is not None else None
        self.graphics.clear()
        self.image_items.clear()
        self.title_items.clear()
        self.overlay_items.clear()
        self.prediction_pixels.clear()
        self.shown_frame_index = None
        columns = max(1, math.ceil(math.sqrt(rig.num_views)))
        for view, (label, model) in enumerate(zip(rig.labels, rig.models)):
            box = self.graphics.addViewBox(row=view // columns, col=view % columns, lockAspect=True, invertY=True, enableMenu=False)
            image = GreyImage(model.width, model.height)
            box.addItem(image)
            title = CaptionItem(self._title(view), (220, 220, 220))
            title.setPos(4, model.height - 24)
            box.addItem(title, ignoreBounds=True)
            overlay = SkeletonOverlay(model.width, model.height)
            box.addItem(overlay)
            box.setRange(xRange=(0, model.width), yRange=(0, model.height), padding=0.01)
            self.image_items.append(image)
            self.title_items.append(title)
            self.overlay_items.append(overlay)
        self._on_views_status({})
        self._refresh_hud()

    def _title(self, view: int, error: str | None = None) -> str:
        label = self._rig.labels[view] if self._rig is not None else str(view)
        return f"camera {view + 1} ({label})" + (" — no signal" if error else "")

    def _on_stopped(self) -> None:
        self.banner.hide()
        self.hud.setText("Live mode stopped")
        self.hud.adjustSize()

    # -- frames -----------------------------------------------------------------------------------

    def _on_frame(self, frame: LiveFrame) -> None:
        started = time.perf_counter()
        for item, image, model in zip(self.image_items, frame.images, self._rig.models):
            item.set_image(image if image is not None else np.zeros((model.height, model.width), np.uint8))
        self._draw_ground_truth(frame)
        self._draw_predictions()
        self.shown_frame_index = frame.index
        self.render_ms.add(1e3 * (time.perf_counter() - started))
        self.display_rate.tick()

    def _project(self, frame: LiveFrame, points: np.ndarray) -> list[np.ndarray]:
        """(P, 3) world points -> per view (P, 2) pixels (NaN where not visible, or the view has no image)."""
        tensor = torch.as_tensor(points, dtype=torch.float64)
        # Nothing is drawn into a view without an image: an overlay on black reads as a live camera.
        return [pixels_in_view(camera, tensor) if image is not None else np.full((len(points), 2), np.nan)
                for camera, image in zip(frame.cameras(self._rig), frame.images)]  # fmt: skip

    def _draw_ground_truth(self, frame: LiveFrame) -> None:
        hands = sorted(frame.gt) if self._hand_model_f64 is not None and self.session.visible_layers["skeleton"] else []
        pixels = None
        if hands:
            with torch.no_grad():
                points = [fk.landmarks(self._hand_model_f64, frame.gt[h].joint_angles.double(), frame.gt[h].T_world_from_wrist.double(), h).numpy() for h in hands]
            pixels = self._project(frame, np.concatenate(points))
        for view, overlay in enumerate(self.overlay_items):
            for hand in HAND_RGB:
                drawn = _hand_pixels(pixels, hands, view, hand)
                overlay.set_skeleton((GROUND_TRUTH, hand), drawn, GT_SKELETON_PENS[hand])

    def _draw_predictions(self) -> None:
        """The newest prediction over the newest frame (world points, so a slightly older prediction
        still lands where the hand was)."""
        frame, prediction = self.live.frame, self.live.prediction
        self.prediction_pixels.clear()
        hands = sorted(prediction.landmarks) if prediction is not None and frame is not None and self.session.visible_layers["prediction"] else []
        pixels = self._project(frame, np.concatenate([prediction.landmarks[h] for h in hands])) if hands else None
        for view, overlay in enumerate(self.overlay_items):
            for hand in HAND_RGB:
                drawn = _hand_pixels(pixels, hands, view, hand)
                if drawn is not None and np.isfinite(drawn).any():
                    self.prediction_pixels[(view, hand)] = drawn
                overlay.set_skeleton((PREDICTED, hand), drawn, PREDICTION_SKELETON_PEN)

    # -- status -----------------------------------------------------------------------------------

    def _on_views_status(self, disconnected: dict[int, str]) -> None:
        for view, title in enumerate(self.title_items):
            title.setText(self._title(view, disconnected.get(view)))
        if not disconnected:
            self.banner.hide()
            return
        self.banner.setText("\n".join(f"{self._title(view)} disconnected — reconnecting… ({reason.split(' — ')[0]})" for view, reason in sorted(disconnected.items())))
        self.banner.show()

    def _refresh_hud(self) -> None:
        live = self.live
        recording_s = time.monotonic() - live.recording_started_at if live.recording_started_at is not None else None
        self.hud.setText(hud_text(live.stats, live.model_status, live.prediction, recording_s))
        self.hud.adjustSize()
        self.hud.raise_()

"""Colours shared by every panel, so a hand looks the same in the views, the 3D scene and the plots,
and the sizing of labels that change with the playhead."""

from __future__ import annotations

from PySide6 import QtWidgets

HAND_RGB = {0: (90, 158, 242), 1: (250, 158, 77)}
"""Left hand blue, right hand orange (0-255)."""
PANEL_BACKGROUND_RGB = (24, 26, 30)
"""Behind camera views, crops and diagrams."""


def hand_rgba(hand: int) -> tuple[float, float, float, float]:
    """The hand's colour as 0-1 RGBA (vispy)."""
    r, g, b = HAND_RGB[hand]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)


def fix_label_size(label: QtWidgets.QLabel, widest_text: str) -> QtWidgets.QLabel:
    """Fix ``label``'s size to fit ``widest_text``. A label whose text changes every frame (a value, a
    time) otherwise asks its window to lay itself out again every frame (~2 ms a frame over the app's
    docks during playback): a widget of fixed size does not pass its size changes on."""
    metrics = label.fontMetrics()
    margins = label.contentsMargins()
    label.setFixedSize(metrics.horizontalAdvance(widest_text) + margins.left() + margins.right() + 2,
                       metrics.height() + margins.top() + margins.bottom())  # fmt: skip
    return label

"""Colours shared by every panel, so a hand looks the same in the views, the 3D scene and the plots."""

from __future__ import annotations

HAND_RGB = {0: (90, 158, 242), 1: (250, 158, 77)}
"""Left hand blue, right hand orange (0-255)."""


def hand_rgba(hand: int) -> tuple[float, float, float, float]:
    """The hand's colour as 0-1 RGBA (vispy)."""
    r, g, b = HAND_RGB[hand]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)

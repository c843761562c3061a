"""The Qt-free session model every panel observes: what is open, the posed hands, visible layers.

Panels never talk to each other; they change the session and react to its events. The model grows
with the player (recording, tracking results, playhead, selection) in later work; today it holds
the hand model being inspected, one pose per hand and the layer toggles of the 3D view.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from app.events import Event
from umetrack.hand.io import load_hand_model
from umetrack.hand.model import NUM_JOINTS, HandModel
from umetrack.hand.pose import HandPose

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DEFAULT_HAND_MODEL = RESOURCES / "hand_model.json"


def _default_pose(model: HandModel, hand_index: int) -> HandPose:
    """A relaxed pose 40 cm in front of a viewer at the origin looking along +z (world y up, so +x
    is the viewer's left), hands 20 cm apart, fingers up, palms facing each other, thumbs towards the viewer.

    Columns of T are the hand-local axes in world. The left model's fingers run along local +x;
    a right hand is the mirrored model, whose fingers run along local -x, so its column 0 points down.
    """
    if hand_index == 0:
        columns = [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)]  # palm (-y) faces -x
        position = (0.1, -0.05, 0.4)
    else:
        columns = [(0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, -1.0)]  # palm (-y) faces +x
        position = (-0.1, -0.05, 0.4)
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = torch.tensor(columns, dtype=torch.float64).T
    T[:3, 3] = torch.tensor(position, dtype=torch.float64)
    return HandPose(hand_index, model.neutral_angles.double().clone(), T)


class Session:
    """Observable state of one Studio window.

    Events:
        hand_model_changed(model): a new hand model was loaded.
        pose_changed(hand_index): a hand's pose changed.
        layer_toggled(name, visible): a 3D layer was shown or hidden.
    """

    LAYERS = ("mesh", "skeleton", "floor")

    def __init__(self, hand_model_path: str | Path | None = None):
        """Raises FormatError for a bad hand model file (the caller decides how to report it)."""
        self.hand_model_changed = Event("hand_model_changed")
        self.pose_changed = Event("pose_changed")
        self.layer_toggled = Event("layer_toggled")
        self.hand_model_path = Path(hand_model_path or DEFAULT_HAND_MODEL)
        self.hand_model: HandModel = load_hand_model(self.hand_model_path)
        self.poses: dict[int, HandPose] = {h: _default_pose(self.hand_model, h) for h in (0, 1)}
        self.visible_layers: dict[str, bool] = {name: True for name in self.LAYERS}

    def load_hand_model(self, path: str | Path) -> None:
        """Replace the hand model (raises FormatError and keeps the current one on a bad file)."""
        self.hand_model = load_hand_model(path)
        self.hand_model_path = Path(path)
        self.hand_model_changed.emit(self.hand_model)
        for hand in self.poses:
            self.pose_changed.emit(hand)

    def set_joint_angle(self, hand_index: int, joint: int, radians: float) -> None:
        if not 0 <= joint < NUM_JOINTS:
            raise IndexError(f"joint {joint} out of range 0..{NUM_JOINTS - 1}")
        pose = self.poses[hand_index]
        if float(pose.joint_angles[joint]) == radians:
            return
        angles = pose.joint_angles.clone()
        angles[joint] = radians
        self.poses[hand_index] = replace(pose, joint_angles=angles)
        self.pose_changed.emit(hand_index)

    def set_pose(self, pose: HandPose) -> None:
        self.poses[pose.hand_index] = pose.validated(f"{('left', 'right')[pose.hand_index]} hand")
        self.pose_changed.emit(pose.hand_index)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        if name not in self.visible_layers:
            raise KeyError(f"unknown layer {name!r}; layers: {', '.join(self.visible_layers)}")
        if self.visible_layers[name] != visible:
            self.visible_layers[name] = visible
            self.layer_toggled.emit(name, visible)

import math

import pytest
import torch

from app.session import Session
from umetrack.errors import FormatError, InvalidPoseError


def test_session_emits_pose_changes_and_layers():
    session = Session()
    seen = []
    session.pose_changed.connect(seen.append)
    session.set_joint_angle(1, 6, 0.9)
    assert seen == [1]
    assert float(session.displayed_pose(1).joint_angles[6]) == pytest.approx(0.9)
    session.set_joint_angle(1, 6, 0.9)  # no change, no event
    assert seen == [1]
    toggles = []
    session.layer_toggled.connect(lambda name, visible: toggles.append((name, visible)))
    session.set_layer_visible("skeleton", False)
    assert toggles == [("skeleton", False)] and session.visible_layers["skeleton"] is False
    with pytest.raises(KeyError):
        session.set_layer_visible("nope", True)


def test_bad_hand_model_keeps_current(tmp_path):
    session = Session()
    before = session.hand_model
    bad = tmp_path / "broken.json"
    bad.write_text('{"joint_rotation_axes": [[1, 0, 0]]')
    with pytest.raises(FormatError):
        session.load_hand_model(bad)
    assert session.hand_model is before


def test_invalid_pose_rejected():
    session = Session()
    pose = session.displayed_pose(0)
    from dataclasses import replace

    with pytest.raises(InvalidPoseError):
        session.set_pose(replace(pose, joint_angles=torch.full((22,), math.nan)))

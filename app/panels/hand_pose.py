"""Hand pose panel: one slider per finger DOF of the chosen hand, within the model's joint limits.

With a recording that has ground truth, the sliders show the GT angles at the playhead (read-only);
without one they pose the hand model by hand.
"""

from __future__ import annotations

import math

from PySide6 import QtCore, QtWidgets

from app.session import Session
from app.style import fix_label_size
from app.visibility import ShownWatcher, on_screen
from umetrack.hand.model import HAND_NAMES, JOINT_NAMES, NUM_FINGER_JOINTS

SLIDER_STEPS_PER_DEGREE = 10


class HandPosePanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("hand_pose")
        # Opaque: the values that change every frame of playback then repaint this panel only, not the
        # dock (title bar and frame) around it.
        self.setAutoFillBackground(True)
        self.session = session
        self.hand_selector = QtWidgets.QComboBox()
        self.hand_selector.addItems([name.capitalize() for name in HAND_NAMES])
        self.hand_selector.currentIndexChanged.connect(self._sync_from_session)
        self.reset_button = QtWidgets.QPushButton("Neutral pose")
        self.reset_button.setToolTip("Set every joint of this hand to the middle of its range")
        self.reset_button.clicked.connect(self.reset_to_neutral)

        form = QtWidgets.QFormLayout()
        self.sliders: list[QtWidgets.QSlider] = []
        self.value_labels: list[QtWidgets.QLabel] = []
        for joint in range(NUM_FINGER_JOINTS):
            slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            slider.setObjectName(f"joint_{joint}")
            slider.valueChanged.connect(lambda value, j=joint: self._on_slider(j, value))
            label = fix_label_size(QtWidgets.QLabel(), "-180.0°")
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            row = QtWidgets.QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(label)
            form.addRow(JOINT_NAMES[joint].replace("_", " "), row)
            self.sliders.append(slider)
            self.value_labels.append(label)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.hand_selector, 1)
        top.addWidget(self.reset_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addStretch(1)

        self._ranges_of = None
        """The hand model the sliders' ranges were set for."""
        self.stale = False
        self.shown_watcher = ShownWatcher(self, lambda: self._sync_from_session() if self.stale else None)
        session.pose_changed.connect(self._on_pose_changed)
        session.hand_model_changed.connect(lambda _m: self._sync_from_session())
        session.recording_changed.connect(lambda _r: self._sync_from_session())
        self._sync_from_session()

    @property
    def hand(self) -> int:
        return self.hand_selector.currentIndex()

    def _sync_from_session(self) -> None:
        """Sliders and values of the chosen hand; off screen (closed, or its dock tabbed away) only
        remembered, done when the panel comes back."""
        self.stale = not on_screen(self)
        if self.stale:
            return
        model = self.session.hand_model
        if self._ranges_of is not model:  # slider ranges change with the model only
            self._ranges_of = model
            for slider, (lo, hi) in zip(self.sliders, model.joint_limits[:NUM_FINGER_JOINTS].tolist()):
                with QtCore.QSignalBlocker(slider):
                    slider.setRange(math.floor(math.degrees(lo) * SLIDER_STEPS_PER_DEGREE), math.ceil(math.degrees(hi) * SLIDER_STEPS_PER_DEGREE))
        pose = self.session.displayed_pose(self.hand)
        editable = not self.session.follows_recording
        self.reset_button.setEnabled(editable)
        # Plain floats: reading 20 tensor elements one by one cost more than the widgets' updates.
        degrees = [math.degrees(a) for a in pose.joint_angles[:NUM_FINGER_JOINTS].tolist()] if pose is not None else None
        for joint, slider in enumerate(self.sliders):
            slider.setEnabled(editable and pose is not None)
            if degrees is not None:
                with QtCore.QSignalBlocker(slider):
                    slider.setValue(round(degrees[joint] * SLIDER_STEPS_PER_DEGREE))
            self.value_labels[joint].setText(f"{degrees[joint]:6.1f}°" if degrees is not None else "—")

    def _on_pose_changed(self, hand: int) -> None:
        if hand == self.hand:
            self._sync_from_session()

    def _on_slider(self, joint: int, value: int) -> None:
        # Slider ends are rounded outwards to whole steps; never pose a joint past its limit.
        lo, hi = (float(v) for v in self.session.hand_model.joint_limits[joint])
        radians = min(max(math.radians(value / SLIDER_STEPS_PER_DEGREE), lo), hi)
        self.session.set_joint_angle(self.hand, joint, radians)

    def reset_to_neutral(self) -> None:
        neutral = self.session.hand_model.neutral_angles
        for joint in range(NUM_FINGER_JOINTS):
            self.session.set_joint_angle(self.hand, joint, float(neutral[joint]))

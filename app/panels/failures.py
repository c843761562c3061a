"""Failure finder: the worst frames and segments of the tracked recording, ranked (MPJPE spikes,
jitter spikes, left/right swaps, track losses with their reason code). Double-click or Enter on a
row seeks there and selects the hand (and, for an MPJPE spike, its worst joint).

The ranking is ``umetrack.eval.failures.find_failures``; it runs in a ``BackgroundComputation`` so a
long recording never freezes the GUI.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.session import Session
from app.workers import BackgroundComputation
from umetrack.eval.failures import Failure, find_failures
from umetrack.eval.ground_truth import gt_landmarks
from umetrack.hand.model import HAND_NAMES
from umetrack.recording import Recording
from umetrack.track.results import TrackedRecording

MAX_ROWS = 1000
"""The worst this many are listed; a table of more is not read by anyone."""
COLUMNS = ("kind", "hand", "frames", "score", "what")


def recording_failures(recording: Recording, tracking: TrackedRecording) -> list[Failure]:
    """The ranked failures of ``tracking`` against the recording's GT (if any). Runs in a worker."""
    return find_failures(tracking.landmarks, tracking.reasons, gt_landmarks(recording), limit=MAX_ROWS)


class FailuresPanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("failures")
        self.session = session
        self.failures: list[Failure] = []
        self.computation = BackgroundComputation(self)
        self.computation.computed.connect(self._on_computed)
        self.computation.failed.connect(lambda message: self._show([], f"The failure finder failed: {message}"))

        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # ``activated`` is a double-click, or Enter/Return on the current row.
        self.table.activated.connect(lambda index: self.jump_to(index.row()))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)

        session.recording_changed.connect(lambda _r: self.recompute())
        session.tracking_changed.connect(lambda _t: self.recompute())
        self.recompute()

    def recompute(self) -> None:
        recording, tracking = self.session.recording, self.session.tracking
        if recording is None or tracking is None:
            self.computation.discard()
            self._show([], "No tracking results: run the tracker (Tracking ▸ Run tracker…) to find its failures.")
            return
        self._show([], "Finding failures…")
        self.computation.request(lambda: recording_failures(recording, tracking))

    def _on_computed(self, failures: list[Failure]) -> None:
        no_gt = self.session.recording is not None and self.session.recording.gt is None
        sentences = [f"{len(failures)} failures, worst first" + (f" (the worst {MAX_ROWS} shown)" if len(failures) == MAX_ROWS else "")
                     if failures else "No failures found"]  # fmt: skip
        if no_gt:
            sentences.append("No ground truth: only jitter spikes and track losses can be found")
        sentences.append("Double-click or Enter jumps there")
        self._show(failures, ". ".join(sentences) + ".")

    def _show(self, failures: list[Failure], message: str) -> None:
        self.failures = failures
        self.message.setText(message)
        self.table.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            frames = str(failure.start) if failure.num_frames == 1 else f"{failure.start}–{failure.end - 1}"
            cells = (failure.kind.value, HAND_NAMES[failure.hand], frames, f"{failure.score:.1f}", failure.description)
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(failure.description)
                if column in (2, 3):
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)

    def jump_to(self, row: int) -> None:
        """Seek to the failure's worst frame and select its hand (and joint, for an MPJPE spike)."""
        if not 0 <= row < len(self.failures):
            return
        failure = self.failures[row]
        if failure.joint is not None:
            self.session.select_joint(failure.hand, failure.joint)
        else:
            self.session.select_hand(failure.hand)
        self.session.seek(failure.peak_frame)

    def shutdown(self) -> None:
        self.computation.shutdown()

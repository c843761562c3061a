"""File ▸ Save session / Save session as… / Open session… / Open recent session: the main window's
side of app/session_file.py (dialogs, recent list, dock layout, re-running the tracker)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from app.session_file import (
    SESSION_SUFFIX,
    SESSIONS_DIR,
    SessionState,
    TrackerRun,
    apply_view_state,
    capture,
    load_session_file,
    save_session_file,
)
from umetrack.hand.io import load_hand_model
from umetrack.recording import open_recording

if TYPE_CHECKING:
    from app.main_window import MainWindow

RECENT_KEY = "sessions/recent"
MAX_RECENT = 8
FILE_FILTER = f"Studio sessions (*{SESSION_SUFFIX});;All files (*)"


class SessionActions(QtCore.QObject):
    """Adds the session entries to the File menu and saves/restores the window's session."""

    def __init__(self, window: "MainWindow", menu: QtWidgets.QMenu):
        super().__init__(window)
        self.window = window
        self.session_path: Path | None = None
        """The file the session was last saved to or opened from (Ctrl+S writes there)."""
        self.open_action = menu.addAction("Open &session…", self.open_dialog)
        self.open_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+O"))
        self.recent_menu = menu.addMenu("Open &recent session")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.save_action = menu.addAction("&Save session", self.save)
        self.save_action.setShortcut(QtGui.QKeySequence.StandardKey.Save)
        self.save_as_action = menu.addAction("Save session &as…", self.save_as_dialog)
        self.save_as_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+S"))

    # -- saving ----------------------------------------------------------------------------------

    def current_tracker_run(self) -> TrackerRun | None:
        """The run whose results are on display: the tracking cache entry holding exactly them."""
        session = self.window.session
        if session.tracking is None:
            return None
        for (recording, model, options, hand_model), results in self.window.tracking_cache.items():
            if results is session.tracking and recording == str(session.recording_path) and hand_model == session.hand_model_identity:
                return TrackerRun(Path(model).resolve(), options.skeleton, options.crops)
        return None  # results that came from elsewhere (a script) cannot be re-run

    def state(self) -> SessionState:
        return capture(self.window.session, self.current_tracker_run(), bytes(self.window.saveState().data()))

    def save(self) -> bool:
        if self.session_path is None:
            return self.save_as_dialog()
        return self.save_to(self.session_path)

    def save_as_dialog(self) -> bool:
        recording = self.window.session.recording
        name = (recording.name if recording is not None else "session") + SESSION_SUFFIX
        start = self.session_path or SESSIONS_DIR / name
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Save session", str(start), FILE_FILTER)
        return self.save_to(path) if path else False

    def save_to(self, path: str | Path) -> bool:
        """Write the session atomically; a failed write shows why and changes nothing on disk."""
        path = Path(path)
        try:
            save_session_file(path, self.state())
        except OSError as exc:
            QtWidgets.QMessageBox.warning(self.window, "Cannot save session", f"{path}: {exc.strerror or exc}")
            return False
        self.session_path = path
        self._remember(path)
        self.window.statusBar().showMessage(f"Session saved: {path}")
        return True

    # -- opening ---------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        start = self.session_path.parent if self.session_path else SESSIONS_DIR
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open session", str(start), FILE_FILTER)
        if path:
            self.open(path)

    def open(self, path: str | Path) -> bool:
        """Restore a session file. A corrupt, truncated or unknown-version file, or one whose recording
        or hand model cannot be opened, shows why and leaves the current session untouched."""
        return self.window._try_open("session", self._restore, path)

    def _restore(self, path: str | Path) -> None:
        path = Path(path)
        state = load_session_file(path)
        session = self.window.session
        # Open every file before applying anything, so a failure leaves the session as it was.
        recording = None
        reuse = state.recording_path is not None and session.recording is not None and _same_file(state.recording_path, session.recording_path)
        if state.recording_path is not None:
            recording = session.recording if reuse else open_recording(state.recording_path)
        # The model file is always re-read (the one on display may be an earlier recording's own),
        # and only when it will be shown: a session showing the recording's own model never fails on
        # a hand model file it does not need.
        hand_model = None
        if state.restores_hand_model_file(recording is not None and recording.hand_model is not None):
            hand_model = load_hand_model(state.hand_model_path)

        # Recording first: opening it shows its own model, which a user-chosen model then replaces.
        session.set_recording(recording, state.recording_path)
        if hand_model is not None:
            session.set_hand_model(hand_model, state.hand_model_path)
        if state.dock_state is not None and not self.window.restoreState(QtCore.QByteArray(state.dock_state)):
            self.window.statusBar().showMessage("The session's dock layout could not be restored; keeping the current one")
        apply_view_state(session, state)
        self.session_path = path
        self._remember(path)
        message = f"Session opened: {path.name}"
        if state.tracker is not None:
            message += "; " + self._restore_tracking(state.tracker)
        self.window.statusBar().showMessage(message)

    def _restore_tracking(self, run: TrackerRun) -> str:
        """Bring back the session's tracking results: from the cache at once, else a tracker run in the
        worker (the GUI stays live). A tracker already running on the previous recording is cancelled first."""
        if not run.model_path.is_file():
            return f"tracker model not found ({run.model_path}), results not restored"
        model = self._cached_model_spelling(run)
        worker = self.window.tracking_worker
        if worker is None:
            self.window.run_tracker(model, run.options())
            return "tracking results restored" if self.window.tracking_worker is None else "re-running the tracker"
        # Queued slots run in connection order: these run after the window has cleared its worker.
        start = lambda *_: QtCore.QTimer.singleShot(0, lambda: self.window.run_tracker(model, run.options()))  # noqa: E731
        worker.failed.connect(start)
        worker.finished_job.connect(start)
        worker.cancel()
        return "re-running the tracker"

    def _cached_model_spelling(self, run: TrackerRun) -> str:
        """The model path as the cache key spells it (the run may have named it relatively)."""
        recording = str(self.window.session.recording_path)
        for cached_recording, model, options, _hand_model in self.window.tracking_cache:
            if cached_recording == recording and options == run.options() and _same_file(Path(model), run.model_path):
                return model
        return str(run.model_path)

    # -- recent sessions -------------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.window.settings.value(RECENT_KEY, [])
        # QSettings' INI backend returns a lone string for a one-item list.
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry] + [p for p in self.recent() if p != entry]
        self.window.settings.setValue(RECENT_KEY, recent[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent()
        for entry in recent:
            action = self.recent_menu.addAction(entry, lambda p=entry: self.open(p))
            action.setEnabled(Path(entry).is_file())
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear list", lambda: self.window.settings.setValue(RECENT_KEY, []))


def _same_file(a: Path | None, b: Path | None) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


"""Transport: play/pause, step, shuttle (J/K/L), speed, frame entry and a scrub bar.

Playback advances the session's playhead on a timer at the recording's frame rate times the
speed; decoding coalesces behind it, so a slow decoder drops frames instead of lagging. Paced by the
views (``follow_display``), playback also waits for the frame it asked for to be shown before moving
on: every panel redraws on each playhead move, and moves the images cannot keep up with would only
be drawn in overlays over stale images, costing the time the next shown frame needs.

The timer is single-shot, set for the moment the next frame is due, and a frame shown after its
successor was due moves on at once: with a periodic timer (every half frame) a frame that was shown
waited up to half a frame for the next tick, and a machine that draws a frame in 27-30 ms dropped
2-12 % of the frames at 1x for lack of that time. A few frames behind the clock, playback shows the
next frame instead of skipping (``CATCH_UP_FRAMES``).
"""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

from app.session import Session
from app.style import fix_label_size

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
SHUTTLE_SPEEDS = (1.0, 2.0, 4.0, 8.0)
DEFAULT_FPS = 30.0
CATCH_UP_FRAMES = 3
"""Playback this many frames or fewer behind the clock shows the next frame rather than skipping to
the clock's: a frame that took a little longer to draw is followed by every frame, and the faster
ones after it catch up. Further behind (a machine that cannot keep up with the speed), it skips."""
MAX_DISPLAY_WAIT_MS = 500
"""Playback moves on without the display after this long (a frame that failed to decode never shows)."""


class TransportPanel(QtWidgets.QWidget):
    def __init__(self, session: Session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("transport")
        # Opaque: the values that change every frame of playback then repaint this panel only, not the
        # dock (title bar and frame) around it.
        self.setAutoFillBackground(True)
        self.session = session
        self.direction = 0  # -1 reverse, 0 paused, +1 forward
        self.speed = 1.0
        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self._elapsed = QtCore.QElapsedTimer()
        self._start_frame = 0
        self._paced_by_display = False
        self._awaiting_display: int | None = None
        self._awaiting_since = QtCore.QElapsedTimer()

        style = self.style()
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        self.back_button = QtWidgets.QToolButton()
        self.back_button.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.back_button.setToolTip("Previous frame (Left, Shift+Left: 10)")
        self.back_button.clicked.connect(lambda: self.step(-1))
        self.forward_button = QtWidgets.QToolButton()
        self.forward_button.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaSeekForward))
        self.forward_button.setToolTip("Next frame (Right, Shift+Right: 10)")
        self.forward_button.clicked.connect(lambda: self.step(1))
        self.scrub = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.scrub.setObjectName("scrub")
        self.scrub.valueChanged.connect(self.session.seek)
        self.frame_box = QtWidgets.QSpinBox()
        self.frame_box.setObjectName("frame_box")
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.valueChanged.connect(self.session.seek)
        self.total_label = QtWidgets.QLabel("/ 0")
        self.time_label = fix_label_size(QtWidgets.QLabel("0.00 s"), "00000.00 s")  # changes every frame
        self.time_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.speed_box = QtWidgets.QComboBox()
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}x", speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))

        layout = QtWidgets.QHBoxLayout(self)
        for widget in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(widget)
        layout.addWidget(self.scrub, 1)
        layout.addWidget(self.frame_box)
        layout.addWidget(self.total_label)
        layout.addWidget(self.time_label)
        layout.addWidget(self.speed_box)

        session.recording_changed.connect(self._on_recording_changed)
        session.playhead_changed.connect(self._on_playhead_changed)
        self._on_recording_changed(session.recording)

    def install_shortcuts(self, window: QtWidgets.QWidget) -> None:
        """Window-wide keys: Space, Left/Right (+Shift), J/K/L shuttle, Home/End."""
        bindings = {
            "Space": self.toggle_play,
            "Right": lambda: self.step(1),
            "Left": lambda: self.step(-1),
            "Shift+Right": lambda: self.step(10),
            "Shift+Left": lambda: self.step(-10),
            "L": lambda: self.shuttle(+1),
            "J": lambda: self.shuttle(-1),
            "K": self.pause,
            "Home": lambda: self.session.seek(0),
            "End": lambda: self.session.seek(self.session.num_frames - 1),
        }
        self.shortcuts = []
        for key, slot in bindings.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), window)
            shortcut.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
            self.shortcuts.append(shortcut)

    def follow_display(self, frame_shown: QtCore.SignalInstance) -> None:
        """Pace playback by a views panel's ``frame_shown(frame)`` signal (see the module docstring)."""
        frame_shown.connect(self._on_frame_displayed)
        self._paced_by_display = True

    def _on_frame_displayed(self, frame: int) -> None:
        if frame == self._awaiting_display:
            self._awaiting_display = None
            if self.playing:
                self._tick()  # the next frame may be due already: no waiting for the timer

    # -- state -----------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self.direction != 0

    @property
    def fps(self) -> float:
        recording = self.session.recording
        if recording is None or recording.num_frames < 2:
            return DEFAULT_FPS
        span = (recording.timestamps_ns[-1] - recording.timestamps_ns[0]) / 1e9
        return (recording.num_frames - 1) / span if span > 0 else DEFAULT_FPS

    def _on_recording_changed(self, recording) -> None:
        self.pause()
        frames = recording.num_frames if recording is not None else 0
        for widget in (self.scrub, self.frame_box):
            with QtCore.QSignalBlocker(widget):
                widget.setRange(0, max(0, frames - 1))
        self.total_label.setText(f"/ {max(0, frames - 1)}")
        for widget in (self.scrub, self.frame_box, self.play_button, self.back_button, self.forward_button):
            widget.setEnabled(frames > 0)
        self._on_playhead_changed(self.session.playhead)

    def _on_playhead_changed(self, frame: int) -> None:
        for widget in (self.scrub, self.frame_box):
            with QtCore.QSignalBlocker(widget):
                widget.setValue(frame)
        recording = self.session.recording
        seconds = (recording.timestamps_ns[frame] - recording.timestamps_ns[0]) / 1e9 if recording is not None and recording.num_frames else 0.0
        self.time_label.setText(f"{seconds:.2f} s")

    # -- actions ---------------------------------------------------------------------------------

    def step(self, delta: int) -> None:
        self.pause()
        self.session.step(delta)

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        if self.playing:
            self._restart_clock()

    def play(self, direction: int = 1) -> None:
        if self.session.recording is None:
            return
        if direction > 0 and self.session.playhead >= self.session.num_frames - 1:
            self.session.seek(0)  # play from the start again, like any player
        self.direction = direction
        self.play_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause))
        self._restart_clock()
        self._schedule_tick()

    def pause(self) -> None:
        self.direction = 0
        self._awaiting_display = None
        self.timer.stop()
        self.play_button.setIcon(self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play(1)

    def shuttle(self, direction: int) -> None:
        """J/L: start playing that way, or go faster (1x, 2x, 4x, 8x) when already doing so."""
        if self.direction == direction:
            faster = [s for s in SHUTTLE_SPEEDS if s > self.speed]
            self.speed = faster[0] if faster else self.speed
        else:
            self.speed = 1.0
        self.play(direction)

    def _restart_clock(self) -> None:
        self._elapsed.start()
        self._start_frame = self.session.playhead

    def _clock_frame(self) -> int:
        """The frame the wall clock says is due (frames since play started, at the speed)."""
        return self._start_frame + self.direction * int(self._elapsed.elapsed() / 1000.0 * self.fps * self.speed)

    def _tick(self) -> None:
        # Frame from wall-clock time, so playback keeps real time whatever the timer jitter.
        target = self._clock_frame()
        if 0 < self.direction * (target - self.session.playhead) <= CATCH_UP_FRAMES:
            target = self.session.playhead + self.direction
        last = self.session.num_frames - 1
        # The end in the direction of play (a first tick within one frame of starting at 0 is not one).
        if (self.direction > 0 and target >= last) or (self.direction < 0 and target <= 0):
            self.session.seek(max(0, min(target, last)))
            self.pause()
            return
        if self._awaiting_display is not None and self._awaiting_since.elapsed() < MAX_DISPLAY_WAIT_MS:
            # The frame asked for last is not on screen yet: hold rather than pile up moves; its
            # display ticks again, and the timer gives up on it after MAX_DISPLAY_WAIT_MS.
            self._schedule_tick()
            return
        if target != self.session.playhead and self._paced_by_display and self.session.recording.has_images:
            self._awaiting_display = target
            self._awaiting_since.start()
        self.session.seek(target)
        if self.playing:
            self._schedule_tick()

    def _schedule_tick(self) -> None:
        """Tick when the frame after the clock's current one is due (or at the give-up time, while
        waiting for the display; the display's own tick usually comes first)."""
        if self._awaiting_display is not None:
            self.timer.start(max(1, MAX_DISPLAY_WAIT_MS - int(self._awaiting_since.elapsed())))
            return
        if self.direction * (self._clock_frame() - self.session.playhead) > 0:
            self.timer.start(1)  # behind the clock (not paced by a display): catch up
            return
        rate = self.fps * self.speed
        elapsed_ms = self._elapsed.elapsed()
        next_due_ms = (int(elapsed_ms / 1000.0 * rate) + 1) * 1000.0 / rate
        self.timer.start(max(1, math.ceil(next_due_ms - elapsed_ms)))

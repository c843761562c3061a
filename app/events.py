"""A minimal Qt-free observer primitive for the session model (in the spirit of napari's events).

The model must not import Qt so it can be tested and scripted without a display; Qt views
connect plain callables to these events and are called synchronously on the thread that
changed the model (always the GUI thread: workers hand results back through Qt signals).
"""

from __future__ import annotations

from typing import Any, Callable

Callback = Callable[..., Any]


class Event:
    """A named list of callbacks; ``emit`` calls each one with the given arguments, in order."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callback] = []

    def connect(self, callback: Callback) -> Callback:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)

    def __len__(self) -> int:
        return len(self._callbacks)

"""File helpers shared by every reader and writer: atomic writes and JSON loading with typed errors."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from umetrack.errors import FormatError


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either its old content or the new, never a torn file.

    Writes a temporary file in the same folder, fsyncs it, then renames it over ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would (0666 & ~umask).
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def new_temporary_sibling(path: str | Path) -> Path:
    """Create an empty temporary file next to ``path`` (same folder, so ``os.replace`` onto ``path``
    is atomic) with the permissions a plain ``open()`` would give. The caller writes it, then
    renames it over ``path``, or deletes it on failure. For outputs written by other libraries
    (a video encoder) or several files committed together."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_current_umask())
    os.close(fd)
    return Path(tmp)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, document: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(document, indent=indent))


def read_text(path: str | Path) -> str:
    """A UTF-8 text file's content; a missing, unreadable or non-UTF-8 file raises FormatError."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, "", f"cannot read file: {exc}") from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing, unreadable, truncated or malformed file raises FormatError."""
    path = Path(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = "truncated JSON" if exc.pos >= len(text.rstrip()) else "malformed JSON"
        raise FormatError(path, "", f"{reason} at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_jsonl(path: str | Path) -> list[Any]:
    """Parse a JSON-lines file (blank lines skipped); a bad line raises FormatError naming the line."""
    path = Path(path)
    lines = read_text(path).splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FormatError(path, f"line {number}", f"malformed JSON: {exc.msg}") from None
    return out


def require(document: Any, key: str, source: str | Path | None, parent: str = "") -> Any:
    """``document[key]`` or a FormatError naming the field (never a bare KeyError/TypeError)."""
    field = f"{parent}.{key}" if parent else key
    if not isinstance(document, dict):
        raise FormatError(source, parent or "<root>", f"expected a JSON object, got {type(document).__name__}")
    if key not in document:
        raise FormatError(source, field, "missing")
    return document[key]


def array_field(
    document: Any,
    key: str,
    shape: tuple[int | None, ...],
    source: str | Path | None,
    parent: str = "",
    dtype: "np.dtype | type" = None,
):
    """Read ``document[key]`` as a finite numpy array of the given shape (None = any size).

    Raises FormatError naming the field for a missing key, ragged/non-numeric data, a wrong shape
    or NaN/inf values.
    """
    import numpy as np

    field = f"{parent}.{key}" if parent else key
    value = require(document, key, source, parent)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(source, field, "expected a numeric array (ragged or non-numeric entries)") from None
    if array.ndim != len(shape) or any(want is not None and want != got for want, got in zip(shape, array.shape)):
        want = "x".join("N" if s is None else str(s) for s in shape) or "scalar"
        raise FormatError(source, field, f"expected shape {want}, got {'x'.join(map(str, array.shape)) or 'scalar'}")
    if not np.isfinite(array).all():
        raise FormatError(source, field, "contains NaN or inf")
    if dtype is not None:
        if np.issubdtype(np.dtype(dtype), np.integer):
            if (array != np.round(array)).any():
                raise FormatError(source, field, "expected integer values")
        array = array.astype(dtype)
    return array

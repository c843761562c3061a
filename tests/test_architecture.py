"""Layering rules, checked on the source: the library stays GUI-free, panels stay independent."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUI_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "vispy", "pyqtgraph")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _python_files(folder: str) -> list[Path]:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return files


def test_library_never_imports_gui_toolkits():
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in _python_files("umetrack")
        for name in _imports(path)
        if name.split(".")[0] in GUI_MODULES
    ]
    assert not offenders, "\n".join(offenders)


def test_library_never_imports_the_app():
    offenders = [str(p.relative_to(REPO)) for p in _python_files("umetrack") if any(n.split(".")[0] == "app" for n in _imports(p))]
    assert not offenders


def test_session_model_is_qt_free():
    for module in ("session.py", "events.py"):
        names = _imports(REPO / "app" / module)
        assert not [n for n in names if n.split(".")[0] in GUI_MODULES], module


def test_panels_do_not_import_each_other():
    offenders = [
        f"{path.name} imports {name}"
        for path in _python_files("app/panels")
        for name in _imports(path)
        if name.startswith("app.panels.")
    ]
    assert not offenders, "\n".join(offenders)


def test_detector_catches_a_gui_import(tmp_path):
    """The check above must be able to fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom vispy import scene\n")
    assert "vispy" in _imports(bad)

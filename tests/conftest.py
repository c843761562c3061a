"""Shared test fixtures: where the public reference data lives (skip cleanly when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the calling test when that data is not on this machine."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


@pytest.fixture
def hot3d_dir() -> Path:
    return shared_data_path("hot3d_quest3")


@pytest.fixture
def generic_hand_model_path() -> Path:
    return shared_data_path("umetrack", "generic_hand_model.json")


@pytest.fixture(scope="session")
def hand_model():
    """The project's own hand model asset (resources/hand_model.json), metres."""
    from umetrack.hand.io import load_hand_model

    return load_hand_model(REPO_ROOT / "resources" / "hand_model.json")

"""Shared test helpers: where the official conformance fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    """``$POSE_PERCEPTION_FIXTURES`` or ``../shared/fixtures`` beside the repository."""
    return Path(os.environ.get("POSE_PERCEPTION_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def rtmpose_t_fixtures() -> Path:
    """The official MMPose rtmpose-t fixtures; missing is an error in CI, a skip elsewhere."""
    path = fixtures_dir() / "rtmpose-t"
    if not (path / "ref_t.npz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"conformance fixtures missing at {path} (CI must have ../shared)")
        pytest.skip(f"conformance fixtures not found at {path}")
    return path

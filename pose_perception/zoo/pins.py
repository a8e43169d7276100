"""What a model file must match: its registry size and hash, and the user's SHA-256 pins.

A pin may be a prefix (the official ``.pth`` names carry only 8 hex digits of their
SHA-256), which pooch's ``known_hash`` cannot express, so the comparison lives here.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pose_perception.fileio import atomic_output
from pose_perception.zoo.registry import ZooEntry, check_hash

PIN_SUFFIX = ".sha256"  # beside a needs_pin download: the pins it was verified against


def pin_env_var(name: str) -> str:
    """The variable that pins a download's SHA-256, e.g. ``POSE_PERCEPTION_SHA256_RTMDET_NANO``."""
    return "POSE_PERCEPTION_SHA256_" + re.sub(r"[^0-9A-Z]", "_", name.upper())


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_hashes(entry: ZooEntry, expected_sha256: str | None) -> list[str]:
    """Every hash (or prefix) the downloaded file must match: registry, env pin, argument."""
    hashes = [entry.sha256] if entry.sha256 else []
    env = pin_env_var(entry.name)
    if os.environ.get(env):
        hashes.append(check_hash(os.environ[env].strip().lower(), env))
    if expected_sha256:
        hashes.append(check_hash(expected_sha256.strip().lower(), "expected_sha256"))
    return hashes


def match_hashes(digest: str, hashes: Sequence[str], what: str) -> None:
    for expected in hashes:
        if not digest.startswith(expected):
            raise ValueError(f"{what}: sha256 {digest[:16]}… does not match expected {expected}")


def check_file(path: Path, size: int | None, hashes: Sequence[str]) -> str:
    """Raise ValueError if ``path`` differs from ``size`` (when known) or ``hashes``; return its SHA-256."""
    if size is not None and path.stat().st_size != size:
        raise ValueError(f"{path}: size {path.stat().st_size} != expected {size}")
    digest = sha256_of(path)
    match_hashes(digest, hashes, str(path))
    return digest


def verify_file(path: Path, entry: ZooEntry, expected_sha256: str | None = None) -> str:
    """Raise ValueError if size or hash differ from the entry (and the pins); return the SHA-256."""
    return check_file(path, entry.size, expected_hashes(entry, expected_sha256))


def record_pin(path: Path, hashes: Sequence[str]) -> None:
    """Remember the pins a ``needs_pin`` file was verified against, so later runs need no pin."""
    pin_file = path.with_name(path.name + PIN_SUFFIX)
    with atomic_output(pin_file, suffix=PIN_SUFFIX) as tmp:
        Path(tmp).write_text("\n".join(hashes) + "\n", encoding="ascii")


def recorded_pin(path: Path) -> list[str]:
    """The pins :func:`record_pin` kept for ``path`` (none if absent); a damaged file is an error."""
    pin_file = path.with_name(path.name + PIN_SUFFIX)
    if not pin_file.is_file():
        return []
    with open(pin_file, "rb") as f:
        text = f.read(1024).decode("ascii", errors="replace")
    return [check_hash(line.strip(), str(pin_file)) for line in text.splitlines() if line.strip()]

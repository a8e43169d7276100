"""Model registry: names → official download URLs, a cache directory, verified downloads.

Downloads go to a temporary file beside the target, are checked (size where known,
SHA-256 or its published prefix) and only then renamed into place, so a cache never
holds a partial or corrupt file. Offline machines get a message saying exactly which
file to place where.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OFFICIAL_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    arch: str
    url: str
    sha256: str  # full hex digest, or the 8-hex prefix the official file names carry
    size: int | None = None
    skeleton: str = "coco17"
    description: str = ""

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _official(name: str, arch: str, filename: str, note: str) -> ZooEntry:
    # MMEngine's publish step names files <stem>-<first 8 hex of sha256>_<date>.pth
    sha_prefix = filename.rsplit("-", 1)[-1].split("_", 1)[0]
    return ZooEntry(name, arch, OFFICIAL_BASE + filename, sha_prefix, description=note)


REGISTRY: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        _official("rtmpose-t", "rtmpose-t",
                  "rtmpose-tiny_simcc-aic-coco_pt-aic-coco_420e-256x192-cfc8f33d_20230126.pth",
                  "COCO-17, AIC+COCO, COCO AP 68.5"),
        _official("rtmpose-s", "rtmpose-s",
                  "rtmpose-s_simcc-aic-coco_pt-aic-coco_420e-256x192-fcb2599b_20230126.pth",
                  "COCO-17, AIC+COCO, COCO AP 72.2"),
        _official("rtmpose-m", "rtmpose-m",
                  "rtmpose-m_simcc-aic-coco_pt-aic-coco_420e-256x192-63eb25f7_20230126.pth",
                  "COCO-17, AIC+COCO, COCO AP 75.8"),
        _official("rtmpose-l", "rtmpose-l",
                  "rtmpose-l_simcc-aic-coco_pt-aic-coco_420e-256x192-f016ffe0_20230126.pth",
                  "COCO-17, AIC+COCO, COCO AP 76.5"),
        _official("rtmpose-m-384x288", "rtmpose-m-384x288",
                  "rtmpose-m_simcc-aic-coco_pt-aic-coco_420e-384x288-a62a0b32_20230228.pth",
                  "COCO-17, AIC+COCO, COCO AP 77.0"),
        _official("rtmpose-l-384x288", "rtmpose-l-384x288",
                  "rtmpose-l_simcc-aic-coco_pt-aic-coco_420e-384x288-97d6cb0f_20230228.pth",
                  "COCO-17, AIC+COCO, COCO AP 77.3"),
    )
}  # fmt: skip


class ModelUnavailableError(RuntimeError):
    """The model is neither cached nor downloadable; the message says what to do."""


def default_cache_dir() -> Path:
    """``$POSE_PERCEPTION_HOME``, else ``$XDG_CACHE_HOME/pose_perception``, else ~/.cache."""
    if os.environ.get("POSE_PERCEPTION_HOME"):
        return Path(os.environ["POSE_PERCEPTION_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pose_perception"


def is_offline() -> bool:
    return os.environ.get("POSE_PERCEPTION_OFFLINE", "").lower() in ("1", "true", "yes")


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, entry: ZooEntry) -> None:
    """Raise ValueError if size or hash differ from the registry entry."""
    if entry.size is not None and path.stat().st_size != entry.size:
        raise ValueError(f"{path}: size {path.stat().st_size} != expected {entry.size}")
    digest = sha256_of(path)
    if not digest.startswith(entry.sha256.lower()):
        raise ValueError(f"{path}: sha256 {digest[:16]}… does not match expected {entry.sha256}")


def resolve(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    registry: dict[str, ZooEntry] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> tuple[Path, ZooEntry]:
    """Return the verified local file of a registry model, downloading it if needed."""
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise KeyError(f"unknown model {name!r}; registry has: {', '.join(sorted(registry))}")
    entry = registry[name]
    target = Path(cache_dir or default_cache_dir()) / entry.filename
    if target.is_file():
        verify_file(target, entry)
        return target, entry
    if is_offline():
        raise ModelUnavailableError(_offline_message(entry, target, "POSE_PERCEPTION_OFFLINE is set"))
    try:
        download(entry, target, timeout=timeout, progress=progress)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise ModelUnavailableError(_offline_message(entry, target, str(err))) from err
    return target, entry


def _offline_message(entry: ZooEntry, target: Path, reason: str) -> str:
    return (
        f"model {entry.name!r} is not cached and could not be downloaded ({reason}).\n"
        f"  Fetch {entry.url}\n"
        f"  on a machine with internet access and copy it to {target}\n"
        f"  (or pass the local file path instead of the name)."
    )


def download(entry: ZooEntry, target: Path, timeout: float = 30.0, progress: bool = True) -> Path:
    """Stream ``entry.url`` to a temp file beside ``target``, verify, then rename atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or entry.size
            bar = _progress_bar(total, entry.filename) if progress else None
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        try:
            verify_file(tmp, entry)
        except ValueError as err:
            raise ValueError(f"download of {entry.url} failed verification: {err}") from None
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _progress_bar(total: int | None, name: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)

"""Model zoo: a registry name → a verified local file, from the cache, a download or the package.

The jobs live in one module each: the registry table (:mod:`.registry`), what a file
must match (:mod:`.pins`), downloads through pooch into the cache (:mod:`.fetch`), the
archive entries' safe extraction (:mod:`.archive`) and what their ONNX graph must look
like (:mod:`.onnx_checks`). This module holds the cache location rules, the bundled
models and :func:`resolve`, and re-exports the public names.

Downloads go to a temporary file beside the target, are checked and only then renamed
into place, so a cache never holds a partial or corrupt file. Offline machines get a
message saying exactly which file to place where.

Two kinds of entries:

- **Plain files** (the official ``.pth`` checkpoints): checked against their size where
  known and their SHA-256 (or the 8-hex prefix MMEngine puts in the file name).
- **Archives** (``member`` set: MMPose's ``onnx_sdk`` zips of MMDeploy ONNX exports, for
  the person detectors, the body7, whole-body, hand, face and animal pose models and RTMO):
  ``member`` (``end2end.onnx``) is extracted from the zip and cached as
  ``<cache>/<zip stem>.onnx`` (see :mod:`.archive`).

**Limitation of the archive entries:** the 8 hex digits in an ``onnx_sdk`` zip name
(``...-05d8511e.zip``) are the SHA-256 prefix of the *.pth checkpoint the ONNX was
converted from*, not of the zip, and OpenMMLab publishes no checksum of the zips. Their
registry hash is therefore empty: a download is verified *structurally* only (a valid
zip, exactly one ``end2end.onnx`` in it, its CRC right, a readable ONNX graph with one
1x3xHxW input of the published size and the expected outputs), which catches truncated
and corrupt downloads but not a deliberately replaced file. The zip's SHA-256 is logged
(warning) on the first download; pin it with ``resolve(..., expected_sha256=...)`` or
the environment variable ``POSE_PERCEPTION_SHA256_<NAME>`` (see :func:`pin_env_var`),
and every later download *and* every cached resolution must match it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pose_perception.zoo.archive import MAX_MEMBER_BYTES, resolve_archive
from pose_perception.zoo.fetch import ModelUnavailableError, fetch, is_offline
from pose_perception.zoo.onnx_checks import Dims, check_onnx, onnx_io
from pose_perception.zoo.pins import (
    check_file,
    expected_hashes,
    pin_env_var,
    record_pin,
    recorded_pin,
    sha256_of,
    verify_file,
)
from pose_perception.zoo.registry import (
    DETECTOR_ARCHS,
    OFFICIAL_BASE,
    OFFICIAL_BASES,
    ONE_STAGE_ARCHS,
    ONNX_SDK_BASE,
    REGISTRY,
    TASKS,
    ZooEntry,
    names,
)

__all__ = [
    "BUNDLED_DIR",
    "BUNDLED_FALLBACK",
    "DETECTOR_ARCHS",
    "MAX_MEMBER_BYTES",
    "OFFICIAL_BASE",
    "OFFICIAL_BASES",
    "ONE_STAGE_ARCHS",
    "ONNX_SDK_BASE",
    "REGISTRY",
    "TASKS",
    "Dims",
    "ModelUnavailableError",
    "ZooEntry",
    "cached_path",
    "check_onnx",
    "default_cache_dir",
    "is_offline",
    "names",
    "onnx_io",
    "pin_env_var",
    "resolve",
    "resolve_bundled",
    "sha256_of",
    "verify_file",
]

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "bundled"
# What resolve(..., fallback=True) uses, per task, when the requested model is neither
# cached nor downloadable: a registry entry whose file ships in BUNDLED_DIR. Empty until
# a bundled pose model reaches its accuracy target (docs/training.md, "Bundled model").
BUNDLED_FALLBACK: dict[str, str] = {}


def default_cache_dir() -> Path:
    """``$POSE_PERCEPTION_HOME``, else ``$XDG_CACHE_HOME/pose_perception``, else ~/.cache."""
    if os.environ.get("POSE_PERCEPTION_HOME"):
        return Path(os.environ["POSE_PERCEPTION_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pose_perception"


def cached_path(entry: ZooEntry, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`resolve` keeps (and returns) ``entry``'s file; it may not exist yet."""
    if entry.bundled:
        return BUNDLED_DIR / entry.bundled
    return Path(cache_dir or default_cache_dir()) / entry.local_name


def resolve(
    name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    registry: dict[str, ZooEntry] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
    *,
    expected_sha256: str | None = None,
    task: str | None = None,
    fallback: bool = False,
) -> tuple[Path, ZooEntry]:
    """Return the verified local file of a registry model, downloading it if needed.

    For an archive entry the returned path is the extracted ``member`` (an ``.onnx``).
    ``expected_sha256`` (or ``$POSE_PERCEPTION_SHA256_<NAME>``) pins the SHA-256 (or a
    prefix of it) of the downloaded file — the zip for archives — on top of the
    registry's. ``task`` ("pose" / "detector"): refuse an entry of another task before
    anything is downloaded. ``fallback``: when the model is neither cached nor
    downloadable, log a warning and return the bundled model of the same task and
    keypoint schema instead (``BUNDLED_FALLBACK``); a file that fails verification is
    still an error.
    """
    try:
        return _resolve(name, cache_dir, registry, timeout, progress, expected_sha256, task)
    except ModelUnavailableError as err:
        registry = REGISTRY if registry is None else registry
        entry = registry[name]
        substitute = registry.get(BUNDLED_FALLBACK.get(entry.task, ""))
        if not fallback or substitute is None or substitute.skeleton != entry.skeleton:
            raise
        logger.warning(
            "%s\nUsing the bundled %r instead: %s. It is trained on synthetic people only; "
            "place the file above for real-world accuracy.",
            err, substitute.name, substitute.description,
        )  # fmt: skip
        return resolve_bundled(substitute), substitute


def resolve_bundled(entry: ZooEntry) -> Path:
    """The verified path of a model shipped inside the package."""
    path = BUNDLED_DIR / entry.bundled
    if not path.is_file():
        raise ModelUnavailableError(
            f"bundled model {entry.name!r} is missing: {path} (a broken install? reinstall pose_perception)"
        )
    verify_file(path, entry)
    return path


def _resolve(
    name: str,
    cache_dir: str | os.PathLike[str] | None,
    registry: dict[str, ZooEntry] | None,
    timeout: float,
    progress: bool,
    expected_sha256: str | None,
    task: str | None,
) -> tuple[Path, ZooEntry]:
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise KeyError(f"unknown model {name!r}; registry has: {', '.join(sorted(registry))}")
    entry = registry[name]
    if task is not None and entry.task != task:
        raise ValueError(
            f"registry model {name!r} is a {entry.task} model, not a {task} model; "
            f"{task} models: {', '.join(names(task, registry))}"
        )
    if entry.bundled:
        return resolve_bundled(entry), entry
    hashes = expected_hashes(entry, expected_sha256)
    cache = Path(cache_dir or default_cache_dir())
    if entry.member:
        return resolve_archive(entry, cache, hashes, timeout, progress), entry
    target = cache / entry.filename
    user_pins = bool(hashes)
    if entry.needs_pin and not user_pins:
        hashes = recorded_pin(target)  # pinned by the user when it was downloaded
        if not hashes:
            raise ValueError(_pin_needed(entry))
    if target.is_file():  # checked here: pooch would silently download a mismatching file again
        check_file(target, entry.size, hashes)
    else:
        fetch(entry, target, hashes, timeout, progress)
    if entry.needs_pin and user_pins:
        record_pin(target, hashes)
    return target, entry


def _pin_needed(entry: ZooEntry) -> str:
    """Why a ``needs_pin`` file without a pin is not downloaded, and how to pin it."""
    return (
        f"registry model {entry.name!r}: its publisher gives no SHA-256 for {entry.filename}, so it is "
        f"not downloaded unverified; pin the one you trust: {pin_env_var(entry.name)}=<64 hex> (or "
        f"`pose-perception download {entry.name} --sha256 <hex>`)"
    )

"""Model registry: names → official download URLs, a cache directory, verified downloads.

Downloads go to a temporary file beside the target, are checked and only then renamed
into place, so a cache never holds a partial or corrupt file. Offline machines get a
message saying exactly which file to place where.

Two kinds of entries:

- **Plain files** (the official ``.pth`` checkpoints): checked against their size where
  known and their SHA-256 (or the 8-hex prefix MMEngine puts in the file name).
- **Archives** (``member`` set: MMPose's ``onnx_sdk`` zips of MMDeploy ONNX exports, for
  the person detectors and the body7 pose models): the zip is downloaded to a temp
  file, ``member`` (``end2end.onnx``) is extracted from it to a temp file, checked, and
  renamed to ``<cache>/<zip stem>.onnx``; the zip itself is not kept. A small record
  beside it (``<zip stem>.onnx.json``) holds the SHA-256 of the zip and of the ONNX, so
  a cached file is re-verified without network.

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

import hashlib
import http.client
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

logger = logging.getLogger(__name__)

OFFICIAL_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
ONNX_SDK_BASE = OFFICIAL_BASE + "onnx_sdk/"
TASKS = ("pose", "detector")
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
# What resolve(..., fallback=True) uses, per task, when the requested model is neither
# cached nor downloadable: a registry entry whose file ships in BUNDLED_DIR. Empty until
# a bundled pose model reaches its accuracy target (docs/training.md, "Bundled model").
BUNDLED_FALLBACK: dict[str, str] = {}
DETECTOR_ARCHS = ("rtmdet", "yolox")  # = detection.DETECTOR_KINDS (not imported: no cv2 here)
MAX_MEMBER_BYTES = 2**31  # ONNX protobufs cannot be larger; guards against zip bombs
_HEX = re.compile(r"[0-9a-f]*")


def _check_hash(value: str, what: str, allow_empty: bool = False) -> str:
    if (not value and allow_empty) or (8 <= len(value) <= 64 and _HEX.fullmatch(value)):
        return value
    raise ValueError(f"{what} must be 8 to 64 lowercase hex digits, got {value!r}")


@dataclass(frozen=True)
class ZooEntry:
    """One downloadable model.

    ``sha256``: full hex digest, the 8-hex prefix the official ``.pth`` names carry, or
    ``""`` = unknown (allowed only for archives, which are then checked structurally).
    ``task``: ``"pose"`` or ``"detector"``; a detector's ``arch`` is the
    :class:`~pose_perception.detection.OnnxDetector` kind (``rtmdet`` / ``yolox``).
    ``bundled``: instead of a URL, a file shipped in ``pose_perception/bundled/``.
    ``member``: for a ``.zip`` URL, the file to extract — a bare name (``end2end.onnx``)
    matches that file name in any folder of the archive (the official zips nest it under
    ``<date>/<kind>_onnx/<stem>/``) and must match exactly one member; a name with a
    ``/`` must equal the member path.
    ``input_size``: ``(width, height)`` the model's input must have (checked on archives).
    """

    name: str
    arch: str
    url: str
    sha256: str
    size: int | None = None
    skeleton: str = "coco17"
    description: str = ""
    task: str = "pose"
    member: str = ""
    input_size: tuple[int, int] | None = None
    bundled: str = ""

    def __post_init__(self) -> None:
        if bool(self.bundled) == bool(self.url):
            raise ValueError(f"{self.name}: give a url or a bundled file name, not both or neither")
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task must be one of {TASKS}, got {self.task!r}")
        if self.task == "detector" and self.arch not in DETECTOR_ARCHS:
            raise ValueError(f"{self.name}: a detector's arch must be one of {DETECTOR_ARCHS}")
        _check_hash(self.sha256, f"{self.name}: sha256", allow_empty=True)
        if not self.sha256 and not self.member:
            raise ValueError(f"{self.name}: a plain file needs its sha256 (only archives can go without)")
        if self.member and not self.filename.endswith(".zip"):
            raise ValueError(f"{self.name}: member {self.member!r} given but {self.filename} is not a .zip")

    @property
    def filename(self) -> str:
        """The downloaded file's name (the URL's last component), or the bundled file's."""
        return self.bundled or self.url.rsplit("/", 1)[-1]

    @property
    def local_name(self) -> str:
        """The name of the file :func:`resolve` returns: the download, or the extracted member."""
        if not self.member:
            return self.filename
        return self.filename[: -len(".zip")] + PurePosixPath(self.member).suffix


def _official(name: str, arch: str, filename: str, note: str) -> ZooEntry:
    # MMEngine's publish step names files <stem>-<first 8 hex of sha256>_<date>.pth
    sha_prefix = filename.rsplit("-", 1)[-1].split("_", 1)[0]
    return ZooEntry(name, arch, OFFICIAL_BASE + filename, sha_prefix, description=note)


def _onnx_sdk(name: str, task: str, arch: str, filename: str, size: tuple[int, int], note: str) -> ZooEntry:
    # No published checksum: the hex in the name is the source .pth's (see the module doc).
    width, height = size
    return ZooEntry(
        name, arch, ONNX_SDK_BASE + filename, "", task=task, member="end2end.onnx",
        input_size=size, description=f"{note}, input {width}x{height} (official ONNX)",
    )  # fmt: skip


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
        # Official ONNX (MMDeploy end-to-end) pose models, COCO-17 keypoints, trained on body7.
        _onnx_sdk("rtmpose-t-body7", "pose", "rtmpose-t",
                  "rtmpose-t_simcc-body7_pt-body7_420e-256x192-026a1439_20230504.zip", (192, 256),
                  "COCO-17, body7, COCO AP 65.9"),
        _onnx_sdk("rtmpose-s-body7", "pose", "rtmpose-s",
                  "rtmpose-s_simcc-body7_pt-body7_420e-256x192-acd4a1ef_20230504.zip", (192, 256),
                  "COCO-17, body7, COCO AP 69.7"),
        _onnx_sdk("rtmpose-m-body7", "pose", "rtmpose-m",
                  "rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.zip", (192, 256),
                  "COCO-17, body7, COCO AP 74.9"),
        _onnx_sdk("rtmpose-l-body7", "pose", "rtmpose-l",
                  "rtmpose-l_simcc-body7_pt-body7_420e-256x192-4dba18fc_20230504.zip", (192, 256),
                  "COCO-17, body7, COCO AP 76.7"),
        _onnx_sdk("rtmpose-l-body7-384x288", "pose", "rtmpose-l-384x288",
                  "rtmpose-l_simcc-body7_pt-body7_420e-384x288-3f5a1437_20230504.zip", (288, 384),
                  "COCO-17, body7, COCO AP 78.3"),
        _onnx_sdk("rtmpose-x-body7-384x288", "pose", "rtmpose-x-384x288",
                  "rtmpose-x_simcc-body7_pt-body7_700e-384x288-71d7b7e9_20230629.zip", (288, 384),
                  "COCO-17, body7, COCO AP 78.8"),
        # Person detectors of the official RTMPose pipeline (MMDeploy end-to-end: dets, labels).
        _onnx_sdk("rtmdet-nano", "detector", "rtmdet",
                  "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.zip", (320, 320),
                  "person, RTMDet-nano, COCO+Objects365, person AP 40.3"),
        _onnx_sdk("rtmdet-m", "detector", "rtmdet",
                  "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.zip", (640, 640),
                  "person, RTMDet-m, COCO+Objects365, person AP 62.5"),
        _onnx_sdk("yolox-nano", "detector", "yolox",
                  "yolox_nano_8xb8-300e_humanart-40f6f0d0.zip", (416, 416),
                  "person, YOLOX-nano, HumanArt+COCO, AP 38.9"),
        _onnx_sdk("yolox-tiny", "detector", "yolox",
                  "yolox_tiny_8xb8-300e_humanart-6f3252f9.zip", (416, 416),
                  "person, YOLOX-tiny, HumanArt+COCO, AP 47.7"),
        _onnx_sdk("yolox-s", "detector", "yolox",
                  "yolox_s_8xb8-300e_humanart-3ef259a7.zip", (640, 640),
                  "person, YOLOX-s, HumanArt+COCO, AP 54.6"),
        _onnx_sdk("yolox-m", "detector", "yolox",
                  "yolox_m_8xb8-300e_humanart-c2c7a14a.zip", (640, 640),
                  "person, YOLOX-m, HumanArt+COCO, AP 59.1"),
        _onnx_sdk("yolox-l", "detector", "yolox",
                  "yolox_l_8xb8-300e_humanart-ce1d7a62.zip", (640, 640),
                  "person, YOLOX-l, HumanArt+COCO, AP 60.2"),
        _onnx_sdk("yolox-x", "detector", "yolox",
                  "yolox_x_8xb8-300e_humanart-a39d44ed.zip", (640, 640),
                  "person, YOLOX-x, HumanArt+COCO, AP 61.3"),
    )
}  # fmt: skip


class ModelUnavailableError(RuntimeError):
    """The model is neither cached nor downloadable; the message says what to do."""


def names(task: str | None = None, registry: dict[str, ZooEntry] | None = None) -> list[str]:
    """Registry names, sorted; only those of ``task`` ("pose" / "detector") when given."""
    registry = REGISTRY if registry is None else registry
    return sorted(n for n, e in registry.items() if task is None or e.task == task)


def default_cache_dir() -> Path:
    """``$POSE_PERCEPTION_HOME``, else ``$XDG_CACHE_HOME/pose_perception``, else ~/.cache."""
    if os.environ.get("POSE_PERCEPTION_HOME"):
        return Path(os.environ["POSE_PERCEPTION_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pose_perception"


def cached_path(entry: ZooEntry, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    if entry.bundled:
        return BUNDLED_DIR / entry.bundled
    """Where :func:`resolve` keeps (and returns) ``entry``'s file; it may not exist yet."""
    return Path(cache_dir or default_cache_dir()) / entry.local_name


def is_offline() -> bool:
    return os.environ.get("POSE_PERCEPTION_OFFLINE", "").lower() in ("1", "true", "yes")


def pin_env_var(name: str) -> str:
    """The variable that pins a download's SHA-256, e.g. ``POSE_PERCEPTION_SHA256_RTMDET_NANO``."""
    return "POSE_PERCEPTION_SHA256_" + re.sub(r"[^0-9A-Z]", "_", name.upper())


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hashes(entry: ZooEntry, expected_sha256: str | None) -> list[str]:
    """Every hash (or prefix) the downloaded file must match: registry, env pin, argument."""
    hashes = [entry.sha256] if entry.sha256 else []
    env = pin_env_var(entry.name)
    if os.environ.get(env):
        hashes.append(_check_hash(os.environ[env].strip().lower(), env))
    if expected_sha256:
        hashes.append(_check_hash(expected_sha256.strip().lower(), "expected_sha256"))
    return hashes


def _match_hashes(digest: str, hashes: Sequence[str], what: str) -> None:
    for expected in hashes:
        if not digest.startswith(expected):
            raise ValueError(f"{what}: sha256 {digest[:16]}… does not match expected {expected}")


def verify_file(path: Path, entry: ZooEntry, expected_sha256: str | None = None) -> str:
    """Raise ValueError if size or hash differ from the entry (and the pins); return the SHA-256."""
    if entry.size is not None and path.stat().st_size != entry.size:
        raise ValueError(f"{path}: size {path.stat().st_size} != expected {entry.size}")
    digest = sha256_of(path)
    _match_hashes(digest, _expected_hashes(entry, expected_sha256), str(path))
    return digest


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
    hashes = _expected_hashes(entry, expected_sha256)
    cache = Path(cache_dir or default_cache_dir())
    if entry.member:
        return _resolve_archive(entry, cache, hashes, timeout, progress), entry
    target = cache / entry.filename
    if target.is_file():
        verify_file(target, entry, expected_sha256)
        return target, entry
    if is_offline():
        raise ModelUnavailableError(_offline_message(entry, target, "POSE_PERCEPTION_OFFLINE is set"))
    try:
        download(entry, target, timeout=timeout, progress=progress, expected_sha256=expected_sha256)
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
        raise ModelUnavailableError(_offline_message(entry, target, str(err))) from err
    return target, entry


def _offline_message(entry: ZooEntry, target: Path, reason: str) -> str:
    lines = [
        f"model {entry.name!r} is not cached and could not be downloaded ({reason}).",
        f"  Fetch {entry.url}",
        f"  on a machine with internet access and copy it to {target}",
    ]
    if entry.member:
        lines.append(f"  ({entry.member} is extracted from it on the next use; the zip is left in place),")
        lines.append(f"  or extract {entry.member} yourself and pass that .onnx path instead of the name.")
    else:
        lines.append("  (or pass the local file path instead of the name).")
    return "\n".join(lines)


def download(
    entry: ZooEntry,
    target: Path,
    timeout: float = 30.0,
    progress: bool = True,
    expected_sha256: str | None = None,
) -> Path:
    """Stream ``entry.url`` to a temp file beside ``target``, verify, then rename atomically."""
    tmp = _fetch(entry, target.parent, _expected_hashes(entry, expected_sha256), timeout, progress)[0]
    try:
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _fetch(
    entry: ZooEntry, directory: Path, hashes: Sequence[str], timeout: float, progress: bool
) -> tuple[Path, str]:
    """Download to a verified temp file in ``directory``: (its path, its SHA-256).

    The caller owns (renames or deletes) the file; on any error nothing is left behind.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=timeout) as resp:
            announced = int(resp.headers.get("Content-Length") or 0)
            bar = _progress_bar(announced or entry.size, entry.filename) if progress else None
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        try:
            if announced and received != announced:
                raise ValueError(f"{tmp}: got {received} of {announced} bytes (connection closed early)")
            if entry.size is not None and received != entry.size:
                raise ValueError(f"{tmp}: size {received} != expected {entry.size}")
            _match_hashes(digest.hexdigest(), hashes, str(tmp))
        except ValueError as err:
            raise ValueError(f"download of {entry.url} failed verification: {err}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


# ---------------------------------------------------------------------------- archives


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _resolve_archive(
    entry: ZooEntry, cache: Path, hashes: Sequence[str], timeout: float, progress: bool
) -> Path:
    target = cache / entry.local_name
    record = _record_path(target)
    if target.is_file() and record.is_file():
        _verify_extracted(entry, target, record, hashes)
        return target
    archive = cache / entry.filename
    if archive.is_file():  # copied there by hand (offline install): extract it, leave it in place
        remedy = f"delete {archive} and fetch {entry.url} again"
        archive_sha = _verify_archive(archive, entry, hashes, remedy)
        _install_member(entry, archive, archive_sha, target, str(archive), remedy)
    else:
        if is_offline():
            raise ModelUnavailableError(_offline_message(entry, archive, "POSE_PERCEPTION_OFFLINE is set"))
        try:
            tmp, archive_sha = _fetch(entry, cache, hashes, timeout, progress)
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as err:
            raise ModelUnavailableError(_offline_message(entry, archive, str(err))) from err
        try:
            remedy = (
                "the download was discarded and nothing was cached; try again, and if it persists "
                f"fetch {entry.url} by hand and inspect it (unzip -l)"
            )
            _install_member(entry, tmp, archive_sha, target, f"download of {entry.url}", remedy)
        finally:
            tmp.unlink(missing_ok=True)
    if not hashes:
        logger.warning(
            "%s: %s has no published checksum, so it was verified structurally only (valid zip, "
            "one %s, ONNX inputs/outputs as expected). Its SHA-256 is %s; to pin it, set %s=%s "
            "or pass expected_sha256 to zoo.resolve().",
            entry.name, entry.filename, entry.member, archive_sha, pin_env_var(entry.name), archive_sha,
        )  # fmt: skip
    return target


def _verify_archive(path: Path, entry: ZooEntry, hashes: Sequence[str], remedy: str) -> str:
    """SHA-256 of ``path`` after checking it against the entry's size and ``hashes``."""
    try:
        if entry.size is not None and path.stat().st_size != entry.size:
            raise ValueError(f"{path}: size {path.stat().st_size} != expected {entry.size}")
        digest = sha256_of(path)
        _match_hashes(digest, hashes, str(path))
    except ValueError as err:
        raise ValueError(f"{err}; {remedy}") from None
    return digest


def _verify_extracted(entry: ZooEntry, target: Path, record_path: Path, hashes: Sequence[str]) -> None:
    remedy = f"delete {target} and {record_path.name} and resolve {entry.name!r} again"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        archive_sha, onnx_sha = str(record["archive_sha256"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{record_path}: unreadable cache record ({err}); {remedy}") from None
    if record.get("member") != entry.member:
        raise ValueError(
            f"{record_path}: records member {record.get('member')!r}, not {entry.member!r}; {remedy}"
        )
    for expected in hashes:
        if not archive_sha.startswith(expected):
            raise ValueError(
                f"{target} was extracted from an archive with sha256 {archive_sha[:16]}…, "
                f"which does not match expected {expected}; {remedy}"
            )
    digest = sha256_of(target)
    if digest != onnx_sha:
        raise ValueError(
            f"{target}: sha256 {digest[:16]}… does not match the {onnx_sha[:16]}… it was extracted "
            f"with (the cached file changed); {remedy}"
        )


def _unsafe_member(name: str) -> bool:
    """Absolute, drive-relative or ``..``-climbing member paths: never in a genuine archive."""
    path = name.replace("\\", "/")
    return (
        path.startswith("/")
        or re.match(r"[A-Za-z]:", path) is not None
        or ".." in path.split("/")
        or "\x00" in path
    )


def _member_matches(name: str, member: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path == PurePosixPath(member) if "/" in member else path.name == member


def _find_member(entry: ZooEntry, archive: zipfile.ZipFile, origin: str, remedy: str) -> zipfile.ZipInfo:
    infos = archive.infolist()
    unsafe = [i.filename for i in infos if _unsafe_member(i.filename)]
    if unsafe:
        raise ValueError(f"{origin}: archive has unsafe member paths {unsafe[:3]}; refused it; {remedy}")
    found = [i for i in infos if not i.is_dir() and _member_matches(i.filename, entry.member)]
    if len(found) != 1:
        listed = ", ".join(i.filename for i in infos[:8]) + (", …" if len(infos) > 8 else "")
        problem = "no" if not found else f"{len(found)} files named"
        raise ValueError(f"{origin}: {problem} {entry.member!r} in the archive (it has: {listed}); {remedy}")
    info = found[0]
    if info.flag_bits & 0x1:
        raise ValueError(f"{origin}: {info.filename} is encrypted; {remedy}")
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{origin}: {info.filename} claims {info.file_size} bytes, too large; {remedy}")
    return info


def _install_member(
    entry: ZooEntry, archive_path: Path, archive_sha: str, target: Path, origin: str, remedy: str
) -> None:
    """Extract ``entry.member`` to a temp file, check it, record it, rename it to ``target``.

    The member's path inside the archive is never used to name anything on disk.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    record_tmp = tmp.with_name(tmp.name + ".json")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with zipfile.ZipFile(archive_path) as archive:
                    info = _find_member(entry, archive, origin, remedy)
                    written = 0
                    with archive.open(info) as src:
                        for chunk in iter(lambda: src.read(1 << 20), b""):
                            written += len(chunk)
                            if written > info.file_size:
                                raise zipfile.BadZipFile(f"{info.filename} is longer than its header says")
                            digest.update(chunk)
                            out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
                raise ValueError(
                    f"{origin}: not a valid zip archive, or {entry.member} in it is corrupt ({err}); {remedy}"
                ) from None
        try:
            check_onnx(tmp, entry)
        except ValueError as err:
            raise ValueError(f"{origin}: {entry.member} {err}; {remedy}") from None
        record = {
            "name": entry.name,
            "url": entry.url,
            "member": entry.member,
            "archive_sha256": archive_sha,
            "sha256": digest.hexdigest(),
        }
        record_tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        os.replace(record_tmp, _record_path(target))  # the record first: renaming the .onnx commits
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        record_tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- ONNX structure

Dims = tuple[int | str | None, ...]  # an int where fixed, a name (or None) where dynamic


def onnx_io(path: str | os.PathLike[str]) -> tuple[list[tuple[str, Dims]], list[tuple[str, Dims]]]:
    """(inputs, outputs) of an ONNX graph as (name, dims); ValueError if it cannot be read.

    Uses ``onnx`` when installed (parses the file without running anything), else an
    onnxruntime CPU session.
    """
    try:
        import onnx
    except ImportError:
        return _onnxruntime_io(path)
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as err:  # protobuf's DecodeError and friends
        raise ValueError(f"is not a readable ONNX model ({type(err).__name__}: {err})") from None
    initializers = {i.name for i in model.graph.initializer}

    def dims(value: Any) -> Dims:
        shape = value.type.tensor_type.shape
        return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim)

    inputs = [(v.name, dims(v)) for v in model.graph.input if v.name not in initializers]
    return inputs, [(v.name, dims(v)) for v in model.graph.output]


def _onnxruntime_io(path: str | os.PathLike[str]) -> tuple[list[tuple[str, Dims]], list[tuple[str, Dims]]]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"is not a readable ONNX model ({err})") from None
    return (
        [(i.name, tuple(i.shape)) for i in session.get_inputs()],
        [(o.name, tuple(o.shape)) for o in session.get_outputs()],
    )


def check_onnx(path: str | os.PathLike[str], entry: ZooEntry) -> None:
    """ValueError unless ``path`` has the inputs and outputs ``entry`` promises.

    One ``1x3xHxW`` input (H, W = ``entry.input_size`` where the graph fixes them);
    a detector outputs ``dets`` [1,N,5] and ``labels`` [1,N]; a pose model ``simcc_x``
    [1,K,2W] and ``simcc_y`` [1,K,2H] (split ratio 2, as every official RTMPose) with K
    the skeleton's keypoint count. Dynamic dimensions (batch, number of detections, or
    even H and W) are accepted: the consumer checks what it needs.
    """
    inputs, outputs = onnx_io(path)
    if len(inputs) != 1:
        raise ValueError(f"has inputs {inputs}, expected one 1x3xHxW input")
    _, shape = inputs[0]
    width, height = entry.input_size or (None, None)
    if not _dims_match(shape, (1, 3, height, width)):
        raise ValueError(f"has input shape {list(shape)}, expected [1, 3, {height}, {width}]")
    by_name = dict(outputs)
    if entry.task == "detector":
        expected: dict[str, tuple[int | None, ...]] = {"dets": (1, None, 5), "labels": (1, None)}
    else:
        from pose_perception.skeletons import get_skeleton

        k = get_skeleton(entry.skeleton).num_keypoints
        bins_x, bins_y = (2 * width, 2 * height) if width and height else (None, None)  # split ratio 2
        expected = {"simcc_x": (1, k, bins_x), "simcc_y": (1, k, bins_y)}
    if set(by_name) != set(expected) or not all(_dims_match(by_name[n], d) for n, d in expected.items()):
        raise ValueError(
            f"has outputs {dict((n, list(d)) for n, d in outputs)}, expected "
            + ", ".join(f"{n} {['N' if v is None else v for v in d]}" for n, d in expected.items())
        )


def _dims_match(actual: Dims, expected: Sequence[int | None]) -> bool:
    """Same rank; each fixed dimension equals the expected value where one is given."""
    if len(actual) != len(expected):
        return False
    return all(not isinstance(a, int) or e is None or a == e for a, e in zip(actual, expected, strict=True))


def _progress_bar(total: int | None, name: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)

"""Archive entries: pull one member out of a downloaded zip, safely, and keep a record of it.

An official ``onnx_sdk`` zip is downloaded (by :mod:`pose_perception.zoo.fetch`), its
``member`` extracted to a temp file, checked (:func:`check_onnx`) and renamed to
``<cache>/<zip stem>.onnx``; the zip itself is not kept. A small record beside it
(``<zip stem>.onnx.json``) holds the SHA-256 of the zip and of the ONNX, so a cached
file is re-verified without network. A zip copied into the cache by hand is extracted
and left in place.

This is our own pooch processor, not ``pooch.Unzip``: ``Unzip`` calls
``ZipFile.extractall``, which silently rewrites ``../`` and absolute member paths
instead of refusing the archive, extracts the whole tree under the members' own
names (not atomically) and keeps the zip. Here a member's path never names anything
on disk, and an archive with any unsafe member path is refused outright.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pose_perception.zoo.fetch import fetch
from pose_perception.zoo.onnx_checks import check_onnx
from pose_perception.zoo.pins import check_file, match_hashes, pin_env_var, sha256_of
from pose_perception.zoo.registry import ZooEntry

logger = logging.getLogger(__name__)
MAX_MEMBER_BYTES = 2**31  # ONNX protobufs cannot be larger; guards against zip bombs


def record_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def resolve_archive(
    entry: ZooEntry, cache: Path, hashes: Sequence[str], timeout: float, progress: bool
) -> Path:
    """The verified extracted member: from the cache, a zip copied there, or a download."""
    target = cache / entry.local_name
    record = record_path(target)
    if target.is_file() and record.is_file():
        verify_extracted(entry, target, record, hashes)
        return target
    archive = cache / entry.filename
    fetch(entry, archive, hashes, timeout, progress, processor=ExtractMember(entry, target, hashes))
    return target


class ExtractMember:
    """pooch processor: install ``entry.member`` of the zip at ``target``; drop a downloaded zip.

    A zip that was already in the cache (action ``"fetch"``: copied there by hand) is
    checked against the pins here, since pooch passes it on unchecked, and left in place.
    """

    def __init__(self, entry: ZooEntry, target: Path, hashes: Sequence[str]):
        self.entry, self.target, self.hashes = entry, target, hashes

    def __call__(self, fname: str, action: str, pooch_: Any) -> str:
        archive, entry = Path(fname), self.entry
        downloaded = action != "fetch"
        if downloaded:
            origin = f"download of {entry.url}"
            remedy = (
                "the download was discarded and nothing was cached; try again, and if it persists "
                f"fetch {entry.url} by hand and inspect it (unzip -l)"
            )
        else:
            origin, remedy = str(archive), f"delete {archive} and fetch {entry.url} again"
        try:
            archive_sha = _check_archive(archive, entry, self.hashes, remedy)
            _install_member(entry, archive, archive_sha, self.target, origin, remedy)
        finally:
            if downloaded:
                archive.unlink(missing_ok=True)
        if not self.hashes:
            logger.warning(
                "%s: %s has no published checksum, so it was verified structurally only (valid zip, "
                "one %s, ONNX inputs/outputs as expected). Its SHA-256 is %s; to pin it, set %s=%s "
                "or pass expected_sha256 to zoo.resolve().",
                entry.name, entry.filename, entry.member, archive_sha, pin_env_var(entry.name), archive_sha,
            )  # fmt: skip
        return str(self.target)


def _check_archive(path: Path, entry: ZooEntry, hashes: Sequence[str], remedy: str) -> str:
    """SHA-256 of ``path`` after checking it against the entry's size and ``hashes``."""
    try:
        return check_file(path, entry.size, hashes)
    except ValueError as err:
        raise ValueError(f"{err}; {remedy}") from None


def verify_extracted(entry: ZooEntry, target: Path, record_file: Path, hashes: Sequence[str]) -> None:
    """ValueError unless ``target`` is what its record says and came from a zip matching ``hashes``."""
    remedy = f"delete {target} and {record_file.name} and resolve {entry.name!r} again"
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        archive_sha, onnx_sha = str(record["archive_sha256"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{record_file}: unreadable cache record ({err}); {remedy}") from None
    if record.get("member") != entry.member:
        raise ValueError(
            f"{record_file}: records member {record.get('member')!r}, not {entry.member!r}; {remedy}"
        )
    try:
        match_hashes(archive_sha, hashes, f"{target} was extracted from an archive whose")
    except ValueError as err:
        raise ValueError(f"{err}; {remedy}") from None
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
        os.replace(record_tmp, record_path(target))  # the record first: renaming the .onnx commits
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        record_tmp.unlink(missing_ok=True)

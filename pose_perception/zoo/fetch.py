"""Downloads through pooch: a temp file in the cache folder, checked, then moved into place.

pooch streams the URL to a temporary file beside the target and renames it only after
the downloader returns, deleting it on any error, so no partial file is ever visible
under the final name. Our downloader checks the transfer (a clean close before
Content-Length bytes is a truncated file) and the size and SHA-256 pins on that
temporary file, because pooch's ``known_hash`` takes one full digest, not the 8-hex
prefixes of the official names. ``known_hash`` is therefore always None; pooch's log
line suggesting to pin it is silenced (ours says how: :func:`~pose_perception.zoo.pins.pin_env_var`).
"""

from __future__ import annotations

import http.client
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pose_perception.zoo.pins import check_file
from pose_perception.zoo.registry import ZooEntry

# pooch's processor protocol: (file path, "download" | "update" | "fetch", Pooch or None) -> result
Processor = Callable[[str, str, Any], Any]


class ModelUnavailableError(RuntimeError):
    """The model is neither cached nor downloadable; the message says what to do."""


def is_offline() -> bool:
    return os.environ.get("POSE_PERCEPTION_OFFLINE", "").lower() in ("1", "true", "yes")


def offline_message(entry: ZooEntry, target: Path, reason: str) -> str:
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


def fetch(
    entry: ZooEntry,
    target: Path,
    hashes: Sequence[str],
    timeout: float,
    progress: bool,
    processor: Processor | None = None,
) -> Any:
    """``entry.url`` at ``target`` (downloaded and checked unless already there), then ``processor``.

    An existing ``target`` is not checked here (the caller does, with its own remedy) and
    is handed to ``processor`` with action ``"fetch"``; a download gets ``"download"``.
    Returns ``target``, or what ``processor`` returns.
    """
    import pooch

    if not target.is_file():
        if is_offline():
            raise ModelUnavailableError(offline_message(entry, target, "POSE_PERCEPTION_OFFLINE is set"))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ModelUnavailableError(offline_message(entry, target, str(err))) from err
    downloader = _CheckedDownload(entry, target, hashes, timeout, progress)
    with _quiet(pooch.get_logger()):
        result = pooch.retrieve(
            entry.url, known_hash=None, fname=target.name, path=target.parent,
            processor=processor, downloader=downloader,
        )  # fmt: skip
    return target if processor is None else result


class _CheckedDownload:
    """A pooch downloader: pooch's HTTP transfer, then our checks on the temporary file."""

    def __init__(self, entry: ZooEntry, target: Path, hashes: Sequence[str], timeout: float, progress: bool):
        self.entry, self.target, self.hashes = entry, target, hashes
        self.timeout, self.progress = timeout, progress

    def __call__(self, url: str, output_file: str, pooch_: Any) -> None:
        import pooch
        import requests

        bar = _progress_bar(self.entry) if self.progress else None
        try:
            progressbar = False if bar is None else bar
            transfer = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, timeout=self.timeout)
            transfer(url, output_file, pooch_)
        except requests.exceptions.ChunkedEncodingError as err:
            if not _cut_short(err):
                raise ModelUnavailableError(offline_message(self.entry, self.target, str(err))) from err
            raise ValueError(
                f"download of {url} failed: the server closed the connection before sending all "
                f"bytes ({err}); the download was discarded and nothing was cached"
            ) from None
        except OSError as err:  # requests' errors (HTTP status, refused, timeout) are OSErrors
            raise ModelUnavailableError(offline_message(self.entry, self.target, str(err))) from err
        finally:
            if bar is not None:
                bar.close()
        try:
            check_file(Path(output_file), self.entry.size, self.hashes)
        except ValueError as err:
            raise ValueError(f"download of {url} failed verification: {err}") from None


def _cut_short(err: BaseException) -> bool:
    """urllib3 reports a clean close before Content-Length bytes as an IncompleteRead inside."""
    cause = err.__context__
    return cause is not None and any(isinstance(arg, http.client.IncompleteRead) for arg in cause.args)


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _progress_bar(entry: ZooEntry) -> Any:
    """A bar named after the file; pooch sets its total from Content-Length.

    Its total starts at 1 when the size is unknown: pooch tests the bar's truth first,
    and a tqdm without a total has none.
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=entry.size or 1, unit="B", unit_scale=True, desc=entry.filename, leave=False)

"""Model zoo: verified downloads from a real local HTTP server, the cache, offline mode."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from onnx_graphs import constant_onnx
from pose_perception import zoo
from pose_perception.models import build_rtmpose
from pose_perception.zoo import ModelUnavailableError, ZooEntry


@dataclass
class Route:
    body: bytes
    mode: str = "ok"  # ok | short (half the body, clean close) | abort (half, then a reset) | stall


@dataclass
class FakeServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends "stall" transfers

    def serve(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.routes[path] = Route(body, mode)
        return self.base_url + path


@pytest.fixture
def server():
    state = FakeServer(base_url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "not found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if route.mode == "short":  # fewer bytes than Content-Length, then a clean close
                self.wfile.write(route.body[: len(route.body) // 2])
                self.close_connection = True
                return
            if route.mode == "stall":  # half the body, then nothing until the test releases it
                self.wfile.write(route.body[: len(route.body) // 2])
                self.wfile.flush()
                state.release.wait(30)
                self.close_connection = True
                return
            if route.mode == "abort":
                self.wfile.write(route.body[: len(route.body) // 2])
                self.wfile.flush()
                # RST instead of FIN: the client sees the connection die mid-body
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def payload() -> bytes:
    return np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()


def _entry(name: str, url: str, body: bytes, *, prefix: bool = False, size: int | None = None) -> ZooEntry:
    digest = hashlib.sha256(body).hexdigest()
    return ZooEntry(name, "rtmpose-t", url, digest[:8] if prefix else digest, size=size)


def _cache_files(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.rglob("*")) if cache_dir.exists() else []


@pytest.mark.parametrize("prefix", [False, True], ids=["full-sha256", "8-hex-prefix"])
def test_download_lands_in_cache_with_exact_bytes(server, payload, tmp_path, prefix):
    url = server.serve("/models/net-abcdef12_20240101.pth", payload)
    entry = _entry("net", url, payload, prefix=prefix, size=len(payload))
    path, got = zoo.resolve("net", cache_dir=tmp_path, registry={"net": entry}, progress=False)
    assert path == tmp_path / "net-abcdef12_20240101.pth"
    assert got == entry
    assert path.read_bytes() == payload
    assert _cache_files(tmp_path) == ["net-abcdef12_20240101.pth"]  # no temp file left
    assert server.requests == ["/models/net-abcdef12_20240101.pth"]


def test_second_resolve_uses_cache_without_request(server, payload, tmp_path):
    url = server.serve("/m.pth", payload)
    registry = {"m": _entry("m", url, payload)}
    first, _ = zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    assert len(server.requests) == 1
    second, _ = zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    assert second == first
    assert len(server.requests) == 1


def test_progress_bar_path_downloads_too(server, payload, tmp_path):
    url = server.serve("/p.pth", payload)
    path, _ = zoo.resolve("p", cache_dir=tmp_path, registry={"p": _entry("p", url, payload)}, progress=True)
    assert path.read_bytes() == payload


def test_wrong_sha256_rejected_and_nothing_cached(server, payload, tmp_path):
    url = server.serve("/m.pth", payload)
    wrong = hashlib.sha256(payload + b"x").hexdigest()
    entry = ZooEntry("m", "rtmpose-t", url, wrong)
    with pytest.raises(ValueError, match="sha256") as err:
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": entry}, progress=False)
    assert url in str(err.value)
    assert _cache_files(tmp_path) == []  # neither the target nor a .part file


def test_wrong_sha256_prefix_rejected(server, payload, tmp_path):
    url = server.serve("/m.pth", payload)
    digest = hashlib.sha256(payload).hexdigest()
    bad_prefix = format((int(digest[:8], 16) + 1) % 16**8, "08x")
    entry = ZooEntry("m", "rtmpose-t", url, bad_prefix)
    with pytest.raises(ValueError, match="sha256"):
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": entry}, progress=False)
    assert _cache_files(tmp_path) == []


def test_wrong_size_rejected(server, payload, tmp_path):
    url = server.serve("/m.pth", payload)
    entry = _entry("m", url, payload, size=len(payload) + 1)
    with pytest.raises(ValueError, match="size"):
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": entry}, progress=False)
    assert _cache_files(tmp_path) == []


def test_http_404_is_model_unavailable_with_url_and_target(server, payload, tmp_path):
    url = server.base_url + "/missing/model-12345678_20230101.pth"
    entry = _entry("gone", url, payload)
    with pytest.raises(ModelUnavailableError) as err:
        zoo.resolve("gone", cache_dir=tmp_path, registry={"gone": entry}, progress=False)
    message = str(err.value)
    assert url in message
    assert str(tmp_path / "model-12345678_20230101.pth") in message
    assert "404" in message
    assert server.requests == ["/missing/model-12345678_20230101.pth"]
    assert _cache_files(tmp_path) == []


@pytest.mark.parametrize("mode", ["short", "abort"])
@pytest.mark.parametrize("with_size", [False, True])
def test_truncated_transfer_leaves_nothing(server, payload, tmp_path, mode, with_size):
    url = server.serve("/m.pth", payload, mode=mode)
    entry = _entry("m", url, payload, size=len(payload) if with_size else None)
    with pytest.raises((ValueError, ModelUnavailableError)):
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": entry}, progress=False)
    assert server.requests == ["/m.pth"]
    assert _cache_files(tmp_path) == []


def test_offline_env_makes_no_request(server, payload, tmp_path, monkeypatch):
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    url = server.serve("/m-0badc0de_20230101.pth", payload)
    entry = _entry("m", url, payload)
    with pytest.raises(ModelUnavailableError, match="POSE_PERCEPTION_OFFLINE") as err:
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": entry}, progress=False)
    assert url in str(err.value)
    assert str(tmp_path / "m-0badc0de_20230101.pth") in str(err.value)
    assert server.requests == []
    assert _cache_files(tmp_path) == []


def test_offline_env_still_serves_cached_file(server, payload, tmp_path, monkeypatch):
    url = server.serve("/m.pth", payload)
    registry = {"m": _entry("m", url, payload)}
    zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    path, _ = zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    assert path.read_bytes() == payload
    assert len(server.requests) == 1


def test_corrupted_cached_file_raises(server, payload, tmp_path):
    url = server.serve("/m.pth", payload)
    registry = {"m": _entry("m", url, payload)}
    path, _ = zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    corrupted = bytearray(payload)
    corrupted[1234] ^= 0xFF
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match="sha256"):
        zoo.resolve("m", cache_dir=tmp_path, registry=registry, progress=False)
    assert len(server.requests) == 1


def test_unknown_name_lists_registry(tmp_path):
    registry = {"a": ZooEntry("a", "rtmpose-t", "http://127.0.0.1:9/a.pth", "00000000")}
    with pytest.raises(KeyError, match="registry has: a"):
        zoo.resolve("b", cache_dir=tmp_path, registry=registry, progress=False)


def test_default_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert zoo.default_cache_dir() == tmp_path / "home"
    monkeypatch.delenv("POSE_PERCEPTION_HOME")
    assert zoo.default_cache_dir() == tmp_path / "xdg" / "pose_perception"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert zoo.default_cache_dir() == tmp_path / "user" / ".cache" / "pose_perception"


def test_resolve_without_cache_dir_uses_pose_perception_home(server, payload, tmp_path, monkeypatch):
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path / "home"))
    url = server.serve("/m.pth", payload)
    path, _ = zoo.resolve("m", registry={"m": _entry("m", url, payload)}, progress=False)
    assert path == tmp_path / "home" / "m.pth"
    assert path.read_bytes() == payload


def _arch_input_size(arch: str) -> tuple[int, int]:
    """(width, height) of a ``build_model`` name, from its table (no network is built)."""
    from pose_perception.models.build import ONE_STAGE_BUILDERS
    from pose_perception.models.rtmo import RTMO_SIZES
    from pose_perception.variants import VARIANTS

    if arch in ONE_STAGE_BUILDERS:
        return RTMO_SIZES[arch].input_size
    assert arch in VARIANTS, f"{arch!r} is not a build_model name"
    return VARIANTS[arch].input_size


def _check_pose_row(entry: ZooEntry) -> None:
    """What every pose row states: a build_model arch of the file's input size, a known schema,
    the kind (one-stage = an RTMO arch = an rtmo file) and an official accuracy figure."""
    from pose_perception.skeletons import get_skeleton

    width, height = _arch_input_size(entry.arch)
    assert f"-{height}x{width}" in entry.filename  # the file name states the input size (h x w)
    assert get_skeleton(entry.skeleton).name == entry.skeleton
    assert entry.one_stage == entry.filename.startswith("rtmo-") == entry.arch.startswith("rtmo-")
    assert re.search(r"\b(AP|NME|PCK@0\.2) \d", entry.description), entry.description


@pytest.mark.parametrize("name", [n for n, e in sorted(zoo.REGISTRY.items()) if not e.member])
def test_official_registry_entries(name):
    entry = zoo.REGISTRY[name]
    assert entry.name == name
    assert entry.task == "pose"
    assert any(entry.url == base + entry.filename for base in zoo.OFFICIAL_BASES), entry.url
    match = re.search(r"-([0-9a-f]{8})_\d{8}\.pth$", entry.filename)
    if entry.needs_pin:  # published without a hash in its name: the user pins it
        assert match is None and entry.sha256 == "", entry.filename
    else:
        assert match, entry.filename
        assert entry.sha256 == match.group(1)
    _check_pose_row(entry)


def test_unpinned_rows_are_the_rtmw_checkpoints():
    assert {n for n, e in zoo.REGISTRY.items() if e.needs_pin} == {"rtmw-m", "rtmw-l"}
    assert zoo.REGISTRY["rtmw-m-onnx"].arch == "rtmw-m"


def test_unpinned_file_needs_a_pin_then_remembers_it(server, payload, tmp_path, monkeypatch):
    url = server.serve("/rtmw-dw-l-m_simcc-cocktail14_270e-256x192-20231122.pth", payload)
    registry = {"w": ZooEntry("w", "rtmw-m", url, "", skeleton="coco_wholebody", needs_pin=True)}
    digest = hashlib.sha256(payload).hexdigest()

    def resolve(**kwargs):
        return zoo.resolve("w", cache_dir=tmp_path, registry=registry, progress=False, **kwargs)

    with pytest.raises(ValueError, match="POSE_PERCEPTION_SHA256_W=") as err:
        resolve()
    assert "\n" not in str(err.value) and server.requests == []  # refused before any request
    with pytest.raises(ValueError, match="does not match"):
        resolve(expected_sha256="0" * 64)
    assert _cache_files(tmp_path) == []
    monkeypatch.setenv("POSE_PERCEPTION_SHA256_W", digest)
    path, _ = resolve()
    assert path.read_bytes() == payload
    monkeypatch.delenv("POSE_PERCEPTION_SHA256_W")
    requests = len(server.requests)
    assert resolve()[0] == path and len(server.requests) == requests  # the recorded pin, from the cache
    path.write_bytes(payload[::-1])
    with pytest.raises(ValueError, match="does not match"):
        resolve()


def test_one_stage_archs_are_build_model_s_one_stage_table():
    from pose_perception.models.build import ONE_STAGE_BUILDERS

    assert set(zoo.ONE_STAGE_ARCHS) == set(ONE_STAGE_BUILDERS)
    one_stage = {n for n, e in zoo.REGISTRY.items() if e.one_stage}
    assert {"rtmo-t", "rtmo-s", "rtmo-m", "rtmo-l", "rtmo-s-onnx"} <= one_stage
    assert all(zoo.REGISTRY[n].skeleton == "coco17" for n in one_stage)


def test_the_new_families_are_registered_with_their_schemas():
    by_skeleton: dict[str, set[str]] = {}
    for name, entry in zoo.REGISTRY.items():
        by_skeleton.setdefault(entry.skeleton, set()).add(name)
    assert {"rtmw-x", "rtmw-x-384x288", "rtmw-l-onnx", "dwpose-m", "rtmpose-m-wholebody"} <= by_skeleton[
        "coco_wholebody"
    ]
    assert {"rtmpose-m-hand", "rtmpose-m-hand5-onnx"} <= by_skeleton["hand21"]
    faces = {"rtmpose-t-face", "rtmpose-s-face", "rtmpose-m-face", "rtmpose-m-face-onnx"}
    assert faces <= by_skeleton["face106"]
    assert {"rtmpose-m-ap10k", "rtmpose-m-ap10k-onnx"} <= by_skeleton["ap10k"]


def test_registry_name_end_to_end_through_pose_estimator(server, tmp_path, monkeypatch):
    from pose_perception import PoseEstimator

    torch.manual_seed(0)
    model = build_rtmpose("rtmpose-t").eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    body = buffer.getvalue()
    url = server.serve("/zoo/rtmpose-test-1234abcd_20240101.pth", body)
    entry = ZooEntry("rtmpose-e2e-test", "rtmpose-t", url, hashlib.sha256(body).hexdigest()[:8])
    monkeypatch.setitem(zoo.REGISTRY, entry.name, entry)
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path))
    monkeypatch.delenv("POSE_PERCEPTION_OFFLINE", raising=False)

    estimator = PoseEstimator(entry.name, backend="torch")
    assert (tmp_path / entry.filename).read_bytes() == body
    assert len(server.requests) == 1

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    box = np.array([[40.0, 30.0, 200.0, 230.0]])
    keypoints, scores = estimator.estimate(image, box)
    assert keypoints.shape == (1, 17, 2)
    assert scores.shape == (1, 17)
    assert np.isfinite(keypoints).all() and np.isfinite(scores).all()
    # the downloaded weights are the ones that run: same result as the in-memory model
    ref_kp, ref_scores = PoseEstimator(model, backend="torch").estimate(image, box)
    np.testing.assert_allclose(keypoints, ref_kp, atol=1e-4)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)

    # a second estimator finds the cached file: no new request
    PoseEstimator(entry.name, backend="torch")
    assert len(server.requests) == 1
    assert os.listdir(tmp_path) == [entry.filename]


# ---------------------------------------------------------------------------- archives (onnx_sdk zips)
#
# The official zips hold <date>/<kind>_onnx/<stem>/end2end.onnx beside deploy.json,
# pipeline.json and detail.json. They cannot be downloaded here, so the tests build
# look-alikes: a tiny graph with the official input and outputs, zipped the same way.

DET_SIZE = 320
ZIP_NAME = "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.zip"
ONNX_NAME = "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.onnx"
MEMBER = "20230831/rtmdet_onnx/rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e/end2end.onnx"
# A person at (40, 60)-(120, 260) and a car, in network-input pixels.
DETS = np.array([[[40, 60, 120, 260, 0.9], [200, 10, 300, 90, 0.95]]], np.float32)
LABELS = np.array([[0, 2]], np.int64)


def _constant_onnx(
    input_shape: list[int | str],
    outputs: dict[str, np.ndarray],
    shapes: dict[str, list[int | str]] | None = None,
    input_type: type | None = None,
) -> bytes:
    pytest.importorskip("onnx")
    return constant_onnx(input_shape, outputs, shapes, None if input_type is None else np.dtype(input_type))


def _detector_onnx(size: int = DET_SIZE, input_type: type | None = None) -> bytes:
    return _constant_onnx([1, 3, size, size], {"dets": DETS, "labels": LABELS}, input_type=input_type)


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2023, 8, 31, 0, 0, 0)), data, compression)
    return buffer.getvalue()


def _sdk_zip(onnx_bytes: bytes, member: str = MEMBER) -> bytes:
    folder = member.rsplit("/", 1)[0] + "/"
    return _zip(
        {
            member: onnx_bytes,
            folder + "deploy.json": b'{"version": "1.3.0"}',
            folder + "pipeline.json": b'{"pipeline": {}}',
            folder + "detail.json": b'{"onnx_config": {}}',
        }
    )


def _archive_entry(url: str, *, name: str = "det", sha256: str = "", task: str = "detector") -> ZooEntry:
    arch, size = ("rtmdet", (DET_SIZE, DET_SIZE)) if task == "detector" else ("rtmpose-t", (192, 256))
    return ZooEntry(name, arch, url, sha256, task=task, member="end2end.onnx", input_size=size)


def _serve_archive(server: FakeServer, body: bytes, mode: str = "ok") -> ZooEntry:
    return _archive_entry(server.serve("/onnx_sdk/" + ZIP_NAME, body, mode))


def test_archive_detector_is_extracted_verified_and_detects(server, tmp_path, caplog):
    from pose_perception.detection import DetectionFilter, OnnxDetector

    body = _sdk_zip(_detector_onnx())
    entry = _serve_archive(server, body)
    with caplog.at_level("WARNING", logger="pose_perception.zoo"):
        path, got = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert got == entry
    assert path == tmp_path / ONNX_NAME == zoo.cached_path(entry, tmp_path)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert path.read_bytes() == archive.read(MEMBER)
    # the zip is not kept: only the .onnx and its record (no .part file)
    assert _cache_files(tmp_path) == [ONNX_NAME, ONNX_NAME + ".json"]
    record = json.loads((tmp_path / (ONNX_NAME + ".json")).read_text())
    assert record["archive_sha256"] == hashlib.sha256(body).hexdigest()
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # no published checksum: the zip's SHA-256 is logged with how to pin it
    assert hashlib.sha256(body).hexdigest() in caplog.text
    assert "POSE_PERCEPTION_SHA256_DET" in caplog.text

    detector = OnnxDetector(path, got.arch, DetectionFilter(score_threshold=0.5))
    assert detector.input_size == (DET_SIZE, DET_SIZE)
    boxes, scores = detector.detect(np.zeros((640, 640, 3), np.uint8))  # ratio 0.5 into 320x320
    np.testing.assert_allclose(boxes, [[80, 120, 240, 520]])  # the person only, in image pixels
    np.testing.assert_allclose(scores, [0.9])


def test_archive_cache_is_reused_without_the_server(server, tmp_path, monkeypatch):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx()))
    registry = {"det": entry}
    first, _ = zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False)
    server.routes.clear()  # the server has nothing any more, and we are offline
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    second, _ = zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False)
    assert second == first
    assert len(server.requests) == 1


@pytest.mark.parametrize("how", ["truncated-file", "connection-closed-early"])
def test_truncated_zip_is_a_clear_error_and_leaves_nothing(server, tmp_path, how):
    body = _sdk_zip(_detector_onnx())
    if how == "truncated-file":  # the server sends a cut file as if it were whole
        entry = _serve_archive(server, body[: len(body) * 2 // 3])
    else:
        entry = _serve_archive(server, body, mode="short")
    with pytest.raises(ValueError) as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    message = str(err.value)
    assert entry.url in message
    assert "nothing was cached" in message or "bytes" in message
    assert _cache_files(tmp_path) == []


def test_corrupt_member_fails_its_crc_and_leaves_nothing(server, tmp_path):
    onnx_bytes = _detector_onnx()
    body = bytearray(_zip({MEMBER: onnx_bytes}, zipfile.ZIP_STORED))
    offset = bytes(body).index(onnx_bytes) + len(onnx_bytes) // 2
    body[offset] ^= 0xFF  # stored data flipped, headers intact: only the CRC can tell
    entry = _serve_archive(server, bytes(body))
    with pytest.raises(ValueError, match="CRC") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert entry.url in str(err.value)
    assert _cache_files(tmp_path) == []


def test_zip_without_the_member_names_it_and_leaves_nothing(server, tmp_path):
    body = _zip({"20230831/rtmdet_onnx/x/deploy.json": b"{}", "20230831/rtmdet_onnx/x/model.onnx": b"x"})
    entry = _serve_archive(server, body)
    with pytest.raises(ValueError, match=r"no 'end2end\.onnx' in the archive") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert "deploy.json" in str(err.value) and entry.url in str(err.value)
    assert _cache_files(tmp_path) == []


def test_zip_with_two_members_of_that_name_is_ambiguous(server, tmp_path):
    onnx_bytes = _detector_onnx()
    entry = _serve_archive(server, _zip({"a/end2end.onnx": onnx_bytes, "b/end2end.onnx": onnx_bytes}))
    with pytest.raises(ValueError, match=r"2 files named 'end2end\.onnx'"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert _cache_files(tmp_path) == []


@pytest.mark.parametrize(
    "members",
    [
        {"../end2end.onnx": "onnx"},
        {"a/../../end2end.onnx": "onnx"},
        {"/tmp/end2end.onnx": "onnx"},
        {"C:/end2end.onnx": "onnx"},
        {MEMBER: "onnx", "../../escaped.txt": "x"},
        {MEMBER: "onnx", "a\\..\\..\\escaped.txt": "x"},
    ],
    ids=["parent", "nested-parent", "absolute", "drive", "extra-parent", "backslashes"],
)
def test_zip_with_a_path_traversal_member_is_refused(server, tmp_path, members):
    onnx_bytes = _detector_onnx()
    body = _zip({name: onnx_bytes if kind == "onnx" else b"owned" for name, kind in members.items()})
    cache = tmp_path / "a" / "b" / "cache"
    entry = _serve_archive(server, body)
    with pytest.raises(ValueError, match="unsafe member paths"):
        zoo.resolve("det", cache_dir=cache, registry={"det": entry}, progress=False)
    assert _cache_files(cache) == []
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []  # nothing written anywhere


def test_member_with_the_wrong_input_size_or_outputs_is_refused(server, tmp_path):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx(size=256)))
    with pytest.raises(ValueError, match=r"of shape \[1, 3, 256, 256\], expected \[1, 3, 320, 320\]"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    pose_like = _constant_onnx([1, 3, DET_SIZE, DET_SIZE], {"simcc_x": np.zeros((1, 17, 8), np.float32)})
    server.serve("/onnx_sdk/" + ZIP_NAME, _sdk_zip(pose_like))
    with pytest.raises(ValueError, match="expected dets"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    server.serve("/onnx_sdk/" + ZIP_NAME, _sdk_zip(_detector_onnx(input_type=np.uint8)))
    with pytest.raises(ValueError, match="has input 'input' of type uint8, expected float"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    server.serve("/onnx_sdk/" + ZIP_NAME, _sdk_zip(b"this is not protobuf \xff\xff\xff"))
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert _cache_files(tmp_path) == []


def test_dynamic_dimensions_are_accepted(server, tmp_path):
    """MMDeploy exports may leave the batch and the number of detections dynamic."""
    from pose_perception.detection import OnnxDetector

    graph = _constant_onnx(
        ["batch", 3, DET_SIZE, DET_SIZE],
        {"dets": DETS, "labels": LABELS},
        {"dets": ["batch", "num_dets", 5], "labels": ["batch", "num_dets"]},
    )
    entry = _serve_archive(server, _sdk_zip(graph))
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert zoo.onnx_io(path) == (
        [("input", ("batch", 3, DET_SIZE, DET_SIZE), "float")],
        [("dets", ("batch", "num_dets", 5), "float"), ("labels", ("batch", "num_dets"), "int64")],
    )
    boxes, _ = OnnxDetector(path, "rtmdet").detect(np.zeros((DET_SIZE, DET_SIZE, 3), np.uint8))
    np.testing.assert_allclose(boxes, [[40, 60, 120, 260]])


def test_structural_check_without_the_onnx_package(server, tmp_path, monkeypatch):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx()))  # built while onnx is importable
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError: onnxruntime reads it
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert path.is_file()
    server.serve("/onnx_sdk/" + ZIP_NAME, _sdk_zip(b"garbage"))
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        zoo.resolve("det", cache_dir=tmp_path / "other", registry={"det": entry}, progress=False)


def test_pinned_sha256_is_checked_on_download_and_on_the_cache(server, tmp_path, monkeypatch, caplog):
    body = _sdk_zip(_detector_onnx())
    digest = hashlib.sha256(body).hexdigest()
    wrong = format((int(digest[:8], 16) + 1) % 16**8, "08x")
    entry = _serve_archive(server, body)
    registry = {"det": entry}
    # a wrong pin (argument): the download is refused and nothing is cached
    with pytest.raises(ValueError, match="sha256") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False, expected_sha256=wrong)
    assert entry.url in str(err.value) and wrong in str(err.value)
    assert _cache_files(tmp_path) == []
    # the same through the environment variable
    monkeypatch.setenv(zoo.pin_env_var("det"), wrong)
    with pytest.raises(ValueError, match="sha256"):
        zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False)
    assert _cache_files(tmp_path) == []
    # the right pin (full digest via env, prefix via argument): accepted, nothing logged
    monkeypatch.setenv(zoo.pin_env_var("det"), digest.upper())
    with caplog.at_level("WARNING", logger="pose_perception.zoo"):
        path, _ = zoo.resolve(
            "det", cache_dir=tmp_path, registry=registry, progress=False, expected_sha256=digest[:12]
        )
    assert path.is_file() and caplog.text == ""
    # a cached file is checked against a pin given later, without any request
    monkeypatch.delenv(zoo.pin_env_var("det"))
    requests = len(server.requests)
    with pytest.raises(ValueError, match=f"does not match expected {wrong}"):
        zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False, expected_sha256=wrong)
    assert len(server.requests) == requests
    with pytest.raises(ValueError, match="hex"):
        zoo.resolve("det", cache_dir=tmp_path, registry=registry, progress=False, expected_sha256="xyz")


def test_registry_hash_of_an_archive_is_checked(server, tmp_path):
    body = _sdk_zip(_detector_onnx())
    url = server.serve("/onnx_sdk/" + ZIP_NAME, body)
    good = _archive_entry(url, sha256=hashlib.sha256(body).hexdigest())
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": good}, progress=False)
    assert path.is_file()
    bad = _archive_entry(url, sha256=hashlib.sha256(body + b"x").hexdigest())
    with pytest.raises(ValueError, match="sha256"):
        zoo.resolve("det", cache_dir=tmp_path / "b", registry={"det": bad}, progress=False)
    assert _cache_files(tmp_path / "b") == []


def test_archive_copied_by_hand_is_extracted_offline_and_left_in_place(server, tmp_path, monkeypatch):
    body = _sdk_zip(_detector_onnx())
    entry = _serve_archive(server, body)
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="POSE_PERCEPTION_OFFLINE") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    message = str(err.value)
    assert entry.url in message and str(tmp_path / ZIP_NAME) in message and "end2end.onnx" in message
    (tmp_path / ZIP_NAME).write_bytes(body)  # what the message says to do
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert path == tmp_path / ONNX_NAME
    assert _cache_files(tmp_path) == sorted([ZIP_NAME, ONNX_NAME, ONNX_NAME + ".json"])
    assert server.requests == []
    # a broken hand-copied zip names itself and what to do
    (tmp_path / ONNX_NAME).unlink()
    (tmp_path / ZIP_NAME).write_bytes(body[:100])
    with pytest.raises(ValueError, match=f"delete {re.escape(str(tmp_path / ZIP_NAME))}"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert not (tmp_path / ONNX_NAME).exists()


def test_archive_copied_by_hand_must_match_the_pin(server, tmp_path, monkeypatch):
    body = _sdk_zip(_detector_onnx())
    entry = _serve_archive(server, body)
    (tmp_path / ZIP_NAME).write_bytes(body)
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    wrong = hashlib.sha256(body + b"x").hexdigest()[:8]
    with pytest.raises(ValueError, match=f"does not match expected {wrong}.*delete") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False, expected_sha256=wrong)
    assert str(tmp_path / ZIP_NAME) in str(err.value)
    assert _cache_files(tmp_path) == [ZIP_NAME]  # left in place, nothing extracted from it
    assert server.requests == []


def test_changed_cached_onnx_is_detected(server, tmp_path):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx()))
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="the cached file changed") as err:
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert f"delete {path}" in str(err.value)
    assert len(server.requests) == 1


def test_onnx_without_its_record_is_extracted_again(server, tmp_path):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx()))
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    (tmp_path / (ONNX_NAME + ".json")).unlink()
    path.write_bytes(b"left over from an interrupted run")
    again, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False)
    assert again == path and path.read_bytes() == _detector_onnx()
    assert len(server.requests) == 2


def test_task_is_checked_before_any_request(server, tmp_path):
    entry = _serve_archive(server, _sdk_zip(_detector_onnx()))
    with pytest.raises(ValueError, match="'det' is a detector model, not a pose model"):
        zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False, task="pose")
    assert server.requests == []
    path, _ = zoo.resolve("det", cache_dir=tmp_path, registry={"det": entry}, progress=False, task="detector")
    assert path.is_file()


@pytest.mark.parametrize(("skeleton", "k"), [("coco17", 17), ("coco_wholebody", 133), ("ap10k", 17)])
def test_official_pose_onnx_archive_runs_in_pose_estimator(server, tmp_path, monkeypatch, skeleton, k):
    """An official-style pose ONNX (no pose_perception metadata) from a zip, by registry name,
    with the row's keypoint schema (whole-body: 133 outputs; AP-10K: 17 outputs, not COCO's)."""
    from dataclasses import replace

    from pose_perception import PoseEstimator

    simcc_x = np.zeros((1, k, 384), np.float32)
    simcc_y = np.zeros((1, k, 512), np.float32)
    simcc_x[0, :, 192] = 1.0  # every keypoint at the crop centre, x = 96 px
    simcc_y[0, :, 256] = 1.0  # y = 128 px
    stem = "rtmpose-t_simcc-body7_pt-body7_420e-256x192-026a1439_20230504"
    member = f"20230831/rtmpose_onnx/{stem}/end2end.onnx"
    body = _sdk_zip(_constant_onnx([1, 3, 256, 192], {"simcc_x": simcc_x, "simcc_y": simcc_y}), member)
    url = server.serve(f"/onnx_sdk/{stem}.zip", body)
    entry = replace(_archive_entry(url, name="rtmpose-body7-e2e-test", task="pose"), skeleton=skeleton)
    monkeypatch.setitem(zoo.REGISTRY, entry.name, entry)
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path))
    monkeypatch.delenv("POSE_PERCEPTION_OFFLINE", raising=False)

    estimator = PoseEstimator(entry.name)
    assert estimator.info.input_size == (192, 256) and estimator.skeleton.name == skeleton
    box = np.array([[100, 40, 292, 296]])  # centre (196, 168)
    keypoints, scores = estimator.estimate(np.zeros((480, 640, 3), np.uint8), box)
    assert keypoints.shape == (1, k, 2) and scores.shape == (1, k)
    np.testing.assert_allclose(keypoints[0], np.tile([196.0, 168.0], (k, 1)), atol=1.5)  # the box centre
    PoseEstimator(entry.name)  # from the cache
    assert len(server.requests) == 1


def _rtmo_archive_entry(server: FakeServer, onnx_bytes: bytes) -> ZooEntry:
    stem = "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211"
    body = _sdk_zip(onnx_bytes, f"20231211/rtmo_onnx/{stem}/end2end.onnx")
    url = server.serve(f"/rtmo/onnx_sdk/{stem}.zip", body)
    return ZooEntry(
        "rtmo-e2e-test", "rtmo-s", url, "", task="pose", member="end2end.onnx", input_size=(640, 640)
    )


def test_official_rtmo_onnx_archive_runs_in_the_one_stage_estimator(server, tmp_path, monkeypatch):
    """MMDeploy's RTMO signature (dets, keypoints; no metadata) from a zip, by registry name."""
    from pose_perception import OneStageEstimator, PoseEstimator

    dets = np.array([[[100, 200, 300, 400, 0.9]]], np.float32)
    keypoints = np.zeros((1, 1, 17, 3), np.float32)
    keypoints[0, 0] = [150, 300, 0.8]
    graph = _constant_onnx([1, 3, 640, 640], {"dets": dets, "keypoints": keypoints})
    entry = _rtmo_archive_entry(server, graph)
    monkeypatch.setitem(zoo.REGISTRY, entry.name, entry)
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path))
    monkeypatch.delenv("POSE_PERCEPTION_OFFLINE", raising=False)

    with pytest.raises(ValueError, match="'rtmo-e2e-test' is a one-stage RTMO model: use OneStageEstimator"):
        PoseEstimator(entry.name)
    assert server.requests == []  # refused before the download
    bboxes, _, image_keypoints, _ = OneStageEstimator(entry.name, backend="onnxruntime").estimate(
        np.zeros((640, 1280, 3), np.uint8)
    )
    np.testing.assert_allclose(bboxes, [[200, 80, 600, 480]], atol=1e-3)  # half size, 160 px down
    np.testing.assert_allclose(image_keypoints[0], np.tile([300.0, 280.0], (17, 1)), atol=1e-3)
    OneStageEstimator(entry.name, backend="onnxruntime")  # from the cache
    assert len(server.requests) == 1


def test_registry_rtmo_checkpoint_end_to_end_through_the_one_stage_estimator(server, tmp_path, monkeypatch):
    from pose_perception import OneStageEstimator
    from pose_perception.models import build_model

    torch.manual_seed(0)
    model = build_model("rtmo-t").eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    body = buffer.getvalue()
    url = server.serve("/rtmo/rtmo-t-test-1234abcd_20240101.pth", body)
    entry = ZooEntry("rtmo-pth-e2e-test", "rtmo-t", url, hashlib.sha256(body).hexdigest()[:8])
    monkeypatch.setitem(zoo.REGISTRY, entry.name, entry)
    monkeypatch.setenv("POSE_PERCEPTION_HOME", str(tmp_path))
    monkeypatch.delenv("POSE_PERCEPTION_OFFLINE", raising=False)

    estimator = OneStageEstimator(entry.name, score_thr=0.0)
    assert (tmp_path / entry.filename).read_bytes() == body and estimator.input_size == (416, 416)
    image = np.random.default_rng(1).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    ours = estimator.estimate(image)
    ref = OneStageEstimator(model, score_thr=0.0).estimate(image)  # the downloaded weights run
    assert len(ours[0]) == len(ref[0]) > 0
    for got, expected in zip(ours, ref, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert len(server.requests) == 1


def test_an_rtmo_archive_with_a_top_down_graph_is_refused(server, tmp_path):
    simcc = {"simcc_x": np.zeros((1, 17, 1280), np.float32), "simcc_y": np.zeros((1, 17, 1280), np.float32)}
    entry = _rtmo_archive_entry(server, _constant_onnx([1, 3, 640, 640], simcc))
    with pytest.raises(ValueError, match=r"expected dets \[1, 'N', 5\], keypoints \[1, 'N', 17, 3\]"):
        zoo.resolve(entry.name, cache_dir=tmp_path, registry={entry.name: entry}, progress=False)
    assert _cache_files(tmp_path) == []


def test_names_by_task():
    detectors, poses = zoo.names("detector"), zoo.names("pose")
    assert set(detectors) | set(poses) == set(zoo.REGISTRY) and not set(detectors) & set(poses)
    assert {"rtmdet-nano", "yolox-tiny", "yolox-m", "yolox-x"} <= set(detectors)
    assert {"rtmpose-m", "rtmpose-m-body7", "rtmw-x", "rtmo-s", "rtmo-s-onnx"} <= set(poses)
    assert zoo.names() == sorted(zoo.REGISTRY)


def test_entry_validation():
    url = "http://127.0.0.1:9/m.zip"
    with pytest.raises(ValueError, match="task"):
        ZooEntry("x", "rtmdet", url, "", task="segmenter", member="end2end.onnx")
    with pytest.raises(ValueError, match="arch"):
        ZooEntry("x", "ssd", url, "", task="detector", member="end2end.onnx")
    with pytest.raises(ValueError, match="needs its sha256"):
        ZooEntry("x", "rtmpose-t", "http://127.0.0.1:9/m.pth", "")
    with pytest.raises(ValueError, match="hex"):
        ZooEntry("x", "rtmpose-t", "http://127.0.0.1:9/m.pth", "05D8511E")
    with pytest.raises(ValueError, match=r"not a \.zip"):
        ZooEntry("x", "rtmpose-t", "http://127.0.0.1:9/m.pth", "05d8511e", member="end2end.onnx")
    assert zoo.pin_env_var("rtmpose-l-body7-384x288") == "POSE_PERCEPTION_SHA256_RTMPOSE_L_BODY7_384X288"


@pytest.mark.parametrize("name", [n for n, e in sorted(zoo.REGISTRY.items()) if e.member])
def test_official_archive_entries(name):
    from pose_perception.detection import DETECTOR_KINDS

    entry = zoo.REGISTRY[name]
    assert entry.name == name
    assert any(entry.url == base + "onnx_sdk/" + entry.filename for base in zoo.OFFICIAL_BASES), entry.url
    assert entry.filename.endswith(".zip")
    # the hex in the name is the source checkpoint's, not the zip's: no hash is claimed
    # (RTMW's zips carry only a date)
    assert re.search(r"(-[0-9a-f]{7,8})?(_\d{8})?\.zip$", entry.filename), entry.filename
    assert entry.sha256 == "" and entry.size is None
    assert entry.member == "end2end.onnx"
    assert entry.local_name == entry.filename[: -len(".zip")] + ".onnx"
    assert entry.input_size is not None
    width, height = entry.input_size
    assert f"input {width}x{height}" in entry.description
    if entry.task == "detector":
        assert entry.arch in DETECTOR_KINDS == zoo.DETECTOR_ARCHS
        assert entry.arch.replace("rtmdet", "rtmdet_") in entry.filename.replace("rtmdet", "rtmdet_")
        assert "person" in entry.filename or "humanart" in entry.filename
    else:
        assert entry.input_size == _arch_input_size(entry.arch)
        _check_pose_row(entry)


# ---------------------------------------------------------------------------- bundled model, fallback


@pytest.fixture
def bundled_dir(tmp_path, monkeypatch) -> tuple[Path, ZooEntry]:
    """A bundled-model folder with a random-weight RTMPose-t ONNX, and its registry entry."""
    from pose_perception.runtime.export import export_rtmpose

    folder = tmp_path / "bundled"
    _, _, path = export_rtmpose("rtmpose-t", folder / "tiny.onnx", seed=3)
    body = Path(path).read_bytes()
    entry = ZooEntry("tiny-bundled", "rtmpose-t", "", hashlib.sha256(body).hexdigest(), bundled="tiny.onnx")
    monkeypatch.setattr(zoo, "BUNDLED_DIR", folder)
    monkeypatch.setitem(zoo.BUNDLED_FALLBACK, "pose", entry.name)
    return folder, entry


def test_bundled_entry_resolves_to_the_package_file_without_network(bundled_dir, server, tmp_path):
    folder, entry = bundled_dir
    path, got = zoo.resolve(entry.name, cache_dir=tmp_path / "cache", registry={entry.name: entry})
    assert path == folder / "tiny.onnx" and got is entry
    assert zoo.cached_path(entry, tmp_path / "cache") == path
    assert server.requests == []
    with pytest.raises(ValueError, match="url or a bundled"):
        ZooEntry("both", "rtmpose-t", "http://x/y.pth", "0" * 64, bundled="y.onnx")


def test_fallback_to_bundled_only_when_asked_and_with_a_warning(bundled_dir, server, tmp_path, caplog):
    folder, bundled = bundled_dir
    url = server.base_url + "/missing-0badc0de_20230101.pth"  # not served: HTTP 404
    official = _entry("official", url, b"weights")
    registry = {"official": official, bundled.name: bundled}
    with pytest.raises(ModelUnavailableError, match="missing-0badc0de"):
        zoo.resolve("official", cache_dir=tmp_path, registry=registry, progress=False)
    with caplog.at_level("WARNING", logger="pose_perception.zoo"):
        path, entry = zoo.resolve("official", cache_dir=tmp_path, registry=registry, fallback=True)
    assert (path, entry) == (folder / "tiny.onnx", bundled)
    assert "Using the bundled 'tiny-bundled'" in caplog.text and url in caplog.text
    # another keypoint schema has no bundled substitute: the original error stands
    other = ZooEntry("hands", "rtmpose-t", url, "0" * 64, skeleton="h36m17")
    with pytest.raises(ModelUnavailableError):
        zoo.resolve("hands", cache_dir=tmp_path, registry={**registry, "hands": other}, fallback=True)


def test_fallback_never_hides_a_corrupt_file(bundled_dir, server, tmp_path):
    folder, bundled = bundled_dir
    body = b"official weights"
    url = server.serve("/m-0badc0de_20230101.pth", body)
    official = _entry("official", url, body)
    (tmp_path / official.filename).write_bytes(b"tampered")  # a cached file that fails its hash
    registry = {"official": official, bundled.name: bundled}
    with pytest.raises(ValueError, match="does not match"):
        zoo.resolve("official", cache_dir=tmp_path, registry=registry, fallback=True)
    (folder / "tiny.onnx").write_bytes(b"tampered too")  # and a damaged bundled file is an error
    with pytest.raises(ValueError, match="does not match"):
        zoo.resolve(bundled.name, registry=registry)
    (folder / "tiny.onnx").unlink()
    with pytest.raises(ModelUnavailableError, match="reinstall"):
        zoo.resolve(bundled.name, registry=registry)


def test_estimator_config_falls_back_offline(bundled_dir, tmp_path, monkeypatch):
    from pose_perception import PoseEstimator
    from pose_perception.config import EstimatorConfig

    folder, bundled = bundled_dir
    monkeypatch.setitem(zoo.REGISTRY, bundled.name, bundled)
    monkeypatch.setenv("POSE_PERCEPTION_OFFLINE", "1")
    config = EstimatorConfig()  # the default model, rtmpose-t, is not cached in tmp_path
    assert config.model == "rtmpose-t" and config.fallback_to_bundled
    estimator = PoseEstimator.from_config(config, cache_dir=tmp_path)
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), np.uint8)
    keypoints, _ = estimator.estimate(image, np.array([[40.0, 30.0, 200.0, 230.0]]))
    reference, _ = PoseEstimator(folder / "tiny.onnx").estimate(image, np.array([[40.0, 30.0, 200.0, 230.0]]))
    np.testing.assert_array_equal(keypoints, reference)
    with pytest.raises(ModelUnavailableError, match="POSE_PERCEPTION_OFFLINE"):
        PoseEstimator.from_config(EstimatorConfig(fallback_to_bundled=False), cache_dir=tmp_path)
    with pytest.raises(ModelUnavailableError):  # the torch backend cannot run the ONNX file
        PoseEstimator.from_config(EstimatorConfig(backend="torch"), cache_dir=tmp_path)


# ---------------------------------------------------------------------------- interrupted downloads

_DOWNLOAD = """
import sys
from pose_perception import zoo
entry = zoo.ZooEntry("m", "rtmpose-t", sys.argv[1], sys.argv[2])
zoo.resolve("m", cache_dir=sys.argv[3], registry={"m": entry}, progress=False)
"""


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_download_leaves_a_temp_file_the_next_download_removes(server, payload, tmp_path):
    """SIGKILL mid-transfer leaves pooch's temp file; while its download runs (here: stalled) no
    cleaner removes it, however old; once its process is dead and it is stale, the next download does."""
    from pose_perception.zoo import tempfiles

    url = server.serve("/m.pth", payload, mode="stall")
    sha = hashlib.sha256(payload).hexdigest()
    child = subprocess.Popen([sys.executable, "-c", _DOWNLOAD, url, sha, str(tmp_path)])
    try:
        _wait_for(lambda: any(p.stat().st_size > 0 for p in tmp_path.glob("tmp*")))
        (partial,) = tmp_path.glob("tmp*")
        _age(partial, 3600)
        assert tempfiles.remove_stale(tmp_path) == []  # held by the live download
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert partial.is_file() and 0 < partial.stat().st_size <= len(payload) // 2
    _age(partial, tempfiles.STALE_AFTER_S + 1)
    server.serve("/m.pth", payload)
    path, _ = zoo.resolve("m", cache_dir=tmp_path, registry={"m": _entry("m", url, payload)}, progress=False)
    assert _cache_files(tmp_path) == ["m.pth"] and path.read_bytes() == payload


def test_only_stale_unheld_temp_files_of_ours_are_removed(server, payload, tmp_path):
    import fcntl

    from pose_perception.zoo import tempfiles

    names = ["tmpdead_beef", "tmpdeadbeef", ".det.onnx.k2j4h5.part", ".det.onnx.k2j4h5.part.json"]
    names += ["tmpfresh_01", "tmpheld_001", "tmpUPPERCAS", "notes.part.txt", "mytmpfile", "model.part"]
    for name in names:
        (tmp_path / name).write_bytes(b"x" * 10)
        if name != "tmpfresh_01":
            _age(tmp_path / name, tempfiles.STALE_AFTER_S + 1)
    with open(tmp_path / "tmpheld_001", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a download in progress in another process holds it
        url = server.serve("/m.pth", payload)
        zoo.resolve("m", cache_dir=tmp_path, registry={"m": _entry("m", url, payload)}, progress=False)
    assert _cache_files(tmp_path) == sorted(
        [
            "m.pth",
            "tmpdead_beef",
            "tmpfresh_01",
            "tmpheld_001",
            "tmpUPPERCAS",
            "notes.part.txt",
            "mytmpfile",
            "model.part",
        ]
    )

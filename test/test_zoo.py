"""Model zoo: verified downloads from a real local HTTP server, the cache, offline mode."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from pose_perception import zoo
from pose_perception.models import build_rtmpose, get_variant
from pose_perception.zoo import ModelUnavailableError, ZooEntry


@dataclass
class Route:
    body: bytes
    mode: str = "ok"  # ok | short (half the body, clean close) | abort (half, then a reset)


@dataclass
class FakeServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

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


@pytest.mark.parametrize("name", sorted(zoo.REGISTRY))
def test_official_registry_entries(name):
    entry = zoo.REGISTRY[name]
    assert entry.name == name
    assert entry.url.startswith("https://")
    match = re.search(r"-([0-9a-f]{8})_\d{8}\.pth$", entry.filename)
    assert match, entry.filename
    assert entry.sha256 == match.group(1)
    variant = get_variant(entry.arch)
    assert entry.skeleton == "coco17"
    # the file name states the input size, which must be the variant's (h x w)
    width, height = variant.input_size
    assert f"-{height}x{width}-" in entry.filename


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

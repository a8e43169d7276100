"""The model registry: one greppable row per downloadable model (name, URL, hash, member, arch).

The rows only describe; :mod:`pose_perception.zoo` resolves a name to a verified local file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

OFFICIAL_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
ONNX_SDK_BASE = OFFICIAL_BASE + "onnx_sdk/"
TASKS = ("pose", "detector")
DETECTOR_ARCHS = ("rtmdet", "yolox")  # = detection.DETECTOR_KINDS (not imported: no cv2 here)
_HEX = re.compile(r"[0-9a-f]*")


def check_hash(value: str, what: str, allow_empty: bool = False) -> str:
    """``value`` if it is a SHA-256 or a prefix of one (8 to 64 lowercase hex), else ValueError."""
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
        check_hash(self.sha256, f"{self.name}: sha256", allow_empty=True)
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


def names(task: str | None = None, registry: dict[str, ZooEntry] | None = None) -> list[str]:
    """Registry names, sorted; only those of ``task`` ("pose" / "detector") when given."""
    registry = REGISTRY if registry is None else registry
    return sorted(n for n, e in registry.items() if task is None or e.task == task)

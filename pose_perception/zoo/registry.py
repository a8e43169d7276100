"""The model registry: one greppable row per downloadable model (name, URL, hash, member, arch).

The rows only describe; :mod:`pose_perception.zoo` resolves a name to a verified local file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

OFFICIAL_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
ONNX_SDK_BASE = OFFICIAL_BASE + "onnx_sdk/"
RTMW_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmw/"
RTMO_BASE = "https://download.openmmlab.com/mmpose/v1/projects/rtmo/"
OFFICIAL_BASES = (OFFICIAL_BASE, RTMW_BASE, RTMO_BASE)  # each holds its ONNX zips in onnx_sdk/
TASKS = ("pose", "detector")
DETECTOR_ARCHS = ("rtmdet", "yolox")  # = detection.DETECTOR_KINDS (not imported: no cv2 here)
# Pose archs that take the whole image (no person boxes): = models.rtmo.RTMO_SIZES (no torch here).
# A "pose" row with one of these archs is a one-stage model; everything keys off the arch.
ONE_STAGE_ARCHS = ("rtmo-t", "rtmo-s", "rtmo-m", "rtmo-l")
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
    ``needs_pin``: the publisher gives no checksum for this plain file, so it downloads only
    once the user pins the SHA-256 they trust (``$POSE_PERCEPTION_SHA256_<NAME>`` or
    ``--sha256``); never unverified.
    ``member``: for a ``.zip`` URL, the file to extract — a bare name (``end2end.onnx``)
    matches that file name in any folder of the archive (the official zips nest it under
    ``<date>/<kind>_onnx/<stem>/``) and must match exactly one member; a name with a
    ``/`` must equal the member path.
    ``input_size``: ``(width, height)`` the model's input must have (checked on archives).
    ``skeleton``: the keypoint schema's name (:func:`~pose_perception.skeletons.get_skeleton`).
    A ``"pose"`` row whose ``arch`` is in ``ONE_STAGE_ARCHS`` (RTMO) is a one-stage model
    (:attr:`one_stage`): it runs in ``OneStageEstimator``, without person boxes.
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
    needs_pin: bool = False

    def __post_init__(self) -> None:
        if bool(self.bundled) == bool(self.url):
            raise ValueError(f"{self.name}: give a url or a bundled file name, not both or neither")
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task must be one of {TASKS}, got {self.task!r}")
        if self.task == "detector" and self.arch not in DETECTOR_ARCHS:
            raise ValueError(f"{self.name}: a detector's arch must be one of {DETECTOR_ARCHS}")
        check_hash(self.sha256, f"{self.name}: sha256", allow_empty=True)
        if not self.sha256 and not self.member and not self.needs_pin:
            raise ValueError(
                f"{self.name}: a plain file needs its sha256 (only archives and needs_pin rows go without)"
            )
        if self.member and not self.filename.endswith(".zip"):
            raise ValueError(f"{self.name}: member {self.member!r} given but {self.filename} is not a .zip")

    @property
    def one_stage(self) -> bool:
        """A pose model that finds people itself (RTMO): no detector, no person boxes."""
        return self.task == "pose" and self.arch in ONE_STAGE_ARCHS

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


def _official(
    name: str, arch: str, filename: str, note: str, skeleton: str = "coco17", base: str = OFFICIAL_BASE
) -> ZooEntry:
    # MMEngine's publish step names files <stem>-<first 8 hex of sha256>_<date>.pth
    sha_prefix = filename.rsplit("-", 1)[-1].split("_", 1)[0]
    return ZooEntry(name, arch, base + filename, sha_prefix, skeleton=skeleton, description=note)


def _unpinned(name: str, arch: str, filename: str, note: str, base: str) -> ZooEntry:
    # A whole-body .pth published without a hash in its name: the user pins the SHA-256 (ZooEntry.needs_pin).
    url = base + filename
    return ZooEntry(name, arch, url, "", skeleton="coco_wholebody", description=note, needs_pin=True)


def _onnx_sdk(
    name: str,
    task: str,
    arch: str,
    filename: str,
    size: tuple[int, int],
    note: str,
    skeleton: str = "coco17",
    base: str = OFFICIAL_BASE,
) -> ZooEntry:
    # No published checksum: the hex in the name is the source .pth's (see the module doc).
    width, height = size
    return ZooEntry(
        name, arch, base + "onnx_sdk/" + filename, "", skeleton=skeleton, task=task, member="end2end.onnx",
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
        # Whole-body, 133 COCO-WholeBody keypoints (MMPose's RTMPose README and
        # configs/wholebody_2d_keypoint/rtmpose/*/*.md; AP = Whole AP on COCO-WholeBody val).
        # RTMW-m/-l .pth: MMPose's cocktail14 page links them with no hash in their names
        # (rtmw-dw-l-m = RTMW-m distilled from l, rtmw-dw-x-l = RTMW-l from x): the user pins them.
        _unpinned("rtmw-m", "rtmw-m", "rtmw-dw-l-m_simcc-cocktail14_270e-256x192-20231122.pth",
                  "whole-body 133, RTMW-m, Cocktail14, Whole AP 58.2 (pin its SHA-256)", RTMW_BASE),
        _unpinned("rtmw-l", "rtmw-l", "rtmw-dw-x-l_simcc-cocktail14_270e-256x192-20231122.pth",
                  "whole-body 133, RTMW-l, Cocktail14, Whole AP 66.0 (pin its SHA-256)", RTMW_BASE),
        _onnx_sdk("rtmw-m-onnx", "pose", "rtmw-m",
                  "rtmw-dw-l-m_simcc-cocktail14_270e-256x192_20231122.zip", (192, 256),
                  "whole-body 133, RTMW-m, Cocktail14, Whole AP 58.2", "coco_wholebody", RTMW_BASE),
        _official("rtmw-x", "rtmw-x",
                  "rtmw-x_simcc-cocktail14_pt-ucoco_270e-256x192-13a2546d_20231208.pth",
                  "whole-body 133, RTMW, Cocktail14, Whole AP 67.2", "coco_wholebody", RTMW_BASE),
        _official("rtmw-x-384x288", "rtmw-x-384x288",
                  "rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth",
                  "whole-body 133, RTMW, Cocktail14, Whole AP 70.2", "coco_wholebody", RTMW_BASE),
        _onnx_sdk("rtmw-l-onnx", "pose", "rtmw-l",
                  "rtmw-dw-x-l_simcc-cocktail14_270e-256x192_20231122.zip", (192, 256),
                  "whole-body 133, RTMW-l, Cocktail14, Whole AP 66.0", "coco_wholebody", RTMW_BASE),
        _onnx_sdk("rtmw-l-384x288-onnx", "pose", "rtmw-l-384x288",
                  "rtmw-dw-x-l_simcc-cocktail14_270e-384x288_20231122.zip", (288, 384),
                  "whole-body 133, RTMW-l, Cocktail14, Whole AP 70.1", "coco_wholebody", RTMW_BASE),
        _official("rtmpose-m-wholebody", "rtmpose-m",
                  "rtmpose-m_simcc-coco-wholebody_pt-aic-coco_270e-256x192-cd5e845c_20230123.pth",
                  "whole-body 133, COCO-WholeBody, Whole AP 58.2", "coco_wholebody"),
        _official("rtmpose-l-wholebody", "rtmpose-l",
                  "rtmpose-l_simcc-coco-wholebody_pt-aic-coco_270e-256x192-6f206314_20230124.pth",
                  "whole-body 133, COCO-WholeBody, Whole AP 61.1", "coco_wholebody"),
        _official("rtmpose-l-wholebody-384x288", "rtmpose-l-384x288",
                  "rtmpose-l_simcc-coco-wholebody_pt-aic-coco_270e-384x288-eaeb96c8_20230125.pth",
                  "whole-body 133, COCO-WholeBody, Whole AP 64.8", "coco_wholebody"),
        _official("rtmpose-x-wholebody-384x288", "rtmpose-x-384x288",
                  "rtmpose-x_simcc-coco-wholebody_pt-body7_270e-384x288-401dfc90_20230629.pth",
                  "whole-body 133, COCO-WholeBody, Whole AP 65.3", "coco_wholebody"),
        # DWPose: RTMPose whole-body distilled on COCO-WholeBody + UBody (pth and ONNX)
        _official("dwpose-t", "rtmpose-t",
                  "rtmpose-t_simcc-ucoco_dw-ucoco_270e-256x192-dcf277bf_20230728.pth",
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 48.5", "coco_wholebody"),
        _onnx_sdk("dwpose-t-onnx", "pose", "rtmpose-t",
                  "rtmpose-t_simcc-ucoco_dw-ucoco_270e-256x192-dcf277bf_20230728.zip", (192, 256),
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 48.5", "coco_wholebody"),
        _official("dwpose-s", "rtmpose-s",
                  "rtmpose-s_simcc-ucoco_dw-ucoco_270e-256x192-3fd922c8_20230728.pth",
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 53.8", "coco_wholebody"),
        _onnx_sdk("dwpose-s-onnx", "pose", "rtmpose-s",
                  "rtmpose-s_simcc-ucoco_dw-ucoco_270e-256x192-3fd922c8_20230728.zip", (192, 256),
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 53.8", "coco_wholebody"),
        _official("dwpose-m", "rtmpose-m",
                  "rtmpose-m_simcc-ucoco_dw-ucoco_270e-256x192-c8b76419_20230728.pth",
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 60.6", "coco_wholebody"),
        _onnx_sdk("dwpose-m-onnx", "pose", "rtmpose-m",
                  "rtmpose-m_simcc-ucoco_dw-ucoco_270e-256x192-c8b76419_20230728.zip", (192, 256),
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 60.6", "coco_wholebody"),
        _official("dwpose-l", "rtmpose-l",
                  "rtmpose-l_simcc-ucoco_dw-ucoco_270e-256x192-4d6dfc62_20230728.pth",
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 63.1", "coco_wholebody"),
        _onnx_sdk("dwpose-l-onnx", "pose", "rtmpose-l",
                  "rtmpose-l_simcc-ucoco_dw-ucoco_270e-256x192-4d6dfc62_20230728.zip", (192, 256),
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 63.1", "coco_wholebody"),
        _official("dwpose-l-384x288", "rtmpose-l-384x288",
                  "rtmpose-l_simcc-ucoco_dw-ucoco_270e-384x288-2438fd99_20230728.pth",
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 66.5", "coco_wholebody"),
        _onnx_sdk("dwpose-l-384x288-onnx", "pose", "rtmpose-l-384x288",
                  "rtmpose-l_simcc-ucoco_dw-ucoco_270e-384x288-2438fd99_20230728.zip", (288, 384),
                  "whole-body 133, DWPose (COCO-WholeBody+UBody), Whole AP 66.5", "coco_wholebody"),
        # Hand, 21 keypoints (configs/hand_2d_keypoint/rtmpose/*/*.md). The Hand5 .pth is left out:
        # its published name carries 7 hex digits (74fb594), not the 8 of a hash prefix.
        _official("rtmpose-m-hand", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-coco-wholebody-hand_pt-aic-coco_210e-256x256-99477206_20230228.pth",
                  "hand 21, COCO-WholeBody-Hand, PCK@0.2 0.815", "hand21"),
        _onnx_sdk("rtmpose-m-hand5-onnx", "pose", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-hand5_pt-aic-coco_210e-256x256-74fb594_20230320.zip", (256, 256),
                  "hand 21, Hand5, PCK@0.2 0.815 on COCO-WholeBody-Hand", "hand21"),
        # Face, 106 LaPa keypoints (configs/face_2d_keypoint/rtmpose/*/*.md; NME on LaPa, lower is better)
        _official("rtmpose-t-face", "rtmpose-t-256x256",
                  "rtmpose-t_simcc-face6_pt-in1k_120e-256x256-df79d9a5_20230529.pth",
                  "face 106 (LaPa), Face6, NME 1.67", "face106"),
        _onnx_sdk("rtmpose-t-face-onnx", "pose", "rtmpose-t-256x256",
                  "rtmpose-t_simcc-face6_pt-in1k_120e-256x256-df79d9a5_20230529.zip", (256, 256),
                  "face 106 (LaPa), Face6, NME 1.67", "face106"),
        _official("rtmpose-s-face", "rtmpose-s-256x256",
                  "rtmpose-s_simcc-face6_pt-in1k_120e-256x256-d779fdef_20230529.pth",
                  "face 106 (LaPa), Face6, NME 1.59", "face106"),
        _onnx_sdk("rtmpose-s-face-onnx", "pose", "rtmpose-s-256x256",
                  "rtmpose-s_simcc-face6_pt-in1k_120e-256x256-d779fdef_20230529.zip", (256, 256),
                  "face 106 (LaPa), Face6, NME 1.59", "face106"),
        _official("rtmpose-m-face", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-face6_pt-in1k_120e-256x256-72a37400_20230529.pth",
                  "face 106 (LaPa), Face6, NME 1.44", "face106"),
        _onnx_sdk("rtmpose-m-face-onnx", "pose", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-face6_pt-in1k_120e-256x256-72a37400_20230529.zip", (256, 256),
                  "face 106 (LaPa), Face6, NME 1.44", "face106"),
        _official("rtmpose-m-face-lapa", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-lapa_pt-aic-coco_120e-256x256-762b1ae2_20230422.pth",
                  "face 106 (LaPa), LaPa, NME 1.29", "face106"),
        # Animal, 17 AP-10K keypoints (configs/animal_2d_keypoint/rtmpose/ap10k/rtmpose_ap10k.md)
        _official("rtmpose-m-ap10k", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-ap10k_pt-aic-coco_210e-256x256-7a041aa1_20230206.pth",
                  "animal 17, AP-10K, AP 72.2", "ap10k"),
        _onnx_sdk("rtmpose-m-ap10k-onnx", "pose", "rtmpose-m-256x256",
                  "rtmpose-m_simcc-ap10k_pt-aic-coco_210e-256x256-7a041aa1_20230206.zip", (256, 256),
                  "animal 17, AP-10K, AP 72.2", "ap10k"),
        # RTMO one-stage, COCO-17, whole image in (projects/rtmo/README.md, configs/body_2d_keypoint/rtmo/)
        _official("rtmo-t", "rtmo-t",
                  "rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth",
                  "COCO-17 one-stage, body7, COCO AP 57.4", "coco17", RTMO_BASE),
        _onnx_sdk("rtmo-t-onnx", "pose", "rtmo-t",
                  "rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.zip", (416, 416),
                  "COCO-17 one-stage, body7, COCO AP 57.4", "coco17", RTMO_BASE),
        _official("rtmo-s", "rtmo-s",
                  "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth",
                  "COCO-17 one-stage, body7, COCO AP 68.6", "coco17", RTMO_BASE),
        _onnx_sdk("rtmo-s-onnx", "pose", "rtmo-s",
                  "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.zip", (640, 640),
                  "COCO-17 one-stage, body7, COCO AP 68.6", "coco17", RTMO_BASE),
        _official("rtmo-m", "rtmo-m",
                  "rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth",
                  "COCO-17 one-stage, body7, COCO AP 72.6", "coco17", RTMO_BASE),
        _onnx_sdk("rtmo-m-onnx", "pose", "rtmo-m",
                  "rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.zip", (640, 640),
                  "COCO-17 one-stage, body7, COCO AP 72.6", "coco17", RTMO_BASE),
        _official("rtmo-l", "rtmo-l",
                  "rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth",
                  "COCO-17 one-stage, body7, COCO AP 74.8", "coco17", RTMO_BASE),
        _onnx_sdk("rtmo-l-onnx", "pose", "rtmo-l",
                  "rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.zip", (640, 640),
                  "COCO-17 one-stage, body7, COCO AP 74.8", "coco17", RTMO_BASE),
        _official("rtmo-s-coco", "rtmo-s",
                  "rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth",
                  "COCO-17 one-stage, COCO, COCO AP 67.7", "coco17", RTMO_BASE),
        _official("rtmo-m-coco", "rtmo-m",
                  "rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth",
                  "COCO-17 one-stage, COCO, COCO AP 70.9", "coco17", RTMO_BASE),
        _official("rtmo-l-coco", "rtmo-l",
                  "rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth",
                  "COCO-17 one-stage, COCO, COCO AP 72.4", "coco17", RTMO_BASE),
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

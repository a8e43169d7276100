"""What a pose model needs besides its weights: schema, input size, normalisation, codec.

Exported ONNX files carry this as metadata (``metadata_props``) so a node needs only
the model path. Files without it (the official MMDeploy exports) get the schema of their
keypoint count (COCO-17, hand, face or whole-body; a ``skeleton`` given replaces it) with the
input size and split ratio read from the graph's shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from pose_perception.skeletons import COCO17, Skeleton, get_skeleton
from pose_perception.topdown import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from pose_perception.variants import RTMPoseVariant, get_variant

METADATA_VERSION = "1"


@dataclass(frozen=True)
class ModelInfo:
    input_size: tuple[int, int]  # (width, height)
    skeleton: Skeleton = COCO17
    mean_rgb: tuple[float, float, float] = IMAGENET_MEAN_RGB
    std_rgb: tuple[float, float, float] = IMAGENET_STD_RGB
    simcc_split_ratio: float = 2.0
    bbox_padding: float = 1.25
    arch: str = "unknown"
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def num_keypoints(self) -> int:
        return self.skeleton.num_keypoints

    def with_skeleton(self, skeleton: Skeleton, source: str) -> ModelInfo:
        """This info with another keypoint schema of the same size (``source`` names the model)."""
        check_skeleton(skeleton, self.num_keypoints, source)
        return replace(self, skeleton=skeleton)

    def to_metadata(self) -> dict[str, str]:
        """String key/values for ONNX ``metadata_props`` (JSON values, readable in Netron)."""
        sk = self.skeleton
        meta = {
            "pose_perception_metadata_version": METADATA_VERSION,
            "arch": self.arch,
            "input_size": json.dumps(list(self.input_size)),
            "mean": json.dumps(list(self.mean_rgb)),
            "std": json.dumps(list(self.std_rgb)),
            "color_order": "RGB",
            "simcc_split_ratio": json.dumps(self.simcc_split_ratio),
            "bbox_padding": json.dumps(self.bbox_padding),
            "skeleton_name": sk.name,
            "keypoint_names": json.dumps(list(sk.keypoint_names)),
            "skeleton_links": json.dumps([list(p) for p in sk.links]),
            "flip_pairs": json.dumps([list(p) for p in sk.flip_pairs]),
            "keypoint_colors": json.dumps([list(c) for c in sk.keypoint_colors]),
            "link_colors": json.dumps([list(c) for c in sk.link_colors]),
            "oks_sigmas": json.dumps(None if sk.sigmas is None else list(sk.sigmas)),
        }
        if sk.groups:  # only whole-body schemas: body models' metadata stays as it was
            meta["skeleton_groups"] = json.dumps([list(g) for g in sk.groups])
        meta.update(self.extra)
        return meta

    @classmethod
    def from_metadata(
        cls,
        meta: dict[str, str],
        input_size: tuple[int, int] | None,
        num_keypoints: int | None,
        simcc_width: int | None = None,
        source: str = "model",
    ) -> ModelInfo:
        """Read our metadata, or fall back to defaults for official files: the schema of their
        keypoint count (``DEFAULT_SKELETONS``; the caller's ``skeleton`` replaces it).

        ``input_size``/``num_keypoints``/``simcc_width`` come from the graph's shapes
        (None where dynamic) and are cross-checked against the metadata.
        """
        try:
            if "keypoint_names" in meta:
                info = cls._parse(meta)
            else:
                if input_size is None:
                    raise ValueError("no metadata and a dynamic input size")
                count = COCO17.num_keypoints if num_keypoints is None else num_keypoints
                if count not in DEFAULT_SKELETONS:
                    raise ValueError(
                        f"no metadata and {count} keypoints: only {', '.join(map(str, DEFAULT_SKELETONS))} "
                        "keypoints can be assumed (coco17, hand21, face106, coco_wholebody)"
                    )
                ratio = simcc_width / input_size[0] if simcc_width else 2.0
                skeleton = get_skeleton(DEFAULT_SKELETONS[count])
                info = cls(
                    input_size=input_size, skeleton=skeleton, simcc_split_ratio=ratio, arch="official-onnx"
                )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{source}: bad pose metadata: {err}") from err
        if input_size is not None and tuple(input_size) != info.input_size:
            raise ValueError(f"{source}: metadata input_size {info.input_size} != graph {input_size}")
        if simcc_width is not None and round(info.input_size[0] * info.simcc_split_ratio) != simcc_width:
            raise ValueError(
                f"{source}: simcc_x has {simcc_width} bins but metadata implies "
                f"{info.input_size[0]} px × split ratio {info.simcc_split_ratio}"
            )
        if num_keypoints is not None and num_keypoints != info.num_keypoints:
            raise ValueError(
                f"{source}: metadata has {info.num_keypoints} keypoints, graph outputs {num_keypoints}"
            )
        return info

    @classmethod
    def _parse(cls, meta: dict[str, str]) -> ModelInfo:
        skeleton = Skeleton.from_dict(
            {
                "name": meta.get("skeleton_name", "custom"),
                "keypoints": json.loads(meta["keypoint_names"]),
                "links": json.loads(meta.get("skeleton_links", "[]")),
                "flip_pairs": json.loads(meta.get("flip_pairs", "[]")),
                "keypoint_colors": json.loads(meta.get("keypoint_colors", "[]")),
                "link_colors": json.loads(meta.get("link_colors", "[]")),
                "sigmas": json.loads(meta.get("oks_sigmas", "null")),
                "groups": json.loads(meta.get("skeleton_groups", "[]")),
            }
        )
        width, height = json.loads(meta["input_size"])
        known = {
            "pose_perception_metadata_version", "arch", "input_size", "mean", "std",
            "color_order", "simcc_split_ratio", "bbox_padding", "skeleton_name",
            "keypoint_names", "skeleton_links", "flip_pairs", "keypoint_colors",
            "link_colors", "oks_sigmas", "skeleton_groups",
        }  # fmt: skip
        return cls(
            input_size=(int(width), int(height)),
            skeleton=skeleton,
            mean_rgb=_triple(json.loads(meta.get("mean", json.dumps(IMAGENET_MEAN_RGB)))),
            std_rgb=_triple(json.loads(meta.get("std", json.dumps(IMAGENET_STD_RGB)))),
            simcc_split_ratio=float(json.loads(meta.get("simcc_split_ratio", "2.0"))),
            bbox_padding=float(json.loads(meta.get("bbox_padding", "1.25"))),
            arch=meta.get("arch", "unknown"),
            extra={k: v for k, v in meta.items() if k not in known},
        )


def rtmpose_info(variant: RTMPoseVariant, num_keypoints: int, skeleton: Skeleton | None) -> ModelInfo:
    """The info of a top-down network: its variant's input size and split ratio, and a
    schema of ``num_keypoints`` (``DEFAULT_SKELETONS`` by count, else it must be given)."""
    if skeleton is None and num_keypoints in DEFAULT_SKELETONS:
        skeleton = get_skeleton(DEFAULT_SKELETONS[num_keypoints])
    if skeleton is None:
        raise ValueError(f"model has {num_keypoints} keypoints: pass its skeleton")
    check_skeleton(skeleton, num_keypoints, variant.name)
    return ModelInfo(
        input_size=variant.input_size,
        simcc_split_ratio=variant.simcc_split_ratio,
        arch=variant.name,
        skeleton=skeleton,
    )


# The schema assumed for a network (or an official ONNX file) of this many keypoints when none
# is given: body, hand, face, whole-body. AP-10K (17) must be named: 17 means COCO-17.
DEFAULT_SKELETONS: dict[int, str] = {
    COCO17.num_keypoints: "coco17",
    21: "hand21",
    106: "face106",
    133: "coco_wholebody",
}


def check_skeleton(skeleton: Skeleton, num_keypoints: int, source: str) -> None:
    if skeleton.num_keypoints != num_keypoints:
        raise ValueError(
            f"{source}: skeleton {skeleton.name!r} has {skeleton.num_keypoints} keypoints, "
            f"model has {num_keypoints}"
        )


def checkpoint_info(arch: str, skeleton: Skeleton | None) -> ModelInfo:
    """The info of a checkpoint of the named variant (as many keypoints as ``skeleton``,
    else the variant's official count): what it needs besides its weights, known before torch
    loads them."""
    variant = get_variant(arch)
    num_keypoints = skeleton.num_keypoints if skeleton is not None else variant.num_keypoints
    return rtmpose_info(variant, num_keypoints, skeleton)


def _triple(values: list[float]) -> tuple[float, float, float]:
    if len(values) != 3:
        raise ValueError(f"expected 3 values, got {values!r}")
    return (float(values[0]), float(values[1]), float(values[2]))

"""What a pose model needs besides its weights: schema, input size, normalisation, codec.

Exported ONNX files carry this as metadata (``metadata_props``) so a node needs only
the model path. Files without it (the official MMDeploy exports) get COCO-17 defaults
with the input size and split ratio read from the graph's shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pose_perception.skeletons import COCO17, Skeleton
from pose_perception.topdown import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB

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
        """Read our metadata, or fall back to COCO-17 defaults for official files.

        ``input_size``/``num_keypoints``/``simcc_width`` come from the graph's shapes
        (None where dynamic) and are cross-checked against the metadata.
        """
        try:
            if "keypoint_names" in meta:
                info = cls._parse(meta)
            else:
                if input_size is None:
                    raise ValueError("no metadata and a dynamic input size")
                if num_keypoints is not None and num_keypoints != COCO17.num_keypoints:
                    raise ValueError(
                        f"no metadata and {num_keypoints} keypoints: only COCO-17 (17) can be "
                        "assumed; pass a skeleton explicitly"
                    )
                ratio = simcc_width / input_size[0] if simcc_width else 2.0
                info = cls(input_size=input_size, simcc_split_ratio=ratio, arch="official-onnx")
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
            }
        )
        width, height = json.loads(meta["input_size"])
        known = {
            "pose_perception_metadata_version", "arch", "input_size", "mean", "std",
            "color_order", "simcc_split_ratio", "bbox_padding", "skeleton_name",
            "keypoint_names", "skeleton_links", "flip_pairs", "keypoint_colors",
            "link_colors", "oks_sigmas",
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


def _triple(values: list[float]) -> tuple[float, float, float]:
    if len(values) != 3:
        raise ValueError(f"expected 3 values, got {values!r}")
    return (float(values[0]), float(values[1]), float(values[2]))

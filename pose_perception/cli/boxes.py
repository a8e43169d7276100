"""``run --box`` / ``--boxes`` / ``--whole-image``: person boxes given by the user (an external
detector), checked as the estimator checks them and looked up per frame by file name or index."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pose_perception.cli.common import CliError, log
from pose_perception.estimator import validate_boxes
from pose_perception.pipeline import full_frame_box
from pose_perception.settings import shown
from pose_perception.sources import Frame


@dataclasses.dataclass
class BoxPlan:
    """Person boxes per frame: fixed boxes, a per-frame table, the whole frame (``whole_image``),
    or none (the detector's)."""

    fixed: np.ndarray | None = None  # (N,5) used on every frame
    table: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    used: set[str] = dataclasses.field(default_factory=set)
    source: str = ""
    whole_image: bool = False

    @classmethod
    def from_args(
        cls, box_texts: list[str] | None, boxes_file: str | None, whole_image: bool = False
    ) -> BoxPlan:
        if whole_image:
            return cls(whole_image=True)
        if box_texts:
            return cls(fixed=np.array([parse_box(t) for t in box_texts], np.float64))
        if boxes_file:
            return cls(table=load_boxes_file(boxes_file), source=boxes_file)
        return cls()

    def for_frame(self, frame: Frame) -> np.ndarray | None:
        """(N,5) boxes x1,y1,x2,y2,score (score NaN when not given); None: use the detector."""
        if self.fixed is not None:
            return self.fixed
        if self.whole_image:
            return np.concatenate([full_frame_box(frame.image.shape), [[math.nan]]], axis=1)
        for key in (frame.name, str(frame.index)):
            if key in self.table:
                self.used.add(key)
                return self.table[key]
        return None

    @property
    def gives_boxes(self) -> bool:
        """Whether any frame gets boxes from the user (not only the detector)."""
        return self.fixed is not None or self.whole_image or bool(self.table)

    def warn_unused(self) -> None:
        """A key that matched no frame is usually a typo in a file name."""
        unused = sorted(set(self.table) - self.used)
        if unused:
            shown = ", ".join(repr(k) for k in unused[:5]) + (" ..." if len(unused) > 5 else "")
            log.warning("%s: %d entries matched no frame: %s", self.source, len(unused), shown)


def parse_box(text: str) -> list[float]:
    """``"x1,y1,x2,y2"`` → [x1, y1, x2, y2, nan]; CliError naming the text when malformed."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise CliError(f"--box {shown(text)}: expected four comma-separated numbers x1,y1,x2,y2")
    return _checked_box(values, f"--box {shown(text)}")


def _checked_box(values: Sequence[Any], where: str) -> list[float]:
    """JSON/text box → [x1, y1, x2, y2, score|nan]; geometry checks are the estimator's."""
    if len(values) not in (4, 5) or not all(_is_number(v) for v in values):
        raise CliError(f"{where}: expected [x1, y1, x2, y2] or [x1, y1, x2, y2, score], got {shown(values)}")
    try:
        validate_boxes([values])
    except ValueError as err:
        raise CliError(f"{where}: {err}") from None
    return [float(v) for v in values] + ([math.nan] if len(values) == 4 else [])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_boxes_file(path: str) -> dict[str, np.ndarray]:
    """Read ``{frame: [[x1,y1,x2,y2(,score)], ...]}``; an empty list means "nobody in this frame"."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CliError(f"--boxes {path}: not valid JSON ({err})") from err
    except UnicodeDecodeError as err:
        byte = err.object[err.start]
        raise CliError(f"--boxes {path}: not UTF-8 (byte {byte:#04x} at offset {err.start})") from None
    except RecursionError:
        raise CliError(f"--boxes {path}: nested too deeply (expected lists of boxes)") from None
    except ValueError as err:  # an integer of more digits than Python converts
        raise CliError(f"--boxes {path}: {err}") from None
    if not isinstance(data, dict):
        raise CliError(f"--boxes {path}: expected a JSON object mapping frame names to box lists")
    table = {}
    for key, boxes in data.items():
        if not isinstance(boxes, list) or not all(isinstance(b, list) for b in boxes):
            raise CliError(f"--boxes {path}: entry {shown(key)} must be a list of boxes [[x1,y1,x2,y2], ...]")
        rows = [_checked_box(b, f"--boxes {path}: {shown(key)}") for b in boxes]
        table[str(key)] = np.array(rows, np.float64).reshape(-1, 5)
    return table

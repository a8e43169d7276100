"""What a model's ONNX graph must look like: one 1x3xHxW input and the outputs its task promises.

Checked on every member extracted from an official archive, before it enters the cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pose_perception.zoo.registry import ZooEntry

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

"""What a model's ONNX graph must look like: one float 1x3xHxW input and the outputs its task promises.

Checked on every member extracted from an official archive, before it enters the cache, and
by the ONNX Runtime pose backend when it opens any file: a graph that loads but cannot run
(a 1-channel or uint8 input, rank-2 outputs) is refused then, not on the first frame.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pose_perception.zoo.registry import ZooEntry

Dims = tuple[int | str | None, ...]  # an int where fixed, a name (or None) where dynamic
Port = tuple[str, Dims, str]  # name, dims, element type as ONNX names it in lower case ("float", "uint8")
IMAGE_TYPE = "float"  # the pre-processed image every model here is fed: float32


def onnx_io(path: str | os.PathLike[str]) -> tuple[list[Port], list[Port]]:
    """(inputs, outputs) of an ONNX graph as (name, dims, type); ValueError if it cannot be read.

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

    def port(value: Any) -> Port:
        tensor = value.type.tensor_type
        shape = tensor.shape.dim
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape)
        return value.name, dims, onnx.TensorProto.DataType.Name(tensor.elem_type).lower()

    inputs = [port(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [port(v) for v in model.graph.output]


def _onnxruntime_io(path: str | os.PathLike[str]) -> tuple[list[Port], list[Port]]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"is not a readable ONNX model ({err})") from None
    return session_io(session)


def session_io(session: Any) -> tuple[list[Port], list[Port]]:
    """(inputs, outputs) of an onnxruntime ``InferenceSession`` as :func:`onnx_io` gives them."""

    def port(arg: Any) -> Port:  # arg.type is "tensor(float)", "tensor(uint8)", ...
        return arg.name, tuple(arg.shape), arg.type.removeprefix("tensor(").removesuffix(")")

    return [port(i) for i in session.get_inputs()], [port(o) for o in session.get_outputs()]


def check_onnx(path: str | os.PathLike[str], entry: ZooEntry) -> None:
    """ValueError unless ``path`` has the inputs and outputs ``entry`` promises.

    One ``1x3xHxW`` input (H, W = ``entry.input_size`` where the graph fixes them);
    a detector outputs ``dets`` [1,N,5] and ``labels`` [1,N]; a pose model ``simcc_x``
    [1,K,2W] and ``simcc_y`` [1,K,2H] (split ratio 2, as every official RTMPose) with K
    the skeleton's keypoint count; a one-stage (RTMO) model MMDeploy's ``dets`` [1,N,5] and
    ``keypoints`` [1,N,K,3] (people after its score threshold and NMS). Dynamic dimensions
    (batch, number of detections, or even H and W) are accepted: the consumer checks what it needs.
    """
    inputs, outputs = onnx_io(path)
    width, height = entry.input_size or (None, None)
    check_image_input(inputs, (1, 3, height, width))
    if entry.task == "detector":
        expected: dict[str, tuple[int | None, ...]] = {"dets": (1, None, 5), "labels": (1, None)}
    else:
        from pose_perception.skeletons import get_skeleton

        k = get_skeleton(entry.skeleton).num_keypoints
        if entry.one_stage:
            check_outputs(outputs, {"dets": (1, None, 5), "keypoints": (1, None, k, 3)})
            return
        bins_x, bins_y = (2 * width, 2 * height) if width and height else (None, None)  # split ratio 2
        expected = {"simcc_x": (1, k, bins_x), "simcc_y": (1, k, bins_y)}
    check_outputs(outputs, expected)


def check_image_input(inputs: Sequence[Port], expected: Sequence[int | None]) -> None:
    """ValueError unless there is one float input of the ``expected`` [N, 3, H, W] shape
    (None: any size; a dynamic dimension matches anything)."""
    shown = "[" + ", ".join("N" if v is None else str(v) for v in expected) + "]"
    if len(inputs) != 1:
        raise ValueError(f"has inputs {[(n, list(d)) for n, d, _ in inputs]}, expected one {shown} input")
    name, shape, dtype = inputs[0]
    if not _dims_match(shape, expected):
        raise ValueError(f"has input {name!r} of shape {list(shape)}, expected {shown} (3 channels)")
    if dtype != IMAGE_TYPE:
        raise ValueError(f"has input {name!r} of type {dtype}, expected {IMAGE_TYPE} (float32)")


def check_outputs(outputs: Sequence[Port], expected: dict[str, tuple[int | None, ...]]) -> None:
    """ValueError unless the outputs are exactly ``expected``: names, ranks and fixed dimensions."""
    by_name = {name: dims for name, dims, _ in outputs}
    if set(by_name) != set(expected) or not all(_dims_match(by_name[n], d) for n, d in expected.items()):
        raise ValueError(
            f"has outputs {dict((n, list(d)) for n, d, _ in outputs)}, expected "
            + ", ".join(f"{n} {['N' if v is None else v for v in d]}" for n, d in expected.items())
        )


def _dims_match(actual: Dims, expected: Sequence[int | None]) -> bool:
    """Same rank; each fixed dimension equals the expected value where one is given."""
    if len(actual) != len(expected):
        return False
    return all(not isinstance(a, int) or e is None or a == e for a, e in zip(actual, expected, strict=True))

"""ONNX graphs built in tests: a model whose outputs are fixed tensors.

Stands in for detector files in the documented output formats (official weights cannot
be downloaded here): the adapters, the registry's archive checks and the node all read
real ONNX files through ONNX Runtime.
"""

from __future__ import annotations

import numpy as np


def constant_onnx(
    input_shape: list[int | str],
    outputs: dict[str, np.ndarray],
    shapes: dict[str, list[int | str]] | None = None,
    input_type: np.dtype | None = None,
) -> bytes:
    """Serialized graph with one input named ``input`` (float32 unless ``input_type``) whose
    outputs are ``outputs``.

    ``shapes`` declares an output's shape (names for dynamic dimensions) instead of the value's.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, infos = [], []
    for name, value in outputs.items():
        const = f"{name}_const"
        nodes.append(helper.make_node("Constant", [], [const], value=numpy_helper.from_array(value, const)))
        nodes.append(helper.make_node("Identity", [const], [name]))
        dtype = helper.np_dtype_to_tensor_dtype(value.dtype)
        infos.append(helper.make_tensor_value_info(name, dtype, (shapes or {}).get(name, list(value.shape))))
    image_type = TensorProto.FLOAT if input_type is None else helper.np_dtype_to_tensor_dtype(input_type)
    image = helper.make_tensor_value_info("input", image_type, input_shape)
    model = helper.make_model(
        helper.make_graph(nodes, "end2end", [image], infos), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()


ORACLE_INPUT_SIZE = (192, 256)  # width, height of the oracle pose models (rtmpose-t's)


def oracle_simcc(
    keypoints: np.ndarray, visibility: np.ndarray, image_shape: tuple[int, ...], split: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """SimCC outputs (1, 17, W·split) and (1, 17, H·split) that decode to ``keypoints`` (pixels
    of an image of ``image_shape``) for a full-frame box: the peak is 1 for visible joints
    (``visibility`` 2) and 0.1 for hidden ones, so the pose stage answers the ground truth."""
    from pose_perception.pipeline import full_frame_box
    from pose_perception.topdown import boxes_to_center_scale

    width, height = ORACLE_INPUT_SIZE
    center, scale = boxes_to_center_scale(full_frame_box(image_shape), (width, height), 1.25)
    crop = (np.asarray(keypoints) - center[0] + scale[0] / 2) / scale[0] * np.array([width, height])
    bins = np.rint(crop * split).astype(int)
    simcc_x = np.zeros((1, 17, width * split), np.float32)
    simcc_y = np.zeros((1, 17, height * split), np.float32)
    for k in range(17):
        peak = 1.0 if visibility[k] == 2 else 0.1
        simcc_x[0, k, np.clip(bins[k, 0], 0, width * split - 1)] = peak
        simcc_y[0, k, np.clip(bins[k, 1], 0, height * split - 1)] = peak
    return simcc_x, simcc_y


def oracle_pose_onnx(
    keypoints: np.ndarray, visibility: np.ndarray, image_shape: tuple[int, ...], split: int = 8
) -> bytes:
    """A pose ONNX (official layout, no metadata) whose output is :func:`oracle_simcc`."""
    simcc_x, simcc_y = oracle_simcc(keypoints, visibility, image_shape, split)
    width, height = ORACLE_INPUT_SIZE
    return constant_onnx([1, 3, height, width], {"simcc_x": simcc_x, "simcc_y": simcc_y})

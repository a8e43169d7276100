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
) -> bytes:
    """Serialized graph with one float input named ``input`` whose outputs are ``outputs``.

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
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)
    model = helper.make_model(
        helper.make_graph(nodes, "end2end", [image], infos), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model.SerializeToString()

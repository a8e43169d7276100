"""Checkpoint loading (weights-only, MMEngine files, strict key checks) and model shapes."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
import torch

from pose_perception.cli import main as cli_main
from pose_perception.model_info import checkpoint_info
from pose_perception.models import (
    VARIANTS,
    CheckpointMismatchError,
    build_model,
    build_rtmpose,
    count_parameters,
    get_variant,
    load_checkpoint,
)
from pose_perception.models.safe_load import InertPlaceholder, UnsafeCheckpointError, safe_torch_load
from pose_perception.skeletons import get_skeleton

FAKE_HUB = "fake_mmengine_hub"
EVIL_MOD = "fake_evil_payload"


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.clone() for k, v in build_rtmpose("rtmpose-t").state_dict().items()}


def _assert_weights_equal(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


@pytest.fixture
def foreign_module():
    """A module that exists while saving and is gone (not importable) while loading."""
    module = types.ModuleType(FAKE_HUB)

    class HistoryBuffer:
        def __init__(self, values: list[float]) -> None:
            self.values = values
            self.max_length = 100

    HistoryBuffer.__module__ = FAKE_HUB
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    module.HistoryBuffer = HistoryBuffer
    sys.modules[FAKE_HUB] = module
    try:
        yield module
    finally:
        sys.modules.pop(FAKE_HUB, None)


def test_plain_state_dict_loads(tiny_state, tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(tiny_state, path)
    torch.manual_seed(123)  # a differently initialised model
    model = build_rtmpose("rtmpose-t")
    assert not torch.equal(model.state_dict()["head.cls_x.weight"], tiny_state["head.cls_x.weight"])
    assert load_checkpoint(model, path) is model
    _assert_weights_equal(model, tiny_state)


def test_mmengine_checkpoint_with_foreign_class_loads(tiny_state, tmp_path, foreign_module):
    path = tmp_path / "mmengine.pth"
    meta = {
        "mmengine_version": "0.7.0",
        "epoch": 420,
        "dataset_meta": {"dataset_name": "coco", "flip_pairs": [[1, 2], [3, 4]]},
        "hook_msgs": {"best_ckpt": "best_coco_AP_epoch_420.pth"},
        "message_hub": foreign_module.HistoryBuffer([0.5, 0.25]),
    }
    torch.save({"meta": meta, "state_dict": tiny_state}, path)
    del sys.modules[FAKE_HUB]  # the class's module is not importable at load time
    with pytest.raises(ImportError):
        __import__(FAKE_HUB)

    raw = safe_torch_load(path)
    assert raw["meta"]["dataset_meta"] == meta["dataset_meta"]
    assert raw["meta"]["hook_msgs"] == meta["hook_msgs"]
    buffer = raw["meta"]["message_hub"]
    assert isinstance(buffer, InertPlaceholder)
    assert f"{FAKE_HUB}.HistoryBuffer" in repr(buffer)
    assert buffer.state == {"values": [0.5, 0.25], "max_length": 100}  # kept as data only

    model = load_checkpoint(build_rtmpose("rtmpose-t"), path)
    _assert_weights_equal(model, tiny_state)


def test_mmengine_checkpoint_with_numpy_meta_loads(tiny_state, tmp_path, foreign_module):
    path = tmp_path / "mmengine_numpy.pth"
    sigmas = np.array([0.026, 0.025, 0.025, 0.035, 0.035], dtype=np.float32)
    meta = {
        "dataset_meta": {"sigmas": sigmas, "num_keypoints": 17, "dataset_name": "coco"},
        "best_score": np.float64(0.6853),
        "iter": np.int64(12345),
        "message_hub": foreign_module.HistoryBuffer([1.0]),
    }
    torch.save({"meta": meta, "state_dict": tiny_state}, path)
    del sys.modules[FAKE_HUB]

    model = load_checkpoint(build_rtmpose("rtmpose-t"), path)
    _assert_weights_equal(model, tiny_state)
    raw = safe_torch_load(path)
    np.testing.assert_array_equal(raw["meta"]["dataset_meta"]["sigmas"], sigmas)
    assert raw["meta"]["dataset_meta"]["sigmas"].dtype == np.float32
    assert raw["meta"]["best_score"] == np.float64(0.6853)
    assert raw["meta"]["iter"] == 12345


@pytest.mark.parametrize("payload", ["importable-callable", "os-system"])
def test_foreign_code_never_runs_on_load(tiny_state, tmp_path, payload):
    """__reduce__ payloads (a callable from an importable module, os.system) stay inert."""
    flag: dict[str, object] = {}
    marker = tmp_path / "pwned"
    module = types.ModuleType(EVIL_MOD)

    def set_flag(value: str) -> str:
        flag["ran"] = value
        return value

    set_flag.__module__ = EVIL_MOD
    set_flag.__qualname__ = "set_flag"
    module.set_flag = set_flag

    class Payload:
        def __reduce__(self):
            if payload == "os-system":
                return (os.system, (f"touch {marker}",))
            return (set_flag, ("executed",))

    path = tmp_path / "evil.pth"
    sys.modules[EVIL_MOD] = module  # importable while saving *and* while loading
    try:
        torch.save({"meta": {"payload": Payload()}, "state_dict": tiny_state}, path)
        try:
            raw = safe_torch_load(path)
        except UnsafeCheckpointError:  # refusing the file is an acceptable outcome too
            raw = None
        else:
            model = load_checkpoint(build_rtmpose("rtmpose-t"), path)
    finally:
        sys.modules.pop(EVIL_MOD, None)

    assert flag == {}, "a pickled callable was executed while loading"
    assert not marker.exists(), "os.system ran while loading"
    if raw is not None:  # loaded: the payload is an inert placeholder, the weights are real
        assert isinstance(raw["meta"]["payload"], InertPlaceholder)
        assert raw["meta"]["payload"].args == ("executed",)
        _assert_weights_equal(model, tiny_state)
    elif payload == "importable-callable":
        pytest.fail("a plain unknown callable should load as an inert placeholder, not be refused")


class _CodePayload:
    """Pickles as a call of ``function(*args)``: what a crafted checkpoint uses to run code."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def _code_payload(kind: str, marker) -> tuple[_CodePayload, str]:
    """(payload, the global the refusal must name) for ``kind``."""
    if kind == "posix-system":
        return _CodePayload(os.system, f"touch {marker}"), f"{os.system.__module__}.system"
    helper = getattr(getattr(np, "dtypes", None), "_add_dtype_helper", None)
    if helper is None:
        pytest.skip("numpy < 1.25 has no numpy.dtypes")
    # Rebinds numpy.dtypes.<alias> (and appends to numpy.dtypes.__all__) in the loading process.
    payload = _CodePayload(helper, np.dtypes.Float32DType, "numpy.dtypes.Hijacked")
    return payload, "numpy.dtypes._add_dtype_helper"


@pytest.mark.parametrize("where", ["top-level", "meta"])
@pytest.mark.parametrize("payload", ["posix-system", "numpy-dtype-helper"])
def test_code_in_a_checkpoint_is_refused_in_one_line_naming_file_and_global(
    tiny_state, tmp_path, payload, where
):
    marker = tmp_path / "pwned"
    code, name = _code_payload(payload, marker)
    path = tmp_path / "evil.pth"
    torch.save(code if where == "top-level" else {"meta": {"x": code}, "state_dict": tiny_state}, path)
    numpy_dtypes_before = list(np.dtypes.__all__) if hasattr(np, "dtypes") else []

    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(build_rtmpose("rtmpose-t"), path)
    message = str(err.value)
    assert message.startswith(f"{path}: refused") and name in message
    assert "\n" not in message
    assert not marker.exists()
    if payload == "numpy-dtype-helper":  # the helper did not run: numpy.dtypes is untouched
        assert not hasattr(np.dtypes, "Hijacked") and np.dtypes.__all__ == numpy_dtypes_before


def test_cli_reports_a_refused_checkpoint_in_one_line(tiny_state, tmp_path, capsys):
    path = tmp_path / "evil.pth"
    code, name = _code_payload("posix-system", tmp_path / "pwned")
    torch.save({"meta": {"x": code}, "state_dict": tiny_state}, path)
    args = ["export", "--arch", "rtmpose-t", "--checkpoint", str(path), "--output", str(tmp_path / "m.onnx")]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pose-perception: error: {path}: refused") and name in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


class _NumpyScalarWithState:
    """A float64 scalar pickled with a BUILD state: only allowed globals, but numpy scalars take
    no state, so the weights-only loader itself refuses it."""

    def __reduce__(self):
        scalar = np.float64(1.0).__reduce__()
        return (*scalar, {"attribute": "value"})


class _BadDtype:
    """np.dtype called with a type code that does not exist: allowed global, hostile data."""

    def __reduce__(self):
        return (np.dtype, ("no-such-type",))


def test_loader_refusal_after_the_global_check_is_one_line(tiny_state, tmp_path):
    path = tmp_path / "stateful_scalar.pth"
    torch.save({"meta": {"x": _NumpyScalarWithState()}, "state_dict": tiny_state}, path)
    with pytest.raises(UnsafeCheckpointError, match="refused by the weights-only loader") as err:
        safe_torch_load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "weights_only" not in message  # torch's advice to load without the safe unpickler is dropped


def test_hostile_data_in_allowed_globals_is_a_value_error_naming_the_file(tiny_state, tmp_path):
    path = tmp_path / "bad_dtype.pth"
    torch.save({"meta": {"x": _BadDtype()}, "state_dict": tiny_state}, path)
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint") as err:
        safe_torch_load(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_mismatch_lists_missing_unexpected_and_shapes(tiny_state, tmp_path):
    state = dict(tiny_state)
    missing_key = "head.gau.beta"
    del state[missing_key]
    state["head.extra_layer.weight"] = torch.zeros(3)
    wrong = "head.final_layer.weight"
    expected_shape = tuple(tiny_state[wrong].shape)
    bad_shape = (expected_shape[0] + 1, *expected_shape[1:])
    state[wrong] = torch.zeros(bad_shape)
    path = tmp_path / "broken.pth"
    torch.save(state, path)

    model = build_rtmpose("rtmpose-t")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, path)
    message = str(err.value)
    assert str(path) in message
    assert missing_key in message
    assert "head.extra_layer.weight" in message
    assert wrong in message
    assert str(bad_shape) in message and str(expected_shape) in message
    assert "missing" in message and "unexpected" in message and "shape mismatch" in message
    _assert_weights_equal(model, before)  # nothing was partially loaded


def test_other_variant_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "small.pth"
    torch.save(build_rtmpose("rtmpose-s").state_dict(), path)
    model = build_rtmpose("rtmpose-t")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match="shape mismatch") as err:
        load_checkpoint(model, path)
    first, *details = str(err.value).splitlines()
    assert first == (
        f"{path}: checkpoint does not match the model (0 missing, 36 unexpected, 174 shape mismatch "
        "key(s) among the model's 218; another architecture or keypoint count?)"
    )
    assert [line.split(":")[0] for line in details] == ["  unexpected", "  shape mismatch"]
    shown = "backbone.stage1.0.bn.bias: checkpoint (64,) vs model (48,)"
    assert details[1].startswith(f"  shape mismatch: {shown}; ")
    assert details[0].endswith("; ... (33 more)") and details[1].endswith("; ... (171 more)")
    _assert_weights_equal(model, before)


def test_checkpoint_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointMismatchError, match="state_dict"):
        load_checkpoint(build_rtmpose("rtmpose-t"), path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does-not-exist\.pth"):
        load_checkpoint(build_rtmpose("rtmpose-t"), tmp_path / "does-not-exist.pth")


def test_text_file_is_value_error_naming_path(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n")
    with pytest.raises(ValueError) as err:
        load_checkpoint(build_rtmpose("rtmpose-t"), path)
    assert str(path) in str(err.value)


# Published figures (MMPose projects/rtmpose/README.md, "Params (M)", the 17-keypoint body models).
PUBLISHED_PARAMS_M = {
    "rtmpose-t": 3.34,
    "rtmpose-s": 5.47,
    "rtmpose-m": 13.59,
    "rtmpose-l": 27.66,
    "rtmpose-m-384x288": 13.72,
    "rtmpose-l-384x288": 27.79,
    "rtmpose-x-384x288": 49.43,
}
# MMPose's docs give no parameter count for these (RTMW, hand/face/animal tables list AP and FLOPs only).
UNPUBLISHED_PARAMS = {
    "rtmpose-t-256x256", "rtmpose-s-256x256", "rtmpose-m-256x256",
    "rtmw-m", "rtmw-l", "rtmw-x", "rtmw-l-384x288", "rtmw-x-384x288",
}  # fmt: skip


@pytest.mark.parametrize(("name", "millions"), sorted(PUBLISHED_PARAMS_M.items()))
def test_parameter_counts_match_published(name, millions):
    assert round(count_parameters(build_model(name, num_keypoints=17)) / 1e6, 2) == millions


def test_every_registered_size_is_accounted_for():
    """A new size gets its published count above, or is listed as having none."""
    assert set(VARIANTS) == set(PUBLISHED_PARAMS_M) | UNPUBLISHED_PARAMS


@pytest.mark.parametrize(("name", "keypoints"), [("rtmw-m", 133), ("rtmpose-m-256x256", 17)])
def test_build_model_outputs_and_keypoint_override(name, keypoints):
    """The official output count by default; ``num_keypoints`` changes the head only."""
    width, height = get_variant(name).input_size
    batch = torch.zeros(2, 3, height, width)
    with torch.no_grad():
        simcc_x, simcc_y = build_model(name).eval()(batch)
        override_x, _ = build_model(name, num_keypoints=21).eval()(batch)
    assert simcc_x.shape == (2, keypoints, 2 * width) and simcc_y.shape == (2, keypoints, 2 * height)
    assert override_x.shape == (2, 21, 2 * width)


def test_build_model_builds_rtmo_and_build_top_down_refuses_it():
    from pose_perception.models.build import build_top_down
    from pose_perception.models.rtmo import RTMO

    model = build_model("rtmo-s")
    assert isinstance(model, RTMO)
    assert count_parameters(model) == 9_868_899  # the seeded rtmo-s fixture's (MMPose's) count
    assert isinstance(build_model("rtmo-t", num_keypoints=5), RTMO)
    with pytest.raises(ValueError, match="one-stage"):
        build_top_down("rtmo-s")


def test_build_model_names_its_errors():
    with pytest.raises(ValueError, match=r"rtmw-q.*known: rtmpose-t"):
        build_model("rtmw-q")
    with pytest.raises(ValueError, match="num_keypoints"):
        build_model("rtmw-m", num_keypoints=0)
    with pytest.raises(ValueError, match="build_model"):
        build_rtmpose("rtmw-m")


def test_whole_body_checkpoint_info_defaults_to_coco_wholebody():
    """A .pth of an RTMW architecture needs no schema: 133 keypoints means COCO-WholeBody."""
    info = checkpoint_info("rtmw-l-384x288", None)
    assert info.skeleton.name == "coco_wholebody" and info.input_size == (288, 384)
    face = checkpoint_info("rtmpose-t-256x256", get_skeleton("face106"))
    assert face.num_keypoints == 106 and face.input_size == (256, 256)


def test_custom_keypoint_count_changes_only_head():
    base = build_rtmpose("rtmpose-t").state_dict()
    custom_model = build_rtmpose("rtmpose-t", num_keypoints=26).eval()
    custom = custom_model.state_dict()
    assert set(base) == set(custom)
    changed = sorted(k for k in base if base[k].shape != custom[k].shape)
    assert changed
    assert all(k.startswith("head.") for k in changed), changed
    assert "head.final_layer.weight" in changed
    assert custom["head.final_layer.weight"].shape[0] == 26
    assert custom["head.final_layer.bias"].shape == (26,)
    with torch.no_grad():
        simcc_x, simcc_y = custom_model(torch.randn(2, 3, 256, 192))
    assert simcc_x.shape == (2, 26, 384)
    assert simcc_y.shape == (2, 26, 512)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_head_output_widths_are_twice_the_input_size(name):
    model = build_model(name)
    width, height = get_variant(name).input_size
    assert model.head.cls_x.out_features == width * 2
    assert model.head.cls_y.out_features == height * 2


@pytest.mark.parametrize(
    ("name", "input_hw", "widths"),
    [("rtmpose-t", (256, 192), (384, 512)), ("rtmpose-m-384x288", (384, 288), (576, 768))],
)
def test_forward_output_widths(name, input_hw, widths):
    model = build_rtmpose(name).eval()
    assert get_variant(name).input_size == (input_hw[1], input_hw[0])
    with torch.no_grad():
        simcc_x, simcc_y = model(torch.randn(1, 3, *input_hw))
    assert simcc_x.shape == (1, 17, widths[0])
    assert simcc_y.shape == (1, 17, widths[1])


@pytest.mark.parametrize("k", [0, -1])
def test_num_keypoints_must_be_positive(k):
    with pytest.raises(ValueError, match="num_keypoints"):
        build_rtmpose("rtmpose-t", num_keypoints=k)


def test_unknown_arch_lists_known_names():
    with pytest.raises(ValueError) as err:
        build_rtmpose("rtmpose-xl")
    assert "rtmpose-xl" in str(err.value)
    for name in VARIANTS:
        assert name in str(err.value)


def test_arch_alias_and_case():
    assert get_variant("RTMPose-M-256x192") is VARIANTS["rtmpose-m"]

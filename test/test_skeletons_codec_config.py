"""Keypoint schemas, the SimCC codec, typed configuration and model metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from pose_perception.codec import SimCCCodec, decode_simcc, flip_simcc
from pose_perception.config import Config, EstimatorConfig, load_config
from pose_perception.model_info import ModelInfo
from pose_perception.skeletons import COCO17, H36M17, Skeleton, get_skeleton, load_skeleton

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------- skeletons


def test_coco17_facts():
    assert COCO17.num_keypoints == 17
    assert len(set(COCO17.keypoint_names)) == 17
    assert COCO17.keypoint_names[0] == "nose"
    assert len(COCO17.links) == 19
    assert len(COCO17.link_colors) == 19 and len(COCO17.keypoint_colors) == 17
    assert COCO17.sigmas is not None and len(COCO17.sigmas) == 17
    # MMPose coco.py flip_indices
    assert COCO17.flip_indices == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    names = COCO17.keypoint_names
    for i, j in enumerate(COCO17.flip_indices):
        assert COCO17.flip_indices[j] == i  # an involution
        if names[i].startswith("left_"):
            assert names[j] == "right_" + names[i][5:]
        elif names[i].startswith("right_"):
            assert names[j] == "left_" + names[i][6:]
        else:
            assert j == i
        assert COCO17.sigmas[i] == COCO17.sigmas[j]  # OKS sigmas are left/right symmetric
    assert {frozenset(p) for p in COCO17.links} >= {
        frozenset((names.index("left_hip"), names.index("right_hip"))),
        frozenset((names.index("left_shoulder"), names.index("left_elbow"))),
    }


def test_h36m17_facts():
    assert H36M17.num_keypoints == 17
    names = H36M17.keypoint_names
    # MMPose h36m.py flip_indices
    assert H36M17.flip_indices == (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
    assert H36M17.flip_indices[names.index("left_hip")] == names.index("right_hip")
    assert H36M17.flip_indices[names.index("right_hip")] == names.index("left_hip")
    assert H36M17.flip_indices[names.index("head")] == names.index("head")
    assert all(0 <= a < 17 and 0 <= b < 17 for a, b in H36M17.links)


def test_get_skeleton_by_name_path_and_unknown():
    assert get_skeleton("coco17") is COCO17
    assert get_skeleton("h36m17") is H36M17
    example = get_skeleton(str(REPO / "config" / "skeleton_example.yaml"))
    assert example.name == "upper_body7"
    assert example.num_keypoints == 7 and len(example.links) == 5
    with pytest.raises(ValueError, match=r"coco17.*coco_wholebody.*ap10k"):
        get_skeleton("mpii16")


# name → (keypoints, flip pairs, links) of MMPose's dataset metadata
OFFICIAL_SCHEMAS = {
    "coco_wholebody": (133, 61, 65),
    "hand21": (21, 0, 20),
    "face106": (106, 48, 0),
    "ap10k": (17, 7, 17),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_SCHEMAS))
def test_official_schemas_by_name(name):
    skeleton = get_skeleton(name)
    assert skeleton.name == name and skeleton is get_skeleton(name)  # read once
    assert (skeleton.num_keypoints, len(skeleton.flip_pairs), len(skeleton.links)) == OFFICIAL_SCHEMAS[name]
    flips = np.array(skeleton.flip_indices)
    assert (flips[flips] == np.arange(skeleton.num_keypoints)).all()  # a flip is its own inverse


def test_whole_body_groups_slice_the_parts():
    """Body 0–16 is COCO-17 (names and OKS sigmas); each hand is 21 joints that flip onto the other."""
    wholebody = get_skeleton("coco_wholebody")
    assert wholebody.groups == (
        ("body", 0, 16), ("feet", 17, 22), ("face", 23, 90), ("left_hand", 91, 111), ("right_hand", 112, 132),
    )  # fmt: skip
    body = wholebody.group("body")
    assert tuple(wholebody.keypoint_names[i] for i in body) == COCO17.keypoint_names
    assert wholebody.sigmas is not None and COCO17.sigmas is not None
    assert wholebody.sigmas[: len(body)] == COCO17.sigmas
    left, right = wholebody.group("left_hand"), wholebody.group("right_hand")
    assert len(left) == len(right) == get_skeleton("hand21").num_keypoints
    assert [wholebody.flip_indices[i] for i in left] == list(right)
    assert all(wholebody.keypoint_names[i].startswith("left_") for i in left)
    with pytest.raises(KeyError, match="tail"):
        wholebody.group("tail")


def test_groups_survive_yaml_and_dict_round_trip(tmp_path):
    data = {"keypoints": ["a", "b", "c"], "groups": [["head", 0, 0], ["arm", 1, 2]]}
    skeleton = load_skeleton(_write(tmp_path, data))
    assert skeleton.groups == (("head", 0, 0), ("arm", 1, 2))
    assert Skeleton.from_dict(skeleton.to_dict()) == skeleton


def _write(tmp_path: Path, data: object, name: str = "schema.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_custom_yaml_names_in_links_and_inferred_flip_pairs(tmp_path):
    path = _write(
        tmp_path,
        {
            "name": "arm5",
            "keypoints": ["neck", "left_hand", "right_hand", "l_foot", "r_foot"],
            "links": [["neck", "left_hand"], ["neck", 2], [3, "r_foot"]],
            "sigmas": [0.1, 0.2, 0.2, 0.3, 0.3],
        },
    )
    sk = load_skeleton(path)
    assert sk.name == "arm5"
    assert sk.links == ((0, 1), (0, 2), (3, 4))
    assert set(sk.flip_pairs) == {(1, 2), (3, 4)}
    assert sk.flip_indices == (0, 2, 1, 4, 3)
    assert sk.sigmas == (0.1, 0.2, 0.2, 0.3, 0.3)
    assert len(sk.link_colors) == 3 and len(sk.keypoint_colors) == 5
    # plain-data round trip
    assert Skeleton.from_dict(sk.to_dict()) == sk


def test_custom_yaml_explicit_flip_pairs_override_inference(tmp_path):
    keypoints = ["a", "left_x", "right_x", "b"]
    explicit = load_skeleton(_write(tmp_path, {"keypoints": keypoints, "flip_pairs": [["a", "b"]]}))
    assert explicit.flip_pairs == ((0, 3),)
    assert explicit.flip_indices == (3, 1, 2, 0)
    none = load_skeleton(_write(tmp_path, {"keypoints": keypoints, "flip_pairs": []}, "none.yaml"))
    assert none.flip_indices == (0, 1, 2, 3)
    inferred = load_skeleton(_write(tmp_path, {"keypoints": keypoints}, "inferred.yaml"))
    assert inferred.flip_indices == (0, 2, 1, 3)


def test_unknown_keypoint_name_in_link_names_the_file(tmp_path):
    path = _write(tmp_path, {"keypoints": ["a", "b"], "links": [["a", "zz"]]})
    with pytest.raises(ValueError, match="zz") as err:
        load_skeleton(path)
    assert str(path) in str(err.value)


def test_link_entry_that_is_not_a_pair_names_the_file(tmp_path):
    path = _write(tmp_path, {"keypoints": ["a", "b", "c"], "links": [["a", "b", "c"]]})
    with pytest.raises(ValueError, match="not a pair") as err:
        load_skeleton(path)
    assert str(path) in str(err.value)


_INVALID = {
    "index-out-of-range": ({"keypoints": ["a", "b"], "links": [[0, 5]]}, "out of range"),
    "flip-index-out-of-range": ({"keypoints": ["a", "b"], "flip_pairs": [[0, -1]]}, "out of range"),
    "wrong-sigma-count": ({"keypoints": ["a", "b"], "sigmas": [0.1]}, "sigmas"),
    "duplicate-names": ({"keypoints": ["a", "b", "a"]}, "duplicate"),
    "group-out-of-range": ({"keypoints": ["a", "b"], "groups": [["hand", 1, 2]]}, "out of range"),
    "group-not-a-triple": ({"keypoints": ["a", "b"], "groups": [["hand", 0]]}, "groups"),
}


@pytest.mark.parametrize("case", sorted(_INVALID))
def test_invalid_schema_is_value_error(tmp_path, case):
    data, reason = _INVALID[case]
    with pytest.raises(ValueError, match=reason):
        load_skeleton(_write(tmp_path, data))


@pytest.mark.parametrize("case", sorted(_INVALID))
def test_invalid_schema_error_names_the_file(tmp_path, case):
    data, _ = _INVALID[case]
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as err:
        load_skeleton(path)
    assert str(path) in str(err.value)


# ---------------------------------------------------------------------------- codec


def test_encode_puts_unit_peak_at_rounded_bin():
    codec = SimCCCodec((192, 256))
    keypoints = np.array([[[10.3, 20.7], [100.1, 200.4], [0.0, 255.0]]], np.float32)
    tx, ty, w = codec.encode(keypoints)
    assert tx.shape == (1, 3, 384) and ty.shape == (1, 3, 512)
    np.testing.assert_array_equal(w, np.ones((1, 3)))
    for k, (x, y) in enumerate(keypoints[0]):
        assert tx[0, k].argmax() == round(float(x) * 2)
        assert ty[0, k].argmax() == round(float(y) * 2)
        assert tx[0, k].max() == pytest.approx(1.0)
        assert ty[0, k].max() == pytest.approx(1.0)
    # Gaussian width follows sigma: one sigma (4.9 bins) away the target is exp(-1/2)
    assert tx[0, 1, 200 + 5] < tx[0, 1, 200 + 4] < 1.0
    assert tx[0, 1, 200 + 4] == pytest.approx(np.exp(-(4**2) / (2 * 4.9**2)), rel=1e-5)


def test_encode_invisible_and_far_outside_keypoints():
    codec = SimCCCodec((192, 256))
    keypoints = np.array([[[50.0, 60.0], [50.0, 60.0], [-100.0, 60.0], [500.0, 60.0], [50.0, 400.0]]])
    visible = np.array([[1, 0, 1, 1, 1]])
    tx, ty, w = codec.encode(keypoints, visible)
    np.testing.assert_array_equal(w, [[1, 0, 0, 0, 0]])
    for k in range(1, 5):
        assert not tx[0, k].any() and not ty[0, k].any(), k
    assert tx[0, 0].max() == pytest.approx(1.0)
    assert visible.tolist() == [[1, 0, 1, 1, 1]]  # input not modified


def test_encode_keeps_keypoint_just_outside_while_its_window_overlaps():
    codec = SimCCCodec((192, 256))
    tx, _, w = codec.encode(np.array([[[-3.0, 60.0]]]))  # mu=-6, 3-sigma window reaches bin 8
    assert w[0, 0] == 1
    assert tx[0, 0].argmax() == 0
    assert 0 < tx[0, 0, 0] < 1


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    codec = SimCCCodec((192, 256))
    keypoints = np.stack([rng.uniform(0, 191, (4, 17)), rng.uniform(0, 255, (4, 17))], -1)
    tx, ty, _ = codec.encode(keypoints)
    decoded, scores = codec.decode(tx, ty)
    assert decoded.shape == (4, 17, 2) and scores.shape == (4, 17)
    assert np.abs(decoded - keypoints).max() <= 0.5
    np.testing.assert_allclose(scores, 1.0, rtol=1e-6)


def test_decode_score_is_min_of_axis_maxima():
    x = np.full((1, 2, 20), -1.0, np.float32)
    y = np.full((1, 2, 30), -1.0, np.float32)
    x[0, 0, 7], y[0, 0, 11] = 0.8, 0.3
    x[0, 1, 3], y[0, 1, 25] = 0.2, 0.9
    keypoints, scores = decode_simcc(x, y, split_ratio=2.0)
    np.testing.assert_allclose(scores, [[0.3, 0.2]])
    np.testing.assert_allclose(keypoints, [[[3.5, 5.5], [1.5, 12.5]]])


@pytest.mark.parametrize("split_ratio", [2.0, 3.0])
def test_decode_non_positive_score_gives_minus_one_over_split_ratio(split_ratio):
    x = np.zeros((1, 3, 20), np.float32)
    y = np.zeros((1, 3, 30), np.float32)
    x[0, :, 5] = [0.9, 0.9, 0.9]
    y[0, 0, 8] = 0.7  # positive: kept
    y[0, 1] = -0.5  # negative: invalid
    # keypoint 2: y all zeros, score exactly 0: invalid ("<= 0")
    keypoints, scores = decode_simcc(x, y, split_ratio)
    np.testing.assert_allclose(keypoints[0, 0], [5 / split_ratio, 8 / split_ratio])
    np.testing.assert_allclose(keypoints[0, 1:], -1 / split_ratio)
    np.testing.assert_allclose(scores, [[0.7, -0.5, 0.0]])


def test_flip_simcc_semantics_and_involution():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 17, 384)).astype(np.float32)
    y = rng.standard_normal((2, 17, 512)).astype(np.float32)
    fx, fy = flip_simcc(x, y, COCO17.flip_indices)
    np.testing.assert_array_equal(fx[:, 1], x[:, 2, ::-1])  # left_eye ← mirrored right_eye
    np.testing.assert_array_equal(fy[:, 1], y[:, 2])
    np.testing.assert_array_equal(fx[:, 0], x[:, 0, ::-1])  # the nose keeps its index
    xx, yy = flip_simcc(fx, fy, COCO17.flip_indices)
    np.testing.assert_array_equal(xx, x)
    np.testing.assert_array_equal(yy, y)


def test_decode_is_plain_argmax_as_in_mmpose():
    x = np.zeros((1, 2, 40), np.float32)
    x[0, 0, 10] = 1.0
    x[0, 0, 20] = np.nextafter(np.float32(1.0), np.float32(2.0))  # larger by one ulp: it wins
    x[0, 1, [7, 30]] = 0.5  # an exact tie: the first bin wins, as argmax does
    y = np.zeros((1, 2, 40), np.float32)
    y[0, :, 4] = 0.5
    y[0, :, 30] = 0.9  # a clear maximum later in the vector is still found
    keypoints, _ = decode_simcc(x, y, split_ratio=2.0)
    np.testing.assert_array_equal(keypoints[0], [[10.0, 15.0], [3.5, 15.0]])


def test_decode_row_of_zeros_is_an_invalid_keypoint():
    """Exactly-zero rows (some joints of the random RTMW fixture) decode as MMPose does:
    score 0, so location −1 (argmax would say bin 0)."""
    x = np.zeros((1, 2, 40), np.float32)
    y = np.zeros((1, 2, 40), np.float32)
    x[0, 1, 12], y[0, 1, 6] = 0.4, 0.3
    y[0, 0, 6] = 0.3  # x row 0 stays all zero: score 0, invalid
    keypoints, scores = decode_simcc(x, y, split_ratio=2.0)
    np.testing.assert_array_equal(keypoints[0], [[-0.5, -0.5], [6.0, 3.0]])
    np.testing.assert_array_equal(scores[0], np.float32([0.0, 0.3]))


# ---------------------------------------------------------------------------- config


def _config(tmp_path: Path, data: object, ros: bool = False) -> Path:
    if ros:
        data = {"/**": {"ros__parameters": data}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_config_loads():
    config = load_config(REPO / "config" / "rtmpose.yaml")
    est = config.estimator
    assert isinstance(est, EstimatorConfig)
    assert (est.model, est.backend, est.device) == ("rtmpose-t", "onnxruntime", "cpu")
    assert est.flip_test is False and est.threads == 0
    assert est.keypoint_threshold == pytest.approx(0.3)


def test_no_path_gives_defaults():
    assert load_config(None) == Config()


@pytest.mark.parametrize("ros", [True, False], ids=["ros-wrapped", "plain"])
def test_values_are_read(tmp_path, ros):
    data = {
        "estimator": {
            "model": "model.onnx",
            "backend": "torch",
            "device": "cuda:1",
            "flip_test": True,
            "skeleton": "h36m17",
            "threads": 4,
            "keypoint_threshold": 0.5,
        }
    }
    est = load_config(_config(tmp_path, data, ros=ros)).estimator
    assert est == EstimatorConfig(
        model="model.onnx",
        backend="torch",
        device="cuda:1",
        flip_test=True,
        skeleton="h36m17",
        threads=4,
        keypoint_threshold=0.5,
    )


def test_ints_accepted_for_float_fields(tmp_path):
    est = load_config(_config(tmp_path, {"estimator": {"keypoint_threshold": 1}})).estimator
    assert est.keypoint_threshold == 1.0 and type(est.keypoint_threshold) is float


@pytest.mark.parametrize(
    ("estimator", "key"),
    [
        ({"flip_test": "yes"}, "flip_test"),
        ({"threads": 1.5}, "threads"),
        ({"threads": True}, "threads"),
        ({"keypoint_threshold": "high"}, "keypoint_threshold"),
        ({"model": 3}, "model"),
        ({"unknown_option": 1}, "unknown_option"),
        ({"backend": "tensorflow"}, "backend"),
        ({"device": "gpu"}, "device"),
        ({"keypoint_threshold": 1.5}, "keypoint_threshold"),
        ({"threads": -1}, "threads"),
        ({"model": ""}, "model"),
    ],
)
def test_bad_values_name_key_and_file(tmp_path, estimator, key):
    path = _config(tmp_path, {"estimator": estimator}, ros=True)
    with pytest.raises(ValueError) as err:
        load_config(path)
    assert key in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_top_level_section(tmp_path):
    path = _config(tmp_path, {"estimator": {}, "tracker": {"iou": 0.3}})
    with pytest.raises(ValueError, match="tracker") as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_unreadable_config(tmp_path):
    with pytest.raises(ValueError, match=r"missing\.yaml"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("estimator: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_config(bad)


# ---------------------------------------------------------------------------- model info


@pytest.mark.parametrize(
    "skeleton", [COCO17, H36M17, get_skeleton("coco_wholebody")], ids=["coco17", "h36m17", "coco_wholebody"]
)
def test_model_info_metadata_round_trip(skeleton):
    info = ModelInfo(
        input_size=(288, 384),
        skeleton=skeleton,
        mean_rgb=(1.0, 2.0, 3.0),
        std_rgb=(4.0, 5.0, 6.5),
        simcc_split_ratio=2.0,
        bbox_padding=1.3,
        arch="rtmpose-m-384x288",
        extra={"author": "test"},
    )
    meta = info.to_metadata()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    assert ("skeleton_groups" in meta) == bool(skeleton.groups)  # body models' metadata unchanged
    back = ModelInfo.from_metadata(
        meta, input_size=(288, 384), num_keypoints=skeleton.num_keypoints, simcc_width=576
    )
    assert back == info
    assert back.skeleton.flip_indices == skeleton.flip_indices
    assert back.extra == {"author": "test"}
    # dynamic graph shapes: metadata alone is enough
    assert ModelInfo.from_metadata(meta, input_size=None, num_keypoints=None) == info


def test_model_info_without_metadata_defaults_to_coco17():
    info = ModelInfo.from_metadata({}, input_size=(192, 256), num_keypoints=17, simcc_width=384)
    assert info.skeleton == COCO17
    assert info.input_size == (192, 256)
    assert info.simcc_split_ratio == 2.0
    info3 = ModelInfo.from_metadata({}, input_size=(192, 256), num_keypoints=17, simcc_width=576)
    assert info3.simcc_split_ratio == 3.0


def test_model_info_without_metadata_rejects_other_keypoint_counts():
    with pytest.raises(ValueError, match="26"):
        ModelInfo.from_metadata({}, input_size=(192, 256), num_keypoints=26, simcc_width=384)
    with pytest.raises(ValueError, match="dynamic"):
        ModelInfo.from_metadata({}, input_size=None, num_keypoints=17)


def test_model_info_metadata_must_agree_with_graph():
    meta = ModelInfo(input_size=(192, 256)).to_metadata()
    with pytest.raises(ValueError, match="input_size") as err:
        ModelInfo.from_metadata(meta, input_size=(288, 384), num_keypoints=17, source="net.onnx")
    assert "net.onnx" in str(err.value)
    with pytest.raises(ValueError, match="keypoints"):
        ModelInfo.from_metadata(meta, input_size=(192, 256), num_keypoints=26)


def test_model_info_bad_metadata_names_source():
    meta = ModelInfo(input_size=(192, 256)).to_metadata()
    meta["mean"] = "[1, 2]"
    with pytest.raises(ValueError, match=r"model\.onnx"):
        ModelInfo.from_metadata(meta, input_size=(192, 256), num_keypoints=17, source="model.onnx")


def test_model_info_metadata_split_ratio_must_agree_with_graph():
    meta = ModelInfo(input_size=(192, 256), simcc_split_ratio=2.0).to_metadata()
    with pytest.raises(ValueError):
        ModelInfo.from_metadata(meta, input_size=(192, 256), num_keypoints=17, simcc_width=576)


@pytest.mark.parametrize("device", ["cuda:abc", "cpu:0", "auto:1", "gpu", "cuda:-1"])
def test_config_rejects_malformed_device(device):
    from pose_perception.config import EstimatorConfig

    with pytest.raises(ValueError, match="device"):
        EstimatorConfig(device=device).validate()

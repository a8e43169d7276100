"""The documentation is true when run: every shell block of the README and docs/*.md is
either run here (in a temp dir, with tiny sizes where a command takes one) or skipped with
its reason in SKIP; the README's Python snippets run; every /diagnostics key the node
publishes is documented; what the docs say about scores and settings matches the code.

A new shell block must be added to RUN or SKIP (the classification test fails until it is),
so a documented command cannot silently escape the test.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from doc_blocks import REPO, Block, all_blocks

ROS = "needs a ROS 2 install (ros2 CLI, launch, colcon, rosdep); the node itself: test_ros_*.py"
NETWORK = "installs from PyPI or downloads models (no network here)"
NODE = "starts the node, which runs until stopped (test_ros_node.py starts it)"
SYNOPSIS = "a synopsis with placeholders ([options], SOURCE, IN OUT), not a command"
LONG = "long training or benchmark runs (minutes to hours); the README's training block runs tiny"

# (file, start of the block's first line) -> why it is not run here
SKIP: dict[tuple[str, str], str] = {
    ("README.md", "bash scripts/demo.sh"): NETWORK + "; sets up .venv, minutes",
    ("README.md", "bash scripts/test.sh"): "the whole suite (this test is part of it)",
    ("README.md", "pip install torch==2.13.0"): NETWORK,
    ("README.md", "pose-perception run SOURCE [--model M]"): SYNOPSIS,
    ("README.md", "rosdep install --from-paths src"): ROS,
    ("README.md", ".venv/bin/python -m pose_perception.ros.rtmpose_node"): NODE,
    ("README.md", "ros2 launch pose_perception"): ROS,
    ("README.md", "python bench/estimator_overhead.py"): LONG,
    ("README.md", "bash scripts/setup_bench.sh"): NETWORK,
    ("docs/lifter.md", "pose-perception run walk.mp4 --three-d lifter"): SYNOPSIS
    + "; needs the default pose model and detector (downloads); test_cli.py runs --three-d lifter",
    ("docs/models.md", "export POSE_PERCEPTION_SHA256_RTMDET_NANO="): SYNOPSIS,
    ("docs/ros.md", "source /opt/ros/jazzy/setup.bash"): ROS,
    ("docs/ros.md", "bash scripts/setup_env.sh"): NETWORK,
    ("docs/ros.md", "ros2 "): ROS,
    ("docs/ros.md", "export FASTRTPS_DEFAULT_PROFILES_FILE=$PWD"): NODE,
    ("docs/ros.md", "export FASTRTPS_DEFAULT_PROFILES_FILE=$(ros2"): ROS,
    ("docs/ros.md", "python -m pose_perception.ros.rtmpose_node"): NODE,
    ("docs/ros.md", "pose-perception bag IN OUT"): SYNOPSIS + "; test_bag.py runs bag mode",
    ("docs/training.md", "scripts/setup_env.sh"): NETWORK + "; " + LONG + "; torchrun, TensorRT",
    ("docs/tracking.md", "bash scripts/setup_boxmot_env.sh"): NETWORK + "; " + LONG + "; .venv-boxmot",
    ("docs/tracking.md", "OMP_NUM_THREADS=1 .venv-boxmot/bin/python bench/"): LONG + "; needs .venv-boxmot",
}


@dataclass(frozen=True)
class Run:
    """How a block runs here: ``replace`` (documented text -> tiny stand-in; each must occur in
    the block), a ``setup`` of the temp dir, the files it must leave, a time bound."""

    replace: tuple[tuple[str, str], ...] = ()
    setup: Callable[[Path], None] | None = None
    produces: tuple[str, ...] = ()
    timeout_s: float = 120.0
    slow: bool = False  # over 30 s here: marked slow


TINY_TRAINING = {
    "epochs": "1",
    "stage2_epochs": "1",
    "cosine_begin_epoch": "0",
    "batch_size": "4",
    "warmup_iters": "1",
    "val_interval": "1",
    "num_workers": "0",
}


def _tiny_training_configs(root: Path) -> None:
    """The repository's training configs with TINY_TRAINING's sizes (one epoch, batch 4)."""
    target = root / "training" / "configs"
    target.mkdir(parents=True)
    for source in (REPO / "training" / "configs").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        for key, value in TINY_TRAINING.items():
            text = re.sub(rf"^{key}: .*$", f"{key}: {value}", text, flags=re.M)
        (target / source.name).write_text(text, encoding="utf-8")


def _tiny_lifter_config(root: Path) -> None:
    text = "train_sequences: 4\nval_sequences: 2\nframes: 30\nchannels: 8\neval_points: 1\n"
    (root / "tiny_lifter.yaml").write_text(text, encoding="utf-8")


RUN: dict[tuple[str, str], Run] = {
    ("README.md", "pose-perception export --arch rtmpose-t --random-init --skeleton"): Run(
        produces=("c.onnx",)
    ),
    ("README.md", "python -m pose_perception.synthetic.coco data/synth_train"): Run(
        replace=(("--images 4000", "--images 6"), ("--images 300", "--images 6")),
        setup=_tiny_training_configs,
        produces=("model.onnx", "work_dirs/rtmpose-t_bundled/best.pth"),
        timeout_s=600.0,
        slow=True,
    ),
    ("docs/synthetic.md", "python -m pose_perception.synthetic.coco data/synth_train"): Run(
        replace=(("--images 5000", "--images 2"), ("--images 500", "--images 2")),
        produces=("data/synth_train/annotations.json", "data/synth_val/annotations.json"),
    ),
    ("docs/lifter.md", "python -m pose_perception.training.lifter"): Run(
        replace=(("--minutes 2.5", "--config tiny_lifter.yaml --iters 2 --no-progress"),),
        setup=_tiny_lifter_config,
        produces=("work_dirs/lifter/val_log.csv",),
        timeout_s=300.0,
    ),
}


def _key(block: Block, table: dict[tuple[str, str], object]) -> tuple[str, str] | None:
    found = [k for k in table if k[0] == block.file and block.first_line.startswith(k[1])]
    return max(found, key=lambda k: len(k[1])) if found else None


SHELL_BLOCKS = all_blocks("shell")


def test_every_shell_block_is_run_or_skipped_with_a_reason() -> None:
    unclassified = [
        f"{b.where()}: {b.first_line}" for b in SHELL_BLOCKS if _key(b, RUN) is None and _key(b, SKIP) is None
    ]
    assert not unclassified, "add these documented commands to RUN or SKIP in test_docs.py:\n" + "\n".join(
        unclassified
    )
    both = [b.where() for b in SHELL_BLOCKS if _key(b, RUN) is not None and _key(b, SKIP) is not None]
    assert not both, f"blocks both run and skipped: {both}"
    used = {_key(b, RUN) for b in SHELL_BLOCKS} | {_key(b, SKIP) for b in SHELL_BLOCKS}
    assert not (set(RUN) | set(SKIP)) - used, "entries matching no block (the docs changed: update them)"


def _shims(directory: Path) -> dict[str, str]:
    """``python`` and ``pose-perception`` as the docs use them, bound to this interpreter
    (the venv's console scripts may point at another tree)."""
    directory.mkdir()
    scripts = {
        "python": f'exec "{sys.executable}" "$@"',
        "pose-perception": 'exec python -m pose_perception "$@"',
    }
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH=f"{directory}{os.pathsep}{os.environ['PATH']}", POSE_PERCEPTION_OFFLINE="1")
    env["POSE_PERCEPTION_HOME"] = str(directory.parent / "model_cache")
    env.pop("PYTHONPATH", None)
    return env


def _run_params() -> list[object]:
    params = []
    for block in SHELL_BLOCKS:
        key = _key(block, RUN)
        if key is not None:
            marks = [pytest.mark.slow] if RUN[key].slow else []
            params.append(pytest.param(block, RUN[key], id=block.where(), marks=marks))
    return params


@pytest.mark.parametrize(("block", "run"), _run_params())
def test_documented_commands_run(block: Block, run: Run, tmp_path: Path) -> None:
    text = block.text
    for documented, tiny in run.replace:
        assert documented in text, f"{block.where()}: {documented!r} is no longer in the block; update RUN"
        text = text.replace(documented, tiny)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(REPO / "config", work / "config")
    if run.setup is not None:
        run.setup(work)
    env = _shims(tmp_path / "bin")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", text],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=run.timeout_s,
    )
    assert result.returncode == 0, (
        f"{block.where()} failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
    )
    missing = [name for name in run.produces if not (work / name).is_file()]
    assert not missing, f"{block.where()}: ran but wrote no {missing}"


# ---------------------------------------------------------------- README Python snippets

# Stand-ins for what cannot be had here, each a (documented text, stand-in) that must occur:
# the default model and detector are downloads, a camera is hardware.
SNIPPET_STAND_INS: dict[str, tuple[tuple[str, str], ...]] = {
    "import time\n\nimport cv2\nfrom pose_perception import PosePipeline": (
        ('load_config("config/rtmpose.yaml")', 'load_config("offline.yaml")'),
        ("cv2.VideoCapture(0)", 'cv2.VideoCapture("clip.avi")'),
    ),
    "import time\n\nimport cv2\nfrom pose_perception import DepthFrame": (),
    "import cv2\nimport numpy as np\nfrom pose_perception import PoseEstimator": (
        ('PoseEstimator("rtmpose-m")', 'PoseEstimator("t.onnx")'),
    ),
}
OFFLINE_CONFIG = """\
estimator: {model: t.onnx}
detector: {type: hog}
three_d: {mode: depth}
"""


def _snippet_files(work: Path) -> None:
    """A random-weight rtmpose-t, a config without downloads (HOG detector, depth mode),
    a short clip, one RGB-D frame and a still: the files the README's snippets open."""
    import cv2

    pytest.importorskip("torch")
    from pose_perception.runtime.export import export_rtmpose
    from pose_perception.synthetic import iter_clip

    export_rtmpose("rtmpose-t", work / "t.onnx")
    (work / "offline.yaml").write_text(OFFLINE_CONFIG, encoding="utf-8")
    frames = list(iter_clip(seed=3, num_frames=3, people=1))
    writer = cv2.VideoWriter(str(work / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for frame in frames:
        writer.write(frame.image)
    writer.release()
    cv2.imwrite(str(work / "color.png"), frames[0].image)
    cv2.imwrite(str(work / "depth.png"), frames[0].depth_mm())
    cv2.imwrite(str(work / "people.jpg"), frames[0].image)


def test_readme_python_snippets_run(tmp_path: Path) -> None:
    """All of the README's snippets, in order, in one interpreter (the 3D one uses the
    pipeline built by the first), with the stand-ins above."""
    snippets = [b for b in all_blocks("python") if b.file == "README.md"]
    assert [s.text.startswith(tuple(SNIPPET_STAND_INS)) for s in snippets] == [True] * len(SNIPPET_STAND_INS)
    program = []
    for snippet, stand_ins in zip(snippets, SNIPPET_STAND_INS.values(), strict=True):
        text = snippet.text
        for documented, stand_in in stand_ins:
            assert documented in text, f"{snippet.where()}: {documented!r} is gone; update SNIPPET_STAND_INS"
            text = text.replace(documented, stand_in)
        program.append(f"# {snippet.where()}\n{text}")
    _snippet_files(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(program)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pipeline_ms" in result.stdout  # the first snippet's last line ran


# ---------------------------------------------------------------- /diagnostics keys

ROS_DIR = REPO / "pose_perception" / "ros"
# Files whose "<stage>_ms" strings are the node's timing stages (published as _p50/_p95).
TIMING_SOURCES = (
    ROS_DIR / "rtmpose_node.py",
    REPO / "pose_perception" / "pipeline.py",
    REPO / "pose_perception" / "three_d.py",
)


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def published_diagnostic_keys() -> set[str]:
    """Every key the node can put on /diagnostics: the stats summary, each timing stage,
    the synchroniser's counters, the depth registration, and rejected_<reason> per
    image rejection reason."""
    from pose_perception.ros.stats import NodeStats

    keys = set(NodeStats().summary("image").values)
    stages = {s for path in TIMING_SOURCES for s in _string_constants(path) if re.fullmatch(r"[a-z_]+_ms", s)}
    keys |= {f"{stage}_{p}" for stage in stages for p in ("p50", "p95")}
    keys |= {s for s in _string_constants(ROS_DIR / "rgbd.py") if re.fullmatch(r"sync_[a-z_]+", s)}
    keys |= set(
        re.findall(r'values\["([a-z_]+)"\]', (ROS_DIR / "diagnostics.py").read_text(encoding="utf-8"))
    )
    keys |= {f"rejected_{reason}" for reason in image_rejection_reasons()}
    return keys


def image_rejection_reasons() -> set[str]:
    source = (ROS_DIR / "convert.py").read_text(encoding="utf-8")
    return set(re.findall(r'ImageRejected\(\s*"([a-z_]+)"', source))


def documented_diagnostic_rows() -> list[tuple[list[str], str]]:
    """(key names, meaning) of each row of docs/ros.md's Diagnostics table."""
    text = (REPO / "docs" / "ros.md").read_text(encoding="utf-8")
    section = text.split("\n## Diagnostics\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 2:
            rows.append((re.findall(r"`([^`]+)`", cells[0]), cells[1]))
    return rows


def _documents(pattern: str, key: str) -> bool:
    regex = re.escape(pattern).replace(re.escape("<reason>"), "[a-z_]+").replace(re.escape("*"), "[a-z0-9_]+")
    return re.fullmatch(regex, key) is not None


def test_every_published_diagnostic_key_is_documented() -> None:
    rows = documented_diagnostic_rows()
    patterns = [name for names, _ in rows for name in names]
    published = published_diagnostic_keys()
    assert {"handover_ms_p95", "image_age_ms_p50", "pipeline_ms_p95", "frames_received"} <= published
    undocumented = sorted(k for k in published if not any(_documents(p, k) for p in patterns))
    assert not undocumented, (
        f"published on /diagnostics but not in docs/ros.md's Diagnostics table: {undocumented}"
    )
    reasons_row = next(meaning for names, meaning in rows if "rejected_<reason>" in names)
    unnamed = sorted(r for r in image_rejection_reasons() if f"`{r}`" not in reasons_row)
    assert not unnamed, f"rejection reasons missing from the rejected_<reason> row: {unnamed}"


# ---------------------------------------------------------------- what the docs say the code does


def test_scores_are_not_documented_as_probabilities() -> None:
    """SimCC maxima exceed 1 (the official models' too): no message or doc may promise [0, 1]."""
    for path in (REPO / "msg" / "Keypoint.msg", REPO / "msg" / "Person.msg"):
        comments = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert not any("in [0, 1]" in line for line in comments), f"{path.name} says scores are in [0, 1]"
    assert "can exceed 1" in (REPO / "msg" / "Keypoint.msg").read_text(encoding="utf-8")
    ros = (REPO / "docs" / "ros.md").read_text(encoding="utf-8")
    score_rows = [line for line in ros.splitlines() if line.startswith("| `score` |")]
    assert len(score_rows) == 2 and all("can exceed 1" in row and "[0, 1]" not in row for row in score_rows)
    from pose_perception.config import EstimatorConfig

    fields = {f.name: f for f in dataclasses.fields(EstimatorConfig)}
    assert "exceed 1" in fields["keypoint_threshold"].metadata["description"]


def test_decoded_scores_are_raw_simcc_maxima() -> None:
    """What the docs now say, shown: the decoded score is a raw SimCC maximum, not a probability."""
    from pose_perception.codec import decode_simcc

    simcc_x = np.zeros((1, 1, 8), np.float32)
    simcc_y = np.zeros((1, 1, 8), np.float32)
    simcc_x[0, 0, 3], simcc_y[0, 0, 5] = 9.58, 8.37
    _, scores = decode_simcc(simcc_x, simcc_y)
    assert scores[0, 0] == pytest.approx(8.37)


def test_generated_config_comments_name_every_choice() -> None:
    """config/rtmpose.yaml's comments list every allowed value (three_d.mode: fused too)."""
    text = (REPO / "config" / "rtmpose.yaml").read_text(encoding="utf-8")
    mode_comment = text.split("\n      mode: ", 1)[1].split("\n      publish_joint_tf:", 1)[0]
    from pose_perception.config import THREE_D_MODES

    for mode in THREE_D_MODES:
        assert re.search(rf"\b{mode}\b", mode_comment), f"three_d.mode comment omits {mode!r}"

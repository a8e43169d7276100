"""Train the causal temporal lifter and a single-frame baseline on synthetic 2D/3D motion.

    python -m pose_perception.training.lifter --out work_dirs/lifter --minutes 3
    python -m pose_perception.training.lifter --config training/configs/lifter_synthetic.yaml --iters 600

Both models (:class:`~pose_perception.models.lifter.CausalTemporalLifter` with the
configured receptive field, and the same class with ``receptive_field=1``) train on the
same batches for the same number of AdamW steps, then are evaluated on held-out
sequences drawn from another seed (MPJPE and P-MPJPE, root-relative, mm), exported to
ONNX with :class:`~pose_perception.lifting.LifterInfo` metadata and checked against
PyTorch. ``--minutes`` times a few steps of each model and picks the step count that
fits the budget (the count is printed and logged; a run with ``--iters`` is exactly
repeatable). See docs/lifter.md.

The work dir gets ``train_log.csv``, ``val_log.csv``, ``curves.png``, ``results.json``,
``lifter_rf{N}.pth`` and ``lifter_rf{N}.onnx`` for both models.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pose_perception.config_loader import load_dataclass
from pose_perception.lifting import ROOT, LifterInfo, coco_to_h36m, export_lifter, normalize_2d
from pose_perception.models.lifter import CausalTemporalLifter
from pose_perception.settings import check_settings, setting, settings_help
from pose_perception.synthetic.body import (
    BodyShape,
    Pose,
    forward_kinematics,
    rot_y,
    sample_pose,
    sample_shape,
)
from pose_perception.synthetic.camera import sample_camera
from pose_perception.synthetic.scene import Person, pose_at, sample_appearance
from pose_perception.training.logs import CsvLog, read_csv

STILL_KINDS = ("stand", "arms", "crouch", "bend", "sit", "random")
MOTIONS = ("walk", "still", "gesture")
PARITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class LifterConfig:
    """Data, model and schedule of a lifter run (YAML keys = field names)."""

    seed: int = setting(0, "random seed of data, weights and batches")
    out: str = setting("work_dirs/lifter", "work dir: logs, checkpoints, ONNX models, results.json")
    # data: sequences of ``frames`` frames at a frame rate drawn from ``fps``
    train_sequences: int = setting(1000, "synthetic training sequences", min=1)
    val_sequences: int = setting(200, "synthetic validation sequences", min=1)
    frames: int = setting(64, "frames per sequence", min=1)
    fps: tuple[float, float] = setting((15.0, 30.0), "frame-rate range of a sequence", min=0.0)
    motion_weights: tuple[float, float, float] = setting(
        (0.45, 0.2, 0.35), "share of walk, still (sway), gesture sequences", min=0.0
    )
    image_size: tuple[int, int] = setting((640, 480), "px; [w, h] of the synthetic camera", min=1)
    focal: tuple[float, float] = setting(
        (400.0, 1200.0), "px; focal length range at 640 px width (scaled with the width)", min=0.0
    )
    camera_height: tuple[float, float] = setting((0.5, 2.5), "m; camera height range")
    distance: tuple[float, float] = setting((2.0, 8.0), "m; person distance range", min=0.0)
    walk_speed: tuple[float, float] = setting((0.5, 1.8), "m/s; walking speed range", min=0.0)
    noise: tuple[float, float] = setting(
        (0.006, 0.014), "2D noise sigma / person height range (about 2-4 px at 300 px)", min=0.0
    )
    noise_correlation: float = setting(
        0.8, "AR(1) coefficient of the correlated half of the noise", min=0.0, max=1.0
    )
    outlier_prob: float = setting(
        0.02, "per keypoint and frame: a large error with a low score", min=0.0, max=1.0
    )
    occlusion_prob: float = setting(
        0.08, "per keypoint and sequence: a 3-15 frame run of guesses", min=0.0, max=1.0
    )
    # model
    receptive_field: int = setting(27, "frames the causal lifter sees", min=1)
    num_blocks: int = setting(2, "residual temporal blocks", min=1)
    channels: int = setting(
        128, "hidden channels (module default 256; 128 trains 2.5x faster on a CPU budget)", min=1
    )
    dropout: float = setting(0.1, "dropout probability", min=0.0, max=1.0)
    # schedule (the same for both models)
    iters: int = setting(0, "steps per model; 0 = from minutes", min=0)
    minutes: float = setting(2.5, "training budget of both models together", min=0.0)
    batch_size: int = setting(64, "chunks per step", min=1)
    chunk: int = setting(8, "supervised frames per chunk (batch_size x chunk frames per step)", min=1)
    lr: float = setting(3e-3, "AdamW learning rate", min=0.0)
    weight_decay: float = setting(1e-4, "AdamW weight decay", min=0.0)
    eta_min_ratio: float = setting(0.05, "final lr = lr x this (cosine)", min=0.0)
    eval_points: int = setting(5, "validations per model during training", min=1)

    def __post_init__(self) -> None:
        check_settings(self)


# Synthetic motion --------------------------------------------------------------------------


def _smoothstep(a: np.ndarray) -> np.ndarray:
    a = np.clip(a, 0.0, 1.0)
    return a * a * (3.0 - 2.0 * a)


def _poses(rng: np.random.Generator, motion: str, person: Person, times: np.ndarray) -> list[Pose]:
    """Joint angles per frame: the scene's gait / sway, or a chain of key poses blended
    with smoothsteps every 0.6–1.5 s (gestures, sitting down, bending, …), swaying."""
    if motion != "gesture":
        return [pose_at(person, float(t)) for t in times]
    keys = [person.pose]
    starts = [float(rng.uniform(-0.5, 0.3))]
    while starts[-1] < times[-1]:
        keys.append(sample_pose(rng, str(rng.choice(STILL_KINDS))))
        starts.append(starts[-1] + float(rng.uniform(0.6, 1.5)))
    out = []
    for t in times:
        i = min(int(np.searchsorted(starts, t, side="right")), len(keys) - 1)
        a, b = keys[max(i - 1, 0)], keys[i]
        span = starts[i] - starts[max(i - 1, 0)] if i > 0 else 1.0
        w = float(_smoothstep(np.array((t - starts[max(i - 1, 0)]) / max(span, 1e-6))))
        names = set(a.angles) | set(b.angles)
        blended = Pose({n: (1 - w) * a[n] + w * b[n] for n in names}, b.kind)
        out.append(pose_at(replace(person, pose=blended), float(t)))
    return out


def make_sequence(rng: np.random.Generator, cfg: LifterConfig) -> dict[str, Any]:
    """One person moving in front of one camera: noisy detector-like COCO-17 2D, scores,
    and H36M-17 root-relative 3D targets in the camera frame (metres)."""
    frames = cfg.frames
    fps = float(rng.uniform(*cfg.fps))
    times = np.arange(frames) / fps
    motion = str(rng.choice(MOTIONS, p=np.asarray(cfg.motion_weights) / sum(cfg.motion_weights)))
    shape: BodyShape = sample_shape(rng)
    camera = sample_camera(rng, *cfg.image_size, focal_px=cfg.focal, elevation_m=cfg.camera_height)
    for attempt in range(8):
        kind = "walk" if motion == "walk" else str(rng.choice(STILL_KINDS))
        speed = float(rng.uniform(*cfg.walk_speed)) * 0.5**attempt if motion == "walk" else 0.0
        distance = float(rng.uniform(*cfg.distance))
        u = rng.uniform(0.25, 0.75) * camera.width
        person = Person(
            shape=shape,
            pose=sample_pose(rng, kind),
            appearance=sample_appearance(rng),
            position=(float(-(u - camera.cx) * distance / camera.fx), distance),
            yaw=float(rng.uniform(0, 2 * math.pi)),
            lean=(float(rng.normal(0, 0.04)), float(rng.normal(0, 0.04))),
            speed=speed,
            gait_phase=float(rng.uniform(0, 2 * math.pi)),
            sway_phase=float(rng.uniform(0, 2 * math.pi)),
        )
        turning = motion == "walk" or rng.random() < 0.3
        yaw = person.yaw + (rng.normal(0.0, 0.4) if turning else 0.0) * times
        heading = np.stack([np.sin(yaw), np.cos(yaw)], axis=1)
        ground = (
            np.asarray(person.position) + np.cumsum(heading * speed / fps, axis=0) - heading[0] * speed / fps
        )
        poses = _poses(rng, motion, person, times)
        bodies = [forward_kinematics(shape, p, person.lean).keypoints for p in poses]
        world = np.stack(
            [
                b @ rot_y(float(y)).T + np.array([g[0], 0.0, g[1]])
                for b, y, g in zip(bodies, yaw, ground, strict=True)
            ]
        )
        mid = 0.5 * (world[0, :, 1].max() + world[0, :, 1].min())
        tilt = math.atan2(camera.elevation - mid, distance) + math.atan(
            rng.uniform(-0.1, 0.1) * camera.height / camera.fy
        )
        camera = replace(camera, tilt=float(np.clip(tilt, -0.35, 0.9)))
        cam = camera.world_to_camera(world)
        uv = camera.project(cam)
        root_uv = uv[:, 11:13].mean(axis=1)
        inside = (
            (root_uv[:, 0] > -0.25 * camera.width)
            & (root_uv[:, 0] < 1.25 * camera.width)
            & (root_uv[:, 1] > -0.25 * camera.height)
            & (root_uv[:, 1] < 1.25 * camera.height)
        )
        if cam[..., 2].min() > 0.8 and inside.all():
            break
    noisy, scores = _detector_noise(rng, cfg, uv)
    target, _ = coco_to_h36m(cam)
    target = target - target[:, ROOT : ROOT + 1]
    h36m_2d, h36m_scores = coco_to_h36m(noisy, scores)
    inputs, _, _ = normalize_2d(h36m_2d, h36m_scores)
    return {
        "inputs": inputs.astype(np.float32),
        "targets": target.astype(np.float32),
        "keypoints": noisy,
        "scores": scores,
        "motion": motion,
        "fps": fps,
        "camera": camera,
    }


def _detector_noise(
    rng: np.random.Generator, cfg: LifterConfig, uv: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like errors on exact (T, 17, 2) projections: half white, half AR(1)
    Gaussian noise (sigma ∝ the person's pixel height), rare large outliers and short
    runs of guessed (occluded) joints, both with low scores."""
    frames, joints = uv.shape[:2]
    size = np.maximum(np.ptp(uv[..., 1], axis=1), 10.0)[:, None, None]  # (T, 1, 1) pixel height
    sigma = rng.uniform(*cfg.noise) * size
    rho = cfg.noise_correlation
    ar = np.empty((frames, joints, 2))
    ar[0] = rng.standard_normal((joints, 2))
    for t in range(1, frames):
        ar[t] = rho * ar[t - 1] + math.sqrt(1 - rho * rho) * rng.standard_normal((joints, 2))
    white = rng.standard_normal((frames, joints, 2))
    noisy = uv + sigma * math.sqrt(0.5) * (white + ar)
    scores = np.clip(rng.uniform(0.55, 1.0, (1, joints)) + rng.normal(0, 0.05, (frames, joints)), 0.35, 1.0)
    bad = rng.random((frames, joints)) < cfg.outlier_prob
    for j in np.flatnonzero(rng.random(joints) < cfg.occlusion_prob):
        start, length = int(rng.integers(frames)), int(rng.integers(3, 16))
        bad[start : start + length, j] = True
        noisy[start : start + length, j] += rng.normal(0, 0.1, 2) * size[start : start + length, 0]
    offsets = rng.normal(0.0, 0.15, (frames, joints, 2)) * size
    noisy = np.where(bad[..., None], noisy + offsets, noisy)
    scores = np.where(bad, rng.uniform(0.02, 0.3, (frames, joints)), scores)
    return noisy, scores


def make_dataset(
    cfg: LifterConfig, count: int, seed: int, desc: str = "data", progress: bool = True
) -> dict[str, Any]:
    """``count`` sequences from ``seed`` (each from its own child generator)."""
    children = np.random.SeedSequence([cfg.seed, seed]).spawn(count)
    bar = tqdm(children, desc=desc, leave=False, disable=not progress, file=sys.stderr)
    seqs = [make_sequence(np.random.default_rng(c), cfg) for c in bar]
    return {
        "inputs": np.stack([s["inputs"] for s in seqs]),
        "targets": np.stack([s["targets"] for s in seqs]),
        "motion": np.array([s["motion"] for s in seqs]),
    }


# Training and evaluation ------------------------------------------------------------------


def build(cfg: LifterConfig, receptive_field: int) -> CausalTemporalLifter:
    return CausalTemporalLifter(
        num_joints_in=17,
        num_joints_out=17,
        receptive_field=receptive_field,
        channels=cfg.channels,
        dropout=cfg.dropout,
        num_blocks=cfg.num_blocks,
    )


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (same units as the inputs)."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pose MPJPE after the best similarity transform (Procrustes) of ``pred`` (…, J, 3)."""
    p = pred - pred.mean(axis=-2, keepdims=True)
    g = target - target.mean(axis=-2, keepdims=True)
    norm_p = np.linalg.norm(p, axis=(-2, -1), keepdims=True)
    norm_g = np.linalg.norm(g, axis=(-2, -1), keepdims=True)
    p, g = p / np.maximum(norm_p, 1e-12), g / np.maximum(norm_g, 1e-12)
    u, s, vt = np.linalg.svd(np.swapaxes(p, -1, -2) @ g)
    d = np.sign(np.linalg.det(u @ vt))  # no reflections
    s[..., -1] *= d
    u[..., :, -1] *= d[..., None]
    r = u @ vt
    aligned = (p @ r) * s.sum(axis=-1)[..., None, None] * norm_g
    return np.linalg.norm(aligned - g * norm_g, axis=-1).mean(axis=-1)


def _padded(inputs: np.ndarray, receptive_field: int) -> np.ndarray:
    """Repeat each sequence's first frame ``receptive_field - 1`` times in front."""
    pad = np.repeat(inputs[:, :1], receptive_field - 1, axis=1)
    return np.concatenate([pad, inputs], axis=1)


def _batch(
    data: np.ndarray, targets: np.ndarray, rf: int, seqs: np.ndarray, starts: np.ndarray, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunks of ``chunk`` supervised frames from ``starts`` (``data`` is padded by rf − 1)."""
    window = np.arange(chunk + rf - 1)
    x = data[seqs[:, None], starts[:, None] + window[None]]
    y = targets[seqs[:, None], starts[:, None] + np.arange(chunk)[None]]
    return torch.from_numpy(x), torch.from_numpy(y)


@torch.no_grad()
def evaluate(model: CausalTemporalLifter, data: dict[str, Any], batch: int = 64) -> dict[str, float]:
    """Root-relative MPJPE / P-MPJPE (mm) over every frame of every held-out sequence,
    the first frames padded as at run time; also MPJPE per motion kind."""
    model.eval()
    preds = []
    for i in range(0, len(data["inputs"]), batch):
        x = torch.from_numpy(data["inputs"][i : i + batch])
        preds.append(model.forward_sequence(x).numpy())
    pred = np.concatenate(preds).astype(np.float64)
    pred = pred - pred[:, :, ROOT : ROOT + 1]
    target = data["targets"].astype(np.float64)
    err = np.linalg.norm(pred - target, axis=-1).mean(axis=-1)  # (S, T)
    out = {"mpjpe_mm": 1000 * float(err.mean()), "pmpjpe_mm": 1000 * float(p_mpjpe(pred, target).mean())}
    for motion in MOTIONS:
        sel = data["motion"] == motion
        if sel.any():
            out[f"mpjpe_{motion}_mm"] = 1000 * float(err[sel].mean())
    return out


def _schedule(opt: torch.optim.Optimizer, cfg: LifterConfig, iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        return cfg.eta_min_ratio + (1 - cfg.eta_min_ratio) * 0.5 * (
            1 + math.cos(math.pi * step / max(iters, 1))
        )

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def train_model(
    cfg: LifterConfig,
    receptive_field: int,
    train: dict[str, Any],
    val: dict[str, Any],
    iters: int,
    name: str,
    train_log: CsvLog | None = None,
    val_log: CsvLog | None = None,
    progress: bool = True,
) -> tuple[CausalTemporalLifter, dict[str, float]]:
    """AdamW on MPJPE. The batches depend only on the seed, so every receptive field sees
    the same supervised frames in the same order."""
    torch.manual_seed(cfg.seed)
    model = build(cfg, receptive_field)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = _schedule(opt, cfg, iters)
    rng = np.random.default_rng([cfg.seed, 7])
    data = _padded(train["inputs"], receptive_field)
    targets = train["targets"]
    count, frames = targets.shape[:2]
    chunk = min(cfg.chunk, frames)
    evals = {max(1, round(iters * (k + 1) / cfg.eval_points)) for k in range(cfg.eval_points)}
    result: dict[str, float] = {}
    bar = tqdm(range(1, iters + 1), desc=name, disable=not progress, file=sys.stderr)
    for it in bar:
        model.train()
        seqs = rng.integers(count, size=cfg.batch_size)
        starts = rng.integers(frames - chunk + 1, size=cfg.batch_size)
        x, y = _batch(data, targets, receptive_field, seqs, starts, chunk)
        loss = mpjpe(model.forward_sequence(x, pad=False), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if train_log is not None and (it % 10 == 0 or it == iters):
            train_log.write(
                model=name, iter=it, lr=f"{sched.get_last_lr()[0]:.6g}", loss_mm=f"{1000 * loss.item():.3f}"
            )
        if it in evals:
            result = evaluate(model, val)
            bar.set_postfix(val_mpjpe=f"{result['mpjpe_mm']:.1f}mm")
            if val_log is not None:
                val_log.write(model=name, iter=it, **{k: f"{v:.3f}" for k, v in result.items()})
    if iters == 0:
        result = evaluate(model, val)
    return model.eval(), result


def probe_iters(
    cfg: LifterConfig, train: dict[str, Any], val: dict[str, Any], budget_s: float, steps: int = 5
) -> int:
    """Steps per model that fit ``budget_s`` for both models together, validations
    included, from a few timed steps and one timed validation of throw-away copies (the
    trained models and their batches are unaffected)."""
    per_step, fixed = 0.0, 0.0
    rng = np.random.default_rng(0)
    count, frames = train["targets"].shape[:2]
    chunk = min(cfg.chunk, frames)
    for rf in (cfg.receptive_field, 1):
        model = build(cfg, rf)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        data = _padded(train["inputs"], rf)
        t0 = time.perf_counter()
        for i in range(steps + 1):
            if i == 1:  # the first step warms up allocators
                t0 = time.perf_counter()
            seqs = rng.integers(count, size=cfg.batch_size)
            starts = rng.integers(frames - chunk + 1, size=cfg.batch_size)
            x, y = _batch(data, train["targets"], rf, seqs, starts, chunk)
            loss = mpjpe(model.forward_sequence(x, pad=False), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        per_step += (time.perf_counter() - t0) / steps
        t0 = time.perf_counter()
        evaluate(model, val)
        fixed += cfg.eval_points * (time.perf_counter() - t0)
    return max(1, int((budget_s - fixed) / per_step))


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def onnx_parity(model: CausalTemporalLifter, path: str, windows: np.ndarray) -> float:
    """max|onnx − torch| / max|torch| on (N, rf, J, 2) windows (CPU)."""
    from pose_perception.lifting import OnnxLifterModel

    ours = OnnxLifterModel(path)(windows)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(windows.astype(np.float32))).numpy()
    return float(np.abs(ours - ref).max() / max(float(np.abs(ref).max()), 1e-12))


def plot(train_csv: str, val_csv: str, out_png: str) -> str | None:
    """Training loss and validation MPJPE of every model (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train, val = read_csv(train_csv), read_csv(val_csv)
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
    for name in sorted({r["model"] for r in train}):
        rows = [r for r in train if r["model"] == name]
        ax_loss.plot([int(r["iter"]) for r in rows], [float(r["loss_mm"]) for r in rows], lw=0.8, label=name)
        rows = [r for r in val if r["model"] == name]
        ax_val.plot([int(r["iter"]) for r in rows], [float(r["mpjpe_mm"]) for r in rows], "o-", label=name)
    ax_loss.set(xlabel="step", ylabel="MPJPE (mm)", title="training loss")
    ax_val.set(xlabel="step", ylabel="MPJPE (mm)", title="held-out MPJPE")
    ax_loss.legend()
    ax_val.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def run(cfg: LifterConfig, progress: bool = True, export: bool = True) -> dict[str, Any]:
    """Data, both trainings, evaluation, export and parity; returns the results table."""
    os.makedirs(cfg.out, exist_ok=True)
    t0 = time.perf_counter()
    train = make_dataset(cfg, cfg.train_sequences, seed=1, desc="train data", progress=progress)
    val = make_dataset(cfg, cfg.val_sequences, seed=2, desc="val data", progress=progress)
    data_s = time.perf_counter() - t0
    iters = cfg.iters or probe_iters(cfg, train, val, 60.0 * cfg.minutes)
    print(
        f"data: {cfg.train_sequences}+{cfg.val_sequences} sequences × {cfg.frames} frames in {data_s:.1f} s; "
        f"{iters} steps × {cfg.batch_size}×{cfg.chunk} frames per model",
        file=sys.stderr,
    )
    for name in ("train_log.csv", "val_log.csv"):
        if os.path.exists(os.path.join(cfg.out, name)):
            os.unlink(os.path.join(cfg.out, name))
    train_log = CsvLog(os.path.join(cfg.out, "train_log.csv"), ("model", "iter", "lr", "loss_mm"))
    val_columns = ("model", "iter", "mpjpe_mm", "pmpjpe_mm", *(f"mpjpe_{m}_mm" for m in MOTIONS))
    val_log = CsvLog(os.path.join(cfg.out, "val_log.csv"), val_columns)
    rows = []
    for rf, label in ((cfg.receptive_field, "causal"), (1, "single-frame")):
        name = f"lifter_rf{rf}"
        t1 = time.perf_counter()
        model, metrics = train_model(cfg, rf, train, val, iters, name, train_log, val_log, progress)
        row: dict[str, Any] = {
            "model": label,
            "file": name,
            "params": count_parameters(model),
            "receptive_field": rf,
            "train_s": round(time.perf_counter() - t1, 1),
            **{k: round(v, 2) for k, v in metrics.items()},
        }
        torch.save(model.state_dict(), os.path.join(cfg.out, f"{name}.pth"))
        if export:
            info = LifterInfo(rf, extra={"train_fps": json.dumps(list(cfg.fps)), "train_data": "synthetic"})
            path = export_lifter(model, os.path.join(cfg.out, f"{name}.onnx"), info)
            windows = _padded(val["inputs"][:8], rf)[:, 20 : 20 + rf]
            row["onnx_parity"] = onnx_parity(model, path, windows)
            if row["onnx_parity"] > PARITY_TOLERANCE:
                raise RuntimeError(f"{path}: ONNX differs from torch by {row['onnx_parity']:.2e} (relative)")
        rows.append(row)
    plot(train_log.path, val_log.path, os.path.join(cfg.out, "curves.png"))
    results = {"config": asdict(cfg), "iters": iters, "data_s": round(data_s, 1), "models": rows}
    with open(os.path.join(cfg.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'model':<13} {'params':>9} {'rf':>4} {'MPJPE mm':>9} {'P-MPJPE mm':>11} "
        f"{'walk':>6} {'still':>6} {'gesture':>8}"
    ]
    for r in results["models"]:
        per = [f"{r.get(f'mpjpe_{m}_mm', float('nan')):.1f}" for m in MOTIONS]
        lines.append(
            f"{r['model']:<13} {r['params']:>9,} {r['receptive_field']:>4} {r['mpjpe_mm']:>9.1f} "
            f"{r['pmpjpe_mm']:>11.1f} {per[0]:>6} {per[1]:>6} {per[2]:>8}"
        )
    return "\n".join(lines)


def load_lifter_config(path: str | None, **overrides: Any) -> LifterConfig:
    """YAML (``config_loader``'s rules, as for every config) plus plain overrides (``None``: not given)."""
    return load_dataclass(LifterConfig, path or None, {k: v for k, v in overrides.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="LifterConfig YAML keys (key = default: description):\n" + settings_help(LifterConfig()),
    )
    parser.add_argument("--config", help="YAML with LifterConfig keys")
    parser.add_argument("--out", help="work dir (default work_dirs/lifter)")
    parser.add_argument("--minutes", type=float, help="training budget of both models together")
    parser.add_argument("--iters", type=int, help="steps per model (overrides --minutes; repeatable)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_lifter_config(
        args.config, out=args.out, minutes=args.minutes, iters=args.iters, seed=args.seed
    )
    results = run(cfg, progress=not args.no_progress)
    print(table(results))
    print(f"work dir: {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

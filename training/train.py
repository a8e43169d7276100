"""Train RTMPose top-down on COCO-format keypoints: the official recipe, in plain torch.

    python -m pose_perception.training.train --config training/configs/rtmpose-t_synthetic.yaml
    torchrun --nproc_per_node 8 -m pose_perception.training.train --config CFG   # multi-GPU
    python -m pose_perception.training.train --config CFG --resume auto           # continue

The recipe, top to bottom (``train``): processes and seeds → data → model (fine-tune
weights, SyncBN, DDP, EMA) → AdamW + warm-up/cosine schedule → resume → per epoch:
train steps (AMP on CUDA, grad clip, EMA), checkpoint, validate (COCO AP), log and plot.

Exact resume: a checkpoint holds the model, optimiser, scheduler, AMP scaler, EMA, the
python/numpy/torch RNG states and the position (epoch, iteration). The data order and
every augmentation are functions of (seed, epoch, index), and the sampler skips the
batches of the interrupted epoch already trained on, so a resumed run continues with
exactly the losses an uninterrupted run would have produced.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from pose_perception.models import RTMPose
from pose_perception.settings import settings_help
from pose_perception.training import distributed
from pose_perception.training.config import TrainConfig, config_to_dict, load_config
from pose_perception.training.data import GlobalBatchSampler, TopdownTrainSet, load_instances
from pose_perception.training.logs import CsvLog, TensorBoard, plot_curves
from pose_perception.training.losses import KLDiscretLoss
from pose_perception.training.model import build_model, codec_for, load_pretrained, skeleton_for, variant_for
from pose_perception.training.optim import ExpMomentumEMA, build_optimizer, build_scheduler

TRAIN_COLUMNS = ("iter", "epoch", "lr", "loss")
VAL_COLUMNS = ("epoch", "iter", "AP", "AP50", "AP75", "AR")


@dataclass
class Position:
    """Where training stands: ``epoch`` in progress and batches done in it."""

    epoch: int = 0
    iter_in_epoch: int = 0
    global_iter: int = 0
    best_ap: float = -1.0


def train(cfg: TrainConfig, resume: str | None = None, stop_after_iters: int | None = None) -> str:
    """Run (or continue) training; returns the work dir. ``stop_after_iters`` ends the run
    early at that global iteration, as an interruption would (used by the resume test)."""
    # 1. processes, device, seeds
    device = resolve_device(cfg.device)
    dist_info = distributed.init_from_env(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    seed_everything(cfg.seed, cfg.deterministic)
    os.makedirs(cfg.work_dir, exist_ok=True)

    # 2. data: every sample is a function of (seed, epoch, index)
    skeleton, variant = skeleton_for(cfg), variant_for(cfg)
    train_set = TopdownTrainSet(
        load_instances(cfg.train_ann, cfg.train_images, skeleton.num_keypoints),
        skeleton,
        codec_for(variant),
        cfg.augment,
        cfg.augment_stage2,
        cfg.stage2_begin_epoch,
        cfg.seed,
    )
    sampler = GlobalBatchSampler(
        len(train_set), cfg.batch_size, cfg.seed, dist_info.rank, dist_info.world_size
    )
    loader = DataLoader(
        train_set,
        batch_size=cfg.batch_size // dist_info.world_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        persistent_workers=False,
        pin_memory=device.type == "cuda",
    )

    # 3. model: pretrained weights, SyncBN, DDP, EMA
    model = build_model(cfg)
    if cfg.load_from:
        loaded = load_pretrained(model, cfg.load_from)
        log(dist_info, f"loaded {cfg.load_from} ({loaded})")
    if dist_info.enabled and cfg.sync_bn:
        model = distributed.convert_sync_bn(model, device.type)
    model.to(device)
    ema = ExpMomentumEMA(model, cfg.ema_momentum, cfg.ema_gamma) if cfg.ema else None
    net: nn.Module = model
    if dist_info.enabled:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    # 4. optimisation
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, sampler.iters_per_epoch, cfg)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    criterion = KLDiscretLoss(beta=10.0, label_softmax=True)

    # 5. resume
    pos = Position()
    train_log = CsvLog(os.path.join(cfg.work_dir, "train_log.csv"), TRAIN_COLUMNS)
    val_log = CsvLog(os.path.join(cfg.work_dir, "val_log.csv"), VAL_COLUMNS)
    resume_path = find_resume(cfg, resume)
    if resume_path:
        pos = load_training_state(resume_path, model, optimizer, scheduler, scaler, ema)
        if dist_info.is_main:
            train_log.truncate_after("iter", pos.global_iter)
            val_log.truncate_after("iter", pos.global_iter)
        log(dist_info, f"resumed from {resume_path} at epoch {pos.epoch + 1}, iteration {pos.global_iter}")
    board = TensorBoard(os.path.join(cfg.work_dir, "tensorboard")) if dist_info.is_main else None

    # 6. the loop
    for epoch in range(pos.epoch, cfg.epochs):
        sampler.set_epoch(epoch, start_iter=pos.iter_in_epoch)
        net.train()
        bar = tqdm(
            loader_batches(loader, sampler),
            total=sampler.iters_per_epoch - pos.iter_in_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not dist_info.is_main,
            leave=False,
        )
        for batch in bar:
            loss = train_step(net, model, batch, criterion, optimizer, scaler, cfg, device, dist_info)
            scheduler.step()
            if ema is not None:
                ema.update(model)
            pos.global_iter += 1
            pos.iter_in_epoch += 1
            if dist_info.is_main:
                lr = optimizer.param_groups[0]["lr"]
                train_log.write(iter=pos.global_iter, epoch=epoch + 1, lr=f"{lr:.6e}", loss=repr(loss))
                assert board is not None
                board.scalar("train/loss", loss, pos.global_iter)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            if cfg.checkpoint_interval_iters and pos.global_iter % cfg.checkpoint_interval_iters == 0:
                save_training_state(cfg, pos, model, optimizer, scheduler, scaler, ema, dist_info)
            if stop_after_iters is not None and pos.global_iter >= stop_after_iters:
                return cfg.work_dir
        pos.epoch, pos.iter_in_epoch = epoch + 1, 0
        if (epoch + 1) % cfg.val_interval == 0 or epoch + 1 == cfg.epochs:
            stats = validate(cfg, ema.module if ema is not None else model, dist_info)
            if stats is not None:
                metrics = {k: f"{stats[k]:.6f}" for k in VAL_COLUMNS[2:]}
                val_log.write(epoch=epoch + 1, iter=pos.global_iter, **metrics)
                assert board is not None
                board.scalar("val/AP", stats["AP"], pos.global_iter)
                log(dist_info, f"epoch {epoch + 1}: AP {stats['AP']:.4f} AR {stats['AR']:.4f}")
                if stats["AP"] > pos.best_ap:
                    pos.best_ap = stats["AP"]
                    state = (model, optimizer, scheduler, scaler, ema, dist_info)
                    save_training_state(cfg, pos, *state, name="best.pth")
        save_training_state(cfg, pos, model, optimizer, scheduler, scaler, ema, dist_info)
    if dist_info.is_main:
        assert board is not None
        board.close()
        plot_curves(train_log.path, val_log.path, os.path.join(cfg.work_dir, "curves.png"))
    return cfg.work_dir


def loader_batches(loader: DataLoader, sampler: GlobalBatchSampler) -> Any:
    """The loader's batches; an epoch with nothing left (resumed at its end) is empty."""
    return iter(loader) if len(sampler) else iter(())


def train_step(
    net: nn.Module,
    model: RTMPose,
    batch: dict[str, torch.Tensor],
    criterion: KLDiscretLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    device: torch.device,
    dist_info: distributed.DistInfo,
) -> float:
    """One optimiser step; returns the global-batch loss (summed over processes).

    The official loss sums over instances, and DDP averages gradients over processes,
    so each process back-propagates ``world_size ×`` its loss: the averaged gradient is
    then the gradient of the global-batch loss, as in a single-process run.
    """
    images = batch["image"].to(device, non_blocking=True)
    targets = (batch["target_x"].to(device), batch["target_y"].to(device))
    weight = batch["weight"].to(device)
    with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        pred = net(images)
    loss = criterion(pred, targets, weight)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss * dist_info.world_size).backward()
    if cfg.grad_clip is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return float(distributed.all_reduce_sum(loss.detach()).item())


def validate(cfg: TrainConfig, model: RTMPose, dist_info: distributed.DistInfo) -> dict[str, float] | None:
    """COCO AP on the val set (main process; the others wait)."""
    stats = None
    if dist_info.is_main and cfg.val_ann:
        from pose_perception.estimator import PoseEstimator
        from pose_perception.training.evaluate import evaluate

        was_training = model.training
        estimator = PoseEstimator(
            model, backend="torch", device=str(next(model.parameters()).device),
            flip_test=cfg.flip_test, skeleton=skeleton_for(cfg),
        )  # fmt: skip
        results_file = os.path.join(cfg.work_dir, "results.json")
        stats, _ = evaluate(estimator, cfg.val_ann, cfg.val_images, cfg.val_bbox_file, results_file)
        model.train(was_training)
    distributed.barrier()
    return stats


# ---- runtime helpers -------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed python/numpy/torch (the model init); data randomness is seeded per sample."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def log(dist_info: distributed.DistInfo, message: str) -> None:
    if dist_info.is_main:
        tqdm.write(message, file=sys.stderr)


# ---- checkpoints -----------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Python/numpy/torch generator states as plain data (weights-only loadable)."""
    np_state = np.random.get_state(legacy=False)
    assert isinstance(np_state, dict)
    return {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(
    cfg: TrainConfig,
    pos: Position,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    ema: ExpMomentumEMA | None,
    dist_info: distributed.DistInfo,
    name: str = "last.pth",
) -> None:
    """Write atomically (temp file + rename) on the main process."""
    if dist_info.is_main:
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "rng": rng_state(),
            "position": vars(pos).copy(),
            "config": config_to_dict(cfg),
        }
        path = os.path.join(cfg.work_dir, name)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)
    distributed.barrier()


def find_resume(cfg: TrainConfig, resume: str | None) -> str | None:
    """``auto`` = the work dir's last.pth if there is one; else the given path."""
    if resume == "auto":
        path = os.path.join(cfg.work_dir, "last.pth")
        return path if os.path.isfile(path) else None
    return resume


def load_training_state(
    path: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    ema: ExpMomentumEMA | None,
) -> Position:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    if ema is not None and state["ema"] is not None:
        ema.load_state_dict(state["ema"])
    set_rng_state(state["rng"])
    return Position(**state["position"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="training YAML keys (key = default: description):\n" + settings_help(TrainConfig()),
    )
    parser.add_argument("--config", required=True, help="training YAML")
    parser.add_argument("--resume", help="checkpoint to continue from, or 'auto' (work_dir/last.pth)")
    parser.add_argument("--work-dir", help="override the config's work_dir")
    args = parser.parse_args(argv)
    overrides = {"work_dir": args.work_dir} if args.work_dir else {}
    cfg = load_config(args.config, **overrides)
    train(cfg, resume=args.resume)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

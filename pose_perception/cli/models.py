"""``pose-perception models`` and ``download``: the model registry, what is cached, and
fetching one entry into the cache."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pose_perception.cli.common import CliError
from pose_perception.zoo import REGISTRY, cached_path, default_cache_dir, resolve


def add_commands(commands: Any) -> None:
    models = commands.add_parser("models", help="list the model registry and what is cached")
    models.add_argument("--cache-dir", default=None, help="model cache (default: the user cache)")
    models.set_defaults(handler=models_command)
    download = commands.add_parser("download", help="download a registry model into the cache")
    download.add_argument("name", help=f"registry name: {', '.join(REGISTRY)}")
    download.add_argument("--cache-dir", default=None, help="model cache (default: the user cache)")
    download.add_argument(
        "--sha256", default=None, help="pin the SHA-256 (or 8+ hex of it); needed once for rtmw-m / rtmw-l"
    )
    download.set_defaults(handler=download_command)


def models_command(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    rows = [("NAME", "TASK", "ARCH", "CACHED", "URL")]
    for entry in REGISTRY.values():
        cached = "yes" if cached_path(entry, cache).is_file() else "no"
        source = entry.url or f"bundled: {cached_path(entry)}"
        rows.append((entry.name, entry.task, entry.arch, cached, source))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(f"cache: {cache}")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0


def download_command(args: argparse.Namespace) -> int:
    if args.name not in REGISTRY:
        raise CliError(f"unknown model {args.name!r}; registry has: {', '.join(REGISTRY)}")
    try:
        path, _ = resolve(args.name, cache_dir=args.cache_dir, progress=True, expected_sha256=args.sha256)
    except ValueError as err:
        raise CliError(str(err)) from None
    print(path)
    return 0

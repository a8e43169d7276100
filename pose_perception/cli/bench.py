"""``pose-perception bench``: everything after ``bench`` goes to the benchmark module's own
parser (imported only then, so the CLI works where the benchmarks are not installed)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from pose_perception.cli.common import CliError


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "bench", add_help=False, help="benchmark backends (see `pose-perception bench --help`)"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=lambda args: bench_command(args.bench_args))


def bench_command(argv: list[str]) -> int:
    """Hand everything after ``bench`` to the benchmark module's own parser."""
    try:
        benchmarks = importlib.import_module("pose_perception.benchmarks")
    except ModuleNotFoundError as err:
        if err.name != "pose_perception.benchmarks":
            raise
        raise CliError("benchmarks are not available: pose_perception.benchmarks is missing") from err
    return int(benchmarks.main(argv) or 0)

"""``python -m pose_perception`` runs the CLI (same as the ``pose-perception`` script)."""

from pose_perception.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Spinning a node until the ROS context shuts down, without calling a normal stop a crash,
and stop signals that never interrupt the cleanup that follows."""

from __future__ import annotations

import signal
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT/SIGTERM recorded, never raised: a second signal cannot break the cleanup.

    ``ros2 launch`` without a terminal forwards SIGINT to its nodes and a group-wide Ctrl-C
    reaches them too, so a node often gets two signals (then SIGTERM on a slow stop). With
    Python's default handlers the second one raised ``KeyboardInterrupt`` inside
    ``destroy_node()`` (exit -2, traceback) or killed the process (SIGTERM after rclpy put
    the default action back). Installed before ``rclpy.init``: rclpy's own handlers (which
    shut the context down and so end the spin) chain to these, and restore them on shutdown.
    """

    def __init__(self) -> None:
        self.received = 0

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._record)

    def ignore(self) -> None:
        """From now on (the process is exiting): Python's finalisation puts the default action
        back for signals that have a Python handler, so one landing then killed us (exit -2)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)

    def _record(self, signum: int, frame: Any) -> None:
        self.received += 1

    @property
    def requested(self) -> bool:
        return self.received > 0


def spin_until_shutdown(node: Any, executor: Any = None) -> None:
    """``rclpy.spin(node)`` until the context shuts down (SIGINT, ``ros2 launch`` stopping us).

    rclpy reports a shutdown as ``ExternalShutdownException`` or ``KeyboardInterrupt``, but
    when the signal lands while the executor builds its wait set it raises whatever that
    step hits (an ``RCLError`` "context is not valid" on Jazzy): with the context no longer
    ok, that too is a normal stop, not a crash with exit code 1. Errors while the context
    is still ok propagate. ``executor``: one made before rclpy's signal handlers were
    installed (:func:`init_ros`); None: rclpy's global one, made here.
    """
    try:
        rclpy.spin(node, executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        return
    except Exception:
        if rclpy.ok(context=node.context):
            raise


def init_ros(args: list[str] | None, make_node: Any) -> tuple[Any, Any]:
    """``rclpy.init``, the node and its executor, and only then rclpy's signal handlers.

    A signal landing while an executor is being made (``rclpy.spin`` makes the global one)
    shut the context down under its constructor, and the half-made executor's ``__del__``
    printed a traceback. Made before the handlers, no signal can interrupt it; the
    :class:`StopSignals` installed before this record any that arrive meanwhile.
    """
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = make_node()
    executor = SingleThreadedExecutor(context=node.context)
    rclpy.install_signal_handlers(SignalHandlerOptions.ALL)  # they chain to ``signals``
    return node, executor

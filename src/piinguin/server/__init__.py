"""The server runtime: ``PiinguinServer``, its entry point, workers, call tracking,
metrics and write coalescing."""

from piinguin.server.core import PiinguinServer

__all__ = ["PiinguinServer"]

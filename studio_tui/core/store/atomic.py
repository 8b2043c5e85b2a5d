"""Crash-safe writes: temporary file in the same folder, fsync, rename over the old one.

A thin name kept for the callers that already use it; the work is done by `core.safefile`."""

from __future__ import annotations

from pathlib import Path

from ..safefile import Kind, fsync_dir, write_atomic

__all__ = ["WORKSPACE_FILE", "atomic_write", "fsync_dir"]

WORKSPACE_FILE = Kind("workspace", 64 << 20)


def atomic_write(path: Path, text: str, *, durable: bool = True, kind: Kind = WORKSPACE_FILE, root: Path | None = None) -> None:
    """Replace `path` with `text` so a reader sees the old file or the new one, never half of one.

    The file's mode is kept; a target that is a folder, FIFO or a link leading out of `root` is
    refused (InputError); a full or read-only disk is one DiskError naming the file."""
    write_atomic(path, text, kind, root=root, durable=durable)

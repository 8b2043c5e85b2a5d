"""fs/read_text_file and fs/write_text_file for an ACP agent, confined to the project root."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from acp import RequestError

MAX_READ_CHARS = 8 * 1024 * 1024
"""Largest text fs/read_text_file returns in one answer; a longer file is read in parts (line, limit)."""

FS_REFUSED = -32602
"""JSON-RPC error code for a file request the client refuses (a path outside the project root):
"invalid params", since the path is not one this client serves."""


def confine(root: Path, raw: str) -> Path | None:
    """`raw` as a real path (relative to `root` when not absolute, symlinks followed); None when it
    leads outside `root`. ValueError/OSError/RuntimeError for a path that cannot be resolved."""
    base = root.resolve()
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    if resolved == base or resolved.is_relative_to(base):
        return resolved
    return None


class _TooLarge(Exception):
    pass


def _read_text(path: Path, line: int | None, limit: int | None) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        if line is None and limit is None:
            text = handle.read(MAX_READ_CHARS + 1)
            if len(text) > MAX_READ_CHARS:
                raise _TooLarge
            return text
        first = max(1, line or 1)
        parts: list[str] = []
        size = 0
        for number, text in enumerate(handle, 1):
            if number < first:
                continue
            if limit is not None and len(parts) >= limit:
                break
            parts.append(text)
            size += len(text)
            if size > MAX_READ_CHARS:
                raise _TooLarge
        return "".join(parts)


def _write_text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written in place (not replaced), so an existing file keeps its mode and owner.
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)


class ProjectFiles:
    """Serves an agent's text file reads and writes inside `root`; anything outside is refused."""

    def __init__(self, root: Path, log: Callable[[str, str], Awaitable[None]]) -> None:
        self.root = root.resolve()
        self._log = log

    async def read(self, path: str, line: int | None, limit: int | None) -> str:
        target = await self._confined("fs/read_text_file", path)
        try:
            return await asyncio.to_thread(_read_text, target, line, limit)
        except FileNotFoundError:
            raise RequestError.resource_not_found(path) from None
        except _TooLarge:
            raise RequestError(
                FS_REFUSED, f"{path} has more than {MAX_READ_CHARS} characters: read it in parts (line, limit)", {"path": path}
            ) from None
        except OSError as exc:
            raise RequestError(-32603, f"cannot read {path}: {exc.strerror or exc}", {"path": path}) from None

    async def write(self, path: str, content: str) -> None:
        target = await self._confined("fs/write_text_file", path)
        try:
            await asyncio.to_thread(_write_text, target, content)
        except OSError as exc:
            raise RequestError(-32603, f"cannot write {path}: {exc.strerror or exc}", {"path": path}) from None
        await self._log(f"agent wrote {target.relative_to(self.root)} ({len(content)} characters)", "info")

    async def _confined(self, method: str, raw: str) -> Path:
        try:
            target = confine(self.root, raw)
        except (ValueError, OSError, RuntimeError) as exc:
            raise RequestError(FS_REFUSED, f"refused: {raw!r} is not a usable path ({exc})", {"path": raw}) from None
        if target is None:
            await self._log(f"refused {method} outside the project root: {raw}", "warning")
            raise RequestError(
                FS_REFUSED,
                f"refused: {raw} is outside the project root {self.root}",
                {"path": raw, "projectRoot": str(self.root)},
            )
        return target

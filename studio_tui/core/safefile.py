"""One safe way to open, read, parse and write the files of a workspace.

Every file studio-tui reads may be hostile (a cloned repository can ship anything in `.studio/`), and
every write must leave either the old file or the new one. So, for every kind of file:

- a symlink that leads outside the workspace is refused; for the files studio-tui itself owns (the
  lock, the event log, state and checkpoints) any symlink is refused (`O_NOFOLLOW`);
- only regular files are read: the open is non-blocking and `fstat` decides, so a FIFO, a device
  (`/dev/zero`, `/dev/urandom`), a socket or a folder is refused at once and never hangs;
- each kind has a size limit, checked before the bytes are read;
- YAML is parsed by a bounded loader (nesting depth, aliases expanded, integer digits) and JSON by
  a bounded decoder (depth, integer digits), all before any pydantic validation;
- writes go to a temporary file (the user's mode kept), are written in full (a short write is
  continued, never left torn), fsynced and renamed into place; a full or read-only disk becomes one
  `DiskError` naming the file.

Every problem is a `StudioError` whose message names the file and the problem (exit 2).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, StudioError

# ── kinds of file ────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Kind:
    """A kind of workspace file: what it is called in messages, how big it may be, links allowed."""

    name: str
    max_bytes: int
    no_links: bool = False
    """Refuse any symlink as the file itself (files studio-tui owns), not only ones leading out."""


MB = 1 << 20
CONFIG = Kind("config", 1 * MB)
PLAN = Kind("plan", 8 * MB)
BACKLOG = Kind("backlog", 8 * MB)
SCENARIO = Kind("scenario", 8 * MB)
LEARNINGS = Kind("learnings", 4 * MB)
THEME = Kind("theme", 1 * MB)
STATE = Kind("state", 64 * MB, no_links=True)
CHECKPOINT = Kind("checkpoint", 64 * MB, no_links=True)
CHECKPOINT_INDEX = Kind("checkpoint index", 32 * MB, no_links=True)
LOG = Kind("event log", 64 << 30, no_links=True)
"""The log is streamed line by line (see eventlog.MAX_LINE_BYTES), so its limit is only a sanity bound."""
NAMED_LOG = Kind("event log", 64 << 30)
"""A log the person named on the command line (`replay PATH`): links allowed, still a regular file."""
LOCK = Kind("lock", 64 << 10, no_links=True)
REQUEST = Kind("request", 64 << 10, no_links=True)
ARGUMENT = Kind("argument", 1 * MB)

MAX_DEPTH = 100
"""Deepest nesting a YAML or JSON file may have (lists in maps in lists...)."""
MAX_NODES = 1_000_000
"""Most YAML nodes a document may have once its aliases are expanded (an alias bomb has 10^9)."""
MAX_INT_DIGITS = 100
"""Longest integer accepted: far beyond any real count, far below Python's 4,300-digit limit."""


class MissingFile(InputError, FileNotFoundError):
    """No file at the path: an InputError for the CLI, still a FileNotFoundError for callers that wait for one."""

    def __init__(self, message: str) -> None:
        InputError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DiskError(StudioError):
    """A write failed for lack of space, a read-only filesystem, or another OS error."""

    exit_code = 1


# ── paths ────────────────────────────────────────────────────────────────


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def check_inside(path: Path, root: Path | None) -> None:
    """Refuse `path` if, links followed, it leads outside `root` (nothing to check without a root)."""
    if root is None:
        return
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not _inside(real, real_root):
        raise InputError(f"{path}: a symbolic link leading outside the workspace (to {real}); refused")


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


def _open_error(path: Path, kind: Kind, exc: OSError, *, writing: bool = False) -> StudioError:
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOENT and os.path.islink(path)):
        if os.path.islink(path):
            target = os.readlink(path)
            if kind.no_links:
                return InputError(f"{path}: is a symbolic link (to {target}); studio-tui does not follow links for its {kind.name} files")
            return InputError(f"{path}: a symbolic link to nothing ({target})")
        return InputError(f"{path}: too many levels of symbolic links")
    if exc.errno == errno.ENOENT:
        return MissingFile(f"{path}: file not found")
    if exc.errno in (errno.EISDIR,):
        return InputError(f"{path}: is a folder, not a {kind.name} file")
    if exc.errno == errno.ENXIO:
        return InputError(f"{path}: is a FIFO or device, not a {kind.name} file")
    if writing or exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return disk_error(path, exc)
    return InputError(f"{path}: cannot read: {exc.strerror}")


def disk_error(path: Path, exc: OSError) -> DiskError:
    """One line for a failed write: the file, the OS reason, and what to do about the common ones."""
    reason = exc.strerror or str(exc)
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "; free some space, then resume from the last checkpoint"
    elif exc.errno == errno.EROFS:
        hint = "; the filesystem is read-only"
    return DiskError(f"{path}: cannot write: {reason} (errno {exc.errno}){hint}")


def _check_regular(fd: int, path: Path, kind: Kind) -> os.stat_result:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"{path}: is {_what(info.st_mode)}, not a {kind.name} file")
    return info


def _blocking(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)


# ── reading ──────────────────────────────────────────────────────────────


def open_read(path: Path, kind: Kind, *, root: Path | None = None) -> int:
    """A file descriptor on a regular file of `kind` (links, size and type checked); the caller closes it."""
    path = Path(path)
    if kind.no_links and root is not None:
        check_inside(path.parent, root)
    elif not kind.no_links:
        check_inside(path, root)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if kind.no_links else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_error(path, kind, exc) from None
    info = _check_regular(fd, path, kind)
    if info.st_size > kind.max_bytes:
        os.close(fd)
        raise InputError(f"{path}: is {_size(info.st_size)}; a {kind.name} file may be at most {_size(kind.max_bytes)}")
    _blocking(fd)
    return fd


def read_bytes(path: Path, kind: Kind, *, root: Path | None = None) -> bytes:
    """The whole file, refused if it is not a regular file of at most `kind.max_bytes` (even if it grows)."""
    fd = open_read(path, kind, root=root)
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, kind.max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > kind.max_bytes:
                raise InputError(f"{path}: grew past {_size(kind.max_bytes)} while being read; a {kind.name} file may be at most that")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text(path: Path, kind: Kind, *, root: Path | None = None) -> str:
    data = read_bytes(path, kind, root=root)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def exists(path: Path) -> bool:
    """Whether anything (a file, a folder, even a dangling link) is at `path`: a dangling link is
    reported when read, never silently taken for a missing file."""
    return os.path.lexists(path)


# ── bounded YAML ─────────────────────────────────────────────────────────


class BoundedLoader(yaml.SafeLoader):
    """The safe loader with limits: nesting depth, nodes once aliases are expanded, integer digits;
    duplicate keys refused (YAML would silently keep the last one)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:80]!r} (first on line {first})", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)

    def construct_bounded_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value)
        digits = sum(ch.isalnum() for ch in text)
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark
            )
        return super().construct_yaml_int(node)


BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_bounded_int)


def _expanded_nodes(root: yaml.Node) -> int:
    """Nodes in the document with every alias expanded, counted without expanding (memoised)."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()
    # iterative post-order walk: (node, children pushed?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if not expanded:
            if key in busy:
                raise yaml.composer.ComposerError(None, None, "a recursive alias (a node that contains itself)", node.start_mark)
            busy.add(key)
            stack.append((node, True))
            for child in children:
                if id(child) not in sizes:
                    if id(child) in busy:
                        raise yaml.composer.ComposerError(None, None, "a recursive alias (a node that contains itself)", child.start_mark)
                    stack.append((child, False))
            continue
        busy.discard(key)
        total = 1 + sum(sizes[id(child)] for child in children)
        if total > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_NODES:,} values once its aliases are expanded (an alias bomb?)", node.start_mark
            )
        sizes[key] = total
    return sizes[id(root)]


def parse_yaml(text: str, path: Path, *, loader_class: type[BoundedLoader] = BoundedLoader) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document within the limits; returns the data and its node tree (for line numbers)."""
    loader: BoundedLoader | None = None
    try:
        loader = loader_class(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_nodes(node)
        return loader.construct_document(node), node
    except RecursionError:
        raise InputError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    except (ValueError, OverflowError) as exc:  # a scalar the constructor cannot make (a date out of range...)
        raise InputError(f"{path}: invalid YAML: {str(exc)[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: Path, kind: Kind, *, root: Path | None = None) -> tuple[Any, yaml.Node | None]:
    return parse_yaml(read_text(path, kind, root=root), path)


# ── bounded JSON ─────────────────────────────────────────────────────────


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in value)
    return deepest


def parse_json(text: str | bytes, where: str | Path) -> Any:
    """`json.loads` within the limits (depth, integer digits); problems name `where`, line and column."""
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise InputError(f"{where}: invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}, line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: invalid JSON: {str(exc)[:200]}") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"{where}: invalid JSON: nested more than {MAX_DEPTH} levels deep")
    return data


def load_json(path: Path, kind: Kind, *, root: Path | None = None) -> Any:
    return parse_json(read_text(path, kind, root=root), path)


# ── writing ──────────────────────────────────────────────────────────────

TMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
"""Temporary files `write_atomic` makes (`.NAME.XXXXXXXX.tmp`); any left by a kill are stale."""


def write_all(fd: int, data: bytes) -> None:
    """Write every byte, continuing after a short write; an error leaves the caller to undo."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_target(path: Path, kind: Kind, root: Path | None) -> int | None:
    """The mode of the file being replaced (kept), or None; refuses a target that is not a plain file."""
    if root is not None:
        check_inside(path.parent, root)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        if kind.no_links:
            raise InputError(
                f"{path}: is a symbolic link (to {os.readlink(path)}); studio-tui does not follow links for its {kind.name} files"
            )
        check_inside(path, root)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is {_what(info.st_mode)}, not a {kind.name} file; refusing to replace it")
    return stat.S_IMODE(info.st_mode)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes, kind: Kind, *, root: Path | None = None, durable: bool = True) -> None:
    """Replace `path` so a reader sees the old file or the new one, never half of one; the file's
    mode is kept (a new file gets the usual 0644 less the umask). Raises DiskError on a full or
    read-only disk (the temporary file removed) and InputError for a target that is not a plain file."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    mode = _check_target(path, kind, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise disk_error(path, exc) from None
    try:
        try:
            os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
            write_all(fd, payload)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise disk_error(path, exc) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def open_append(path: Path, kind: Kind, *, root: Path | None = None) -> int:
    """A descriptor appending to (and able to pread) a regular file of `kind`, created if missing (links
    refused as for reading)."""
    path = Path(path)
    if root is not None:
        check_inside(path.parent, root)
    if not kind.no_links:
        check_inside(path, root)
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if kind.no_links else 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise _open_error(path, kind, exc, writing=True) from None
    _check_regular(fd, path, kind)
    _blocking(fd)
    return fd


def open_lock_file(path: Path, *, root: Path | None = None) -> int:
    """The lock file, read-write, created if missing: never through a link, only a regular file."""
    path = Path(path)
    if root is not None:
        check_inside(path.parent, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise _open_error(path, LOCK, exc, writing=True) from None
    _check_regular(fd, path, LOCK)
    _blocking(fd)
    return fd


def clean_stale_tmp(folders: list[Path]) -> list[Path]:
    """Remove temporary files left by killed writers in `folders` (call it holding the lock: then
    nobody else is writing). Only plain files named like `write_atomic`'s are touched."""
    removed: list[Path] = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not TMP_RE.fullmatch(entry.name):
                continue
            try:
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed

"""Full and read-only disks, checkpoints that stay O(1), requests never lost, and the smaller promises
of issue 12 (bidi escaping, shell-quoted hints, the lock's pid, a log replaced under `watch`)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shlex
import shutil
import subprocess
import unicodedata
import uuid
from pathlib import Path

import pytest

from studio_tui.core import events as ev
from studio_tui.core import safefile
from studio_tui.core.reducer import fold
from studio_tui.core.store import read_log
from studio_tui.core.text import command_hint, sanitize
from studio_tui.core.watch import log_change

STEPS_SCENARIO = {i: {} for i in range(1, 7)}


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own (root, and mount works), else skip: the double below covers the rest."""
    folder = tmp_path / "disk"
    if not _mount_tmpfs(folder, "4m"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount): the ENOSPC test double covers it")
    yield folder
    _umount(folder)


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-2000:]


# ── a full disk, for real ───────────────────────────────────────────────


@pytest.mark.parametrize("left_kb", [0, 8, 16, 24])
def test_a_full_disk_stops_the_run_cleanly_and_resume_works_once_space_is_back(left_kb, tmpfs, doubles, _subprocess_bytecode_cache):
    ws = doubles.write_workspace(tmpfs / "project", doubles.builder_scenario(STEPS_SCENARIO), config={"checkpoints": {"every_steps": 1}})
    # fill the disk, leaving `left_kb` free: the build runs out at a different write each time
    filler = tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    os.close(fd)
    if left_kb:
        os.truncate(filler, max(0, filler.stat().st_size - left_kb * 1024))
    done = doubles.run_cli("build", "Fix the flaky thing", "--headless", "--speed", "0", cwd=ws.project_root)
    _no_traceback(done)
    assert done.returncode in (1, 2), (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("studio-tui: ") == 1, done.stderr
    assert "No space left on device" in done.stderr
    orch = ws.latest()
    if orch is not None and ws.events_path(orch).exists():
        read = read_log(ws.events_path(orch))
        assert read.bad_lines == []  # no torn line: a refused write is cut back
        state = fold(read.events)
        for cp in state.checkpoints:  # every checkpoint the log names is on disk and loads
            assert ws.find_checkpoint(cp.id).meta.id == cp.id
    assert not list(ws.root.rglob("*.tmp"))  # no temporary file left behind
    # space is back: resume from the checkpoint the message names (or build again if none was saved)
    filler.unlink()
    hint = [line for line in done.stderr.splitlines() if "resume with" in line]
    if hint:
        argv = shlex.split(hint[0].split("resume with", 1)[1])
        assert argv[:2] == ["studio-tui", "--workspace"]
        again = doubles.run_cli(*argv[3:], "--headless", "--speed", "0", cwd=ws.project_root)
    else:
        again = doubles.run_cli("build", "Fix the flaky thing", "--headless", "--speed", "0", cwd=ws.project_root)
    _no_traceback(again)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "COMPLETED" in again.stdout


def test_a_read_only_disk_gives_one_message_per_command_and_reading_still_works(tmpfs, doubles, _subprocess_bytecode_cache):
    ws = doubles.write_workspace(tmpfs / "project", doubles.builder_scenario(STEPS_SCENARIO), config={"checkpoints": {"every_steps": 1}})
    first = doubles.run_cli("build", "Fix the flaky thing", "--headless", "--speed", "0", cwd=ws.project_root)
    assert first.returncode == 0, first.stderr
    cp = ws.checkpoint_paths()[-1][0]
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        writers = [
            ("build", "Fix it again", "--headless", "--speed", "0"),
            ("resume", cp, "--headless", "--speed", "0", "--yes"),
            ("checkpoint", "x"),
            ("handoff", "planner", "builder", "{}"),
        ]
        readers = [("status",), ("checkpoints",), ("budget",), ("replay", ws.latest(), "--headless")]
        results = doubles.run_cli_many([*writers, *readers], cwd=ws.project_root)
        for args, done in zip([*writers, *readers], results, strict=False):
            _no_traceback(done)
            if args in readers:
                assert done.returncode == 0, (args, done.stderr)
            else:
                assert done.returncode in (1, 2), (args, done.stdout, done.stderr)
                assert done.stderr.count("studio-tui: ") == 1 and "Read-only file system" in done.stderr, (args, done.stderr)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)


# ── a full disk, as a test double: ENOSPC at each write in turn ─────────


def test_enospc_at_each_write_in_turn_never_tears_or_lies(tmp_path, doubles, monkeypatch):
    """Every write the run makes fails once in turn (the k-th `write_all`): the run stops with one
    DiskError, the log has no torn line, every checkpoint the log names is on disk, and a resume
    after that completes."""
    real = safefile.write_all
    calls = {"n": 0}

    def counting(fd: int, data: bytes) -> None:
        calls["n"] += 1
        real(fd, data)

    monkeypatch.setattr(safefile, "write_all", counting)
    base = doubles.write_workspace(
        tmp_path / "base", doubles.builder_scenario({1: {}, 2: {}, 3: {}}), config={"checkpoints": {"every_steps": 1}}
    )
    asyncio.run(doubles.run_orchestration(base))
    total = calls["n"]
    assert total > 20
    for k in list(range(1, total + 1, max(1, total // 25))):
        project = tmp_path / f"k{k}"
        ws = doubles.write_workspace(project, doubles.builder_scenario({1: {}, 2: {}, 3: {}}), config={"checkpoints": {"every_steps": 1}})
        calls["n"] = 0

        def failing(fd: int, data: bytes, k: int = k) -> None:
            calls["n"] += 1
            if calls["n"] == k:
                os.write(fd, data[: len(data) // 2])  # a short write first, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd, data)

        monkeypatch.setattr(safefile, "write_all", failing)
        try:
            asyncio.run(doubles.run_orchestration(ws))
        except safefile.DiskError as exc:
            assert "No space left on device" in str(exc)
        finally:
            monkeypatch.setattr(safefile, "write_all", real)
        orch = ws.latest()
        if orch is None or not ws.events_path(orch).exists():
            continue
        read = read_log(ws.events_path(orch))
        assert read.bad_lines == [], (k, read.bad_lines)
        state = fold(read.events)
        for cp in state.checkpoints:
            assert ws.find_checkpoint(cp.id).meta.seq == cp.seq, k
        assert not list(ws.root.rglob("*.tmp")), k
        if not state.finished or state.status == "interrupted":
            good = ws.last_good_checkpoint(orch)
            if good is not None:
                resumed = asyncio.run(doubles.run_orchestration(ws, resume=good))
                assert resumed.state.status == "completed", (k, resumed.state.summary)


def test_the_users_file_mode_is_kept_and_stale_tmp_files_are_cleaned(tmp_path, doubles):
    ws = doubles.write_workspace(tmp_path / "project", doubles.builder_scenario({1: {}}), backlog={"epics": []})
    os.chmod(ws.backlog_path, 0o640)
    safefile.write_atomic(ws.backlog_path, "epics: []\n", safefile.BACKLOG, root=ws.root)
    assert (ws.backlog_path.stat().st_mode & 0o777) == 0o640
    stale = ws.root / ".state.yaml.abcd1234.tmp"
    stale.write_text("left by a kill")
    keep = ws.root / "notes.tmp"
    keep.write_text("not ours")
    with ws.lock():
        pass
    assert not stale.exists() and keep.exists()


# ── O(1) checkpoints ────────────────────────────────────────────────────


def test_a_long_run_keeps_its_checkpoint_folder_within_5x_its_log(tmp_path, doubles):
    """3,000 steps with a checkpoint every 3 (1,000 checkpoints) when STUDIO_TUI_LONG=1; 600 steps
    by default (the ratio does not depend on the length: 2.07 at 300, 1,000 and 3,000 steps)."""
    steps = 3000 if os.environ.get("STUDIO_TUI_LONG") == "1" else 600
    ws = doubles.write_workspace(
        tmp_path / "project", doubles.builder_scenario({i: {} for i in range(1, steps + 1)}), config={"checkpoints": {"every_steps": 3}}
    )
    run = asyncio.run(doubles.run_orchestration(ws))
    assert run.state.status == "completed"
    folder = ws.checkpoints_dir(run.state.id)
    files = list(folder.iterdir())
    assert len(files) >= steps // 3
    total = sum(p.stat().st_size for p in files)
    log = ws.events_path(run.state.id).stat().st_size
    assert total <= 5 * log, (total, log)
    # ids are a counter: no drift into the future however fast checkpoints come
    ids = [int(c.id[3:]) for c in run.state.checkpoints]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    # the newest file is no bigger than the first few (no list of earlier checkpoints inside)
    sizes = [(folder / f"{c.id}.yaml").stat().st_size for c in run.state.checkpoints]
    assert sizes[-1] < 4 * max(sizes[:5])
    listed, problems = ws.list_checkpoints()
    assert problems == [] and len(listed) == len(run.state.checkpoints)


# ── requests never lost, never leaked ───────────────────────────────────


async def test_a_request_arriving_during_the_last_step_is_saved_by_that_build(write_ws, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {}}))
    events: list = []
    orch = doubles.make_orchestrator(ws, events=events)

    def ask_during_last_step(e, s):
        if isinstance(e, ev.AgentStep) and e.step == 2 and e.status == "started":
            folder = ws.orch_dir(s.id) / "requests"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "checkpoint-1.json").write_text(json.dumps({"name": "late", "pid": os.getpid()}))

    orch.subscribe(ask_during_last_step)
    state = await orch.build("Fix the flaky thing")
    assert state.status == "completed"
    assert [c.name for c in state.checkpoints if c.reason == "on_demand"] == ["late"]


async def test_a_request_for_another_process_is_reported_not_saved(write_ws, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {}}))
    first = await doubles.run_orchestration(ws)
    folder = ws.orch_dir(first.state.id) / "requests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint-1.json").write_text(json.dumps({"name": "for someone else", "pid": 999_999_999}))
    good = ws.last_good_checkpoint(first.state.id)
    resumed = await doubles.run_orchestration(ws, resume=good)
    assert "for someone else" not in [c.name for c in resumed.state.checkpoints]
    logs = [e.message for e in resumed.events if isinstance(e, ev.AgentLog)]
    assert any("for someone else" in m and "not saved" in m for m in logs)
    assert not list(folder.iterdir())


# ── the lock names its holder ───────────────────────────────────────────


def test_a_refused_writer_always_names_the_holders_pid_even_before_its_record(tmp_path):
    import fcntl

    from studio_tui.core.errors import WorkspaceBusy
    from studio_tui.core.store import WorkspaceLock

    path = tmp_path / "lock"
    path.write_text("")
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            f"import fcntl,sys,time; f=open({str(path)!r},'r+'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkspaceBusy) as refused:
            WorkspaceLock(path, root=tmp_path).acquire()  # the holder never writes a record: /proc/locks
        assert f"pid {holder.pid}" in str(refused.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    del fcntl


# ── text and hints ──────────────────────────────────────────────────────


def test_every_invisible_format_character_is_shown_escaped():
    import sys

    missed = [hex(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf" and chr(c) in sanitize(chr(c))]
    assert missed == []
    shown = sanitize("invoice\u202etxt.exe \u200bzero \u2066isolate\u2069")
    assert "\\u202e" in shown and "\\u200b" in shown and "\\u2066" in shown and "\u202e" not in shown
    assert sanitize("plain café ✓") == "plain café ✓"


def test_command_hints_are_shell_quoted():
    root = "/tmp/a b/$(touch pwned)/.studio"
    hint = command_hint("--workspace", root, "resume", "cp_3")
    assert shlex.split(hint) == ["studio-tui", "--workspace", root, "resume", "cp_3"]


def test_resume_hint_printed_after_an_interrupt_is_quoted(tmp_path, doubles, _subprocess_bytecode_cache):
    project = tmp_path / f"we $(echo {uuid.uuid4().hex[:6]})" / "project"
    ws = doubles.write_workspace(project, doubles.builder_scenario({1: {}, 2: {"outcomes": [{"fail": "blocker", "message": "stop"}]}}))
    done = doubles.run_cli("build", "Fix the flaky thing", "--headless", "--speed", "0", "--on-escalation", "abort", cwd=ws.project_root)
    _no_traceback(done)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "studio-tui --workspace" in line]
    for line in lines:
        argv = shlex.split(line[line.index("studio-tui --workspace") :])
        assert argv[2] == str(ws.root)


# ── watch notices a replaced or truncated log ───────────────────────────


def test_log_change_tells_replaced_from_truncated_from_appended(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"one\ntwo\n")
    opened = os.stat(log)
    assert log_change(opened, os.stat(log), 8) is None
    with open(log, "ab") as handle:
        handle.write(b"three\n")
    assert log_change(opened, os.stat(log), 8) is None
    os.truncate(log, 4)
    assert log_change(opened, os.stat(log), 8) == "truncated"
    replacement = tmp_path / "new"
    replacement.write_bytes(b"one\ntwo\nthree\n")
    os.replace(replacement, log)
    assert log_change(opened, os.stat(log), 8) == "replaced"


async def test_watch_says_so_when_the_log_is_replaced_and_hands_nothing_on_twice(tmp_path, doubles):
    from studio_tui.core.watch import Batch, Finished, Restarted, follow

    ws = doubles.write_workspace(tmp_path / "project", doubles.builder_scenario({1: {}, 2: {}}))
    run = await doubles.run_orchestration(ws)
    path = ws.events_path(run.state.id)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))
    seen: list[int] = []
    restarted: list[Restarted] = []
    stop = asyncio.Event()

    async def watch() -> None:
        async for item in follow(ws, run.state.id, stop_event=stop, poll_ms=50):
            if isinstance(item, Batch):
                seen.extend(e.seq for e in item.events)
                if len(seen) == len(lines) // 2 and not restarted:
                    # replaced under the watcher: the whole log, written anew
                    tmp = path.with_name("events.new")
                    tmp.write_bytes(b"".join(lines))
                    os.replace(tmp, path)
            elif isinstance(item, Restarted):
                restarted.append(item)
            elif isinstance(item, Finished):
                return

    await asyncio.wait_for(watch(), timeout=60)
    assert [r.reason for r in restarted] == ["replaced"]
    assert seen == sorted(set(seen)) and len(seen) == len(lines)  # every event once, in order

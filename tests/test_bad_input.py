"""Bad input through the CLI: exit 2, one clear message naming the file and line/field, no traceback, nothing written."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from studio_tui.core.config import load_config
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.errors import InputError

BUILD = ("build", "Fix the login typo", "--headless", "--speed", "0")


def snapshot(project: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under the project, with size and mtime."""
    out = {}
    for path in sorted(project.rglob("*")):
        stat = path.stat()
        out[str(path.relative_to(project))] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return out


def flat(text: str) -> str:
    """stderr with line wrapping undone (a long message may be wrapped at the console width)."""
    return " ".join(text.split())


def in_process(capsys, *args):
    """`studio_tui.cli.main(args)` in this process, as a CompletedProcess (CI=true as for the subprocesses)."""
    import os
    import subprocess

    from studio_tui.cli import main

    saved = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    finally:
        if saved is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = saved
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


# Each case: (how to break a fresh example workspace, CLI args, strings the message must contain).
# The strings are computed from the broken file where a line number is involved.


def case_config_syntax(ws):
    ws.config_path.write_text("budget:\n  warning: [0.8\n  critical: 0.95\n")
    return BUILD, ["config.yaml", "line", "invalid YAML"]


def case_config_unknown_key(ws):
    _append(ws.config_path, "colour: blue\n")
    return BUILD, ["config.yaml", f"line {_line_of(ws.config_path, 'colour')}", "'colour'"]


def case_config_wrong_type(ws):
    text = ws.config_path.read_text().replace("max_retries: 5", "max_retries: five")
    ws.config_path.write_text(text)
    return BUILD, ["config.yaml", f"line {_line_of(ws.config_path, 'five')}", "recovery.max_retries", "five"]


def case_config_thresholds(ws):
    text = ws.config_path.read_text().replace("warning: 0.8 ", "warning: 0.97")
    assert "0.97" in text
    ws.config_path.write_text(text)
    return BUILD, ["config.yaml", "warning", "critical", "0.97"]


def case_config_not_a_mapping(ws):
    ws.config_path.write_text("- just\n- a list\n")
    return BUILD, ["config.yaml", "line 1", "mapping"]


def case_config_not_utf8(ws):
    ws.config_path.write_bytes(b"theme: \xff\xfe\n")
    return BUILD, ["config.yaml", "UTF-8"]


def case_config_python_tag(ws):
    marker = ws.project_root / "PWNED"
    _append(ws.config_path, f'extra: !!python/object/apply:os.system ["touch {marker}"]\n')
    return BUILD, ["config.yaml", f"line {_line_of(ws.config_path, 'python/object')}"]


def case_scenario_bad_outcome(ws):
    path = ws.root / "scenario.yaml"
    text = path.read_text().replace("{fail: transient,", "{fail: explosive,")
    assert "explosive" in text
    path.write_text(text)
    return BUILD, ["scenario.yaml", f"line {_line_of(path, 'explosive')}", "builder.steps.1.outcomes"]


def case_scenario_python_tag(ws):
    marker = ws.project_root / "PWNED"
    path = ws.root / "scenario.yaml"
    text = path.read_text().replace("goal: Add user authentication with OAuth", f'goal: !!python/object/apply:os.system ["touch {marker}"]')
    path.write_text(text)
    return BUILD, ["scenario.yaml", "line 4"]


def case_scenario_empty(ws):
    (ws.root / "scenario.yaml").write_text("")
    return BUILD, ["scenario.yaml", "empty"]


def case_plan_bad_json(ws):
    path = ws.task_dir("task_login_page") / "plan.json"
    path.write_text('{\n  "id": "bp",\n  "task_id": "task_login_page",\n  "steps": [}\n')
    return BUILD, ["plan.json", "line 4", "invalid JSON"]


def case_plan_bad_steps(ws):
    path = ws.task_dir("task_login_page") / "plan.json"
    data = json.loads(path.read_text())
    data["steps"][1]["id"] = 7
    path.write_text(json.dumps(data, indent=2))
    return BUILD, ["plan.json", "steps", "1..4"]


def case_plan_task_id_escapes(ws):
    path = ws.task_dir("task_login_page") / "plan.json"
    data = json.loads(path.read_text())
    data["task_id"] = "../../etc"
    path.write_text(json.dumps(data))
    return BUILD, ["plan.json", "task_id"]


def case_backlog_wrong_type(ws):
    ws.backlog_path.write_text("epics:\n  - id: E1\n    title: x\n    features: 5\n")
    return BUILD, ["backlog.yaml", "line 4", "epics.0.features"]


def case_backlog_bad_status(ws):
    text = ws.backlog_path.read_text().replace(
        "{id: T2, title: Lock accounts after repeated failures, status: pending}",
        "{id: T2, title: Lock accounts after repeated failures, status: someday}",
    )
    assert "someday" in text
    ws.backlog_path.write_text(text)
    return ("run-backlog", "--headless", "--speed", "0"), ["backlog.yaml", f"line {_line_of(ws.backlog_path, 'someday')}", "status"]


def case_resume_parent_dirs(ws):
    return ("resume", "../../etc", "--speed", "0"), ["invalid checkpoint id", "../../etc"]


def case_resume_slashes(ws):
    return ("resume", "cp_1/../../x", "--speed", "0"), ["invalid checkpoint id"]


def case_status_parent_dirs(ws):
    return ("status", "../../etc"), ["invalid orchestration id"]


CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("case_")}
SUBPROCESS = (
    "config_syntax",
    "config_unknown_key",
    "config_wrong_type",
    "config_thresholds",
    "config_python_tag",
    "scenario_bad_outcome",
    "plan_bad_json",
    "backlog_wrong_type",
    "resume_parent_dirs",
)
"""Run as real subprocesses (side by side); the other cases go through `cli.main` in this process, which is
the same code path minus interpreter start-up."""


@pytest.fixture(scope="module")
def results(tmp_path_factory, doubles, _subprocess_bytecode_cache):
    base = tmp_path_factory.mktemp("bad_input")
    prepared = {}
    commands = []
    for name in SUBPROCESS:
        breaker = CASES[name]
        ws = doubles.copy_example(base / name)
        args, needles = breaker(ws)
        prepared[name] = (ws, needles, snapshot(ws.project_root))
        commands.append(("--workspace", str(ws.root), *args))
    done = doubles.run_cli_many(commands, cwd=base)
    return {name: (*prepared[name], result) for name, result in zip(SUBPROCESS, done, strict=False)}


def check_clean_failure(ws, needles, before, done):
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    message = flat(done.stderr)
    assert message.startswith("studio-tui: "), done.stderr
    assert message.count("studio-tui: ") == 1, done.stderr
    for needle in needles:
        assert needle in message, (needle, done.stderr)
    # nothing written: same files, sizes and mtimes; no orchestration folder, no lock file
    assert snapshot(ws.project_root) == before
    assert not ws.orchestration_dir.exists()
    assert not (ws.project_root / "PWNED").exists()


@pytest.mark.parametrize("name", SUBPROCESS)
def test_bad_input_exits_2_with_one_clear_message(results, name):
    check_clean_failure(*results[name])


@pytest.mark.parametrize("name", sorted(set(CASES) - set(SUBPROCESS)))
def test_more_bad_input_through_cli_main(name, tmp_path, doubles, capsys):
    ws = doubles.copy_example(tmp_path / "project")
    args, needles = CASES[name](ws)
    before = snapshot(ws.project_root)
    check_clean_failure(ws, needles, before, in_process(capsys, "--workspace", str(ws.root), *args))


def test_safe_load_refuses_python_tags_in_process(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "config.yaml"
    path.write_text(f'theme: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(InputError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "line 1" in str(info.value)
    assert not marker.exists()


# ── a damaged checkpoint ────────────────────────────────────────────────


def resign(path: Path, text: str) -> None:
    """Write `text` as a checkpoint file with a correct closing checksum line."""
    import hashlib

    body = text.encode()
    path.write_bytes(body + f"# end sha256={hashlib.sha256(body).hexdigest()}\n".encode())


@pytest.fixture
def with_checkpoints(tmp_path, doubles):
    ws = doubles.write_workspace(tmp_path / "project", doubles.builder_scenario({1: {}, 2: {}}), config={"checkpoints": {"every_steps": 1}})
    run = asyncio.run(doubles.run_orchestration(ws))
    assert run.state.status == "completed"
    return ws, run


def test_damaged_checkpoint_files_exit_2(with_checkpoints, doubles, capsys, _subprocess_bytecode_cache):
    ws, run = with_checkpoints
    paths = dict(ws.checkpoint_paths())
    ids = [c.id for c in run.state.checkpoints]
    assert len(ids) >= 3
    syntax, field, shape = ids[:3]
    paths[syntax].write_text("checkpoint: [oops\nstate: {}\n")
    data = yaml.safe_load(paths[field].read_text())
    data["checkpoint"]["seq"] = "many"
    # re-signed (a valid closing checksum), so the content itself is what is checked
    resign(paths[field], yaml.safe_dump(data, sort_keys=False))
    resign(paths[shape], "- a\n- list\n")
    before = snapshot(ws.project_root)
    # the first through a real subprocess, the other two through cli.main in this process
    results = [doubles.run_cli("resume", syntax, "--speed", "0", cwd=ws.project_root)]
    results += [in_process(capsys, "--workspace", str(ws.root), "resume", cp, "--speed", "0") for cp in (field, shape)]
    expected = {
        syntax: [f"{syntax}.yaml", "damaged checkpoint", "no closing checksum"],
        field: [f"{field}.yaml", "checkpoint.seq", f"line {_line_of(paths[field], 'many')}"],
        shape: [f"{shape}.yaml", "not a checkpoint file"],
    }
    for cp, done in zip((syntax, field, shape), results, strict=False):
        assert done.returncode == 2, (cp, done.stderr)
        assert "Traceback" not in done.stderr
        message = flat(done.stderr)
        assert message.count("studio-tui: ") == 1
        for needle in expected[cp]:
            assert needle in message, (needle, done.stderr)
    assert snapshot(ws.project_root) == before


def test_checkpoints_listing_skips_a_damaged_file(with_checkpoints, capsys):
    ws, run = with_checkpoints
    bad_id, bad_path = ws.checkpoint_paths()[0]
    bad_path.write_text("checkpoint: [oops\n")
    done = in_process(capsys, "--workspace", str(ws.root), "checkpoints", "--json")
    assert done.returncode == 0
    listed = [c["id"] for c in json.loads(done.stdout)]
    assert bad_id not in listed and len(listed) == len(run.state.checkpoints) - 1
    assert "skipped damaged checkpoint" in flat(done.stderr) and bad_id in done.stderr


def test_checkpoint_name_with_a_slash_exits_2(with_checkpoints, capsys):
    ws, _ = with_checkpoints
    before = snapshot(ws.project_root)
    done = in_process(capsys, "--workspace", str(ws.root), "checkpoint", "a/../b")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "NAME" in done.stderr
    assert snapshot(ws.project_root) == before


# ── found while writing these tests ─────────────────────────────────────


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path, doubles):
    ws = doubles.copy_example(tmp_path / "project")
    first = _line_of(ws.config_path, "recovery:")
    _append(ws.config_path, "recovery:\n  max_retries: five\n")
    duplicate = _line_of(ws.config_path, "five") - 1
    with pytest.raises(InputError) as info:
        load_config(ws.config_path)
    message = str(info.value)
    assert str(ws.config_path) in message
    assert f"line {duplicate}" in message and f"first on line {first}" in message
    assert "duplicate key 'recovery'" in message


def test_a_long_error_message_stays_on_one_line(tmp_path, doubles, capsys):
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "project"
    ws = doubles.copy_example(deep)
    _append(ws.config_path, "colour: blue\n")
    done = in_process(capsys, "--workspace", str(ws.root), "build", "Fix it", "--headless")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_resume_with_a_malformed_backlog_exits_2_and_writes_nothing(tmp_path, doubles, capsys):
    ws = doubles.write_workspace(tmp_path / "project", doubles.mini_scenario())
    run = asyncio.run(doubles.run_orchestration(ws, decider=PolicyDecider("abort")))
    assert run.state.status == "aborted"
    ws.backlog_path.write_text("epics:\n  - id: E1\n    title: x\n    features: 5\n")
    before = snapshot(ws.project_root)
    done = in_process(
        capsys,
        "--workspace",
        str(ws.root),
        "resume",
        run.state.checkpoints[-1].id,
        "--headless",
        "--speed",
        "0",
        "--on-escalation",
        "retry",
    )
    assert done.returncode == 2, done.stdout[-500:]
    assert "backlog.yaml" in done.stderr
    assert snapshot(ws.project_root) == before

"""Opening the dashboard from a command: the Launch it is given and the execution settings from the command line.

Apart from runs.py so `studio-tui`, `watch`, `view` and `replay` open the dashboard without importing the
orchestrator and the agents (issue 14, startup); runs.py uses it too.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..core.errors import InputError

if TYPE_CHECKING:
    from ..core.config import StudioConfig
    from ..core.store import Workspace


def _execution_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The execution settings the command line gives, over config.yaml's `execution:`."""
    overrides: dict[str, Any] = {}
    if getattr(args, "parallel", None) is not None:
        if not 1 <= args.parallel <= 64:
            raise InputError(f"--parallel must be 1-64, got {args.parallel}")
        overrides["parallel"] = args.parallel
    if getattr(args, "engine", None) is not None:
        overrides["engine"] = args.engine
    if getattr(args, "address", None) is not None:
        if (args.engine or "") != "dask" and overrides.get("engine") != "dask":
            raise InputError("--address names a Dask scheduler: use it with --engine dask")
        overrides["address"] = args.address
    return overrides


def _config_with_execution(workspace: Workspace, args: argparse.Namespace) -> StudioConfig:
    """config.yaml with the command line's execution settings; parallel or Dask needs a git repository."""
    config = workspace.config()
    overrides = _execution_overrides(args)
    if overrides:
        config = config.model_copy(update={"execution": config.execution.model_copy(update=overrides)})
    if config.execution.distributed:
        from ..core.parallel import require_repo

        require_repo(workspace.project_root)
        if config.execution.engine == "dask":
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise InputError("--engine dask needs the dask extra: pip install 'studio-tui[dask]'") from None
    return config


def _dashboard(args: argparse.Namespace, workspace: Workspace, action: str, **launch: Any) -> int:
    from ..serve import served_read_only
    from ..ui.app import Launch, run_dashboard

    speed = args.speed if getattr(args, "speed", None) is not None else 1.0
    execution = _execution_overrides(args)
    if execution:
        _config_with_execution(workspace, args)  # refused here (no git, no dask) rather than in the dashboard
    return run_dashboard(
        Launch(
            workspace=workspace,
            action=action,  # type: ignore[arg-type]  # one of Launch's actions: every caller passes a literal
            speed=speed,
            theme=args.theme,
            read_only=served_read_only(),
            execution=execution,
            **launch,
        )
    )

"""serve: the dashboard in a browser (textual-serve; logic in studio_tui/serve.py)."""

from __future__ import annotations

import argparse

from ..core.store import Workspace
from ..headless import literal
from .common import console
from .parser import build_parser


def cmd_serve(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..serve import serve, served_command

    served_args = served_command(args.served, allow_control=args.allow_control)
    # The served command is checked here, once, so a typo is an error now and not in every browser tab.
    build_parser().parse_args(["--workspace", str(workspace.root), *served_args])
    return serve(
        workspace.root,
        served_args,
        host=args.host,
        port=args.port,
        allow_control=args.allow_control,
        public_url=args.public_url,
        theme=args.theme,
        say=lambda line: console.print(literal(line)),
    )

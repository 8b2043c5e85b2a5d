"""`studio-tui serve`: the dashboard in a browser through textual-serve, read-only unless told otherwise."""

from __future__ import annotations

import hmac
import os
import secrets
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .core.errors import InputError

SERVED_ENV = "STUDIO_TUI_SERVED"
"""Set in the dashboard process textual-serve starts: open the dashboard though stdout is a pipe."""
READ_ONLY_ENV = "STUDIO_TUI_READ_ONLY"
"""Set (to 1) in a read-only served dashboard: it starts no run and resumes no checkpoint."""

READ_ONLY_COMMANDS = ("watch", "replay")
"""What a browser may see without --allow-control: they never answer a decision or start a run."""
CONTROL_COMMANDS = ("build", "orchestrate", "resume", "run-backlog", "demo")
"""Runs driven from the browser (its dialogs answer the decisions): only with --allow-control and its token."""

TOKEN_COOKIE = "studio_tui_token"


def served() -> bool:
    """True in a dashboard process started by `studio-tui serve`."""
    return os.environ.get(SERVED_ENV) == "1"


def served_read_only() -> bool:
    return served() and os.environ.get(READ_ONLY_ENV) == "1"


def served_command(served_args: list[str], *, allow_control: bool) -> list[str]:
    """The studio-tui arguments each browser session runs: `watch` by default; checked here, not in the browser."""
    args = list(served_args) or ["watch"]
    if args[0] == "--":
        args = args[1:] or ["watch"]
    command = args[0]
    if command in CONTROL_COMMANDS and not allow_control:
        raise InputError(
            f"serve {command}: a run driven from the browser answers decisions there; "
            "pass --allow-control (a token is printed, and only a browser with it gets in), or serve watch / replay"
        )
    if command not in READ_ONLY_COMMANDS + CONTROL_COMMANDS:
        shown = ", ".join(READ_ONLY_COMMANDS + CONTROL_COMMANDS)
        raise InputError(f"serve shows the dashboard of a command: {shown}; got {command!r}")
    if "--headless" in args or "--json" in args:
        raise InputError("serve shows the dashboard: drop --headless / --json")
    return args


def _server_class() -> Any:
    """textual-serve's Server with a token check; imported here so the default install never needs it."""
    try:
        from aiohttp import web
        from textual_serve.server import Server
    except ImportError:
        raise InputError("serve needs the `serve` extra: pip install 'studio-tui[serve]'") from None

    class StudioServer(Server):
        """textual-serve's server, plus a token check on every page and websocket when control is allowed."""

        def __init__(self, command: str, *, token: str | None, banner: Callable[[], None], **kw: Any) -> None:
            super().__init__(command, **kw)
            self.token = token
            self.banner = banner

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if self.token is not None:
                app.middlewares.append(self._check_token)
            return app

        @web.middleware
        async def _check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path.startswith("/static/"):
                return await handler(request)  # the page's own scripts and styles: public
            given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
            assert self.token is not None
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                raise web.HTTPForbidden(
                    text="studio-tui serve: this dashboard takes decisions; open the URL with the token printed at start\n"
                )
            response = await handler(request)
            if request.query.get("token") and not response.prepared:
                # The websocket the page opens carries no query of ours: a same-site cookie carries the token.
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
            return response

        async def on_startup(self, app: web.Application) -> None:
            self.banner()

    return StudioServer


def serve(
    workspace: Path,
    served_args: list[str],
    *,
    host: str,
    port: int,
    allow_control: bool,
    public_url: str | None,
    theme: str | None,
    say: Callable[[str], None],
) -> int:
    """Serve the dashboard until Ctrl-C; every browser session runs its own `studio-tui ARGS` process."""
    args = served_command(served_args, allow_control=allow_control)
    if not 0 < port < 65536:
        raise InputError(f"--port must be 1-65535, got {port}")
    server_class = _server_class()
    argv = [sys.executable, "-m", "studio_tui", "--workspace", str(workspace.expanduser().absolute())]
    if theme:
        argv += ["--theme", theme]
    argv += args
    os.environ[SERVED_ENV] = "1"
    if allow_control:
        os.environ.pop(READ_ONLY_ENV, None)
    else:
        os.environ[READ_ONLY_ENV] = "1"
    token = secrets.token_urlsafe(24) if allow_control else None
    url_host = f"[{host}]" if ":" in host else host
    base = public_url or f"http://{url_host}:{port}"

    def banner() -> None:
        say(f"studio-tui serve: {shlex.join(['studio-tui', *args])} at {base}/")
        if token is not None:
            say("control allowed: decisions are answered from the browser; only this URL gets in:")
            say(f"  {base}/?token={token}")
        else:
            say("read-only: the browser watches; no decision is answered and no run is started from it")
        if host not in ("127.0.0.1", "localhost", "::1"):
            say(f"warning: bound to {host}: anyone who can reach this port can {'use the token URL' if token else 'watch'}")
        say("Ctrl-C stops serving")

    server = server_class(shlex.join(argv), token=token, banner=banner, host=host, port=port, title="studio-tui", public_url=base)
    server.serve()
    return 0

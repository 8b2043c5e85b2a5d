"""Errors the command line turns into one clear message and an exit code."""

from __future__ import annotations


class StudioError(Exception):
    """Something the person must fix; the message names what and where. Exit 2."""

    exit_code = 2


class InputError(StudioError):
    """Bad input: a file, a field or an argument."""


class WorkspaceBusy(StudioError):
    """Another process holds the workspace lock."""


class NotFound(StudioError):
    """An orchestration or checkpoint that does not exist."""

"""Well-known ACP coding agents: how each is usually launched, installed and signed in.

`studio-tui init --agents NAME` writes the launch command into config.yaml (overridable there), and
`studio-tui doctor` uses the install and sign-in hints when an agent cannot start or needs
authentication. Each launch command was checked against the agent's own documentation (the
`source` of each preset), and docs/acp.md lists the same table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcpPreset:
    name: str
    """The `--agents` choice."""
    title: str
    command: tuple[str, ...]
    """The usual launch command (an argv: no shell runs it)."""
    source: str
    """Where the launch command was checked."""
    install: str
    """How to install it, in words, for when the program is not found."""
    sign_in: str
    """How to sign it in, in words, for when it answers that authentication is required."""
    markers: tuple[str, ...]
    """Words in a configured command that mean this agent (for doctor's hints on any config)."""


ACP_PRESETS: dict[str, AcpPreset] = {
    preset.name: preset
    for preset in (
        AcpPreset(
            name="claude-code",
            title="Claude Code (ACP adapter for the Claude Agent SDK)",
            command=("npx", "-y", "@agentclientprotocol/claude-agent-acp"),
            source="github.com/agentclientprotocol/claude-agent-acp README and the npm registry (formerly "
            "@zed-industries/claude-agent-acp, before that @zed-industries/claude-code-acp)",
            install="install Node.js (for npx), or `npm i -g @agentclientprotocol/claude-agent-acp` and use `claude-agent-acp`",
            sign_in="log in with `claude /login`, or set ANTHROPIC_API_KEY",
            markers=("claude-agent-acp", "claude-code-acp"),
        ),
        AcpPreset(
            name="codex",
            title="Codex (ACP adapter for the Codex CLI)",
            command=("npx", "-y", "@agentclientprotocol/codex-acp"),
            source="github.com/agentclientprotocol/codex-acp README and the npm registry (formerly @zed-industries/codex-acp)",
            install="install Node.js (for npx), or `npm i -g @agentclientprotocol/codex-acp` and use `codex-acp`",
            sign_in="set OPENAI_API_KEY (or CODEX_API_KEY), or log in to ChatGPT with `codex login`",
            markers=("codex-acp",),
        ),
        AcpPreset(
            name="gemini",
            title="Gemini CLI",
            command=("gemini", "--acp"),
            source="google-gemini/gemini-cli packages/cli/src/config/config.ts (`--acp`; `--experimental-acp` is the "
            "deprecated older flag) and zed.dev/docs/ai/external-agents",
            install="install with `npm i -g @google/gemini-cli`",
            sign_in="set GEMINI_API_KEY, or run `gemini` once and log in with Google",
            markers=("gemini",),
        ),
        AcpPreset(
            name="goose",
            title="goose",
            command=("goose", "acp"),
            source="block.github.io/goose/docs/guides/acp-clients (`goose acp`, goose 1.8.0 or later)",
            install="install the goose CLI (block.github.io/goose/docs/getting-started/installation), version 1.8.0 or later",
            sign_in="configure a provider with `goose configure`",
            markers=("goose",),
        ),
        AcpPreset(
            name="opencode",
            title="OpenCode",
            command=("opencode", "acp"),
            source="opencode.ai/docs/cli/acp (`opencode acp`)",
            install="install with `npm i -g opencode-ai`",
            sign_in="log in with `opencode auth login`",
            markers=("opencode",),
        ),
    )
}


def preset_for(argv: list[str]) -> AcpPreset | None:
    """The well-known agent a configured command runs, if any (by the words in its argv)."""
    words = " ".join(argv).lower()
    for preset in ACP_PRESETS.values():
        if any(marker in words for marker in preset.markers):
            return preset
    return None


AGENT_CHOICES = (*ACP_PRESETS, "command", "scripted")
"""What `studio-tui init --agents` takes: a preset, our command-protocol agents, or the scripted ones."""

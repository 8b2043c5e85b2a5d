"""studio-tui: terminal mission control for multi-agent software builds."""

__version__ = "0.1.0"

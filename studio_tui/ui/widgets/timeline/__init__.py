"""Replay's transport: the timeline bar and the transport status line."""

"""How the ``centrifuge`` process behaves around its command: warnings as one line,
SIGTERM (kill, a job scheduler) handled like Ctrl-C so partial outputs are removed."""

from __future__ import annotations

import signal


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"centrifuge: warning: {message}\n"


def terminate_as_interrupt():
    """SIGTERM (kill, a job scheduler) cleans up like Ctrl-C: partial outputs removed.

    Returns the previous handler, or None where handlers cannot be set (a thread)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None

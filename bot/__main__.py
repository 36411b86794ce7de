"""``python -m bot``: the command line in :mod:`bot.cli.main`."""

from __future__ import annotations

import signal
import sys

from bot.cli.main import main


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM before the event loop installs its own handler still ends cleanly."""
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    sys.exit(main(sys.argv[1:]))

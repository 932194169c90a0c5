"""The `decisions` command line: an operator's tool that runs on the server, beside the database.

One module per command group; importing them registers their commands on `main`.
"""

from __future__ import annotations

from api.cli import (  # noqa: F401  (registers commands)
    db,
    decisions,
    effect,
    gates,
    init,
    log,
    notify,
    policy,
    reports,
    review,
    serve,
    tokens,
)
from api.cli.root import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()

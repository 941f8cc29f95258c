"""What tests look for in an output folder after a run: files a run must not leave behind."""

from __future__ import annotations

import os
from pathlib import Path


def leftovers(out: Path) -> list[str]:
    """Staging of runs, half-swapped ``current`` links, unfinished reports and ledgers, snapshots
    newer than the live one: what a finished (or killed, then rerun) run must not leave."""
    left = [f".staging/{p.name}" for p in (out / ".staging").iterdir()] if (out / ".staging").exists() else []
    left += [p.name for p in out.glob(".current.swap-*")]
    left += [f"_runs/{p.name}" for p in (out / "_runs").glob(".*")]
    live = os.readlink(out / "current").rsplit("/", 1)[-1]
    left += [f".snapshots/{p.name}" for p in (out / ".snapshots").iterdir() if p.name > live]
    return left

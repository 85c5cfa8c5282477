"""Where the project keeps its state: the home folder and the database URL."""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "BATCH_PIPELINES_DATABASE_URL"
HOME_ENV = "BATCH_PIPELINES_HOME"


def home_dir() -> Path:
    """`$BATCH_PIPELINES_HOME`, default `./.batch_pipelines`, created on first use."""
    home = Path(os.environ.get(HOME_ENV) or ".batch_pipelines").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home

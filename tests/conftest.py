"""Shared fixtures: fresh_db (a temporary SQLite file), replica (the local archive), tiny_export."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.session import make_engine


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


@pytest.fixture
def fresh_db(db_url: str):
    """An engine on a new, migrated SQLite file."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()

"""Schema migrations: a database of any earlier version migrates to exactly the schema a fresh one gets.

v2 added the curation tables (image_hashes, image_duplicates); v3 the web app's estimates;
v4 the OAI-PMH harvest state (oai_harvests); v5 columns for the hashes of 8 orientations, the
trimmed borders and the matched transform; v6 estimates.kind; v8 the people found per image.
"""

import pytest
from sqlalchemy import create_engine, inspect, text

from db.migrations import MIGRATIONS, current_version, latest_version
from db.models import Base, ImageDuplicate, ImageEstimate, ImageHash, OaiHarvest, PeopleScan, PersonBox
from db.session import make_engine
from tests.test_migrations_frozen import structure

# The tables each version added; a database of version v has those of versions <= v.
ADDED_TABLES = {2: {ImageHash.__tablename__, ImageDuplicate.__tablename__}, 3: {ImageEstimate.__tablename__},
                4: {OaiHarvest.__tablename__}, 8: {PersonBox.__tablename__, PeopleScan.__tablename__}}
# The columns each version added to an existing table: (table, column).
ADDED_COLUMNS = {5: {("image_hashes", "variants"), ("image_hashes", "trim"), ("image_duplicates", "transform")},
                 6: {("estimates", "kind")},
                 9: {("estimates", "record_id"), ("estimates", "shown"), ("estimates", "disagreement"),
                     ("estimates", "suspect")},
                 10: {("estimates", "record_year")}}


def _later_tables(version: int) -> set[str]:
    return set().union(*(tables for added_in, tables in ADDED_TABLES.items() if added_in > version))


def _make_old(url: str, version: int) -> None:
    """A database as version `version` of the toolkit left it, with one record."""
    engine = create_engine(url)
    with engine.begin() as conn:
        later = _later_tables(version)
        Base.metadata.create_all(conn, tables=[t for name, t in Base.metadata.tables.items() if name not in later])
        for table, column in set().union(*(c for added_in, c in ADDED_COLUMNS.items() if added_in > version)):
            if table not in later:
                for index in inspect(conn).get_indexes(table):  # SQLite drops no indexed column
                    if column in index["column_names"]:
                        conn.execute(text(f"drop index {index['name']}"))
                conn.execute(text(f"alter table {table} drop column {column}"))
        for applied in (m.version for m in MIGRATIONS if m.version <= version):
            conn.execute(text("insert into schema_version(version, applied_at, description) "
                              f"values ({applied}, '2024-01-01', 'v{applied}')"))
        conn.execute(text("insert into records(source, source_id, date_raw, date_precision, status, first_seen, last_seen) "
                          "values ('a', '1', '1950', 'unknown', 'ok', '2024-01-01', '2024-01-01')"))
    engine.dispose()


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("version", [m.version for m in MIGRATIONS[:-1]])
def test_old_database_migrates_to_the_freshstructure(make_db_url, version):
    old, new = make_db_url(), make_db_url()
    _make_old(old, version)
    old_schema = structure(old)
    assert _later_tables(version).isdisjoint(old_schema)
    if 2 <= version < 5:
        assert "variants" not in {name for name, *_ in old_schema["image_hashes"]["columns"]}
    make_engine(old).dispose()
    make_engine(new).dispose()
    assert structure(old) == structure(new)
    engine = create_engine(old)
    with engine.connect() as conn:
        assert current_version(conn) == latest_version() == MIGRATIONS[-1].version
        versions = conn.execute(text("select version from schema_version order by version")).scalars().all()
        assert versions == [m.version for m in MIGRATIONS]
        assert conn.execute(text("select date_raw from records")).scalars().all() == ["1950"]
    engine.dispose()


def test_v3_estimates_gain_their_kind_and_keep_their_rows(tmp_path):
    """A v3 database (estimates without `kind`) migrates to the fresh schema; old rows read as the served model's."""
    old, new = f"sqlite:///{tmp_path / 'v3.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
    _make_old(old, 3)
    engine = create_engine(old)
    with engine.begin() as conn:
        assert "kind" not in {c["name"] for c in inspect(conn).get_columns("estimates")}  # _make_old dropped it
        conn.execute(text("insert into images(record_id, status) values (1, 'ok')"))
        conn.execute(text("insert into estimates(image_id, model_key, year, status, created_at) "
                          "values (1, 'run:abc', 1950, 'ok', '2024-01-01')"))
    engine.dispose()
    make_engine(old).dispose()
    make_engine(new).dispose()
    assert structure(old)["estimates"] == structure(new)["estimates"]
    engine = create_engine(old)
    with engine.connect() as conn:
        assert conn.execute(text("select year, kind from estimates")).all() == [(1950, "model")]
    engine.dispose()

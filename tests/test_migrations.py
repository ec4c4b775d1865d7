"""Schema v2 (curation tables): a v1 database migrates to exactly the schema a fresh one gets."""

from sqlalchemy import create_engine, inspect, text

from db.migrations import current_version, latest_version
from db.models import Base, ImageDuplicate, ImageHash
from db.session import make_engine

V2_TABLES = {ImageHash.__tablename__, ImageDuplicate.__tablename__}


def _schema(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        insp = inspect(conn)
        schema = {
            table: {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)),
                "pk": insp.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in insp.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)),
                "uniques": sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
            }
            for table in insp.get_table_names()
        }
    engine.dispose()
    return schema


def _make_v1(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        v1 = [t for name, t in Base.metadata.tables.items() if name not in V2_TABLES]
        Base.metadata.create_all(conn, tables=v1)
        conn.execute(text("insert into schema_version(version, applied_at, description) values (1, '2024-01-01', 'v1')"))
        conn.execute(text("insert into records(source, source_id, date_precision, status, first_seen, last_seen) "
                          "values ('a', '1', 'unknown', 'ok', '2024-01-01', '2024-01-01')"))
    engine.dispose()


def test_v1_database_migrates_to_the_fresh_schema(tmp_path):
    old, new = f"sqlite:///{tmp_path / 'v1.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
    _make_v1(old)
    assert V2_TABLES.isdisjoint(_schema(old))
    make_engine(old).dispose()
    make_engine(new).dispose()
    assert _schema(old) == _schema(new)
    engine = create_engine(old)
    with engine.connect() as conn:
        assert current_version(conn) == latest_version() == 2
        assert conn.execute(text("select count(*) from records")).scalar() == 1
    engine.dispose()

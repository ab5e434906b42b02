"""The audit store: append-only, hash-chained, per organisation, on SQLite and PostgreSQL.

Every test runs on a fresh SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL.
Tampering is simulated the way a database owner would do it: bypass the append-only triggers
and edit a row by hand.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from service.__main__ import main as service_cli
from service.audit import (
    GENESIS,
    AuditStore,
    assessments,
    canonical_json,
    new_id,
    reviews,
    row_hash,
)
from service.auth import create_key, organisations
from service.db import make_engine, metadata


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine with the schema created."""
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> AuditStore:
    """The store under test."""
    return AuditStore(engine)


def org_id(engine: Engine, name: str) -> int:
    """Create an organisation (with a key) and return its id."""
    create_key(engine, name)
    with engine.connect() as conn:
        return int(conn.scalar(select(organisations.c.id).where(organisations.c.name == name)))


@pytest.fixture
def org(engine: Engine) -> int:
    """One organisation."""
    return org_id(engine, "acme")


def record(store: AuditStore, org: int, n: int) -> str:
    """Record one small assessment numbered ``n``."""
    return store.record_assessment(
        org,
        request={"item": {"description": f"item {n}", "code": None}, "destination": "JP"},
        response={"outcome": "NEEDS_REVIEW", "probability": 0.1 * n, "note": "校验"},
        versions={"model": "m1", "rules": "r1", "reference_data": "sha256:abc"},
        reference=f"PO-{n}",
    )


def tamper(engine: Engine, table: str, seq: int, **values: object) -> None:
    """Edit one row the way a database owner could, around the append-only triggers."""
    target = {"assessments": assessments, "reviews": reviews}[table]
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        if values:
            conn.execute(update(target).where(target.c.seq == seq).values(**values))
        else:
            conn.execute(delete(target).where(target.c.seq == seq))


def test_records_form_a_chain_that_verifies(store: AuditStore, org: int) -> None:
    ids = [record(store, org, n) for n in range(5)]
    report = store.verify()
    assert report.ok, report.summary()
    assert report.counts == {"assessments": 5, "reviews": 0}
    first, last = store.get(org, ids[0]), store.get(org, ids[-1])
    assert first is not None and last is not None
    assert (first.seq, last.seq) == (1, 5)
    assert report.heads["assessments"] == last.hash


def test_ids_are_prefixed_sortable_and_unique() -> None:
    ids = [new_id("asm_") for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i.startswith("asm_") and len(i) == 30 for i in ids)
    assert new_id("asm_")[:10] >= ids[0][:10]  # the time part leads


def test_each_hash_covers_the_content_and_the_previous_hash(
    store: AuditStore, engine: Engine, org: int
) -> None:
    record(store, org, 1)
    record(store, org, 2)
    with engine.connect() as conn:
        rows = conn.execute(select(assessments).order_by(assessments.c.seq)).mappings().all()
    assert rows[0]["prev_hash"] == GENESIS
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert all(row_hash(assessments, r) == r["hash"] for r in rows)
    relinked = {**rows[1], "prev_hash": GENESIS}
    assert row_hash(assessments, relinked) != rows[1]["hash"]


def test_get_returns_what_was_recorded(store: AuditStore, org: int) -> None:
    assessment_id = record(store, org, 3)
    got = store.get(org, assessment_id)
    assert got is not None
    assert got.request["item"]["description"] == "item 3"
    assert got.response == {"outcome": "NEEDS_REVIEW", "probability": 0.30000000000000004,
                            "note": "校验"}
    assert got.versions["rules"] == "r1"
    assert got.reference == "PO-3"
    assert got.created_at.tzinfo is not None


def test_an_organisation_cannot_read_or_review_another_ones_assessment(
    store: AuditStore, engine: Engine, org: int
) -> None:
    other = org_id(engine, "globex")
    assessment_id = record(store, org, 1)
    assert store.get(other, assessment_id) is None
    assert store.add_review(other, assessment_id, reviewer="x", verdict="confirmed") is None
    assert store.get(org, "asm_DOESNOTEXIST") is None


def test_reviews_attach_to_their_assessment_and_chain_too(store: AuditStore, org: int) -> None:
    assessment_id = record(store, org, 1)
    record(store, org, 2)
    first = store.add_review(org, assessment_id, reviewer="kim", verdict="confirmed")
    second = store.add_review(
        org, assessment_id, reviewer="lee", verdict="corrected", code="1C902.a", dual_use=True,
        note="sintered SmCo magnet, above threshold",
    )
    assert first is not None and second is not None
    got = store.get(org, assessment_id)
    assert got is not None
    assert [r.id for r in got.reviews] == [first.id, second.id]
    assert got.reviews[1].code == "1C902.a" and got.reviews[1].dual_use is True
    [*pairs] = store.iter_reviews()
    assert [p.review.id for p in pairs] == [first.id, second.id]
    assert pairs[0].request["item"]["description"] == "item 1"
    report = store.verify()
    assert report.ok, report.summary()
    assert report.counts == {"assessments": 2, "reviews": 2}


@pytest.mark.parametrize("table", ["assessments", "reviews"])
def test_rows_cannot_be_updated_or_deleted(
    store: AuditStore, engine: Engine, org: int, table: str
) -> None:
    assessment_id = record(store, org, 1)
    store.add_review(org, assessment_id, reviewer="kim", verdict="confirmed")
    target = {"assessments": assessments, "reviews": reviews}[table]
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(update(target).values(created_at=datetime.now(UTC)))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(target))
    assert store.verify().ok


TAMPERED_ASSESSMENT_FIELDS = {
    "request": canonical_json({"item": {"description": "item 1 (edited)"}, "destination": "JP"}),
    "response": canonical_json({"outcome": "NO_LICENCE_REQUIRED"}),
    "versions": canonical_json({"model": "m0", "rules": "r1", "reference_data": "sha256:abc"}),
    "reference": "PO-forged",
    "org_id": None,  # filled in by the test: another organisation
    "created_at": datetime(2020, 1, 1, tzinfo=UTC),
    "hash": "f" * 64,
}


@pytest.mark.parametrize("field", sorted(TAMPERED_ASSESSMENT_FIELDS))
def test_tampering_with_any_field_is_detected_by_verify_and_the_cli(
    store: AuditStore, engine: Engine, org: int, database_url: str, field: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(4):
        record(store, org, n)
    value = TAMPERED_ASSESSMENT_FIELDS[field]
    if field == "org_id":
        value = org_id(engine, "mallory")
    tamper(engine, "assessments", 2, **{field: value})

    report = store.verify()
    assert not report.ok
    assert (report.broken_table, report.broken_seq) == ("assessments", 2)
    assert report.reason == "content does not match its hash"

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert service_cli(["verify-audit"]) == 1
    assert "BROKEN at assessments seq 2" in capsys.readouterr().out


def test_a_rehashed_forgery_breaks_the_next_link(
    store: AuditStore, engine: Engine, org: int
) -> None:
    for n in range(3):
        record(store, org, n)
    with engine.connect() as conn:
        row = dict(conn.execute(select(assessments).where(assessments.c.seq == 2)).mappings().one())
    row["response"] = canonical_json({"outcome": "NO_LICENCE_REQUIRED"})
    tamper(engine, "assessments", 2, response=row["response"], hash=row_hash(assessments, row))
    report = store.verify()
    assert (report.broken_seq, report.reason) == (
        3, "prev_hash does not match the previous record's hash"
    )


def test_a_deleted_row_is_detected(store: AuditStore, engine: Engine, org: int) -> None:
    for n in range(3):
        record(store, org, n)
    tamper(engine, "assessments", 2)
    report = store.verify()
    assert (report.broken_seq, report.reason) == (2, "seq 2 is missing (next is 3)")


def test_tampered_reviews_and_reviewed_assessments_are_detected(
    store: AuditStore, engine: Engine, org: int
) -> None:
    assessment_id = record(store, org, 1)
    store.add_review(org, assessment_id, reviewer="kim", verdict="confirmed")
    tamper(engine, "reviews", 1, verdict="corrected")
    report = store.verify()
    assert (report.broken_table, report.broken_seq) == ("reviews", 1)

    # Re-signing the edited assessment keeps its own chain link only if it is the head; the
    # review still names the old hash.
    with engine.connect() as conn:
        row = dict(conn.execute(select(assessments)).mappings().one())
    row["response"] = canonical_json({"outcome": "NO_LICENCE_REQUIRED"})
    tamper(engine, "reviews", 1, verdict="confirmed")
    tamper(engine, "assessments", 1, response=row["response"], hash=row_hash(assessments, row))
    report = store.verify()
    assert (report.broken_table, report.broken_seq, report.reason) == (
        "reviews", 1, "the reviewed assessment is missing or was altered"
    )


def test_stored_json_is_canonical_text(store: AuditStore, engine: Engine, org: int) -> None:
    record(store, org, 1)
    with engine.connect() as conn:
        stored = conn.scalar(select(assessments.c.response))
    assert stored == canonical_json(json.loads(stored))
    assert "校验" in stored  # UTF-8, not \u escapes


def test_concurrent_writers_never_fork_the_chain(store: AuditStore, org: int) -> None:
    """Eight threads with their own connections append at once; the lock keeps one chain."""
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                record(store, org, worker * 100 + n)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = store.verify()
    assert report.ok, report.summary()
    assert report.count == 200


def test_cli_reports_an_intact_chain(
    store: AuditStore, org: int, database_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    record(store, org, 1)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert service_cli(["verify-audit"]) == 0
    assert "audit chain intact: 1 assessments, 0 reviews" in capsys.readouterr().out

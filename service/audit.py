"""Append-only, hash-chained audit store for assessments and their reviews.

Each table is a chain of its own: row ``seq`` n stores ``prev_hash`` (the hash of row n-1, or
``GENESIS`` for row 1) and ``hash`` = SHA-256 of the canonical JSON of its content including
``prev_hash``. A review also stores the hash of the assessment it reviews, so it is bound to that
exact record. Appends to a chain are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
transaction-scoped advisory lock), and ``prev_hash`` is unique, so the chain cannot fork even if
the lock were bypassed. Triggers refuse UPDATE and DELETE; ``verify()`` detects what someone with
direct write access could still change. Deleting the newest rows leaves a valid shorter chain:
anchor the head hash that ``verify()`` reports somewhere else to detect that too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    event,
    insert,
    select,
    text,
)

from service.auth import organisations
from service.db import metadata

GENESIS = "0" * 64
ID_LENGTH = 30  # a 4-character prefix and a 26-character ULID
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _json_column(name: str) -> Column[str]:
    """A TEXT column holding canonical JSON; hashed as the JSON value, not as the text."""
    return Column(name, Text, nullable=False, info={"json": True})


assessments = Table(
    "assessments",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(ID_LENGTH), nullable=False, unique=True),
    Column("org_id", Integer, ForeignKey(organisations.c.id), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reference", String(100), nullable=True),
    _json_column("request"),
    _json_column("response"),
    _json_column("versions"),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
)

reviews = Table(
    "reviews",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(ID_LENGTH), nullable=False, unique=True),
    Column("assessment_id", String(ID_LENGTH), ForeignKey("assessments.id"), nullable=False,
           index=True),
    Column("org_id", Integer, ForeignKey(organisations.c.id), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reviewer", String(100), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("code", String(40), nullable=True),
    Column("dual_use", Boolean, nullable=True),
    Column("note", Text, nullable=True),
    Column("assessment_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
)

CHAINS = (assessments, reviews)
# Keys of the PostgreSQL advisory locks that serialise appends, one per chain.
_LOCK_KEYS = {
    t.name: int.from_bytes(hashlib.sha256(f"duc.audit.{t.name}".encode()).digest()[:8], "big",
                           signed=True)
    for t in CHAINS
}

# Built once: compiling a fresh statement per append cost more than the write itself.
_HEADS = {t.name: select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1) for t in CHAINS}
_INSERTS = {t.name: insert(t) for t in CHAINS}

_PG_APPEND_ONLY_FUNCTION = DDL(
    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
    "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $fn$"
)
for _table in CHAINS:
    event.listen(_table, "after_create", _PG_APPEND_ONLY_FUNCTION.execute_if(dialect="postgresql"))
    event.listen(_table, "after_create", DDL(
        f"CREATE TRIGGER {_table.name}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        f"ON {_table.name} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
    ).execute_if(dialect="postgresql"))
    for _action in ("UPDATE", "DELETE"):
        event.listen(_table, "after_create", DDL(
            f"CREATE TRIGGER {_table.name}_no_{_action.lower()} BEFORE {_action} "
            f"ON {_table.name} BEGIN SELECT RAISE(ABORT, '{_table.name} is append-only'); END"
        ).execute_if(dialect="sqlite"))


def new_id(prefix: str) -> str:
    """``prefix`` + a ULID: 48-bit millisecond time and 80 random bits, sortable by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def canonical_json(value: Any) -> str:
    """The one serialisation that is stored and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def utc_iso(moment: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds (SQLite returns naive UTC datetimes)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(table: Table, row: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a stored row's content (every column but ``hash``)."""
    content: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "hash":
            continue
        value = row[column.name]
        if column.info.get("json"):
            value = json.loads(value)
        elif isinstance(value, datetime):
            value = utc_iso(value)
        content[column.name] = value
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ReviewRecord:
    """A reviewer's confirmation or correction of one assessment."""

    id: str
    assessment_id: str
    org_id: int
    created_at: datetime
    reviewer: str
    verdict: str
    code: str | None
    dual_use: bool | None
    note: str | None
    seq: int
    hash: str


@dataclass(frozen=True)
class AssessmentRecord:
    """One stored assessment, as recorded, with the reviews attached to it since."""

    id: str
    org_id: int
    created_at: datetime
    reference: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    versions: dict[str, Any]
    seq: int
    hash: str
    reviews: list[ReviewRecord] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewedAssessment:
    """A review joined to the request and response of the assessment it reviews."""

    review: ReviewRecord
    request: dict[str, Any]
    response: dict[str, Any]


@dataclass(frozen=True)
class VerifyReport:
    """The result of walking every chain: counts, heads, and the first break if any."""

    counts: dict[str, int]
    heads: dict[str, str]
    broken_table: str | None = None
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every chain is intact."""
        return self.broken_seq is None

    @property
    def count(self) -> int:
        """Assessments checked."""
        return self.counts.get("assessments", 0)

    def summary(self) -> str:
        """One line for operators."""
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        if self.ok:
            heads = ", ".join(f"{name} head {h[:16]}" for name, h in self.heads.items())
            return f"audit chain intact: {counts} ({heads})"
        return (f"audit chain BROKEN at {self.broken_table} seq {self.broken_seq}: {self.reason} "
                f"(checked {counts})")


class AuditStore:
    """Records assessments and reviews append-only and verifies their hash chains."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"audit store supports SQLite and PostgreSQL, not {engine.dialect.name}")
        self.engine = engine

    def record_assessment(
        self,
        org_id: int,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        versions: Mapping[str, Any],
        *,
        assessment_id: str | None = None,
        created_at: datetime | None = None,
        reference: str | None = None,
    ) -> str:
        """Append one assessment to the chain and return its id."""
        assessment_id = assessment_id or new_id("asm_")
        self._append(assessments, {
            "id": assessment_id,
            "org_id": org_id,
            "created_at": created_at or datetime.now(UTC),
            "reference": reference,
            "request": canonical_json(request),
            "response": canonical_json(response),
            "versions": canonical_json(versions),
        })
        return assessment_id

    def get(self, org_id: int, assessment_id: str) -> AssessmentRecord | None:
        """The organisation's assessment with its reviews; None if absent or another org's."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(assessments).where(
                    assessments.c.id == assessment_id, assessments.c.org_id == org_id
                )
            ).mappings().first()
            if row is None:
                return None
            attached = conn.execute(
                select(reviews).where(reviews.c.assessment_id == assessment_id)
                .order_by(reviews.c.seq)
            ).mappings().all()
        return AssessmentRecord(
            id=row["id"],
            org_id=row["org_id"],
            created_at=_aware(row["created_at"]),
            reference=row["reference"],
            request=json.loads(row["request"]),
            response=json.loads(row["response"]),
            versions=json.loads(row["versions"]),
            seq=row["seq"],
            hash=row["hash"],
            reviews=[_review(r) for r in attached],
        )

    def add_review(
        self,
        org_id: int,
        assessment_id: str,
        *,
        reviewer: str,
        verdict: str,
        code: str | None = None,
        dual_use: bool | None = None,
        note: str | None = None,
    ) -> ReviewRecord | None:
        """Append a review of the organisation's assessment; None if it has no such assessment."""
        with self.engine.connect() as conn:
            assessment_hash = conn.scalar(
                select(assessments.c.hash).where(
                    assessments.c.id == assessment_id, assessments.c.org_id == org_id
                )
            )
        if assessment_hash is None:
            return None
        row = self._append(reviews, {
            "id": new_id("rev_"),
            "assessment_id": assessment_id,
            "org_id": org_id,
            "created_at": datetime.now(UTC),
            "reviewer": reviewer,
            "verdict": verdict,
            "code": code,
            "dual_use": dual_use,
            "note": note,
            "assessment_hash": assessment_hash,
        })
        return _review(row)

    def iter_reviews(self, org_id: int | None = None) -> Iterator[ReviewedAssessment]:
        """Reviews (of one organisation, or all) in chain order, with their assessment."""
        query = (
            select(reviews, assessments.c.request, assessments.c.response)
            .join(assessments, assessments.c.id == reviews.c.assessment_id)
            .order_by(reviews.c.seq)
        )
        if org_id is not None:
            query = query.where(reviews.c.org_id == org_id)
        # Closed explicitly: PostgreSQL streams through a server-side cursor.
        with self.engine.connect() as conn, closing(
            conn.execution_options(yield_per=500).execute(query)
        ) as result:
            for row in result.mappings():
                yield ReviewedAssessment(
                    _review(row), json.loads(row["request"]), json.loads(row["response"])
                )

    def verify(self) -> VerifyReport:
        """Walk both chains in order and report the first row whose seq, link or hash is wrong."""
        counts: dict[str, int] = {}
        heads: dict[str, str] = {}
        with self.engine.connect() as conn:
            for table in CHAINS:
                count, head, broken = _walk(conn, table)
                counts[table.name], heads[table.name] = count, head
                if broken:
                    return VerifyReport(counts, heads, table.name, *broken)
        return VerifyReport(counts, heads)

    def _append(self, table: Table, content: dict[str, Any]) -> dict[str, Any]:
        """Insert ``content`` as the next link of ``table``'s chain, holding the chain's lock."""
        with self.engine.connect() as conn:
            self._lock(conn, table)
            head = conn.execute(_HEADS[table.name]).first()
            row = {**content, "seq": head.seq + 1 if head else 1,
                   "prev_hash": head.hash if head else GENESIS}
            row["hash"] = row_hash(table, row)
            conn.execute(_INSERTS[table.name], row)
            conn.commit()
        return row

    @staticmethod
    def _lock(conn: Connection, table: Table) -> None:
        """Take the chain's write lock for the rest of this transaction."""
        if conn.dialect.name == "sqlite":
            # The write lock up front: a deferred transaction that read the head could not
            # upgrade to writing once another worker had committed (SQLITE_BUSY_SNAPSHOT).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEYS[table.name]})


def _walk(conn: Connection, table: Table) -> tuple[int, str, tuple[int, str] | None]:
    """Check one chain: (rows seen, last hash, (seq, reason) of the first break or None)."""
    query = select(table).order_by(table.c.seq)
    if table is reviews:
        # A review must still point at the exact assessment record it was written against.
        query = (
            select(table, assessments.c.hash.label("current_assessment_hash"))
            .outerjoin(assessments, assessments.c.id == table.c.assessment_id)
            .order_by(table.c.seq)
        )
    with closing(conn.execution_options(yield_per=1000).execute(query)) as result:
        return _check_links(table, result.mappings())


def _check_links(
    table: Table, rows: Iterator[Mapping[str, Any]]
) -> tuple[int, str, tuple[int, str] | None]:
    """Walk rows in seq order; stop at the first missing seq, wrong link or wrong hash."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return count, prev_hash, (expected_seq, f"seq {expected_seq} is missing (next is {seq})")
        if row["prev_hash"] != prev_hash:
            return count, prev_hash, (seq, "prev_hash does not match the previous record's hash")
        try:
            computed = row_hash(table, row)
        except (ValueError, TypeError) as error:
            return count, prev_hash, (seq, f"content is unreadable: {type(error).__name__}")
        if computed != row["hash"]:
            return count, prev_hash, (seq, "content does not match its hash")
        if table is reviews and row["current_assessment_hash"] != row["assessment_hash"]:
            return count, prev_hash, (seq, "the reviewed assessment is missing or was altered")
        expected_seq, prev_hash, count = seq + 1, row["hash"], count + 1
    return count, prev_hash, None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _review(row: Mapping[str, Any]) -> ReviewRecord:
    return ReviewRecord(
        id=row["id"],
        assessment_id=row["assessment_id"],
        org_id=row["org_id"],
        created_at=_aware(row["created_at"]),
        reviewer=row["reviewer"],
        verdict=row["verdict"],
        code=row["code"],
        dual_use=row["dual_use"],
        note=row["note"],
        seq=row["seq"],
        hash=row["hash"],
    )

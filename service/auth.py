"""Organisations and their API keys: keys are shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Request
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    insert,
    select,
)

from service.db import metadata
from service.problems import Unauthorized

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("prefix", String(16), nullable=False),
    # Keys are 32 random bytes, so a plain SHA-256 cannot be brute-forced; no slow KDF needed.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

KEY_PREFIX = "duc_"
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Organisation:
    """The caller, as established by its API key."""

    id: int
    name: str


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(engine: Engine, org_name: str) -> str:
    """Create the organisation if needed and a new key for it; the key is returned only here."""
    org_name = org_name.strip()
    if not org_name:
        raise ValueError("organisation name must not be empty")
    now = datetime.now(UTC)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        org_id = conn.scalar(select(organisations.c.id).where(organisations.c.name == org_name))
        if org_id is None:
            org_id = conn.execute(
                insert(organisations).values(name=org_name, created_at=now)
            ).inserted_primary_key[0]
        conn.execute(
            insert(api_keys).values(
                org_id=org_id, prefix=key[:12], key_hash=hash_key(key), created_at=now
            )
        )
    return key


class KeyStore:
    """Authenticates requests; caches known hashes briefly so a request costs no DB round trip."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[float, Organisation]] = {}

    def authenticate(self, request: Request) -> Organisation:
        """The organisation owning the request's key, or a 401 problem."""
        key = request.headers.get("X-API-Key")
        if key is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            key = token.strip() if scheme.lower() == "bearer" else None
        if not key:
            raise Unauthorized(
                "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. "
                "Create one with 'python -m service create-key <organisation>'."
            )
        digest = hash_key(key)
        cached = self._cache.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        org = self._lookup(digest)
        if org is None:
            raise Unauthorized("The API key is unknown or revoked.")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, org)
        return org

    def _lookup(self, digest: str) -> Organisation | None:
        query = (
            select(organisations.c.id, organisations.c.name)
            .join(api_keys, api_keys.c.org_id == organisations.c.id)
            .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return Organisation(row.id, row.name) if row else None

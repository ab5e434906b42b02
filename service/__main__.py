"""Operator commands: ``python -m service create-key ORG``, ``python -m service verify-audit``."""

from __future__ import annotations

import argparse
import sys

from service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Run one operator command."""
    parser = argparse.ArgumentParser(prog="python -m service")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key for an organisation")
    create.add_argument("organisation")
    commands.add_parser(
        "verify-audit", help="check the audit hash chains; exit 1 at the first broken record"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    from service.audit import AuditStore
    from service.auth import create_key
    from service.db import make_engine, metadata

    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    if args.command == "create-key":
        key = create_key(engine, args.organisation)
        print(f"API key for {args.organisation!r} (shown once, store it safely):\n{key}")
    elif args.command == "verify-audit":
        report = AuditStore(engine).verify()
        print(report.summary())
        return 0 if report.ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

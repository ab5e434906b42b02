"""Where the time of one POST /v1/assessments goes, component by component, in process.

Run: ``.venv/bin/python bench/bench_assessment_profile.py``. Times the real components of the
app (classifier, screener, rules, audit append on a fresh SQLite file) on the same request,
then the whole request through the Flask test client and the bare endpoint for comparison.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section

from service import create_app
from service.audit import new_id
from service.auth import create_key
from service.rules import Facts
from service.settings import Settings

BODY = {
    "item": {"description": "Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe, for servo motors"},
    "destination": "JP",
    "end_user": {"name": "Tokyo Precision Motors K.K.", "country": "JP", "type": "civil"},
    "end_use": "civil",
    "exporter_country": "CN",
    "chinese_origin": True,
    "reference": "PO-4711",
}


def median_us(fn: Callable[[], object], n: int = 400) -> float:
    """Median wall time of ``fn`` in microseconds after a warm-up."""
    for _ in range(20):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    """Time each component and the whole request; write the report."""
    db = Path(tempfile.mkdtemp(prefix="duc-prof-")) / "audit.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", rate_limit="", bench_endpoint=True))
    key = create_key(app.extensions["engine"], "profile")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    ext = app.extensions
    facts = Facts(item_status="cn_listed", code="1C902.a", item_groups=["rare_earth"], destination="JP",
                  end_user_type="civil", end_use="civil", exporter_country="CN", chinese_origin=True)
    response = client.post("/v1/assessments", json=BODY, headers=headers).get_json()
    description = BODY["item"]["description"]
    parts = [
        ("classifier.classify (features, scores, evidence)", lambda: ext["classifier"].classify(description)),
        ("parties.screen (end user)", lambda: ext["parties"].screen(BODY["end_user"]["name"])),
        ("rules.evaluate", lambda: ext["rules"].evaluate(facts, date(2026, 11, 28))),
        ("audit.record_assessment (SQLite append, hash chain)", lambda: ext["audit"].record_assessment(
            1, BODY, response, response["versions"], assessment_id=new_id("asm_"),
            created_at=datetime.now(UTC))),
    ]
    rows = [(name, f"{median_us(fn):.0f}") for name, fn in parts]
    whole = median_us(lambda: client.post("/v1/assessments", json=BODY, headers=headers), 200)
    bare = median_us(lambda: client.post("/bench/bare", json=BODY), 400)
    rows += [("whole POST /v1/assessments (test client)", f"{whole:.0f}"),
             ("bare POST /bench/bare (test client)", f"{bare:.0f}")]
    print(table(["part", "median µs"], rows))
    write_section(
        "assessment-profile",
        "Where an assessment's time goes (in process)",
        "python bench/bench_assessment_profile.py",
        "One request of the HTTP benchmark's shape, each component timed alone on the real app, "
        "then the whole request and the bare endpoint through the Flask test client. Under "
        "gunicorn the audit append also waits for the other worker's write lock (appends are "
        "serialised to keep one hash chain).\n\n" + table(["part", "median µs"], rows)
        + f"\n\nWhole request / bare: {whole / bare:.1f}x the bare endpoint's CPU time. Tried so far: "
        "party screening scores all spellings in vectorised rapidfuzz calls (666 -> ~170 µs), the "
        "classifier builds evidence for a batch in numpy passes, audit statements are compiled "
        "once (2.5 -> 0.75 ms per append), and gunicorn no longer recycles workers every 2,000 "
        "requests (that put 0.5 s spikes into p99). What is left is mostly the classifier's "
        "featurisation and the pydantic models of the decision.",
    )


if __name__ == "__main__":
    main()

"""Published model versions: the manifest format, version resolution and verified loading.

``artifacts/<version>/`` is immutable: ``model.joblib``, ``manifest.json`` (SHA-256 of every
other file, library versions, training-data hash, metrics, label band) and ``MODEL_CARD.md``.
``artifacts/CURRENT`` names the version served unless settings override it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import joblib
from pydantic import BaseModel, Field, ValidationError

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"
CURRENT_FILE = "CURRENT"
# Libraries whose versions must match exactly: a pickle is only trusted by the versions
# that wrote it (scikit-learn warns; numpy/scipy internals change between releases).
PINNED = ("scikit-learn", "numpy", "scipy", "joblib")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


class ArtifactError(Exception):
    """A model artifact is missing, tampered with or written by other library versions."""


class Manifest(BaseModel):
    """What ``manifest.json`` holds for one published version."""

    version: str
    created_at: str
    files: dict[str, str] = Field(description="File name to 'sha256:<hex>'.")
    libraries: dict[str, str] = Field(description="Package to version; python is major.minor.")
    training_data: dict[str, Any] = Field(description="Dataset hash and per-source statistics.")
    band: tuple[float, float] = Field(description="needs_review band [lo, hi) on P(dual-use).")
    metrics: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Versions of the pinned libraries and the Python minor version in this process."""
    versions = {name: package_version(name) for name in PINNED}
    versions["python"] = ".".join(platform.python_version_tuple()[:2])
    return versions


def sha256_file(path: Path) -> str:
    """'sha256:<hex>' of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def resolve_version(artifacts_dir: Path, override: str | None = None) -> str:
    """The version to serve: the override if given, else the one named in ``CURRENT``."""
    if override:
        name = override.strip()
    else:
        pointer = artifacts_dir / CURRENT_FILE
        if not pointer.is_file():
            raise ArtifactError(f"No model published: {pointer} is missing (run `make train`).")
        name = pointer.read_text(encoding="utf-8").strip()
    if not VERSION_RE.match(name):
        raise ArtifactError(f"Invalid model version name {name!r}.")
    return name


def read_manifest(version_dir: Path) -> Manifest:
    """Parse a version's manifest (ArtifactError if missing or malformed)."""
    path = version_dir / MANIFEST_FILE
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactError(f"Model version {version_dir.name!r} has no {MANIFEST_FILE}.") from None
    except ValidationError as error:
        raise ArtifactError(f"Malformed manifest {path}: {error.errors()[0]['msg']}") from None


def verify(version_dir: Path) -> Manifest:
    """Check every file's SHA-256 and the library versions against the manifest."""
    manifest = read_manifest(version_dir)
    if manifest.version != version_dir.name:
        raise ArtifactError(
            f"Manifest names version {manifest.version!r} but sits in {version_dir.name!r}."
        )
    if MODEL_FILE not in manifest.files:
        raise ArtifactError(f"Manifest of {manifest.version} lists no {MODEL_FILE}.")
    for name, expected in sorted(manifest.files.items()):
        path = version_dir / name
        if Path(name).name != name or not path.is_file():
            raise ArtifactError(f"Model {manifest.version}: file {name!r} listed but missing.")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"Model {manifest.version}: {name} has {actual[:19]}..., manifest says "
                f"{expected[:19]}...: the artifact was modified; refusing to load it."
            )
    here = library_versions()
    mismatched = {
        name: (wanted, here.get(name))
        for name, wanted in manifest.libraries.items()
        if here.get(name) != wanted
    }
    if mismatched:
        detail = ", ".join(f"{n} {w} (installed {h})" for n, (w, h) in sorted(mismatched.items()))
        raise ArtifactError(
            f"Model {manifest.version} was written with {detail}; install the pinned versions "
            "from pyproject.toml or retrain with `make train`."
        )
    return manifest


def load_verified(version_dir: Path) -> tuple[dict[str, Any], Manifest]:
    """Verify a version directory, then load its model object and manifest."""
    manifest = verify(version_dir)
    try:
        model = joblib.load(version_dir / MODEL_FILE)
    except Exception as error:  # a verified file that fails to unpickle is still a bad artifact
        raise ArtifactError(f"Model {manifest.version} failed to load: {error}") from error
    if not isinstance(model, dict) or "dual_use" not in model:
        raise ArtifactError(f"Model {manifest.version}: unexpected model file content.")
    return model, manifest


def write_manifest(version_dir: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` (pretty, stable key order)."""
    data = manifest.model_dump(mode="json")
    (version_dir / MANIFEST_FILE).write_text(
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )

"""What produced a derived table: producer, version, settings and inputs, saved beside the data.

Every cache (scores, features) and every analysis result records its `Identity`; a reader asks
for one identity and never mixes two (shared/DESIGN.md, "Identity").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seedscope.errors import SeedscopeError

IDENTITY_FILE = "identity.json"
META_KEY = "seedscope.identity"


def _canonical(value: Any) -> Any:
    """JSON-friendly, order-independent form of settings (tuples become lists, keys sorted)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True, eq=False)
class Identity:
    """The producer of a derived table: its name, version, settings and input identities.

    Two identities are equal when their canonical JSON is (tuples and lists alike).
    """

    producer: str
    version: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (settings canonicalised)."""
        return {
            "producer": self.producer,
            "version": str(self.version),
            "settings": _canonical(dict(self.settings)),
            "inputs": _canonical(dict(self.inputs)),
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal identities give equal text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def describe(self) -> str:
        """A short human form: `gram v1 (size=64, layers=[...])`."""
        opts = ", ".join(f"{k}={v}" for k, v in sorted(self.to_dict()["settings"].items()))
        return f"{self.producer} v{self.version}" + (f" ({opts})" if opts else "")

    def metadata(self) -> dict[str, str]:
        """Parquet key-value metadata that carries this identity."""
        return {META_KEY: self.to_json()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """The identity stored as `to_dict` wrote it."""
        return cls(
            producer=str(data["producer"]),
            version=str(data["version"]),
            settings=dict(data.get("settings") or {}),
            inputs=dict(data.get("inputs") or {}),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Identity:
        """The identity in a JSON text."""
        return cls.from_dict(json.loads(text))


def read_identity(folder: Path) -> Identity | None:
    """The identity recorded in `folder/identity.json`, or None if the folder has none."""
    path = Path(folder) / IDENTITY_FILE
    if not path.is_file():
        return None
    try:
        return Identity.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SeedscopeError(f"cannot read {str(path)!r}: {err}.") from err


def write_identity(folder: Path, identity: Identity) -> None:
    """Record `identity` in `folder/identity.json` (atomically)."""
    from seedscope.store import atomic_write_bytes

    atomic_write_bytes(
        json.dumps(identity.to_dict(), indent=2, sort_keys=True).encode(),
        Path(folder) / IDENTITY_FILE,
    )


def table_identity(metadata: Mapping[bytes, bytes] | None) -> Identity | None:
    """The identity in a Parquet file's schema metadata, if it has one."""
    raw = (metadata or {}).get(META_KEY.encode())
    return None if raw is None else Identity.from_json(raw)

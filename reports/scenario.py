"""Scenario metadata: what a scenario module declares, validated at collection.

Every module under ``scenarios/`` opens with::

    SCENARIO = Scenario(
        seed="000_c6e6876e9d817ea1.txt", lines=(1483, 1812),
        section="Invalid Security Parameter Index Recovery: example",
        claim="Two routers with the basic crypto map build a tunnel on first traffic.",
        feature="site-to-site", topology="scenarios/ios/site_to_site/engine.yaml",
        peers=("engine", "strongswan"))

The report and the conformance matrix are built from these objects only; there
is no second list to keep in sync.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Repository root (this file is ``reports/scenario.py``).
ROOT = Path(__file__).resolve().parent.parent
#: The one place that says where the seed documents live; ``LAB_SEEDS_DIR``
#: overrides it. A clean clone carries vendored copies under ``scenarios/seeds``.
SEEDS_ENV = "LAB_SEEDS_DIR"
DEFAULT_SEEDS_DIR = ROOT / "scenarios" / "seeds"

#: Peers a scenario can run against (matrix columns).
PEERS = ("engine", "strongswan")
PEER_TITLES = {"engine": "engine ↔ engine", "strongswan": "engine ↔ strongSwan"}

_FEATURE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ScenarioError(ValueError):
    """Scenario metadata is missing or wrong; the message names module and field."""


def seeds_dir() -> Path:
    """Directory holding the seed documents (env ``LAB_SEEDS_DIR`` or the vendored copy)."""
    env = os.environ.get(SEEDS_ENV)
    return Path(env) if env else DEFAULT_SEEDS_DIR


@dataclass(frozen=True)
class Scenario:
    """Metadata of one scenario module (one document example or behaviour).

    Attributes:
        seed: file name of the seed document (in :func:`seeds_dir`).
        lines: first and last cited line, 1-based, inclusive.
        section: chapter/section title as the document names it (English).
        claim: the document's claim, one sentence.
        feature: conformance-matrix row (lower-case slug, e.g. ``site-to-site``).
        topology: topology YAML (repo-relative) the scenario uses; optional.
        peers: which far ends run it: ``engine`` and/or ``strongswan``.
        chapter: chapter label used for grouping in the summary (optional).
        notes: deviations from the document a lab had to make, one per item.
    """

    seed: str
    lines: tuple[int, int]
    section: str
    claim: str
    feature: str
    topology: str = ""
    peers: tuple[str, ...] = ("engine",)
    chapter: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def lines_str(self) -> str:
        return f"{self.lines[0]}-{self.lines[1]}"

    def seed_path(self) -> Path:
        return seeds_dir() / self.seed

    def validate(self, where: str = "") -> None:
        """Raise :class:`ScenarioError` naming ``where`` and the bad field."""
        pre = f"{where}: SCENARIO." if where else "SCENARIO."
        for name in ("seed", "section", "claim", "feature"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ScenarioError(f"{pre}{name}: required, got {value!r}")
        if not _FEATURE_RE.match(self.feature):
            raise ScenarioError(f"{pre}feature: {self.feature!r} is not a lower-case slug")
        path = self.seed_path()
        if not path.is_file():
            raise ScenarioError(
                f"{pre}seed: no seed document {self.seed!r} in {path.parent} "
                f"(set {SEEDS_ENV} to the seeds directory)")
        if (not isinstance(self.lines, tuple) or len(self.lines) != 2
                or not all(isinstance(n, int) for n in self.lines)):
            raise ScenarioError(f"{pre}lines: want (first, last) integers, got {self.lines!r}")
        first, last = self.lines
        total = count_lines(path)
        if not 1 <= first <= last <= total:
            raise ScenarioError(
                f"{pre}lines: {first}-{last} is not inside {self.seed} (lines 1-{total})")
        bad = [p for p in self.peers if p not in PEERS]
        if not self.peers or bad:
            raise ScenarioError(f"{pre}peers: {self.peers!r}; allowed: {', '.join(PEERS)}")
        if self.topology and not (ROOT / self.topology).is_file():
            raise ScenarioError(f"{pre}topology: no file {self.topology}")

    def excerpt(self, context: int = 0, limit: int = 400) -> list[tuple[int, str]]:
        """The cited seed lines as (number, text), blank extraction lines dropped."""
        first, last = self.lines
        out: list[tuple[int, str]] = []
        with self.seed_path().open(encoding="utf-8", errors="replace") as fh:
            for no, line in enumerate(fh, 1):
                if no < first - context:
                    continue
                if no > last + context or len(out) >= limit:
                    break
                if line.strip():
                    out.append((no, line.rstrip("\n")))
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lines"] = self.lines_str
        d["peers"] = list(self.peers)
        d["notes"] = list(self.notes)
        return d


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def from_module(module: object, where: str) -> Scenario:
    """Return the validated ``SCENARIO`` of ``module``; raise ScenarioError otherwise."""
    scn = getattr(module, "SCENARIO", None)
    if scn is None:
        raise ScenarioError(
            f"{where}: no SCENARIO metadata; declare SCENARIO = Scenario(seed=..., lines=..., "
            "section=..., claim=..., feature=...) at module level")
    if not isinstance(scn, Scenario):
        raise ScenarioError(f"{where}: SCENARIO must be a reports.scenario.Scenario, "
                            f"got {type(scn).__name__}")
    scn.validate(where)
    return scn

"""Scenario metadata validation, soft checks, evidence files and the report model."""

from __future__ import annotations

import json

import pytest

from reports.build import build
from reports.scenario import Scenario, ScenarioError

SEED = "000_c6e6876e9d817ea1.txt"
META = ('from reports.scenario import Scenario\n'
        'SCENARIO = Scenario(seed="{seed}", lines={lines}, section="Sec", claim="Claim.", '
        'feature="demo-{feat}", peers={peers})\n')


def test_metadata_valid_and_excerpt() -> None:
    s = Scenario(seed=SEED, lines=(944, 946), section="Invalid SPI Recovery", claim="c",
                 feature="invalid-spi-recovery")
    s.validate("x.py")
    assert s.lines_str == "944-946"
    assert any("Invalid Security Parameter Index Recovery" in t for _, t in s.excerpt())


@pytest.mark.parametrize("kw, msg", [
    ({"seed": "nope.txt"}, "SCENARIO.seed: no seed document 'nope.txt'"),
    ({"lines": (10, 9_999_999)}, "SCENARIO.lines: 10-9999999 is not inside"),
    ({"lines": (0, 3)}, "is not inside"),
    ({"feature": "Bad Feature"}, "SCENARIO.feature: 'Bad Feature' is not a lower-case slug"),
    ({"claim": ""}, "SCENARIO.claim: required"),
    ({"peers": ("cisco",)}, "SCENARIO.peers"),
])
def test_metadata_errors_name_the_field(kw: dict, msg: str) -> None:
    base = dict(seed=SEED, lines=(1, 2), section="s", claim="c", feature="f")
    with pytest.raises(ScenarioError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        Scenario(**{**base, **kw}).validate("scenarios/x/test_y.py")


def test_bad_metadata_fails_collection_clearly(scenario_dir) -> None:
    write, run, out = scenario_dir
    write("test_nometa.py", "def test_a():\n    pass\n")
    write("test_badlines.py", META.format(seed=SEED, lines="(5, 99999999)", feat="x",
                                           peers='("engine",)') + "def test_b():\n    pass\n")
    write("test_badseed.py", META.format(seed="missing.txt", lines="(1, 2)", feat="y",
                                          peers='("engine",)') + "def test_c():\n    pass\n")
    res = run()
    text = res.stdout + res.stderr
    assert res.returncode != 0
    assert "test_nometa.py: no SCENARIO metadata" in text
    assert "SCENARIO.lines: 5-99999999 is not inside 000_c6e6876e9d817ea1.txt" in text
    assert "SCENARIO.seed: no seed document 'missing.txt'" in text
    errors = list((out / "collect-errors").glob("*.json"))
    assert len(errors) == 3


SCENARIO_MODULE = META.format(seed=SEED, lines="(944, 1926)", feat="soft",
                              peers='("engine", "strongswan")') + '''
import pytest

def test_soft(ev, peer):
    with ev.step("observe twice"):
        ev.check("first", 1, 2)          # fails, does not raise
        ev.check("second", "ok", "ok")   # still runs
    ev.counters("ctr", {"encaps": 1}, {"encaps": 6})

def test_action_aborts(ev):
    with ev.step("an action that fails"):
        raise RuntimeError("link down failed")
    ev.check("never reached", 1, 1)

def test_passes(ev):
    assert ev.check("fine", [1, 2], [1, 2])

@pytest.mark.skip(reason="needs a thing")
def test_skipped(ev):
    pass
'''


def test_soft_checks_evidence_and_report(scenario_dir) -> None:
    write, run, out = scenario_dir
    write("test_demo.py", SCENARIO_MODULE)
    res = run("-n", "2")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 check(s) failed" in res.stdout and "first: observed 1, expected 2" in res.stdout
    stats = build(out)
    assert stats["count"] == 5 and stats["passed"] == 1 and stats["failed"] == 3
    assert stats["skipped"] == 1
    data = json.loads((out / "results.json").read_text())
    by = {r["id"].split("::")[-1]: r for r in data["results"]}
    soft = by["test_soft[strongswan]"]
    for key in ("id", "seed", "lines", "section", "claim", "feature", "peer", "outcome",
                "duration_s", "checks"):
        assert key in soft
    assert (soft["seed"], soft["lines"], soft["peer"]) == (SEED, "944-1926", "strongswan")
    assert soft["checks"] == [
        {"name": "first", "outcome": "failed", "observed": 1, "expected": 2},
        {"name": "second", "outcome": "passed", "observed": "ok", "expected": "ok"}]
    assert by["test_action_aborts"]["outcome"] == "failed"
    assert "link down failed" in by["test_action_aborts"]["reason"]
    assert by["test_action_aborts"]["checks"] == []
    assert by["test_skipped"]["outcome"] == "skipped"
    index = (out / "index.html").read_text()
    assert 'id="matrix"' in index and "demo-soft" in index
    page = (out / "scenarios" / f"{soft['slug']}.html").read_text()
    assert "Claim." in page and "first" in page and "FAIL" in page
    assert "encaps" in page  # counters partial


def test_partial_run_lists_what_did_not_run(scenario_dir) -> None:
    write, run, out = scenario_dir
    write("test_demo.py", SCENARIO_MODULE)
    assert run("--collect-only").returncode == 0   # collected, nothing ran
    (out / "evidence").mkdir(parents=True, exist_ok=True)
    (out / "evidence" / "garbage.json").write_text("{not json")
    stats = build(out)
    data = json.loads((out / "results.json").read_text())
    assert stats["count"] == 5 and all(not r["ran"] for r in data["results"])
    assert all("did not run" in r["reason"] for r in data["results"])
    assert "did not run" in (out / "index.html").read_text()


def test_build_on_empty_dir(tmp_path) -> None:
    stats = build(tmp_path)
    assert stats["count"] == 0
    assert "no scenario results" in (tmp_path / "index.html").read_text()


def test_build_ignores_files_of_a_concurrent_run(scenario_dir) -> None:
    write, run, out = scenario_dir
    write("test_demo.py", SCENARIO_MODULE)
    assert run("-k", "test_passes", run_id="mine").returncode == 0
    (out / "run.json").write_text(json.dumps({"run_id": "mine"}))
    ev = json.loads(next((out / "evidence").glob("*.json")).read_text())
    (out / "evidence" / "foreign.json").write_text(json.dumps(
        {**ev, "nodeid": "scn/test_other.py::test_x", "run_id": "theirs"}))
    stats = build(out)
    assert stats["count"] == 1 and stats["passed"] == 1   # -k deselected the rest

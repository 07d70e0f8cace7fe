"""Device commands (``show crypto ...``) over the runner's live state.

The show formatters and the command dispatcher belong to ``engine/show``
(config helper); this module hands them the runner's live objects, which
``engine/show/adapter.py`` turns into views.
"""

from __future__ import annotations

from typing import Any


def device_command(runner: Any, cmd: str, want_json: bool) -> dict[str, Any]:
    """Run a device command against ``runner``; reply dict for the control socket."""
    from engine.show import dispatch

    return dispatch(cmd, state_for_show(runner), want_json)


def state_for_show(runner: Any) -> dict[str, Any]:
    """Plain data the show adapter reads (see ``engine/show/adapter.py``)."""
    return {"config": runner.config, "sadb": runner.sadb, "ike_sas": runner.ike_sas,
            "ike": runner.ike, "now": runner.clock.now(), "stats": runner.stats,
            "event_log": list(getattr(runner, "event_log", ())),
            "started": getattr(runner, "started", None)}

"""Control-socket commands of the runner (``lab ...``, ``clear``, ``debug``, show).

A mixin of :class:`engine.runner.Runner`: the methods use the runner's state
(config, SA database, IKE engine, clock, policy routing). Device ``show``
commands go to ``engine.show.dispatch`` through :mod:`engine.dataplane.views`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from engine.ike.events import ChildSaUp, IkeSaUp


class RunnerCommands:
    """Command handlers; mixed into ``Runner`` (see there for the attributes)."""

    # attributes provided by Runner (declared for readers and type checkers)
    config: Any
    sadb: Any
    ike: Any
    clock: Any
    policy: Any
    stats: Any
    syslog: Any
    ike_sas: dict
    pending: dict
    natka: Any
    last_acquire: dict
    spd: Any

    def handle_command(self, cmd: str, want_json: bool) -> dict[str, Any]:
        """Control-socket entry: ``lab ...`` commands here, device commands to show/clear."""
        words = cmd.split()
        if not words:
            return {"ok": True, "output": "", "data": None}
        if words[0] == "lab":
            return self._lab_command(words[1:], cmd)
        low = [w.lower() for w in words]
        if low[:1] == ["clear"] or (len(low) > 1 and low[0] == "cl"):
            return self._clear(low[1:], cmd)
        if self.config.dialect == "ar" and not "show".startswith(low[0]):
            # AR570S: no configuration mode, commands at the prompt configure directly
            return self._configure(cmd)
        debug = self._debug_command(low)
        if debug is not None:
            return debug
        return self._device_command(cmd, want_json)

    def _lab_command(self, words: list[str], cmd: str) -> dict[str, Any]:
        what = words[0] if words else ""
        if what == "clock":
            return _ok(f"{self.clock.now():.3f}", self.clock.snapshot())
        if what == "keys":
            data = self.sadb.export_keys()
            return _ok("\n".join(f"{k['proto']} {k['direction']} 0x{k['spi']:08x} "
                                  f"{k['src']} -> {k['dst']} {k['encr']}/{k['integ']}"
                                  for k in data), data)
        if what == "counters":
            data = {"engine": dict(self.stats), "sadb": dict(self.sadb.counters),
                    "sas": self.sadb.counters_view()}
            return _ok(_json_text(data), data)
        if what == "state":
            data = self.state()
            return _ok(_json_text(data), data)
        if what == "syslog":
            return _ok("\n".join(self.syslog.lines), list(self.syslog.lines))
        if what == "mgmt":  # engine.mgmt: accounting sessions, RADIUS records, notifications
            mgmt = getattr(self, "mgmt", None)
            data = mgmt.status() if mgmt is not None else None
            return _ok(_json_text(data), data)
        if what == "sa-add" and len(words) > 1:
            return self._sa_add(cmd.split(None, 2)[2])
        if what == "config" and len(words) > 1:
            return self._configure(cmd.split(None, 2)[2])
        return {"ok": False, "error": f"% Unknown lab command: {cmd}"}

    def _sa_add(self, text: str) -> dict[str, Any]:
        """Install a manually keyed SA pair (tests, benchmarks): JSON of an IpsecSaPair.

        ``{"peer", "local", "mode", "local_ts", "remote_ts", "inbound": [keys],
        "outbound": [keys], "lifetime_seconds"?, "udp_encap"?}`` with keys
        ``{"spi", "proto", "encr", "encr_key" (hex), "integ", "integ_key" (hex)}``.
        """
        import ipaddress
        import json

        from engine.ike.events import IpsecSaPair, SaKeys, TrafficSelector

        d = json.loads(text)

        def keys(items: list[dict[str, Any]]) -> tuple[SaKeys, ...]:
            return tuple(SaKeys(int(k["spi"]), k.get("proto", "esp"), k.get("encr"),
                                bytes.fromhex(k.get("encr_key", "")), k.get("integ"),
                                bytes.fromhex(k.get("integ_key", ""))) for k in items)

        pair = IpsecSaPair(
            peer=d["peer"], local=d["local"], mode=d.get("mode", "tunnel"),
            inbound=keys(d["inbound"]), outbound=keys(d["outbound"]),
            local_ts=TrafficSelector(ipaddress.ip_network(d["local_ts"])),
            remote_ts=TrafficSelector(ipaddress.ip_network(d["remote_ts"])),
            lifetime_seconds=int(d.get("lifetime_seconds", 3600)),
            lifetime_kilobytes=int(d.get("lifetime_kilobytes", 0)),
            created=self.clock.now(),
            udp_encap=tuple(d["udp_encap"]) if d.get("udp_encap") else None,
            crypto_map=d.get("crypto_map"), crypto_map_seq=d.get("crypto_map_seq"))
        self.sadb.remove_spis(pair.inbound_spis)  # re-adding a manual SA replaces it
        self._install(ChildSaUp(pair), self.clock.now())
        return _ok("", {"spi_in": list(pair.inbound_spis), "spi_out": list(pair.outbound_spis)})

    def _configure(self, line: str) -> dict[str, Any]:
        """``lab config <line>``: configure terminal semantics of the node's dialect."""
        info: list[str] = []
        if self.config.dialect == "ar":
            from engine.config import ar

            before = copy.deepcopy(self.config.crypto_maps)
            err = ar.apply_line(self.config, line, info=info)
            if err is not None:
                return {"ok": False, "error": ar.format_error(err)}
            self._ar_policy_changes(before, line)
        else:
            from engine.config.ios import ModeState, apply_line, format_error, prompt

            if line.strip().lower() == "end":  # leave configuration mode; next line: global
                self._cfg_state = ModeState(file="<lab config>")
                return _ok("", None)
            st = getattr(self, "_cfg_state", None)
            if st is None or st.mode == "exec" or st.ended:
                self._cfg_state = ModeState(file="<lab config>")  # configure terminal
            err = apply_line(self.config, line, self._cfg_state)
            if err is not None:
                return {"ok": False, "error": format_error(err, prompt(self.config,
                                                                       self._cfg_state))}
        now = self.clock.now()
        for e in list(self.sadb.entries):  # SAs of a map no longer applied go (IOS)
            if e.vti:  # tunnel interfaces: engine.dataplane.vti.reconcile below
                continue
            if self._interface_for_map(e.pair.crypto_map) is None:
                self._ike_call("delete_child", e.spi_in, now)
                self.sadb.remove(e)
        self._flush_ike(now)
        if self.policy is not None:
            self.policy.install(self.config, set(self.local_addresses()))
            for e in self.sadb.entries:
                if e.vti:
                    continue
                cm = self._map_entry(e.pair.crypto_map, e.pair.crypto_map_seq)
                if cm is None or cm.dynamic_map:
                    self.policy.ensure_pair(e.pair)
        self.natka.set_interval(self.config.globals.nat_keepalive, self.clock.now())
        if self.spd is not None:
            self.spd.apply(self.config)
        self.sadb.invalidate()
        if self.vti is not None:
            self.vti.reconcile()
        if hasattr(self.ike, "update_config"):
            self._ike_call("update_config", self.config)
        self.install_manual_sas()
        return _ok("\n".join(info), None)

    def _ar_policy_changes(self, before: dict, line: str) -> None:
        """AR: SET/DESTROY IPSEC POLICY re-initialise the policy and delete its SAs
        (seed 002 L4337-4339, L2899-2903); RESET IPSEC POLICY=p deletes them (L3978-3986)."""
        words = line.upper().replace("=", " ").split()
        reset = words[:3] == ["RESET", "IPSEC", "POLICY"] and len(words) > 3
        doomed: set[tuple[str, int]] = set()
        for name, cmap in before.items():
            now_map = self.config.crypto_maps.get(name)
            for seq, entry in cmap.entries.items():
                new = now_map.entries.get(seq) if now_map is not None else None
                if new is None or new != entry or (
                        reset and (entry.description or "").upper() == words[3]):
                    doomed.add((name, seq))
        if not doomed:
            return
        now = self.clock.now()
        for e in list(self.sadb.entries):
            if (e.pair.crypto_map, e.pair.crypto_map_seq) in doomed:
                self._ike_call("delete_child", e.spi_in, now)
                self.sadb.remove(e)
        self._flush_ike(now)

    def install_manual_sas(self) -> None:
        """AR ``KEYMANAGEMENT=MANUAL`` policies: static SA pairs from the config
        (seed 002 L231-383), replacing the ones installed before."""
        if self.config.dialect != "ar":
            return
        from engine.config.ar_derive import manual_sa_pairs

        for spi in getattr(self, "_manual_spis", []):
            self.sadb.remove_spis([spi])
        self._manual_spis: list[int] = []
        for pair in manual_sa_pairs(self.config):
            reply = self._sa_add(json.dumps(pair))
            if reply.get("ok"):
                self._manual_spis += reply["data"]["spi_in"]

    def _debug_command(self, low: list[str]) -> dict[str, Any] | None:
        """``debug crypto isakmp``, ``no debug crypto isakmp``, ``undebug all``."""
        on = None
        if low[:3] == ["debug", "crypto", "isakmp"]:
            on, text = True, "Crypto ISAKMP debugging is on"
        elif low[:4] == ["no", "debug", "crypto", "isakmp"] or \
                low[:3] == ["undebug", "crypto", "isakmp"]:
            on, text = False, "Crypto ISAKMP debugging is off"
        elif low[:2] in (["undebug", "all"], ["no", "debug"]) and len(low) <= 3:
            on, text = False, "All possible debugging has been turned off"
        if on is None:
            return None
        if self.ike is not None:
            self.ike.debug = on
        self.debug_isakmp = on
        return _ok(text, {"isakmp": on})

    def _clear(self, words: list[str], cmd: str) -> dict[str, Any]:
        if words[:2] in (["crypto", "sa"], ["cry", "sa"]) or words[:1] == ["crypto"] and \
                words[1:2] == ["ipsec"]:
            n = len(self.sadb.entries)
            self._ike_call("clear_sa", self.clock.now())
            self._flush_ike(self.clock.now())
            self.sadb.clear()
            self.last_acquire.clear()
            return _ok("", {"cleared": n})
        if words[:2] == ["crypto", "isakmp"]:
            n = len(self.ike_sas)
            self._ike_call("clear_isakmp", self.clock.now())
            self._flush_ike(self.clock.now())
            self.ike_sas.clear()
            return _ok("", {"cleared": n})
        if words[:2] == ["crypto", "session"]:
            self._ike_call("clear_sa", self.clock.now())
            self._ike_call("clear_isakmp", self.clock.now())
            self._flush_ike(self.clock.now())
            self.sadb.clear()
            self.ike_sas.clear()
            return _ok("", None)
        return {"ok": False, "error": f"{cmd}\n% Invalid input detected at '^' marker."}

    def _device_command(self, cmd: str, want_json: bool) -> dict[str, Any]:
        from engine.dataplane.views import device_command

        return device_command(self, cmd, want_json)

    def state(self) -> dict[str, Any]:
        """``lab state``: everything a test may want to look at."""
        return {
            "name": self.name, "clock": self.clock.now(),
            "isakmp_sas": [_ike_view(ev) for ev in self.ike_sas.values()],
            "ipsec_sas": self.sadb.counters_view(),
            "pending_flows": len(self.pending),
            "stats": dict(self.stats),
            "config_errors": [str(e) for e in self.config.errors],
        }


def _ok(output: str, data: Any) -> dict[str, Any]:
    return {"ok": True, "output": output, "data": data}


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, default=str)


def _ike_view(ev: IkeSaUp) -> dict[str, Any]:
    return {"peer": ev.peer[0], "local": ev.local[0], "mode": ev.mode,
            "icookie": ev.icookie.hex(), "rcookie": ev.rcookie.hex(),
            "encryption": ev.encryption, "hash": ev.hash, "group": ev.group,
            "lifetime": ev.lifetime, "nat_t": ev.nat_t, "conn_id": ev.conn_id,
            "initiator": ev.initiator, "created": ev.created}

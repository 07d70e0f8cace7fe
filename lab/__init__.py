"""IPsec conformance lab: topologies of network namespaces, NAT boxes, capture, faults."""

from lab.errors import LabCommandError, LabError, LabTimeout, TopologyError


def __getattr__(name: str):  # lazy: `import lab.schema` must not pull in pyroute2
    if name in ("Lab", "Node", "PingResult", "CommandResult"):
        from lab import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["Lab", "Node", "PingResult", "CommandResult", "LabError", "LabCommandError",
           "LabTimeout", "TopologyError"]

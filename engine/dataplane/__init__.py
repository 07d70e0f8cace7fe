"""Runner plumbing: TUN device, policy routing, raw ESP/AH and UDP sockets, control
commands, syslog, show-state hand-off.

Only the runner uses these; the ESP/AH transforms themselves live in
``engine/esp`` (sans-I/O).
"""

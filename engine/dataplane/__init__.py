"""User-space data plane: TUN device, policy routing, raw ESP/AH and UDP sockets.

Only the runner uses these; the ESP/AH transforms themselves live in
``engine/esp`` (sans-I/O).
"""

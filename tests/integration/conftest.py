"""Integration test set-up.

pyroute2's forked netns helpers must not inherit the lab's SIGTERM handler
(see docs/requests/lab.md, "flaky bring-up").
"""

from pyroute2 import config as _pyroute2_config

_pyroute2_config.disable_mp_signal = True

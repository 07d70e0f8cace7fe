"""Show commands: runtime views (``views.py``), IOS formatters (``ios.py``) and the
exec command dispatcher (``commands.py``).

``dispatch(cmd, state, want_json)`` is what the control socket calls; ``state``
is a ``ShowState`` (with ``config=``) or the runner's state dict.
"""

from engine.show.commands import dispatch, run_show
from engine.show.views import (
    Ident,
    IpsecCounters,
    IpsecFlowView,
    IpsecSaEntryView,
    IsakmpPeerView,
    IsakmpSaView,
    ShowState,
)

__all__ = [
    "Ident",
    "IpsecCounters",
    "IpsecFlowView",
    "IpsecSaEntryView",
    "IsakmpPeerView",
    "IsakmpSaView",
    "ShowState",
    "dispatch",
    "run_show",
]

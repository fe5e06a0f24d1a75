"""What licensing tells the rest of the service; it imports no other app and needs no listener.

- `licence_changing`: seats or the licence are changing in this transaction (sent at once).
  `licensing.state` forgets its cached state on it.
- `licence_changed`: that change is committed (sent on commit, in this process). The PBX link
  listens to (un)subscribe at once; processes that cannot hear it read `Installation.revision`.
"""

from django.dispatch import Signal

licence_changing = Signal()
licence_changed = Signal()

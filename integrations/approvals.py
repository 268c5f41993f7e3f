"""Four-eyes approval: a request that needs it runs only after another person approves it.

Approving and rejecting are status changes, so they live in ``integrations.lifecycle`` with
every other one (one table of moves, one compare-and-set); the names stay importable from here
for code that thinks of them as approvals.
"""

from __future__ import annotations

from integrations.lifecycle import DecisionError, can_decide, decide

__all__ = ["DecisionError", "can_decide", "decide"]

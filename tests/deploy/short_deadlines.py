"""CircuitWorker with deadlines short enough to watch them fire in a test (everything else as deployed)."""

from __future__ import annotations

from intake.circuit_worker import CircuitWorker


class ShortDeadlineWorker(CircuitWorker):
    PROXY_LINE_SECONDS = 1.0
    HEAD_SECONDS = 2.0
    BODY_SECONDS = 2.0

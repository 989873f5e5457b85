"""CircuitWorker that writes how many requests are in threads and waiting for one to ``$EVAC_TEST_QUEUE``,
so a test can wait for the worker to be saturated instead of sleeping (everything else as deployed)."""

from __future__ import annotations

import os
from pathlib import Path

from intake.circuit_worker import CircuitWorker


class ObservedWorker(CircuitWorker):
    def _pump(self) -> None:
        super()._pump()
        target = Path(os.environ["EVAC_TEST_QUEUE"])
        scratch = target.with_suffix(".tmp")
        scratch.write_text(f"{self._busy} {len(self._runq)}")
        scratch.replace(target)

"""Worker failures, shown instead of crashing.

Textual posts `Worker.StateChanged` to the node that started the worker and does not bubble it, so every
screen mixes in `ReportsWorkerErrors`: a failed worker becomes a notification (and, for a transport error,
the header's "connection lost" with a probe until the server answers), and the app keeps running.
"""

from __future__ import annotations

from typing import Any

from textual.worker import Worker, WorkerState

from gtool.grafana.errors import describe as describe_error

__all__ = ["ReportsWorkerErrors", "describe_error"]


class ReportsWorkerErrors:
    """Mixin for screens (first in the bases): hand failed workers to the app's `report_failure`."""

    app: Any

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.report_failure(event.worker, event.worker.error)

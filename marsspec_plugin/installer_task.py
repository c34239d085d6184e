"""The Install and Uninstall buttons' work as a QGIS background task (progress, cancel, log).

The task only adapts :func:`marsspec.core.installer.job.install` to QgsTask: progress to
``setProgress``, cancel to ``isCanceled`` (pip is killed), every pip line to the log file the
dialog opens. On success the folder is put on ``sys.path`` at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qgis.core import QgsTask

from marsspec.core.errors import MarsspecError
from marsspec.core.installer import folder
from marsspec.core.installer.job import InstallOutcome, install
from marsspec.core.installer.plan import InstallPlan


class InstallTask(QgsTask):
    """Install ``plan`` into ``target`` with QGIS's Python ``python``; ``on_done(task)`` runs
    in the main thread afterwards (``task.outcome`` or ``task.error`` set, or cancelled)."""

    def __init__(
        self,
        plan: InstallPlan,
        target: Path,
        python: str,
        log_path: Path,
        on_done: Callable[[InstallTask], None] | None = None,
    ) -> None:
        super().__init__("marsspec: installing Python packages", QgsTask.Flag.CanCancel)
        self.plan, self.target, self.python = plan, Path(target), python
        self.log_path = Path(log_path)
        self.on_done = on_done
        self.outcome: InstallOutcome | None = None
        self.error: str = ""
        self.cancelled = False
        self.pip_started = False

    def run(self) -> bool:  # worker thread: no GUI calls here
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w", encoding="utf-8") as log_file:

            def log(line: str) -> None:
                log_file.write(line + "\n")
                log_file.flush()

            try:
                self.outcome = install(
                    self.plan,
                    self.target,
                    self.python,
                    log=log,
                    progress=lambda fraction: self.setProgress(100.0 * fraction),
                    cancel=self.isCanceled,
                    started=self._started,
                )
            except MarsspecError as exc:
                self.cancelled = self.isCanceled()
                self.error = str(exc)
                log(f"Not installed: {exc}")
                return False
            except Exception as exc:  # never let a worker exception pass unreported
                self.error = f"{type(exc).__name__}: {exc}"
                log(f"Not installed: {self.error}")
                return False
        return True

    def _started(self, process) -> None:
        self.pip_started = True

    def finished(self, result: bool) -> None:  # main thread
        if result:
            folder.activate(self.target)
        elif self.isCanceled():
            self.cancelled = True
        if self.on_done is not None:
            self.on_done(self)

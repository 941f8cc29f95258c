"""Errors that name the stage, the input and what to do next.

A ``StageError`` is for problems that stop a run (bad arguments, an unreadable source, a failed
batch expectation). Problems with one document never raise out of a worker: they become a
quarantine row with a reason (see ``pipeline.records.Quarantined``).
"""

from __future__ import annotations


class NewsEtlError(Exception):
    """Base class of every error news-etl raises on purpose."""


class StageError(NewsEtlError):
    """A run-stopping error in one stage.

    The message reads ``[stage] what happened (source): what to do next`` so that the one line a
    CLI user or an Airflow task log shows is enough to act on.
    """

    def __init__(self, stage: str, message: str, *, source: str | None = None, hint: str | None = None):
        self.stage = stage
        self.message = message
        self.source = source
        self.hint = hint
        text = f"[{stage}] {message}"
        if source:
            text += f" ({source})"
        if hint:
            text += f": {hint}"
        super().__init__(text)


class SourceError(StageError):
    """The source cannot be listed or read at all."""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        super().__init__("fetch", message, source=source, hint=hint)


class BatchValidationError(StageError):
    """A batch-level expectation failed: nothing of the batch is published."""

    def __init__(self, failures: list[str], *, source: str | None = None, report_path: str | None = None):
        self.failures = failures
        hint = "nothing of this batch was published"
        if report_path:
            hint += f"; details in {report_path}"
        super().__init__(
            "validate",
            "batch expectations failed: " + "; ".join(failures),
            source=source,
            hint=hint,
        )


class PublishError(StageError):
    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        super().__init__("write", message, source=source, hint=hint)


class OutputError(StageError):
    """The output is not in a state a run may publish over (a missing ``current`` link, a garbage
    manifest, another schema version, a truncated file): nothing is published or deleted."""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        super().__init__("output", message, source=source, hint=hint)


class OutputBusyError(StageError):
    """Another live run holds the lock of a landing date of this output."""

    def __init__(self, message: str, *, source: str | None = None, hint: str | None = None):
        super().__init__("output", message, source=source, hint=hint)

"""Recall: an editor moment in, the memories that apply out (never imports the pipeline)."""

from carryover.recall.moment import Diagnostic, FailedRun, Moment, RecallOptions, suggest
from carryover.recall.retrieve import Suggestion

__all__ = ["Diagnostic", "FailedRun", "Moment", "RecallOptions", "Suggestion", "suggest"]

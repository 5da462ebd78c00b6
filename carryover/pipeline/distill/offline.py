"""The offline distiller: no model, no network, deterministic.

- **Trajectory**: the task, then every command with its exit code and an output excerpt, every edit
  with a diff excerpt, every error diagnostic, in order (no reasoning, as in the paper).
- **Workflow**: a goal in general terms and the reusable steps the episode's structure shows
  (reproduce, install, edit, validate), commands in generic form; for a failure, the anti-pattern
  seen (unchanged re-runs, edits to files the errors never named, no narrower reproduction).
- **Summary**: what the task was and in what environment, then what was done, how it ended and why.
- **Insight**: from :mod:`carryover.pipeline.distill.rules` (the best one or two shapes, else a general one),
  checked to name nothing from the episode.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from carryover.pipeline.distill.checker import insight_problems
from carryover.pipeline.distill.view import Diagnostics, Edit, EpisodeView, Step
from carryover.pool.records import Kind, MemoryDraft, Outcome, Provenance, Scope
from carryover.vocabulary import languages, output
from carryover.vocabulary import tools as commands

logger = logging.getLogger(__name__)

OFFLINE_NAME = "offline-rules"
TRAJECTORY_CHARS = 6000
_OUTPUT_LINES = 14
_DIFF_LINES = 24


def _first_error_line(text: str) -> str:
    """The telling line of a failed command's output (:func:`carryover.vocabulary.output.error_line`),
    else its last line."""
    found = output.error_line(text)
    if found is not None:
        return found
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][: output.ERROR_LINE_CHARS] if lines else ""


def _excerpt(text: str, lines: int) -> str:
    rows = [row for row in text.splitlines() if row.strip()]
    if len(rows) <= lines:
        return "\n".join(rows)
    return "\n".join([*rows[: lines // 3], "…", *rows[-(lines - lines // 3) :]])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _duration(view: EpisodeView) -> str:
    seconds = int((view.episode.ended_at - view.episode.started_at).total_seconds())
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _join(items: Sequence[str], empty: str = "none") -> str:
    items = [item for item in items if item]
    if not items:
        return empty
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


class OfflineDistiller:
    """Distils one episode with rules only (:class:`~.base.EpisodeDistiller`)."""

    name = OFFLINE_NAME

    # -- the four kinds ---------------------------------------------------------------------------

    def trajectory(self, view: EpisodeView) -> str:
        lines = [f"Task: {view.goal}", f"Outcome: {self._outcome_line(view)}", ""]
        for item in view.items:
            if isinstance(item, Step):
                code = "?" if item.exit_code is None else str(item.exit_code)
                lines.append(f"$ {item.command}   [exit {code}]")
                if item.output.strip() and (item.failed or item.check):
                    lines.append(_indent(_excerpt(item.output, _OUTPUT_LINES)))
            elif isinstance(item, Edit):
                if item.change == "saved":
                    lines.append(f"~ saved {item.path} (+{item.added} −{item.removed})")
                else:
                    lines.append(f"~ {item.change} outside the editor: {item.path}")
                if item.diff:
                    body = [row for row in item.diff.splitlines() if not row.startswith(("---", "+++"))]
                    lines.append(_indent("\n".join(body[:_DIFF_LINES])))
            elif isinstance(item, Diagnostics):
                if item.errors:
                    lines.append(f"! {item.source or 'editor'} errors in {item.path}:")
                    lines.extend("    " + error for error in item.errors[:5])
                else:
                    lines.append(f"! {item.source or 'editor'}: no errors left in {item.path}")
        text = "\n".join(lines)
        if len(text) > TRAJECTORY_CHARS:
            text = text[: TRAJECTORY_CHARS - 40].rsplit("\n", 1)[0] + "\n… (trajectory cut)"
        return text

    def _outcome_line(self, view: EpisodeView) -> str:
        if view.outcome is Outcome.SUCCESS:
            validation = view.validation
            if validation is not None:
                how = "passed on a re-run with no change" if view.rerun_only else "passed after the changes"
                return f"success: `{validation.command}` {how}"
            return "success: the error diagnostics cleared after the changes"
        return f"failure: the failure was still standing when work stopped ({_duration(view)})"

    def _general_goal(self, view: EpisodeView) -> str:
        first = view.first_failure
        if isinstance(first, Step):
            family = commands.shape(first.command).family
            label = "npm test" if family == "js test" else family
            if label.endswith(("test", "spec")):
                return f"Make a failing {label} run pass"
            if any(word in label for word in ("pytest", "jest", "vitest", "mocha")):
                return f"Make a failing {label} test run pass"
            return f"Make a failing {label} command pass"
        if isinstance(first, Diagnostics):
            source = first.source if first.source and first.source != "editor" else "editor"
            return f"Clear an error reported by the {source} diagnostics"
        return "Resolve a failing check"

    def workflow(self, view: EpisodeView) -> tuple[str, str]:
        """``(goal, content)``: the reusable steps (success) or the anti-pattern (failure)."""
        goal = self._general_goal(view)
        first = view.first_failure
        failing_generic = commands.generic_command(first.command) if isinstance(first, Step) else ""
        installs = [
            step for step in view.changes_before_validation if isinstance(step, Step) and step.install
        ]
        edits = [edit for edit in view.edits if edit.change != "bulk"]
        kinds = sorted({_file_role(edit.path) for edit in edits})
        steps: list[str] = []
        if view.outcome is Outcome.SUCCESS:
            if failing_generic:
                steps.append(f"Reproduce: run `{failing_generic}` and read the first error.")
            elif isinstance(first, Diagnostics):
                steps.append("Read the first error diagnostic and open the code it points at.")
            for step in installs[:2]:
                steps.append(
                    f"Change the dependencies: `{commands.generic_command(step.command) or step.command}`."
                )
            if view.rerun_only:
                steps.append(
                    "Re-run the same command without changes: it passed, so the failure was intermittent."
                )
            elif edits:
                steps.append(f"Edit {_join(kinds)} ({len(edits)} change{'s' if len(edits) != 1 else ''}).")
            validation = view.validation
            if validation is not None:
                steps.append(
                    f"Validate: run `{commands.generic_command(validation.command)}` again until it passes."
                )
            else:
                steps.append("Validate: save and check that the diagnostic is gone.")
            content = "Goal: " + goal + "\nSteps:\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
            return goal, content
        retries = view.unchanged_retries
        error_paths = [path for path in view.paths if path and path in view.error_text]
        unrelated = [edit.path for edit in edits if error_paths and edit.path not in error_paths]
        anti: list[str] = []
        if retries:
            anti.append(
                f"re-ran the failing command {retries} time{'s' if retries != 1 else ''} with nothing changed"
            )
        if unrelated:
            anti.append(f"edited {len(unrelated)} file(s) that no error named")
        if not edits and not installs:
            anti.append("made no change after the failure")
        if len([s for s in view.failures]) >= 3:
            anti.append(f"ran the failing check {len(view.failures)} times without narrowing it down")
        if not anti:
            anti.append("stopped with the failure unexplained")
        avoid = [
            "Reproduce with the narrowest failing case and read the first error before editing.",
            "Change one thing at a time and re-run the same check after each change.",
        ]
        if failing_generic:
            avoid.append(f"Do not stop until `{failing_generic}` passes, or record why it cannot.")
        content = (
            "Goal: " + goal + "\nAnti-pattern (this attempt failed): " + "; ".join(anti) + ".\n"
            "Instead:\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(avoid, 1))
        )
        return goal, content

    def summary(self, view: EpisodeView) -> tuple[str, str]:
        """``(task_summary, experience_summary)``."""
        languages = _join(list(view.languages), "an unknown language")
        tools = _join(list(view.tools), "no named tool")
        first = view.first_failure
        if isinstance(first, Step):
            error = _first_error_line(first.output) or f"exit code {first.exit_code}"
            start = f"`{first.command}` failed ({error})"
        elif isinstance(first, Diagnostics):
            reported = first.errors[0] if first.errors else "an error"
            start = f"{first.source or 'the editor'} reported {reported} in {first.path}"
        else:
            start = "a check failed"
        where = view.episode.workspace or "a workspace"
        task = f"Task: {view.goal.rstrip('.')}. Environment: {languages} with {tools}, in {where}."
        edits = [edit for edit in view.edits if edit.change != "bulk"]
        files = _join(list(dict.fromkeys(edit.path for edit in edits))[:4], "no files")
        installs = [step.command for step in view.steps if step.install and step.exit_code == 0]
        actions = f"{len(edits)} edit(s) to {files}"
        if installs:
            actions += f" and {_join([f'`{c}`' for c in installs[:2]])}"
        from carryover.pipeline.distill.rules import match_shapes

        shapes = match_shapes(view)
        why_shape = shapes[0]
        if view.outcome is Outcome.SUCCESS:
            validation = view.validation
            if view.rerun_only and validation is not None:
                ending = (
                    f"`{validation.command}` passed on a plain re-run with nothing changed, so the failure "
                    "was intermittent rather than fixed"
                )
            elif validation is not None:
                ending = f"`{validation.command}` then passed, which validated the change"
            else:
                ending = "the error diagnostics cleared after the change"
            why = f"Lesson: {why_shape.success.title}."
        else:
            ending = f"the failure was still standing when work stopped after {_duration(view)}"
            why = f"Lesson from the failure: {why_shape.failure.title}."
        experience = (
            f"In a {languages} project using {tools}, {start}. Then {actions} followed; {ending}. {why}"
        )
        return task, experience

    # -- drafts ---------------------------------------------------------------------------------

    def distill_episode(self, view: EpisodeView) -> list[MemoryDraft]:
        """The four kinds of memory for one episode."""
        provenance = Provenance(
            episode_ids=(view.episode.id,),
            workspace=view.episode.workspace,
            source="distiller",
            distilled_by=self.name,
        )
        outcome = view.outcome
        languages = view.languages
        tools = view.tools
        goal, workflow = self.workflow(view)
        task, experience = self.summary(view)
        check = commands.generic_command(view.validation_command) if view.validation_command else ""
        drafts = [
            MemoryDraft(
                kind=Kind.TRAJECTORY,
                title=_cap(f"Trajectory: {view.goal}"),
                description=_cap(
                    f"{outcome.value}: {len(view.steps)} command(s), {len(view.edits)} edit(s)", 300
                ),
                content=self.trajectory(view),
                outcome=outcome,
                languages=languages,
                tools=tools,
                scope=Scope.PROJECT,
                provenance=provenance,
            ),
            MemoryDraft(
                kind=Kind.WORKFLOW,
                title=_cap(goal if outcome is Outcome.SUCCESS else f"Anti-pattern: {goal.lower()}"),
                description=_cap(f"Workflow ({outcome.value}) for: {goal}", 300),
                content=workflow,
                outcome=outcome,
                languages=languages,
                tools=tools,
                scope=Scope.GLOBAL,
                check_command=check,
                provenance=provenance,
            ),
            MemoryDraft(
                kind=Kind.SUMMARY,
                title=_cap(f"Summary: {view.goal}"),
                description=_cap(task, 600),
                content=experience,
                outcome=outcome,
                languages=languages,
                tools=tools,
                scope=Scope.PROJECT,
                provenance=provenance,
            ),
        ]
        drafts.extend(self.insights(view, provenance))
        return drafts

    def insights(self, view: EpisodeView, provenance: Provenance) -> list[MemoryDraft]:
        from carryover.pipeline.distill.rules import GENERAL, insight_for, match_shapes

        names = view.identifiers()
        check = commands.generic_command(view.validation_command) if view.validation_command else ""
        drafts: list[MemoryDraft] = []
        candidates = match_shapes(view)
        if GENERAL not in candidates:
            candidates.append(GENERAL)  # used only if every fitting shape clashes with a name
        for shape in candidates:
            if shape is GENERAL and drafts:
                break
            text = insight_for(shape, view)
            problems = insight_problems(text, names)
            if problems:  # a template clashing with a name of this episode: try the next shape
                logger.info("rule insight %s skipped: %s", shape.name, "; ".join(problems))
                continue
            drafts.append(
                MemoryDraft(
                    kind=Kind.INSIGHT,
                    title=text.title,
                    description=text.description,
                    content=text.content,
                    outcome=view.outcome,
                    languages=view.languages,
                    tools=view.tools,
                    scope=Scope.GLOBAL,
                    when_not=text.when_not,
                    check_command="" if _names_anything(check, names) else check,
                    provenance=provenance,
                )
            )
            if len(drafts) >= 2:
                break
        return drafts[:2]


def _names_anything(check: str, names: set[str]) -> bool:
    """A check command is built in generic form (no targets); refuse it only if a file name slipped in."""
    from carryover.pipeline.distill.checker import names_file

    del names
    return names_file(check)


def _cap(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _file_role(path: str) -> str:
    lower = path.lower()
    name = lower.rsplit("/", 1)[-1]
    if (
        languages.FILE_NAMES.get(path.rsplit("/", 1)[-1])
        and "." not in name.split(".")[0]
        and (
            name.endswith((".toml", ".json", ".mod", ".sum", ".lock", ".xml", ".gradle", ".txt", ".cfg"))
            or name.startswith(("dockerfile", "gemfile"))
        )
    ):
        return "the build or dependency files"
    if name.startswith("dockerfile"):
        return "the build or dependency files"
    if "test" in name or "/tests/" in lower or "spec" in name or "/__tests__/" in lower:
        return "the tests"
    return "the code"

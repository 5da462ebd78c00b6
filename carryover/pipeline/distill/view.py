"""An episode read back from its events: commands, edits and diagnostics in order, the failure that
opened it, what validated it, and the languages and tools involved. Both distillers work from it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import attrs

from carryover.pipeline.capture.sink import read_payload
from carryover.pipeline.events import (
    DiagnosticsChanged,
    DocumentClosed,
    DocumentOpened,
    DocumentSaved,
    EventPayload,
    FileChanged,
    MalformedEvent,
    ShellCommand,
    TerminalEnded,
)
from carryover.pool.records import Outcome
from carryover.pool.schema import EpisodeRow, EventRow
from carryover.vocabulary import languages as vocabulary_languages
from carryover.vocabulary import output as limits
from carryover.vocabulary import tools as commands

OUTPUT_CHARS = limits.OUTPUT_HEAD_CHARS + limits.OUTPUT_TAIL_CHARS
"""Characters of a command's output head, and of its tail, a distiller reads at most (a head stored
larger, by an earlier version, keeps its start and end)."""


@attrs.frozen
class Step:
    """A command that ran."""

    time: datetime
    event_id: str
    command: str
    cwd: str
    exit_code: int | None
    output: str  # head and tail, bounded
    failed: bool  # a failure by the segmentation rules
    check: bool
    noise: bool
    install: bool
    family: str


@attrs.frozen
class Edit:
    """A save in the editor or a file changed outside it."""

    time: datetime
    event_id: str
    path: str
    change: str  # "saved" | "created" | "modified" | "deleted" | "moved" | "bulk"
    diff: str
    added: int
    removed: int
    source: str


@attrs.frozen
class Diagnostics:
    """A publication of diagnostics for one document."""

    time: datetime
    event_id: str
    path: str
    source: str
    errors: tuple[str, ...]  # messages of severity-1 diagnostics
    after_save: bool


Item = Step | Edit | Diagnostics


def _output_of(payload: TerminalEnded | ShellCommand) -> str:
    if isinstance(payload, ShellCommand):  # the shell hook keeps no output
        return ""
    head, tail = payload.output_head, payload.output_tail
    if len(head) > OUTPUT_CHARS:
        head = head[: OUTPUT_CHARS // 3] + "\n…\n" + head[-OUTPUT_CHARS // 3 :]
    if len(tail) > OUTPUT_CHARS:
        tail = tail[-OUTPUT_CHARS:]
    return head + ("\n…\n" + tail if tail else "")


def _item(row: EventRow, payload: EventPayload) -> Item | None:
    if isinstance(payload, (TerminalEnded, ShellCommand)):
        command = payload.command.strip()
        if not command:
            return None
        code = payload.exit_code
        return Step(
            time=row.time,
            event_id=row.id,
            command=command,
            cwd=payload.cwd,
            exit_code=code,
            output=_output_of(payload),
            failed=commands.failure_counts(command, code),
            check=commands.is_check(command),
            noise=commands.is_noise(command),
            install=commands.is_install(command),
            family=commands.shape(command).family,
        )
    if isinstance(payload, DocumentSaved):
        return Edit(
            time=row.time,
            event_id=row.id,
            path=payload.path,
            change="saved",
            diff=payload.diff,
            added=payload.added,
            removed=payload.removed,
            source=row.source,
        )
    if isinstance(payload, FileChanged):
        return Edit(
            time=row.time,
            event_id=row.id,
            path=payload.path or ", ".join(payload.paths[:5]),
            change=payload.change,
            diff="",
            added=0,
            removed=0,
            source=row.source,
        )
    if isinstance(payload, DiagnosticsChanged):
        errors = tuple(
            " ".join(item.message.split()) + (f" [{item.code}]" if item.code else "")
            for item in payload.diagnostics
            if item.is_error
        )
        return Diagnostics(
            time=row.time,
            event_id=row.id,
            path=payload.path,
            source=payload.source,
            errors=errors,
            after_save=payload.after_save,
        )
    return None


@attrs.frozen
class EpisodeView:
    episode: EpisodeRow
    events: tuple[EventRow, ...]
    items: tuple[Item, ...]
    payloads: tuple[EventPayload, ...] = ()
    """The readable events' payloads, in time order."""
    malformed: tuple[str, ...] = ()
    """Ids of the episode's events whose stored payload could not be read (reported and left out)."""

    @classmethod
    def build(cls, episode: EpisodeRow, events: Sequence[EventRow]) -> EpisodeView:
        ordered = tuple(sorted(events, key=lambda row: (row.time, row.id)))
        payloads: list[EventPayload] = []
        items: list[Item] = []
        malformed: list[str] = []
        for row in ordered:
            payload = read_payload(row)
            if isinstance(payload, MalformedEvent):
                malformed.append(row.id)
                continue
            payloads.append(payload)
            item = _item(row, payload)
            if item is not None:
                items.append(item)
        return cls(
            episode=episode,
            events=ordered,
            items=tuple(items),
            payloads=tuple(payloads),
            malformed=tuple(malformed),
        )

    # -- parts ----------------------------------------------------------------------------------

    @property
    def outcome(self) -> Outcome:
        return Outcome.SUCCESS if self.episode.outcome == Outcome.SUCCESS.value else Outcome.FAILURE

    @property
    def goal(self) -> str:
        return self.episode.goal

    @property
    def steps(self) -> list[Step]:
        return [item for item in self.items if isinstance(item, Step)]

    @property
    def edits(self) -> list[Edit]:
        return [item for item in self.items if isinstance(item, Edit)]

    @property
    def diagnostics(self) -> list[Diagnostics]:
        return [item for item in self.items if isinstance(item, Diagnostics)]

    @property
    def failures(self) -> list[Step]:
        return [step for step in self.steps if step.failed]

    @property
    def first_failure(self) -> Step | Diagnostics | None:
        for item in self.items:
            if isinstance(item, Step) and item.failed:
                return item
            if isinstance(item, Diagnostics) and item.errors:
                return item
        return None

    @property
    def validation(self) -> Step | None:
        """The passing run that validated the first failing command (success episodes)."""
        failing = next((step for step in self.steps if step.failed), None)
        if failing is None or self.outcome is not Outcome.SUCCESS:
            return None
        failing_shape = commands.shape(failing.command)
        for step in self.steps:
            if (
                step.time >= failing.time
                and step.exit_code == 0
                and commands.validates(commands.shape(step.command), failing_shape)
            ):
                return step
        return None

    @property
    def validation_command(self) -> str:
        step = self.validation
        if step is not None:
            return step.command
        failing = self.first_failure
        return failing.command if isinstance(failing, Step) else ""

    @property
    def changes_before_validation(self) -> list[Edit | Step]:
        """Edits and dependency commands between the first failure and the validating run."""
        first = self.first_failure
        start = first.time if first is not None else datetime.min
        validation = self.validation
        end = validation.time if validation is not None else datetime.max
        changes: list[Edit | Step] = []
        for item in self.items:
            if not (start <= item.time <= end):
                continue
            if isinstance(item, Edit) or (
                isinstance(item, Step)
                and item.exit_code == 0
                and (item.install or not (item.noise or item.check))
            ):
                changes.append(item)
        return changes

    @property
    def rerun_only(self) -> bool:
        """Success by re-running the failing command with no change in between (a flaky result)."""
        validation = self.validation
        if validation is None:
            return False
        failing_shape = commands.shape(validation.command)
        last_failure = None
        for step in self.steps:
            if (
                step.failed
                and step.time <= validation.time
                and commands.validates(failing_shape, commands.shape(step.command))
            ):
                last_failure = step
        if last_failure is None:
            return False
        return not any(
            last_failure.time <= item.time <= validation.time
            for item in self.changes_before_validation
            if item is not last_failure and item is not validation
        )

    @property
    def unchanged_retries(self) -> int:
        """How many times a failing command was re-run with no change since its previous failure."""
        count = 0
        last_by_family: dict[str, datetime] = {}
        changed_at: list[datetime] = [
            item.time
            for item in self.items
            if isinstance(item, Edit)
            or (
                isinstance(item, Step)
                and item.exit_code == 0
                and (item.install or not (item.noise or item.check))
            )
        ]
        for step in self.steps:
            if not step.failed:
                continue
            key = f"{step.family}\x1f{step.command}"
            previous = last_by_family.get(key)
            if previous is not None and not any(previous < t < step.time for t in changed_at):
                count += 1
            last_by_family[key] = step.time
        return count

    # -- text for rules and prompts -------------------------------------------------------------

    @property
    def error_text(self) -> str:
        """The failing commands' output and the error diagnostics' messages."""
        parts: list[str] = []
        for item in self.items:
            if isinstance(item, Step) and item.failed:
                parts.append(item.output)
            elif isinstance(item, Diagnostics) and item.errors:
                parts.extend(item.errors)
        return "\n".join(parts)

    @property
    def diff_text(self) -> str:
        return "\n".join(edit.diff for edit in self.edits if edit.diff)

    def diff_lines(self, sign: str) -> list[str]:
        """Added (``+``) or removed (``-``) lines of every diff, without the sign."""
        header = sign * 3
        return [
            line[1:]
            for edit in self.edits
            for line in edit.diff.splitlines()
            if line.startswith(sign) and not line.startswith(header)
        ]

    @property
    def paths(self) -> list[str]:
        found: dict[str, None] = {}
        for item in self.items:
            if isinstance(item, (Edit, Diagnostics)) and item.path:
                found[item.path] = None
        return list(found)

    @property
    def tools(self) -> tuple[str, ...]:
        tools: dict[str, None] = {}
        for step in self.steps:
            if step.noise:
                continue
            if step.failed or step.check or step.install:
                name = commands.tool(commands.first_command(step.command))
                if name:
                    tools[name.lstrip("./")] = None
        for diagnostics in self.diagnostics:
            if diagnostics.source and diagnostics.source != "editor" and diagnostics.errors:
                tools[diagnostics.source.lower()] = None
        return tuple(tools)

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages of the edited and diagnosed files (editor language ids normalised); the tools'
        languages only when no file says."""
        languages: dict[str, None] = {}
        for payload in self.payloads:
            if isinstance(payload, (DocumentOpened, DocumentSaved, DocumentClosed)):
                language = vocabulary_languages.of_code(payload.language_id)
                if language:
                    languages[language] = None
        for path in self.paths:
            of_path = vocabulary_languages.of_path(path.split(", ")[0])
            if of_path:
                languages[of_path] = None
        if not languages:
            for name in self.tools:
                of_tool = commands.language_of_tool(name)
                if of_tool:
                    languages[of_tool] = None
        return tuple(languages)

    def identifiers(self) -> set[str]:
        """Names from this episode that an insight must not repeat: file names and stems, code-like
        words of the diffs, errors and commands, and quoted strings of the error output."""
        names: set[str] = set()
        for path in self.paths:
            for part in re.split(r"[/\\]", path):
                if part:
                    names.add(part)
                    stem = part.rsplit(".", 1)[0]
                    if stem:
                        names.add(stem)
        text = "\n".join([self.error_text, self.diff_text, *(step.command for step in self.steps)])
        for token in re.findall(r"[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*", text):
            for part in re.split(r"\.|::", token):
                if _code_like(part):
                    names.add(part)
            if "." in token or "::" in token:
                names.add(token)
        for quoted in re.findall(r"""['"`‘’“”]([^'"`‘’“”\n]{2,60})['"`‘’“”]""", self.error_text):
            names.add(quoted.strip())
        return {name for name in names if len(name) >= 3}


def _code_like(word: str) -> bool:
    """snake_case, camelCase, or containing digits: a name from code, not an English word."""
    if len(word) < 3:
        return False
    return (
        ("_" in word.strip("_") and any(c.isalpha() for c in word))
        or re.search(r"[a-z][A-Z]", word) is not None
        or (re.search(r"\d", word) is not None and re.search(r"[A-Za-z]", word) is not None)
    )

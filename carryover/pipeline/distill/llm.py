"""The model distiller: any OpenAI-compatible chat endpoint through the ``openai`` client.

Per episode it asks three questions (Workflow, Summary, Insight; each with a success and a failure
prompt) and builds the Trajectory itself. Every reply must be one JSON object that validates against
the kind's schema; an Insight must also pass :func:`carryover.pipeline.distill.checker.insight_problems` (no
file, identifier or literal). A reply that fails is sent back once (``max_repairs``) with what was
wrong; if the repair fails too, that kind comes from the offline distiller instead, marked so in
``distilled_by``.

Transport problems (connection refused, timeouts, HTTP errors after the client's retries with
backoff, a body that is not JSON) raise :class:`~.base.EndpointUnavailable`: the episode
stays queued and is retried later. Everything sent is redacted first, and again as a whole prompt.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carryover.pipeline.distill import prompts
from carryover.pipeline.distill.base import (
    EndpointUnavailable,
)
from carryover.pipeline.distill.checker import InsightText, insight_problems, text_problems
from carryover.pipeline.distill.offline import OfflineDistiller
from carryover.pipeline.distill.view import EpisodeView
from carryover.pool.records import Kind, MemoryDraft, Outcome, Provenance, Scope
from carryover.pool.redaction import redact_text
from carryover.vocabulary import tools as commands

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

ENV_BASE_URL = "CARRYOVER_DISTILL_BASE_URL"
ENV_MODEL = "CARRYOVER_DISTILL_MODEL"
ENV_API_KEY = "CARRYOVER_DISTILL_API_KEY"
_NO_KEY = "no-key"


# --------------------------------------------------------------------------------------------------
# Reply schemas
# --------------------------------------------------------------------------------------------------


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class WorkflowReply(_Reply):
    goal: str = Field(min_length=3, max_length=400)
    steps: list[str] = Field(min_length=1, max_length=12)
    anti_pattern: str = ""


class SummaryReply(_Reply):
    task_summary: str = Field(min_length=10, max_length=1500)
    experience_summary: str = Field(min_length=20, max_length=4000)


class InsightReply(_Reply):
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=5, max_length=400)
    content: str = Field(min_length=5, max_length=1200)
    languages: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    when_not: str = ""
    check_command: str = ""


_R = TypeVar("_R", bound=_Reply)


@attrs.frozen
class LLMSettings:
    """Where and how to ask. ``repr`` hides the key."""

    model: str
    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout_s: float = 20.0
    """One attempt's limit."""
    max_retries: int = 2
    deadline_s: float = 30.0
    """The limit of one request with all its retries: a silent endpoint costs at most this."""
    max_repairs: int = 1
    json_mode: bool = True
    temperature: float = 0.2
    max_record_chars: int = 12_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> LLMSettings | None:
        """From ``CARRYOVER_DISTILL_MODEL`` / ``CARRYOVER_DISTILL_BASE_URL`` /
        ``CARRYOVER_DISTILL_API_KEY`` (else ``OPENAI_API_KEY``). None when neither a model nor a
        base URL is configured: nothing is sent anywhere unless the user asked for it."""
        env = os.environ if environ is None else environ
        model = env.get(ENV_MODEL) or ""
        base_url = env.get(ENV_BASE_URL) or None
        if not model and not base_url:
            return None
        key = env.get(ENV_API_KEY) or env.get("OPENAI_API_KEY") or None
        return cls(model=model or "default", base_url=base_url, api_key=key, **overrides)


def _strip_fences(text: str) -> str:
    text = text.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.DOTALL)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start > 0 and end > start:
        return text[start : end + 1]
    return text


def _describe_validation(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:6]:
        where = ".".join(str(part) for part in item.get("loc", ())) or "reply"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMDistiller:
    """Distils one episode with a chat model (:class:`~.base.EpisodeDistiller`). Thread-safe."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._offline = OfflineDistiller()
        self._client: openai.OpenAI | None = None
        self._json_mode = settings.json_mode
        self._lock = threading.Lock()
        self.repairs = 0
        self.fallbacks = 0
        self.rejected: list[str] = []

    @property
    def name(self) -> str:
        return f"llm:{self.settings.model}"

    # -- transport --------------------------------------------------------------------------------

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                import openai

                settings = self.settings
                key = settings.api_key or (_NO_KEY if settings.base_url else None)
                try:
                    self._client = openai.OpenAI(
                        base_url=settings.base_url,
                        api_key=key,
                        timeout=min(settings.timeout_s, settings.deadline_s),
                        max_retries=0,  # retried in complete(), within the deadline
                    )
                except openai.OpenAIError as error:
                    raise EndpointUnavailable(f"cannot set up the model client: {error}") from error
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text

    def complete(self, messages: list[dict[str, str]], deadline: float | None = None) -> str:
        """The assistant's reply to ``messages`` (redacted before sending). Attempts (the first and
        up to ``max_retries`` more, for timeouts, lost connections and 5xx answers) all end by
        ``deadline_s`` after the first began."""
        if deadline is None:
            deadline = time.monotonic() + self.settings.deadline_s
        last = f"timed out: no answer within {self.settings.deadline_s:g} s"
        for attempt in range(self.settings.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0.05:
                break
            try:
                return self._complete_once(messages, min(self.settings.timeout_s, remaining), deadline)
            except _Retryable as error:
                logger.info("model endpoint attempt %d failed: %s", attempt + 1, error.reason)
                last = error.reason
        raise EndpointUnavailable(last)

    def _complete_once(self, messages: list[dict[str, str]], timeout_s: float, deadline: float) -> str:
        import openai

        client = self._get_client().with_options(timeout=timeout_s)
        safe = [{"role": m["role"], "content": redact_text(m["content"])} for m in messages]
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": safe,
            "temperature": self.settings.temperature,
        }
        if self._json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            response = client.chat.completions.create(**kwargs)
        except openai.BadRequestError as error:
            if self._json_mode:  # some servers do not know response_format: ask once more without it
                logger.info("endpoint refused JSON mode (%s); retrying without it", error.status_code)
                self._json_mode = False
                return self.complete(messages, deadline)
            raise EndpointUnavailable(self._scrub(f"HTTP {error.status_code}: {error.message}")) from error
        except openai.APITimeoutError as error:
            raise _Retryable(f"timed out after {timeout_s:.3g} s") from error
        except openai.APIConnectionError as error:
            raise _Retryable(self._scrub(f"cannot connect: {error}")) from error
        except openai.APIStatusError as error:
            message = self._scrub(f"HTTP {error.status_code}: {error.message}")
            if error.status_code >= 500 or error.status_code == 429:
                raise _Retryable(message) from error
            raise EndpointUnavailable(message) from error
        except (openai.OpenAIError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise EndpointUnavailable(
                self._scrub(f"malformed reply ({type(error).__name__}: {error})")
            ) from error
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as error:
            raise EndpointUnavailable(f"malformed reply: {error}") from error
        return content or ""

    # -- asking ---------------------------------------------------------------------------------

    def _ask(
        self,
        kind: str,
        outcome: str,
        record: str,
        model: type[_R],
        check: Any = None,
    ) -> _R | None:
        messages = [
            {"role": "system", "content": prompts.SYSTEM},
            {"role": "user", "content": prompts.PROMPTS[(kind, outcome)].format(record=record)},
        ]
        for attempt in range(1 + self.settings.max_repairs):
            content = self.complete(messages)
            problems: list[str] = []
            reply: _R | None = None
            try:
                raw = json.loads(_strip_fences(content))
                if not isinstance(raw, dict):
                    raise ValueError("the reply is not a JSON object")
                reply = model.model_validate(raw)
            except ValidationError as error:
                problems.append(f"it does not match the schema ({_describe_validation(error)})")
            except ValueError as error:
                problems.append(f"it is not a JSON object ({str(error)[:120]})")
            if reply is not None and check is not None:
                problems.extend(check(reply))
            if not problems and reply is not None:
                return reply
            self.rejected.append(f"{kind}: {'; '.join(problems)}")
            logger.info("model %s reply rejected (attempt %d): %s", kind, attempt + 1, "; ".join(problems))
            if attempt < self.settings.max_repairs:
                self.repairs += 1
                messages.append({"role": "assistant", "content": content[:4000]})
                messages.append(
                    {"role": "user", "content": prompts.REPAIR.format(problems="; ".join(problems))}
                )
        return None

    def record(self, view: EpisodeView) -> str:
        """What the model sees: task, outcome, environment, then the trajectory (bounded)."""
        trajectory = self._offline.trajectory(view)
        limit = self.settings.max_record_chars
        if len(trajectory) > limit:
            trajectory = trajectory[: limit // 3] + "\n…\n" + trajectory[-(2 * limit) // 3 :]
        header = (
            f"Languages: {', '.join(view.languages) or 'unknown'}\n"
            f"Tools: {', '.join(view.tools) or 'unknown'}\n"
            f"Outcome: {view.outcome.value}\n"
        )
        return redact_text(header + trajectory)

    # -- distilling -----------------------------------------------------------------------------

    def distill_episode(self, view: EpisodeView) -> list[MemoryDraft]:
        outcome = view.outcome.value
        record = self.record(view)
        names = view.identifiers()
        provenance = Provenance(
            episode_ids=(view.episode.id,),
            workspace=view.episode.workspace,
            source="distiller",
            distilled_by=self.name,
        )
        fallback = attrs.evolve(
            provenance, distilled_by=f"{self._offline.name} (model reply unusable: {self.name})"
        )
        offline = {draft.kind: draft for draft in self._offline.distill_episode(view)}

        def workflow_check(reply: WorkflowReply) -> list[str]:
            if outcome == "failure" and not reply.anti_pattern:
                return ["anti_pattern is missing for a failed episode"]
            return []

        def insight_check(reply: InsightReply) -> list[str]:
            text = InsightText(reply.title, reply.description, reply.content, reply.when_not)
            problems = insight_problems(text, names)
            if reply.check_command:
                problems.extend(
                    p
                    for p in text_problems(reply.check_command, "check_command", names)
                    if "file or path" in p or "repeats" in p
                )
            return problems

        workflow = self._ask("workflow", outcome, record, WorkflowReply, workflow_check)
        summary = self._ask("summary", outcome, record, SummaryReply)
        insight = self._ask("insight", outcome, record, InsightReply, insight_check)

        drafts: list[MemoryDraft] = [attrs.evolve(offline[Kind.TRAJECTORY], provenance=provenance)]
        if workflow is not None:
            lines = [f"Goal: {workflow.goal}"]
            if workflow.anti_pattern:
                lines.append(f"Anti-pattern (this attempt failed): {workflow.anti_pattern}")
                lines.append("Instead:")
            else:
                lines.append("Steps:")
            lines.extend(f"{index}. {step}" for index, step in enumerate(workflow.steps, 1))
            drafts.append(
                MemoryDraft(
                    kind=Kind.WORKFLOW,
                    title=workflow.goal[:200]
                    if outcome == "success"
                    else f"Anti-pattern: {workflow.goal}"[:200],
                    description=f"Workflow ({outcome}) for: {workflow.goal}"[:300],
                    content="\n".join(lines),
                    outcome=Outcome(outcome),
                    languages=view.languages,
                    tools=view.tools,
                    scope=Scope.GLOBAL,
                    check_command=offline[Kind.WORKFLOW].check_command,
                    provenance=provenance,
                )
            )
        else:
            self.fallbacks += 1
            drafts.append(attrs.evolve(offline[Kind.WORKFLOW], provenance=fallback))
        if summary is not None:
            drafts.append(
                attrs.evolve(
                    offline[Kind.SUMMARY],
                    description=summary.task_summary[:600],
                    content=summary.experience_summary,
                    provenance=provenance,
                )
            )
        else:
            self.fallbacks += 1
            drafts.append(attrs.evolve(offline[Kind.SUMMARY], provenance=fallback))
        if insight is not None:
            check = insight.check_command or (
                commands.generic_command(view.validation_command) if view.validation_command else ""
            )
            drafts.append(
                MemoryDraft(
                    kind=Kind.INSIGHT,
                    title=insight.title,
                    description=insight.description,
                    content=insight.content,
                    outcome=Outcome(outcome),
                    languages=tuple(dict.fromkeys([*view.languages, *insight.languages])),
                    tools=tuple(dict.fromkeys([*view.tools, *insight.tools])),
                    scope=Scope.GLOBAL,
                    when_not=insight.when_not,
                    check_command=check,
                    provenance=provenance,
                )
            )
        else:
            self.fallbacks += 1
            insights = self._offline.insights(view, fallback)
            drafts.extend(insights[:1])
        return drafts

"""Our prompts for the model distiller: one per kind and outcome, after the paper's method.

The paper distilled with a success prompt and a failure prompt per kind: the Workflow as a goal and
one reusable base workflow (for a failure, the anti-pattern), the Summary as a task summary and an
experience summary that says why it worked or failed, the Insight as exactly one item with a title,
a one-sentence description and one to three sentences of content that mention no specific file,
query or string. The Trajectory needs no model. The wording here is ours.
"""

from __future__ import annotations

SYSTEM = (
    "You turn the record of one piece of a developer's work into memory that helps with later, different "
    "work. The record was captured from an editor and a terminal: commands with exit codes and output, edits "
    "as diffs, and error diagnostics. Secrets appear as [REDACTED:kind]; never guess them. Answer with one "
    "JSON object that follows the schema you are given, and nothing else: no prose, no code fences."
)

_RECORD_INTRO = "Here is the record.\n\n{record}\n\n"

WORKFLOW_SUCCESS = (
    _RECORD_INTRO
    + "This episode ended in a validated success: the check that failed passed after the changes. "
    "Extract the one reusable base workflow it shows: how the problem was located, what kind of change "
    "fixed it, and how the fix was verified. Leave out dead ends. Write each step as a short imperative "
    "sentence; where a command helps, give it in general form, without file names, test names or "
    "literal values.\n\n"
    'Schema: {{"goal": "one sentence naming the kind of task this workflow solves, in general terms", '
    '"steps": ["three to eight steps"]}}'
)

WORKFLOW_FAILURE = (
    _RECORD_INTRO
    + "This episode ended in failure: the problem was still unsolved when work stopped. Describe the "
    "approach that did not work as an anti-pattern to avoid (for example repeating a command with "
    "nothing changed, editing code that no error pointed to, or never re-running the check), then the "
    "steps that should have been taken instead. Give commands in general form, without file names, test "
    "names or literal values.\n\n"
    'Schema: {{"goal": "one sentence naming the kind of task, in general terms", '
    '"anti_pattern": "one or two sentences", "steps": ["three to six steps to take instead"]}}'
)

SUMMARY_SUCCESS = (
    _RECORD_INTRO
    + "This episode ended in a validated success. Summarise it in two parts. The task summary says in two or "
    "three sentences what had to change and in what environment (language, tools, kind of project). The "
    "experience summary is one paragraph: the environment, the key actions, the outcome, and why the fix "
    "worked.\n\n"
    'Schema: {{"task_summary": "two or three sentences", "experience_summary": "one paragraph"}}'
)

SUMMARY_FAILURE = (
    _RECORD_INTRO
    + "This episode ended in failure: the problem was still unsolved when work stopped. Summarise it in two "
    "parts. The task summary says in two or three sentences what had to change and in what environment. The "
    "experience summary is one paragraph: the environment, what was tried, how it ended, why it failed, and "
    "what would probably have worked.\n\n"
    'Schema: {{"task_summary": "two or three sentences", "experience_summary": "one paragraph"}}'
)

_INSIGHT_RULES = (
    "It must help a developer on a different project, possibly in another language, who meets a similar "
    "situation, so keep only what generalises: the cause, the strategy, the way to verify. Do not mention "
    "any file or path, function, class, variable or test name, error code, number, quoted string, or "
    "anything else copied from the record. Language and tool names are fine where they say where the "
    "insight applies.\n\n"
    'Schema: {{"title": "a short imperative phrase, at most twelve words", '
    '"description": "one sentence saying when to use this", "content": "one to three sentences", '
    '"languages": ["languages it applies to, lower-case"], "tools": ["tools it applies to, lower-case"], '
    '"when_not": "one sentence: when following it would mislead", '
    '"check_command": "a command in general form that verifies it, or an empty string"}}'
)

INSIGHT_SUCCESS = (
    _RECORD_INTRO
    + "This episode ended in a validated success. Write exactly one insight from it. "
    + _INSIGHT_RULES
)

INSIGHT_FAILURE = (
    _RECORD_INTRO
    + "This episode ended in failure. Reflect on why it failed and write exactly one insight that would "
    "prevent the same failure elsewhere. " + _INSIGHT_RULES
)

REPAIR = (
    "That reply could not be used: {problems}. Answer again with only the corrected JSON object, following "
    "the same schema."
)

PROMPTS = {
    ("workflow", "success"): WORKFLOW_SUCCESS,
    ("workflow", "failure"): WORKFLOW_FAILURE,
    ("summary", "success"): SUMMARY_SUCCESS,
    ("summary", "failure"): SUMMARY_FAILURE,
    ("insight", "success"): INSIGHT_SUCCESS,
    ("insight", "failure"): INSIGHT_FAILURE,
}

"""Insight rules: recurring episode shapes, recognised across languages and tools.

Each :class:`Shape` has error patterns (real error text of several tools), optionally patterns over
the fix (lines the edits added or removed, commands run) and a requirement on them, and two insights
written for it: one for a success (what worked and why), one for a failure (the anti-pattern and what
prevents it). Insight texts name no file, identifier or literal; ``tests/test_distill_rules.py``
checks every one with :mod:`carryover.pipeline.distill.checker`.

Shapes, with the tools whose error text each one knows:

==================  ==============================================================================
missing-dependency  Python, Node, TypeScript, Go, Rust, Maven/Java, Ruby, Docker builds
boundary            pytest, Jest, cargo test, go test, JUnit; index-out-of-range in Python, Go,
                    Rust, Java, JavaScript (with a fix that moves a comparison or a ±1)
null-check          Python, mypy, JavaScript, TypeScript, Java, Go, Rust, Kotlin, C#, Swift
unsafe-string       SQL built by splicing (Python, JS, Go, Rust, Java) and shell strings; SQLite,
                    PostgreSQL, MySQL and shell syntax errors
flaky-rerun         any check that passed on a plain re-run (or was re-run unchanged and failed)
lockfile-drift      npm, pnpm, yarn, cargo, go modules, poetry, uv, pip hashes, bundler
type-mismatch       TypeScript, mypy, Rust, Go, Java, C#, Python runtime type errors
port-in-use         Node, Python, Go, Java, Docker, .NET
native-toolchain    pip wheels, node-gyp, cargo linkers and system libraries, cgo, make
unused-strict       Go, TypeScript, Rust with denied warnings, ESLint, ruff/flake8
async-not-awaited   Python asyncio, Node/JS promises, Rust futures, C#
missing-config      Python, Node, Rust, Go, Spring, Docker Compose
permission-denied   Python, Node, shell scripts, Docker socket, Java
snapshot-outdated   Jest, insta (Rust), syrupy (Python), golden files (Go)
==================  ==============================================================================

When no shape fits, a general insight is used (success: validate a fix with the exact command that
failed; failure: reproduce narrowly before editing), which is the kind of meta-knowledge the paper
found to transfer best.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs

from carryover.pipeline.distill.checker import InsightText
from carryover.pipeline.distill.view import EpisodeView

_I = re.IGNORECASE | re.MULTILINE


def _rx(*patterns: str, flags: int = _I) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, flags) for pattern in patterns)


@attrs.frozen
class Shape:
    name: str
    errors: tuple[re.Pattern[str], ...]
    success: InsightText
    failure: InsightText
    # Patterns over the fix: lines the edits added (fix_added), removed (fix_removed), or commands run.
    fix_added: tuple[re.Pattern[str], ...] = ()
    fix_removed: tuple[re.Pattern[str], ...] = ()
    fix_commands: tuple[re.Pattern[str], ...] = ()
    fix_paths: tuple[re.Pattern[str], ...] = ()
    # "error": an error pattern must match; "fix": a fix pattern must match; "both"; "either".
    requires: str = "error"
    # Extra condition on the whole episode (e.g. flaky re-runs).
    condition: Callable[[EpisodeView], bool] | None = None
    priority: int = 50

    def error_hits(self, text: str) -> int:
        return sum(1 for pattern in self.errors if pattern.search(text))

    def fix_hits(self, view: EpisodeView) -> int:
        hits = 0
        added = "\n".join(view.diff_lines("+"))
        removed = "\n".join(view.diff_lines("-"))
        hits += sum(1 for pattern in self.fix_added if pattern.search(added))
        hits += sum(1 for pattern in self.fix_removed if pattern.search(removed))
        ran = "\n".join(step.command for step in view.steps if step.exit_code == 0)
        hits += sum(1 for pattern in self.fix_commands if pattern.search(ran))
        paths = "\n".join(view.paths)
        hits += sum(1 for pattern in self.fix_paths if pattern.search(paths))
        return hits

    def score(self, view: EpisodeView) -> int:
        """0 when the shape does not fit ``view``; higher is a better fit."""
        if self.condition is not None and not self.condition(view):
            return 0
        errors = self.error_hits(view.error_text) if self.errors else 0
        fixes = self.fix_hits(view)
        if self.requires == "error" and not errors:
            return 0
        if self.requires == "fix" and not fixes:
            return 0
        if self.requires == "both" and not (errors and fixes):
            return 0
        if self.requires == "either" and not (errors or fixes):
            return 0
        if self.requires == "condition":
            return self.priority
        return self.priority + 10 * errors + 5 * fixes


# --------------------------------------------------------------------------------------------------
# The shapes
# --------------------------------------------------------------------------------------------------

_MANIFESTS = _rx(
    r"(?:^|/)(?:requirements[\w.-]*\.txt|pyproject\.toml|setup\.(?:py|cfg)|Pipfile|package\.json|go\.mod|"
    r"Cargo\.toml|pom\.xml|build\.gradle(?:\.kts)?|Gemfile|composer\.json|Dockerfile[\w.-]*)$"
)
_INSTALL_COMMANDS = _rx(
    r"^(?:npm|pnpm|yarn|bun)\s+(?:install|i|add|ci)\b|^(?:pip3?|uv pip)\s+install\b"
    r"|^(?:poetry|uv|pdm)\s+(?:add|sync|install|lock)\b"
    r"|^cargo\s+(?:add|update|fetch)\b|^go\s+(?:get|mod)\b|^mvn\b.*\binstall\b|^(?:bundle|gem)\s+install\b"
    r"|^(?:sudo\s+)?(?:apt-get|apt|apk|brew)\s+(?:install|add)\b"
)

MISSING_DEPENDENCY = Shape(
    name="missing-dependency",
    errors=_rx(
        r"ModuleNotFoundError: No module named",
        r"ImportError: No module named",
        r"Cannot find module '(?![./])",
        r"Cannot find package '(?![./])",
        r"(?:error TS2307: )?Cannot find module '(?![./])",
        r"no required module provides package",
        r"cannot find package \"[^\"]+\" in any of",
        r"error\[E0432\]: unresolved import",
        r"error\[E0433\]: failed to resolve: use of undeclared crate",
        r"can't find crate for",
        r"error: package [\w.]+ does not exist",
        r"Could not resolve dependencies for project",
        r"Could not find artifact",
        r"cannot load such file -- ",
        r"Could not find gem '",
        r"No matching distribution found for",
    ),
    fix_commands=_INSTALL_COMMANDS,
    fix_paths=_MANIFESTS,
    requires="error",
    priority=60,
    success=InsightText(
        title="Declare a missing dependency in the manifest, then install from it",
        description="Use when an import or a build fails because a third-party package cannot be found.",
        content=(
            "Add the package to the project's dependency manifest and install from the manifest instead of "
            "installing it by hand in one environment, so fresh checkouts and CI resolve it too. Then re-run "
            "the command that failed to confirm the import resolves."
        ),
        when_not=(
            "When the missing module belongs to the project itself: a wrong relative import, a missing "
            "package marker or a misconfigured source path needs a path fix, not a new dependency."
        ),
    ),
    failure=InsightText(
        title="Check where a missing module should come from before installing more packages",
        description="Use when an import keeps failing even after packages were installed.",
        content=(
            "A module that still cannot be found after an install is often the project's own code on a "
            "wrong path, or the package went into a different environment than the one running the "
            "command. Confirm which interpreter or toolchain runs the command and whether the module is "
            "third-party before installing anything else."
        ),
        when_not="When the package is simply not declared anywhere yet; then add it to the manifest.",
    ),
)

_ASSERTION = (
    r"^E\s+assert ",
    r"AssertionError",
    r"Expected:?\s.*\n\s*Received:?\s",
    r"expect\(.*\)\.(?:toBe|toEqual|toStrictEqual|toHaveLength)",
    r"assertion `left == right` failed",
    r"assertion failed: `\(left == right\)`",
    r"^\s*--- FAIL: ",
    r"\bgot\b.*\bwant\b|\bwant\b.*\bgot\b",
    r"expected:\s*<.*>\s*but was:\s*<",
    r"AssertionFailedError",
)
_INDEX = (
    r"IndexError: (?:list|string|tuple) index out of range",
    r"index out of range \[\d+\] with length",
    r"index out of bounds: the len is",
    r"ArrayIndexOutOfBoundsException|StringIndexOutOfBoundsException|IndexOutOfBoundsException",
    r"RangeError: .*(?:out of range|Invalid array length)",
)


def _boundary_change(view: EpisodeView) -> bool:
    """An edit that swapped a comparison for its inclusive/exclusive twin or moved something by one."""
    removed = view.diff_lines("-")
    added = view.diff_lines("+")
    if not removed or not added:
        return False

    def normal(line: str) -> str:
        line = re.sub(r"<=|>=|\.\.=|\.\.(?!\.)|<|>", "CMP", line)
        line = re.sub(r"\s*[-+]\s*1\b", "", line)
        line = re.sub(r"\brange\(\s*(\w+)\s*\)", r"range(\1)", line)
        return re.sub(r"\s+", "", line)

    pairs = [(old, new) for old in removed for new in added if old.strip() != new.strip()]
    return any(normal(old) == normal(new) for old, new in pairs)


BOUNDARY = Shape(
    name="index-bounds",
    errors=_rx(*_ASSERTION, *_INDEX),
    requires="error",
    condition=lambda view: _boundary_change(view) or any(p.search(view.error_text) for p in _rx(*_INDEX)),
    priority=55,
    success=InsightText(
        title="Check boundary conditions when a result is off by one",
        description="Use when a test fails on an edge value, an empty input or the last element of a range.",
        content=(
            "Compare the expected and actual values: when they differ by one element or one step, check "
            "inclusive versus exclusive comparisons and the ends of ranges before changing anything else. "
            "Add tests for the smallest, the empty and the last case so the boundary stays covered."
        ),
        when_not=(
            "When expected and actual differ in kind rather than by one step, such as a wrong type, order or "
            "missing field; a boundary tweak would only hide the real bug."
        ),
    ),
    failure=InsightText(
        title="Do not nudge a boundary until the assertion passes",
        description="Use when an off-by-one failure keeps moving between edge cases.",
        content=(
            "Shifting a comparison or adding one until a single test passes tends to break the opposite "
            "edge. Write down whether each end of the range is inclusive or exclusive, then test the "
            "first, the last and the empty case explicitly."
        ),
        when_not="When the failure is not at an edge of a range or a collection.",
    ),
)

NULL_CHECK = Shape(
    name="absent-value",
    errors=_rx(
        r"'NoneType' object (?:is not subscriptable|has no attribute|is not iterable|is not callable)",
        r"unsupported operand type\(s\) for .*'NoneType'",
        r"Item \"None\" of \"[^\"]+\" has no attribute",
        r"Value of type \"Optional\[",
        r"has incompatible type \"(?:Optional\[[^\]]+\]|[^\"]+ \| None)\"",
        r"Incompatible return value type \(got \"(?:Optional\[[^\]]+\]|[^\"]+ \| None)\"",
        r"Unsupported (?:left |right )?operand type for .*\"None\"",
        r"TypeError: Cannot read propert(?:y|ies) of (?:undefined|null)",
        r"TypeError: [\w.$]+ is (?:undefined|null)",
        r"null is not an object",
        r"Object is possibly '(?:undefined|null)'",
        r"(?:error TS1804[78]: )?'[^']+' is possibly '(?:undefined|null)'",
        r"Type '(?:undefined|null)' is not assignable",
        r"NullPointerException",
        r"Cannot invoke \".*\" because .* is null",
        r"invalid memory address or nil pointer dereference",
        r"called `Option::unwrap\(\)` on a `None` value",
        r"NullReferenceException|Object reference not set to an instance of an object",
        r"Unexpectedly found nil while",
    ),
    fix_added=_rx(
        r"\bis (?:not )?None\b",
        r"[!=]==? ?(?:undefined|null)\b",
        r"\?\.",
        r"\?\?",
        r"\bif let Some\b|\.unwrap_or|\bmatch\b.*\bNone\b|\.ok_or",
        r"[!=]= ?nil\b",
        r"Optional|requireNonNull|Objects\.isNull",
    ),
    requires="error",
    priority=65,
    success=InsightText(
        title="Guard optional values where they enter, not where they crash",
        description="Use when a value that may be absent is used as if it were always present.",
        content=(
            "Find where the possibly absent value comes from, such as a lookup, a parse or an optional "
            "field, and decide there what absence means: return early, use a default or raise a clear "
            "error. Let the types say the value is optional so the checker flags every other use that "
            "forgets the case."
        ),
        when_not=(
            "When the value can never legitimately be absent; then absence is a bug upstream and a silent "
            "default would hide it, so fail loudly instead."
        ),
    ),
    failure=InsightText(
        title="Do not silence an absent-value error with a blanket default",
        description="Use when a crash on a missing value keeps reappearing in new places.",
        content=(
            "Wrapping the crashing use in a check or forcing the value moves the failure elsewhere while "
            "it is unclear why the value is missing. Trace where it is produced and test the missing case "
            "directly before choosing between a default, an early return and an error."
        ),
        when_not="When absence is a documented, expected state with an obvious meaning.",
    ),
)

_SPLICE = (
    r"f[\"'](?:SELECT|INSERT|UPDATE|DELETE|WITH)\b[^\n]*\{",
    r"[\"'](?:SELECT|INSERT|UPDATE|DELETE)\b[^\"'\n]*[\"']\s*(?:\+|%\s*\(?\w)",
    r"`(?:SELECT|INSERT|UPDATE|DELETE)\b[^`]*\$\{",
    r"(?:format!|Sprintf|String\.format)\(\s*\"(?:SELECT|INSERT|UPDATE|DELETE)\b",
    r"\.format\(.*\)|%\s*\(",
    r"shell\s*=\s*True",
    r"os\.system\(|os\.popen\(",
    r"child_process\.exec\(|\bexec\(`|execSync\(`",
    r"\bsh\b[\"',\s]+-c\b",
)
_UNSAFE_ERRORS = _rx(
    r"sqlite3\.OperationalError: (?:near|unrecognized token)",
    r"syntax error at or near",
    r"You have an error in your SQL syntax",
    r"SQLSyntaxErrorException|SQLITE_ERROR: near",
    r"unterminated quoted (?:string|identifier)",
    r"unexpected EOF while looking for matching",
    r"syntax error near unexpected token",
    r"Unclosed quotation mark after the character string",
)
UNSAFE_STRING = Shape(
    name="injection",
    errors=_UNSAFE_ERRORS,
    fix_removed=_rx(*_SPLICE),
    fix_added=_rx(
        r"execute\(\s*[\"'][^\"']*(?:\?|%s|\$\d|:\w+)[^\"']*[\"']\s*,",
        r"\.(?:query|exec|prepare|execute)\([^)]*(?:\?|\$\d)",
        r"subprocess\.(?:run|call|check_call|check_output|Popen)\(\s*\[",
        r"execFile\(|spawn\(",
        r"exec\.Command\(\s*\"[^\"]+\"\s*,",
        r"Command::new\(.*\)\.arg",
        r"PreparedStatement|setString\(|bind\(",
    ),
    requires="either",
    condition=lambda view: bool(
        any(p.search("\n".join(view.diff_lines("-"))) for p in _rx(*_SPLICE[:4], *_SPLICE[5:]))
        or any(p.search(view.error_text) for p in _UNSAFE_ERRORS)
    ),
    priority=70,
    success=InsightText(
        title="Pass values as parameters instead of splicing them into query or shell strings",
        description="Use when a query or a shell command is built by joining text with values from input.",
        content=(
            "A value containing a quote, a space or a metacharacter breaks a query or command built by "
            "string concatenation, and the same gap lets input inject code. Use the driver's placeholders "
            "or an argument list so values are never parsed as syntax, and add a test whose input contains "
            "a quote."
        ),
        when_not=(
            "When the varying part is an identifier such as a table or column name, which placeholders "
            "cannot carry; validate it against a fixed allow-list instead."
        ),
    ),
    failure=InsightText(
        title="Escaping by hand does not fix values spliced into queries or commands",
        description="Use when a query or shell command breaks on unusual input and quoting is being patched.",
        content=(
            "Adding quotes or escape calls around spliced values fails on the next unusual input and "
            "leaves injection open. Switch to parameters or argument lists, and test with input containing "
            "quotes and separators."
        ),
        when_not="When no value from outside the program ever reaches the string.",
    ),
)

FLAKY = Shape(
    name="flaky-test",
    errors=(),
    requires="condition",
    condition=lambda view: (
        view.rerun_only or (view.outcome.value == "failure" and view.unchanged_retries >= 2)
    ),
    priority=80,
    success=InsightText(
        title="Treat a check that passes on a plain re-run as flaky, not fixed",
        description="Use when a failing test or build passes again without any change in between.",
        content=(
            "A pass without a change means the failure depends on timing, ordering, shared state or the "
            "environment, and it will come back. Re-run the check repeatedly or in random order to "
            "reproduce it, then remove the nondeterminism, such as a fixed wait, a shared fixture or an "
            "unseeded random value."
        ),
        when_not=(
            "When something outside the code did change in between, such as a service that started or an "
            "install that finished; then the first failure was environmental."
        ),
    ),
    failure=InsightText(
        title="Re-running an unchanged failing check rarely tells you more",
        description="Use when the same failing command has been repeated without changing anything.",
        content=(
            "Repeating a command with nothing changed only confirms the failure once it is reproducible. "
            "Narrow it down instead: run the single failing case with more output, then change one thing "
            "at a time and re-run."
        ),
        when_not="When the failure is known to be intermittent and the re-runs measure how often it happens.",
    ),
)

LOCKFILE_DRIFT = Shape(
    name="lockfile-drift",
    errors=_rx(
        r"can only install packages when your package\.json and package-lock\.json",
        r"Missing: .+ from lock file",
        r"ERR_PNPM_OUTDATED_LOCKFILE",
        r"Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`",
        r"The lockfile would have been modified by this install, which is explicitly forbidden",
        r"the lock file .* needs to be updated but --locked was passed",
        r"missing go\.sum entry",
        r"updates to go\.mod needed",
        r"pyproject\.toml changed significantly since poetry\.lock was last generated",
        r"poetry\.lock is not consistent with pyproject\.toml",
        r"The lockfile at .* needs to be updated",
        r"THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE",
        r"You are trying to install in deployment mode after changing",
    ),
    requires="error",
    priority=75,
    success=InsightText(
        title="Regenerate the lockfile whenever the manifest changes, and commit both",
        description=(
            "Use when a frozen or locked install refuses to run because the lockfile no longer matches the "
            "manifest."
        ),
        content=(
            "Run the package manager's normal install or lock command to bring the lockfile in line with the "
            "manifest, review the change, and commit the manifest and the lockfile together. Keep the frozen "
            "install in CI, since it is what caught the drift."
        ),
        when_not=(
            "When a tool upgrade changed the lockfile on purpose and the manifest is the stale side; then "
            "update the manifest instead of rewriting the lock."
        ),
    ),
    failure=InsightText(
        title="Do not bypass a frozen install to get past lockfile drift",
        description=(
            "Use when a locked install fails and dropping the lock flag looks like the quick way out."
        ),
        content=(
            "Dropping the frozen flag or deleting the lockfile makes the build pass with unpinned versions "
            "and hides which change caused the mismatch. Regenerate the lock from the manifest with the "
            "package manager and commit both files together."
        ),
        when_not=(
            "When the project deliberately does not pin dependencies, such as a library tested against "
            "ranges."
        ),
    ),
)

TYPE_MISMATCH = Shape(
    name="type-mismatch",
    errors=_rx(
        r"Argument of type '(?!undefined|null)[^']+' is not assignable to parameter of type",
        r"Type '(?!undefined|null)[^']+' is not assignable to type",
        r"Argument \d+ to \"[^\"]+\" has incompatible type \"(?![^\"]*None)[^\"]+\"",
        r"Incompatible types in assignment \(expression has type \"(?![^\"]*None)",
        r"Incompatible return value type \(got \"(?![^\"]*None)",
        r"error\[E0308\]: mismatched types",
        r"cannot use .+ \(.*(?:type|constant) .+\) as .+ value",
        r"incompatible types: .+ cannot be converted to",
        r"TypeError: can only concatenate str",
        r"TypeError: unsupported operand type\(s\) for [^:]+: '(?!NoneType)\w+' and '(?!NoneType)\w+'",
        r"TypeError: .* must be (?:str|int|a real number|bytes), not",
        r"error CS0029: Cannot implicitly convert type",
    ),
    requires="error",
    priority=50,
    success=InsightText(
        title="Convert data to the expected type where it enters the program",
        description=(
            "Use when a checker or a runtime error reports a value of one type used where another is "
            "expected."
        ),
        content=(
            "Find where the value is produced, usually while parsing input, reading configuration or "
            "decoding a response, and convert or validate it there so every later use sees one type. "
            "Prefer fixing the declared types over casting at the failing call, and let the type checker "
            "confirm the change."
        ),
        when_not=(
            "When the checker points at a genuine mismatch between two interfaces; then change the interface "
            "instead of converting values at each call."
        ),
    ),
    failure=InsightText(
        title="Casting at the error site leaves type mismatches to resurface",
        description="Use when type errors keep appearing after casts or ignore comments were added.",
        content=(
            "Silencing a mismatch with a cast, an ignore comment or a catch-all type makes the check pass "
            "while the wrong value keeps flowing. Trace the value back to where it is produced and fix its "
            "type there."
        ),
        when_not="When the checker is provably wrong about a dynamic value and the cast is documented.",
    ),
)

PORT_IN_USE = Shape(
    name="port-in-use",
    errors=_rx(
        r"EADDRINUSE",
        r"[Aa]ddress already in use",
        r"port is already allocated",
        r"java\.net\.BindException",
        r"Only one usage of each socket address",
        r"Failed to bind to address",
    ),
    requires="error",
    priority=70,
    success=InsightText(
        title="Free or parameterise a busy port instead of retrying",
        description="Use when a server or container fails to start because its port is already taken.",
        content=(
            "Find which process holds the port and stop it if it is left over from an earlier run; "
            "otherwise make the port configurable and let tests ask the system for a free one. Servers "
            "that outlive their test runs are the usual cause, so shut them down in teardown."
        ),
        when_not=(
            "When the process on the port is the service the command should talk to; then connect to it "
            "instead of starting another."
        ),
    ),
    failure=InsightText(
        title="Restarting blindly does not free a busy port",
        description="Use when a start command keeps failing because its port is taken.",
        content=(
            "Re-running a start command while an old process still holds the port fails the same way every "
            "time. Look up the process on the port first, and stop leftover servers in test teardown."
        ),
        when_not=(
            "When the port is held by an unrelated system service that must keep it; choose another port."
        ),
    ),
)

NATIVE_TOOLCHAIN = Shape(
    name="native-toolchain",
    errors=_rx(
        r"error: command '[\w./-]*(?:gcc|cc|clang|g\+\+)' failed",
        r"fatal error: [\w./-]+\.h: No such file or directory",
        r"Failed building wheel for",
        r"Failed to build [\w-]+\s*\nERROR: Could not build wheels",
        r"gyp ERR! (?:find Python|stack Error: not found: make|find VS)",
        r"error: linker `[\w-]+` not found",
        r"could not find system library '[\w.-]+' required by",
        r"Could not find directory of OpenSSL installation",
        r"exec: \"(?:gcc|cc|clang)\": executable file not found in \$PATH",
        r"(?:/bin/sh|sh): \d+: (?:gcc|cc|make|g\+\+|clang): not found",
        r"Microsoft Visual C\+\+ [\d.]+ or greater is required",
        r"pkg-config: not found|The pkg-config command could not be found",
    ),
    fix_added=_rx(r"apt-get install|apk add|dnf install|yum install|build-essential|build-base"),
    fix_commands=_rx(r"apt-get install|apk add|brew install|xcode-select"),
    requires="error",
    priority=72,
    success=InsightText(
        title="Install native build tools before dependencies that compile code",
        description=(
            "Use when a dependency install or build fails while compiling native code, often in slim "
            "containers."
        ),
        content=(
            "Packages with compiled parts need a compiler, headers and sometimes a system library in the "
            "build environment. Install them in the image or setup step before the dependency install, or "
            "choose a prebuilt package, and keep them out of the final image with a separate build stage."
        ),
        when_not=(
            "When a prebuilt package exists for the platform; then a version or platform mismatch, not a "
            "missing compiler, is the cause."
        ),
    ),
    failure=InsightText(
        title="A compile error inside a dependency install is an environment problem",
        description="Use when installing a package fails with compiler or linker errors.",
        content=(
            "Editing project code does not help when a dependency fails to compile, because the build "
            "environment lacks a compiler, headers or a system library. Read the first compiler error, "
            "install what it names, or switch to a prebuilt package."
        ),
        when_not="When the failing compile is the project's own native code.",
    ),
)

UNUSED_STRICT = Shape(
    name="unused-code",
    errors=_rx(
        r"declared and not used",
        r"\" imported and not used",
        r"'[^']+' is declared but its value is never read",
        r"All imports in import declaration are unused",
        r"error: unused (?:variable|import)",
        r"#\[deny\(unused",
        r"no-unused-vars",
        r"F401 .* imported but unused",
        r"F841 [Ll]ocal variable .* is assigned to but never used",
    ),
    requires="error",
    priority=58,
    success=InsightText(
        title="Remove unused imports and variables rather than relaxing a strict check",
        description=(
            "Use when a compiler or linter rejects code only because something is declared and never used."
        ),
        content=(
            "Delete the unused declaration or use it as intended; a leftover often means an edit was left "
            "half done, so check that the code still does what was planned. Keep the strict setting, since "
            "it catches dead code and typos early."
        ),
        when_not=(
            "When the name is used in a way the tool cannot see, such as reflection, a side-effect import or "
            "generated code; mark that use explicitly instead of deleting it."
        ),
    ),
    failure=InsightText(
        title="Unused-code errors usually point at an unfinished edit",
        description="Use when a strict build keeps failing on names that are declared but unused.",
        content=(
            "When a strict build fails on unused names, the change that introduced them was likely not "
            "finished, and switching the check off hides that. Finish or revert the half-done edit, then "
            "remove what is still unused."
        ),
        when_not="When the unused name is a deliberate public export that the tool misreads.",
    ),
)

ASYNC_NOT_AWAITED = Shape(
    name="async-await",
    errors=_rx(
        r"RuntimeWarning: coroutine '[^']+' was never awaited",
        r"UnhandledPromiseRejection|Unhandled promise rejection",
        r"Promise \{ <pending> \}",
        r"unused implementer of `(?:std::future::)?Future` that must be used",
        r"futures do nothing unless you `\.await`",
        r"CS4014: Because this call is not awaited",
        r"'await' outside (?:async )?function|await is only valid in async functions",
        r"no-floating-promises",
    ),
    fix_added=_rx(r"\bawait\b|\.await\b|asyncio\.run\(|\.then\("),
    requires="error",
    priority=68,
    success=InsightText(
        title="Await every asynchronous call whose result or failure matters",
        description=(
            "Use when an asynchronous call seems to do nothing, yields a pending placeholder or fails "
            "silently."
        ),
        content=(
            "An asynchronous call that is not awaited runs later or never, and its errors are lost. Await "
            "it or hand it to something that does, make the callers asynchronous as needed, and turn on "
            "the check that flags floating promises or futures."
        ),
        when_not=(
            "When the work is meant to run in the background; then keep a handle to it and report its errors "
            "explicitly instead of awaiting it inline."
        ),
    ),
    failure=InsightText(
        title="Adding sleeps does not fix an asynchronous call that was never awaited",
        description="Use when an asynchronous result is missing and waiting longer is being tried.",
        content=(
            "Waiting a fixed time for a result that was never awaited makes the code slow and still flaky. "
            "Find the call that returns a promise, future or coroutine and await it."
        ),
        when_not="When the result is delivered by an external system that is genuinely slow.",
    ),
)

MISSING_CONFIG = Shape(
    name="missing-config",
    errors=_rx(
        r"KeyError: '[A-Z][A-Z0-9]*_[A-Z0-9_]+'",
        r"environment variable .{0,60}(?:is )?(?:not set|not defined|missing|required|not found)",
        r"Missing required (?:environment variable|env var|configuration)",
        r"NotPresent",
        r"required key [A-Z_]+ missing value",
        r"Could not resolve placeholder '[^']+' in value",
        r"variable is not set\. Defaulting to a blank string",
    ),
    requires="error",
    priority=62,
    success=InsightText(
        title="Fail fast with a clear message when required configuration is missing",
        description=(
            "Use when a program crashes because a setting or environment variable it expects is absent."
        ),
        content=(
            "Read every required setting once at start-up, report each missing one by name with how to set "
            "it, and document them in an example configuration without real values. Tests should set what "
            "they need explicitly rather than rely on the developer's shell."
        ),
        when_not="When the setting is optional; then give it a safe, documented default instead of failing.",
    ),
    failure=InsightText(
        title="Do not hard-code a missing setting to get past a start-up crash",
        description="Use when a program fails because configuration is absent and a quick value is tempting.",
        content=(
            "Putting a value into the code or into a tracked file to satisfy a missing setting leaks "
            "environment details and breaks elsewhere. Supply it through the environment or an untracked "
            "local file, and make the program report missing settings clearly."
        ),
        when_not="When the value is a true constant that never varies between environments.",
    ),
)

PERMISSION_DENIED = Shape(
    name="permission-denied",
    errors=_rx(
        r"PermissionError: \[Errno 13\] Permission denied",
        r"EACCES: permission denied",
        r"permission denied while trying to connect to the Docker daemon socket",
        r"^(?:bash|zsh|sh|fish)?:?\s*[\w./-]+: Permission denied$",
        r"java\.nio\.file\.AccessDeniedException",
        r"Operation not permitted",
    ),
    fix_commands=_rx(r"^chmod\b|^chown\b|^usermod\b|^newgrp\b"),
    requires="error",
    priority=60,
    success=InsightText(
        title="Fix file modes and ownership instead of running as root",
        description="Use when a command fails because a file, socket or directory cannot be accessed.",
        content=(
            "Check who owns the path and which mode it has; make scripts executable, give the user the "
            "group that the socket needs, or write to a user-owned location. Running the command with "
            "elevated rights hides the problem and leaves root-owned files that fail the next run."
        ),
        when_not="When the operation genuinely needs elevated rights, such as installing a system package.",
    ),
    failure=InsightText(
        title="Elevating rights can create the next permission error",
        description=(
            "Use when a permission error is being worked around with root rights or sweeping mode changes."
        ),
        content=(
            "Repeating a failing command as root, or changing modes wholesale, leaves files owned by root "
            "or writable by everyone that break later runs. Find the single path that is denied and fix "
            "its owner or mode."
        ),
        when_not="When the system is a throwaway container whose files nobody reuses.",
    ),
)

SNAPSHOT = Shape(
    name="snapshot-outdated",
    errors=_rx(
        r"\d+ snapshots? failed",
        r"Snapshot name: `",
        r"snapshot assertion for '[^']+' failed",
        r"Stored new snapshot|insta review",
        r"AssertionError: assert \[\+ received\] == \[- snapshot\]",
        r"golden file .* (?:mismatch|differs)|-update flag",
    ),
    requires="error",
    priority=66,
    success=InsightText(
        title="Review a snapshot diff before accepting it",
        description="Use when snapshot or golden-file tests fail after a change in output.",
        content=(
            "Read the diff first: accept the new snapshot only if every change is intended, and fix the "
            "code if any is not. Commit updated snapshots together with the change that caused them so "
            "reviewers see both."
        ),
        when_not=(
            "When the snapshot differs because of nondeterministic output such as timestamps or ordering; "
            "make the output stable instead of updating the snapshot."
        ),
    ),
    failure=InsightText(
        title="Updating snapshots blindly turns a regression into the expected output",
        description="Use when failing snapshot tests are about to be accepted wholesale.",
        content=(
            "Accepting every changed snapshot without reading it records whatever the code now does, bugs "
            "included. Review each difference, and keep snapshots small enough that a reviewer can."
        ),
        when_not="When the change is a deliberate, reviewed reformatting of all output.",
    ),
)

GENERAL = Shape(
    name="general",
    errors=(),
    requires="condition",
    priority=1,
    success=InsightText(
        title="Validate a fix by re-running the exact check that failed",
        description="Use after changing code to fix a failing test, build or type check.",
        content=(
            "Reproduce the failure with the narrowest command first, make the change, then run that same "
            "command again before the wider suite. A pass from a different or broader command can hide "
            "that the original failure is still there."
        ),
        when_not="When the failure cannot be reproduced locally; then first capture how it was observed.",
    ),
    failure=InsightText(
        title="Reproduce a failure narrowly before editing code",
        description="Use when a check fails and the cause is not yet understood.",
        content=(
            "Editing before the failure is isolated tends to change the wrong place and leave it "
            "unresolved. Run the single failing case with full output, read the first error rather than "
            "the last, and change one thing at a time."
        ),
        when_not="When the cause is already certain from the error message.",
    ),
)

SHAPES: tuple[Shape, ...] = (
    MISSING_DEPENDENCY,
    BOUNDARY,
    NULL_CHECK,
    UNSAFE_STRING,
    FLAKY,
    LOCKFILE_DRIFT,
    TYPE_MISMATCH,
    PORT_IN_USE,
    NATIVE_TOOLCHAIN,
    UNUSED_STRICT,
    ASYNC_NOT_AWAITED,
    MISSING_CONFIG,
    PERMISSION_DENIED,
    SNAPSHOT,
)


def match_shapes(view: EpisodeView, limit: int = 2) -> list[Shape]:
    """The shapes that fit ``view``, best first (at most ``limit``; the general shape when none)."""
    scored = [(shape.score(view), index, shape) for index, shape in enumerate(SHAPES)]
    fitting = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
    if not fitting:
        return [GENERAL]
    return [shape for _score, _index, shape in fitting[:limit]]


def shapes_for_text(error_text: str) -> list[str]:
    """The names of the shapes whose error patterns match ``error_text`` (for tests and tooling)."""
    return [shape.name for shape in SHAPES if shape.errors and shape.error_hits(error_text)]


def insight_for(shape: Shape, view: EpisodeView) -> InsightText:
    return shape.success if view.outcome.value == "success" else shape.failure


def all_texts() -> Sequence[InsightText]:
    """Every insight text the rules can produce."""
    texts: list[InsightText] = []
    for shape in (*SHAPES, GENERAL):
        texts.extend((shape.success, shape.failure))
    return texts

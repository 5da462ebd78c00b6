"""The problem kinds: one registry, one id per problem, serving retrieval and distillation.

Recognising the kind of problem behind what the editor shows, in words that transfer.

An error message names a symptom in one language's vocabulary ("NoneType is not subscriptable",
"nil pointer dereference", "possibly 'undefined'"); the memories that help across languages name the
problem ("handle absence where it is produced"). Each family below maps the symptoms of many
languages and tools to one abstract statement, which is searched beside the raw context — the offline
stand-in for the short plan the paper embedded instead of the raw task.

The offline distiller's shapes (carryover/pipeline/distill/rules.py) are named by these ids too: a
shape is how an *episode* of a problem looks (its errors and its fix), a family how a *moment* of it
looks. A few problems are only recognised from episodes so far (no retrieval patterns: adding one
must be justified on the dev split and reported on the blind one, eval/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs


@attrs.frozen
class ProblemFamily:
    name: str
    statement: str
    patterns: tuple[re.Pattern[str], ...]


def _family(name: str, statement: str, *patterns: str) -> ProblemFamily:
    return ProblemFamily(name, statement, tuple(re.compile(p, re.IGNORECASE) for p in patterns))


FAMILIES: tuple[ProblemFamily, ...] = (
    _family(
        "absent-value",
        "A value that can be absent (None, null, nil, undefined, an empty Option) is used without "
        "checking; handle absence where the value is produced, not where it crashes.",
        r"NoneType",
        r"NullPointerException",
        r"nil pointer",
        r"\bnil:NilClass",
        r"undefined method .* for nil",
        r"possibly '?(undefined|null)'?",
        r"Cannot read propert(y|ies) of (undefined|null)",
        r"is (undefined|null)\b",
        r"on a `?None`? value",
        r"Item \"None\" of",
        r"Optional\[",
        r"\bunwrap\(\)",
        r"has no attribute .* 'NoneType'",
        r"TS2532|TS2531|TS18048|TS18047",
        r"null reference",
        r"Object reference not set",
    ),
    _family(
        "dependency-conflict",
        "Dependency versions conflict: read the constraint chain and pick compatible versions "
        "deliberately, instead of forcing the install or deleting the lockfile.",
        r"ResolutionImpossible",
        r"\bERESOLVE\b",
        r"could not resolve dependency",
        r"conflicting peer",
        r"compatible versions for gem",
        r"version solving failed",
        r"dependency convergence",
        r"conflicting (requirements|dependencies)",
        r"failed to select a version",
        r"incompatible versions",
        r"two different versions of crate",
        r"multiple versions of",
        r"requires .* but .* is installed",
        r"NoSuchMethodError|NoSuchFieldError|AbstractMethodError|IncompatibleClassChangeError",
    ),
    _family(
        "missing-dependency",
        "A dependency is missing where the code runs: declare it in the project's manifest, install it "
        "into the environment that runs the code, and rebuild instead of installing it by hand.",
        r"ModuleNotFoundError",
        r"No module named",
        r"Cannot find module",
        r"ClassNotFoundException",
        r"NoClassDefFoundError",
        r"LoadError",
        r"cannot load such file",
        r"cannot find package",
        r"unresolved import",
        r"E0432|E0433",
        r"ImportError",
        r"package .* is not in (GOROOT|std)",
        r"no required module provides package",
        r"MODULE_NOT_FOUND",
        r"command not found",
    ),
    _family(
        "global-install",
        "Installing packages into the system or a global location fails or breaks other tools; use a "
        "project-local environment rather than sudo, global installs or overriding the guard.",
        r"externally-managed-environment",
        r"\bEACCES\b",
        r"FilePermissionError",
        r"break-system-packages",
        r"sudo (pip|npm|gem)",
        r"install -g\b",
        r"--user\b.*install|install .*--user\b",
    ),
    _family(
        "lockfile-drift",
        "The lockfile no longer matches the manifest: regenerate it with the package manager and commit "
        "the manifest and the lockfile together.",
        r"Cargo\.lock needs to be updated",
        r"--locked",
        r"--frozen",
        r"updates to go\.mod needed",
        r"missing go\.sum entry",
        r"lock ?file .*(out of (date|sync)|not (up to date|consistent))",
        r"npm ci .*(in sync|package-lock)",
        r"package-lock\.json.*(in sync|out of sync)",
        r"frozen-lockfile",
        r"poetry\.lock",
        r"Gemfile\.lock",
    ),
    _family(
        "false-green",
        "A test run passed without running the tests that matter; check how many tests ran before "
        "trusting a green result.",
        r"no tests ran",
        r"collected 0 items",
        r"\b0 passing\b",
        r"running 0 tests",
        r"no test files",
        r"no tests to run",
        r"No tests found",
        r"\(cached\)",
        r"Tests: +0 total",
        r"0 tests? (run|executed)",
        r"tests? (were )?skipped",
        r"Tests run: 0\b",
        r"No tests were executed",
        r"\b0 passed\b",
    ),
    _family(
        "flaky-test",
        "A test fails only sometimes or only with other tests: it depends on timing, order or shared "
        "state; isolate the state or wait for a condition instead of retrying or sleeping.",
        r"timed? ?out",
        r"Timeout of \d+ms exceeded",
        r"flaky",
        r"intermittent",
        r"deadline exceeded",
        r"passes (alone|in isolation)",
        r"order[- ]dependen",
        r"--runInBand",
        r"rerun",
        r"@Retry|retries",
        r"time\.sleep|Thread\.sleep|setTimeout\(",
    ),
    _family(
        "type-mismatch",
        "The type checker reports a mismatch: treat the diagnostic as evidence about the data and fix "
        "the type where the value is created instead of casting or silencing the checker.",
        r"mismatched types",
        r"is not assignable to",
        r"incompatible types?",
        r"cannot use .* as .* value",
        r"Argument of type",
        r"expected .* found",
        r"\[(arg-type|assignment|return-value|union-attr)\]",
        r"TS2322|TS2345|TS2339",
        r"E0308",
    ),
    _family(
        "silenced-checker",
        "A type or lint error is being suppressed; a suppression hides the real problem, so fix the cause "
        "or keep the suppression narrow with a stated reason.",
        r"type: ?ignore",
        r"@ts-ignore|@ts-expect-error",
        r"\bas any\b",
        r"//\s*nolint",
        r"@SuppressWarnings",
        r"eslint-disable",
        r"#\[allow\(",
        r"noqa",
    ),
    _family(
        "injection",
        "A query or shell command is built by string concatenation or formatting from variables; pass "
        "the values separately (bound parameters, an argument list) to avoid injection and quoting bugs.",
        r"(SELECT|INSERT|UPDATE|DELETE)\b.*(\{|%s|\+ *\w|\$\{|\" *\+|' *\+|\.format\()",
        r"execute\(f[\"']",
        r"shell ?= ?True",
        r"os\.system\(",
        r"exec\.Command\(\"(sh|bash)\", \"-c\"",
        r"Runtime\.getRuntime\(\)\.exec",
        r"child_process.*exec\(",
        r"\beval\(",
        r"SQL injection",
        r"`[^`]*\$\{",
        r"system\(\"[^\"]*\" *\+",
    ),
    _family(
        "unsafe-shell-variable",
        "A shell script uses a variable that may be empty or unset in a destructive command; quote "
        "variables, fail on unset ones and check them before deleting or moving files.",
        r"rm -rf? +\"?\$",
        r"unbound variable",
        r"set -u",
        r"\$\{?\w+\}?/\*",
        r"parameter null or not set",
    ),
    _family(
        "ownership",
        "A value is used after its ownership moved or while it is borrowed; restructure who owns the "
        "value instead of cloning until the compiler is quiet.",
        r"borrow of moved value",
        r"E0382|E0499|E0502|E0505|E0597",
        r"cannot borrow",
        r"use of moved value",
        r"does not live long enough",
    ),
    _family(
        "concurrent-modification",
        "A collection is changed while it is iterated or shared between threads; iterate over a copy, "
        "collect changes first, or synchronise access.",
        r"ConcurrentModificationException",
        r"concurrent map (writes|read and map write)",
        r"data race",
        r"changed size during iteration",
        r"Collection was modified",
        r"race detected",
    ),
    _family(
        "index-bounds",
        "An index runs past the end of a collection: check the boundary (empty input, the last element, "
        "off-by-one) and add a test for the edge case.",
        r"IndexError",
        r"index out of (range|bounds)",
        r"ArrayIndexOutOfBounds",
        r"out of range",
        r"StringIndexOutOfBounds",
        r"slice bounds out of range",
    ),
    _family(
        "encoding",
        "Text is decoded with an implicit or wrong encoding; state the encoding where bytes become text.",
        r"UnicodeDecodeError|UnicodeEncodeError",
        r"invalid utf-?8",
        r"MalformedInputException",
        r"codec can't (decode|encode)",
        r"invalid byte sequence",
        r"\bencoding\b",
    ),
    _family(
        "path-resolution",
        "A file path depends on the directory the command was started from; anchor paths to the project "
        "or the module's own location.",
        r"FileNotFoundError",
        r"\bENOENT\b",
        r"No such file or directory",
        r"cannot open file",
        r"os\.getcwd|process\.cwd|__dirname",
        r"NoSuchFileException",
    ),
    _family(
        "build-context",
        "The container build cannot see a file: check the build context and the ignore file before "
        "changing paths.",
        r"COPY failed",
        r"not found in build context",
        r"\.dockerignore",
        r"failed to compute cache key",
        r"cannot embed",
        r"outside (the )?(build context|main module|module root)",
    ),
    _family(
        "missing-config",
        "Required configuration from the environment is missing; validate settings at start-up with a "
        "clear error instead of failing deep inside.",
        r"KeyError: '[A-Z_]{3,}'",
        r"environment variable .* (not set|missing|undefined)",
        r"os\.environ\[",
        r"process\.env\.[A-Z_]+",
        r"getenv\(",
        r"ENV\.fetch",
    ),
    _family(
        "native-memory",
        "A memory error in native code: enable the sanitizers and compiler warnings to find the first "
        "bad access instead of guessing from the crash site.",
        r"Segmentation fault",
        r"core dumped",
        r"double free",
        r"heap-buffer-overflow",
        r"stack smashing",
        r"SIGSEGV",
        r"use-after-free",
        r"AddressSanitizer",
    ),
    _family(
        "money-floats",
        "Money is computed with binary floating point and loses cents; use a decimal type and round "
        "once, at the boundary.",
        r"BigDecimal",
        r"Math\.round\(.*(price|total|amount)",
        r"0\.30000000000000004",
        r"float.*(price|amount)",
        r"toFixed\(",
        r"\bDecimal\(",
    ),
    _family(
        "async-await",
        "An asynchronous call is not awaited or its failure is not handled; await it and let errors "
        "propagate.",
        r"was never awaited",
        r"Promise \{ <pending> \}",
        r"Unhandled(Promise)?Rejection",
        r"await is only valid",
        r"unhandled promise",
        r"RuntimeWarning: coroutine",
    ),
    _family(
        "module-system",
        "ES modules and CommonJS are mixed; make the package's module type and the import style agree.",
        r"ERR_REQUIRE_ESM",
        r"Cannot use import statement outside a module",
        r"require is not defined",
        r"__dirname is not defined",
        r"ERR_MODULE_NOT_FOUND",
        r"\"type\": \"module\"",
    ),
    _family(
        "swallowed-error",
        "An error is caught and ignored; handle it or propagate it with context so failures stay visible.",
        r"except\s*(Exception)?\s*:\s*pass",
        r"catch\s*\(\w+( \w+)?\)\s*\{\s*\}",
        r"rescue nil",
        r"\b_ = err\b",
        r"unwrap_or_default\(\)",
        r"except Exception:",
        r"catch \(Exception",
    ),
    _family(
        "network-call",
        "A call to another service hangs or fails; set explicit timeouts, handle the failure, and keep "
        "live services out of unit tests.",
        r"ETIMEDOUT",
        r"ECONNREFUSED",
        r"Connection refused",
        r"Read timed out",
        r"requests\.(get|post)\(",
        r"fetch\(",
        r"http\.(Get|Post)\(",
        r"SocketTimeoutException",
    ),
    _family(
        "masked-failure",
        "A failing step is masked so the run looks green (a pipeline's exit status, an ignored error, "
        "continue-on-error); make every failure fail the run.",
        r"\|\s*tee\b",
        r"\|\|\s*true\b",
        r"pipefail",
        r"continue-on-error",
        r"allow_failure",
        r"set \+e\b",
        r"\[skip ci\]|\[ci skip\]",
    ),
    _family(
        "shared-mutable-state",
        "Mutable state is shared through an alias (a default argument, a reused slice or object, state "
        "changed in place); copy before changing it, or treat it as immutable.",
        r"dangerous-default-value|mutable default|B006\b",
        r"def \w+\(.*=\s*(\[\]|\{\}|list\(\)|dict\(\)|set\(\))",
        r"\bappend\(\w+\[",
        r"\b(state|props)\.\w+(\.\w+)*\s*(=[^=]|\.push\(|\+\+|\+=)",
        r"read[- ]only property",
        r"mutat(e|ed|ion)",
    ),
    _family(
        "threads-shared-state",
        "State is shared between threads or tasks without synchronisation; guard it with a lock or an "
        "atomic, or give each thread its own copy.",
        r"cannot be sent between threads safely",
        r"is not `?(Send|Sync)`?",
        r"WARNING: DATA RACE",
        r"\bthreading\.|\bThread\(|go func\(",
        r"\bsynchronized\b|\bMutex\b|\bRLock\b|\bAtomic\w+",
        r"lost updates?|race condition",
    ),
    _family(
        "version-specific-api",
        "An API differs between versions of a library or language; check the version that is installed "
        "and follow its documentation, instead of an example written for another version.",
        r"deprecat",
        r"(was|been|is) removed in",
        r"no longer supported|no longer available|has been removed",
        r"has no attribute '\w+'",
        r"is not a function",
        r"\bjavax\.",
        r"\bioutil\.",
        r"cannot find (symbol|value|function)",
        r"undefined: \w+\.\w+",
    ),
    _family(
        "import-cycle",
        "Modules depend on each other in a cycle; move the shared part into its own module instead of "
        "deferring or reordering imports.",
        r"circular import",
        r"partially initiali[sz]ed module",
        r"import cycle not allowed",
        r"before initiali[sz]ation",
        r"cyclic (dependency|import)",
    ),
    _family(
        "launch-mode",
        "The program fails because of how it is launched or resolved (as a script or as a module, the "
        "module resolution mode, the entry point); run it the way the project is meant to be run.",
        r"attempted relative import",
        r"no known parent package",
        r"TS2835|TS2307|TS1479",
        r"ERR_UNKNOWN_FILE_EXTENSION",
        r"explicit file extension",
        r"Could not find or load main class",
    ),
    _family(
        "time-and-dates",
        "Dates and times are computed without an explicit time zone or calendar rule; keep instants in "
        "UTC, convert at the edges, and test month ends and daylight-saving changes.",
        r"time ?zone|tzinfo|\bUTC\b|\bDST\b",
        r"offset-naive|offset-aware",
        r"\bset(UTC)?(Month|Date|Hours)\(|\bget(UTC)?(Month|Date)\(",
        r"Invalid Date",
        r"datetime\.now\(\)|time\.Now\(\)|new Date\(",
        r"LocalDate(Time)?|ZonedDateTime",
    ),
    _family(
        "leaked-secret",
        "A secret reaches a log, a commit or an error message; remove it at the source, rotate it, and "
        "redact what is logged.",
        r"push protection|GH013|secret scanning",
        r"\bsecrets? detected\b|contains? secrets?",
        r"Authorization|Bearer\b",
        r"\b(api[_-]?key|password|passwd|secret)\b",
        r"log\w*\(.*(header|token|cookie)",
    ),
    _family(
        "destructive-vcs",
        "A destructive version-control operation would lose work; inspect what it would discard, then "
        "integrate (fetch and rebase or merge) instead of forcing.",
        r"reset --hard",
        r"push (-f|--force)",
        r"non-fast-forward",
        r"\[rejected\]",
        r"fetch first",
        r"have diverged",
        r"git clean -\w*[fd]",
        r"checkout -- \.|restore \.",
    ),
    _family(
        "numeric-range",
        "A number exceeds the range or precision of its type; compute in a wider or exact type and check "
        "the bounds where values enter.",
        r"overflow",
        r"MAX_SAFE_INTEGER|Number\.MAX|Integer\.MAX_VALUE|i32::MAX|math\.MaxInt",
        r"\bBigInt\b",
        r"precision",
        r"wrap(ped|s) around|wrapping_",
        r"\b2147483647\b|\b9007199254740993\b",
    ),
    _family(
        "schema-drift",
        "The code and the database schema disagree; change the schema through a migration, run it before "
        "the code that needs it, and keep names identical on both sides.",
        r"column .* does not exist|no such column|Unknown column|undefined column|UndefinedColumn",
        r"relation .* does not exist|no such table|UndefinedTable|Table .* doesn't exist",
        r"violates not-null constraint|cannot be null|NOT NULL",
        r"\bmigrat",
        r"ALTER TABLE",
    ),
    _family(
        "queries-in-loop",
        "The code makes one database or network round trip per item (N+1); fetch related data in one "
        "query or batch the calls.",
        r"N\+1",
        r"\bfor\b.*\b(query|Query|QueryRow|execute|find_by|objects\.get|findOne|findById|fetch)\b",
        r"select_related|prefetch_related|includes\(|DataLoader",
        r"too many (queries|round trips)",
    ),
    _family(
        "whitespace-format",
        "A whitespace-sensitive format breaks on invisible characters (tabs, indentation, line endings, "
        "unquoted values); make them visible, normalise them and validate with the format's own parser.",
        r"TabError|IndentationError|inconsistent use of tabs",
        r"mapping values are not allowed|could not find expected|found character that cannot start",
        r"\$'\\r'|\\r: command not found|bad interpreter|\^M|CRLF",
        r"\b(yes|no|on|off|NO)\b\s*$",
    ),
    _family(
        "resource-leak",
        "Resources are acquired and not released (files, sockets, connections, handles); release them "
        "deterministically and bound concurrency instead of raising the limits.",
        r"EMFILE|too many open files",
        r"ResourceWarning: unclosed",
        r"pool (exhausted|timeout)|connection pool",
        r"\bleak",
        r"ulimit",
        r"Promise\.all\(",
    ),
    _family(
        "environment-difference",
        "It works in one environment and fails in another; find what differs (file-name case, line "
        "endings, versions, variables, the shell) instead of retrying.",
        r"works (locally|on my machine)",
        r"case[- ]sensitiv",
        r"only (fails|failing) (in|on) CI",
        r"\bon CI\b|\bin CI\b",
    ),
    _family(
        "stale-build-output",
        "The build output is stale or generated from an older source; change the source it is generated "
        "from and rebuild instead of editing generated files.",
        r"generated|DO NOT EDIT|@Generated",
        r"stale|out of date",
        r"\b(target|build|dist|gen)/",
    ),
)


DISTILLATION_ONLY: tuple[ProblemFamily, ...] = (
    _family("port-in-use", "A server cannot start because its port is taken: find and stop the old process."),
    _family(
        "native-toolchain",
        "A package needs a compiler or system library to build: install the toolchain, not another package.",
    ),
    _family("unused-code", "Strict checks fail on unused code: remove it rather than silencing the check."),
    _family(
        "permission-denied", "An operation is denied: fix ownership or permissions, never run it as root."
    ),
    _family("snapshot-outdated", "A snapshot test fails after an intended change: review, then update it."),
)

PROBLEMS: dict[str, ProblemFamily] = {family.name: family for family in (*FAMILIES, *DISTILLATION_ONLY)}
"""Every problem kind by its id."""


def match_families(texts: Iterable[str | None]) -> list[ProblemFamily]:
    """The problem families whose symptoms appear in any of ``texts``, in table order."""
    joined = "\n".join(text for text in texts if text)
    if not joined:
        return []
    return [family for family in FAMILIES if any(pattern.search(joined) for pattern in family.patterns)]

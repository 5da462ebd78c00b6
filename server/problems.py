"""Recognising the kind of problem behind what the editor shows, in words that transfer.

An error message names a symptom in one language's vocabulary ("NoneType is not subscriptable",
"nil pointer dereference", "possibly 'undefined'"); the memories that help across languages name the
problem ("handle absence where it is produced"). Each family below maps the symptoms of many
languages and tools to one abstract statement, which is searched beside the raw context — the offline
stand-in for the short plan the paper embedded instead of the raw task.
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
)


def match_families(texts: Iterable[str | None]) -> list[ProblemFamily]:
    """The problem families whose symptoms appear in any of ``texts``, in table order."""
    joined = "\n".join(text for text in texts if text)
    if not joined:
        return []
    return [family for family in FAMILIES if any(pattern.search(joined) for pattern in family.patterns)]

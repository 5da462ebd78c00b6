"""Secret redaction: every text is passed through ``redact`` before it is stored or sent to a model.

Each secret is replaced by a typed placeholder ``[REDACTED:<kind>]``; everything else is kept byte for
byte. Rules live in one table, most specific first: provider token formats (``ghp_``, ``AKIA``, PEM
blocks, ...) win over context rules (``password: ...``, ``Authorization: Bearer ...``) when two
findings overlap. Context rules replace only the value, never the key, user name or host.

What is *not* a secret, on purpose:

* syntactic placeholders and references: ``<token>``, ``${VAR}``, ``$VAR``, ``$(cmd)``, ``{{ x }}``,
  ``%(x)s``, masks such as ``****``/``xxxx``, ``your_api_key_here``, YAML tags (``!Ref X``);
* code rather than literals: calls (``get_token()``), attribute/subscript access (``self.token``,
  ``os.environ["X"]``), type annotations (``password: str``), tuples, and unquoted identifiers where
  code is likely (``password = new_password``, ``password: userPassword``, ``key = s3_conn``);
* names rather than values: ``"OPENAI_API_KEY"``, ``"invalid_token"``, ``publicKeyToken``;
* ``None``/``null``/``true``/... and other flag words, paths, colours, prose (``# the token: is
  refreshed``, quoted text of three or more words), values shorter than 4 characters, numbers shorter
  than 6 digits; for keys that also name a mode (``auth``, ``credentials``) any value that does not
  look random (``auth: basic``).

Dictionary words such as ``changeme`` or ``password`` *are* redacted where they are literals (quoted,
in ``.env``/shell lines, a lone lower-case word ending a YAML line): they are often live default
credentials. Terminal colour codes are looked through. Existing placeholders are never redacted again
and the lines around new ones are searched until nothing changes, so ``redact`` is idempotent.

Every pattern is linear: bounded repetitions, no nested quantifiers over overlapping classes, and the
look-arounds done in Python look a bounded distance.
"""

from __future__ import annotations

import base64
import bisect
import functools
import re
from collections.abc import Callable, Iterator

import attrs

from carryover.pool.records import MemoryDraft

PLACEHOLDER = "[REDACTED:{kind}]"


@attrs.frozen
class Finding:
    """One secret: its kind and its offsets in the original text."""

    kind: str
    start: int
    end: int


@attrs.frozen
class Redacted:
    """The redacted text and what was removed from it (offsets refer to the input)."""

    text: str
    findings: tuple[Finding, ...]


# A classifier gets the match and the secret's text; it returns the kind to report, or None to keep
# the text as it is.
Classifier = Callable[[re.Match[str], str], str | None]


@attrs.frozen
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    # Name(s) of the group holding the secret; the first one that took part in the match is used.
    groups: tuple[str, ...] = ("secret",)
    classify: Classifier | None = None
    # Lower-case substrings of which at least one must occur in the text for the rule to run at all
    # (default: the words a secret key name contains).
    hints: tuple[str, ...] = ()
    # Search only the lines holding a hint (for patterns without a literal prefix to scan for).
    by_line: bool = False
    # Reject a secret that continues a word (`xghp_...`): cheaper than a leading look-behind, which
    # would stop the regex engine from skipping ahead to the literal prefix.
    word_start: bool = False
    # When a match is rejected because its key names no secret, search again from its value: in
    # `client = Api(token="...")` the key `client` must not hide the `token=` inside its value.
    retry_inside: bool = False
    # For rules whose pattern finds an anchor (a key word, an END line) rather than the secret:
    # the secret's span worked out in Python, or None.
    span: Callable[[re.Match[str]], tuple[int, int] | None] | None = None


# --------------------------------------------------------------------------------------------------
# Value and key heuristics
# --------------------------------------------------------------------------------------------------

_NON_SECRET_WORDS = frozenset(
    {
        "none", "null", "nil", "true", "false", "undefined", "yes", "no", "on", "off", "required",
        "optional", "include", "omit", "same-origin", "empty", "unset", "string", "str", "int",
        "integer", "bool", "boolean", "bytes", "number", "any", "object", "redacted", "masked",
        "hidden", "bearer", "basic",
    }
)  # fmt: skip
_MASK = re.compile(r"[xX*.•#_:\-]+|\*{3,}.*|#[0-9A-Fa-f]{3,8}")  # masks; `#d8dee9` is a colour
_PLACEHOLDER_SHAPE = re.compile(
    r"""
      [$][{(A-Za-z_]       # ${VAR}  $(cmd)  $VAR
    | [{\[<(]              # {{ template }}  {name}  [list]  <your-token>  (tuple, of, names)
    | %[(sdv]              # %(name)s  %s
    | [#@][{]              # #{ruby}  @{x}
    | [!][A-Za-z]+$        # YAML tags: !Ref, !Sub
    | (?i:your|insert|enter|replace)[-_ ]
    | (?i:arn:|vault:|secretsmanager:|ref\+|op://)
    | .*(?i:[-_ ]here)$
    | .*(?:\.\.\.|…)$          # elided: sk-...  eyJhbGciOi...
    | .*(?i:redacted)
    """,
    re.VERBOSE,
)
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.@/-]*|[A-Za-z]:\\[\w.\\ -]*")
_DIGITS = re.compile(r"[0-9]{1,5}")
# Code on the right-hand side: calls, subscripts, generics, attribute/path access, pointer types.
_CODE_EXPR = re.compile(r"[*&]?[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*(?:[(\[<].*)?[!?]?")
_WORD = re.compile(r"[A-Za-z_]+")
_LOWER_LETTERS = re.compile(r"[a-z]+")
_OPTION_LIST = re.compile(r"[a-z]+=")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_SNAKE_CASE = re.compile(r"[a-z]+(?:_+[a-z]+)+")
_SNAKE_CASE_NAME = re.compile(r"[a-z][a-z0-9]*(?:_+[a-z0-9]+)+")  # unquoted: `s3_example_simple`
_PROSE_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*[.,;!?]?")
_PROSE_TAIL = re.compile(r"[ \t]+[A-Za-z]{2,}(?![\w:=])")


def is_placeholder(value: str) -> bool:
    """True for values that stand for a secret without being one (``<token>``, ``${X}``, ``****``)."""
    v = value.strip()
    return (
        not v
        or v.lower() in _NON_SECRET_WORDS
        or _MASK.fullmatch(v) is not None
        or _PLACEHOLDER_SHAPE.match(v) is not None
    )


def _is_literal_secret(value: str, *, code: bool, env: bool = False) -> bool:
    """Whether a value assigned to a secret-looking key is itself a secret.

    ``code`` says the value is unquoted in a place where it may be an expression (``x = value``,
    ``key: value``, ``f(key=value)``); ``env`` that it is a shell/.env literal (``KEY=value``).
    """
    v = value.strip()
    if len(v) < 4 or is_placeholder(v) or _DIGITS.fullmatch(v) or _PATH.fullmatch(v):
        return False
    if len(v.split(maxsplit=2)) > 2:  # prose: "Password must be at least 8 characters"
        return False
    if _ENV_NAME.fullmatch(v) or _SNAKE_CASE.fullmatch(v):  # `INVALID_TOKEN = "invalid_token"`
        return False
    if env:
        # A line-start `key=value` may still be a keyword argument on its own line.
        return not (v.endswith(",") or _is_expression(v))
    if not code:
        return True
    return not (_WORD.fullmatch(v) or _SNAKE_CASE_NAME.fullmatch(v) or _is_expression(v))


def _is_expression(value: str) -> bool:
    """``self.token``, ``os.environ[``, ``get_token(``, ``Option<String>``, ``*string``."""
    return _CODE_EXPR.fullmatch(value) is not None and (any(c in value for c in ".:([<") or value[0] in "*&")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_KEY_PARTS = re.compile(r"[a-z0-9]+")
_PASSWORD_SUFFIXES = ("password", "passwd", "passphrase", "passcode")
_SECRET_SUFFIXES = ("secret", "token", "apikey", "secretkey", "accesskey", "privatekey")
_SECRET_PARTS = frozenset({"pass", "pwd", "auth", "credential", "credentials", "creds"})
_KEY_QUALIFIERS = frozenset(
    {
        "api", "access", "secret", "private", "signing", "encryption", "master", "account",
        "storage", "license", "app", "client", "service", "subscription", "auth", "session", "tls",
        "ssh", "deploy", "webhook", "sas", "shared",
    }
)  # fmt: skip
# `next_token`, `max_tokens`, `page_token`: pagination cursors and counters, not credentials.
_NOT_SECRET_QUALIFIERS = frozenset({"next", "page", "continuation", "cancellation", "sync", "max", "min"})
# Shell variables that only look like passwords.
_NOT_SECRET_KEYS = frozenset({"pwd", "oldpwd"})
# Keys that also name a mode (`auth: basic`, `credentials: include`): their value must look random.
_WEAK_PARTS = frozenset({"auth", "credential", "credentials", "creds"})


@functools.lru_cache(maxsize=4096)
def key_kind(key: str) -> str | None:
    """The kind of secret a key name announces (``DB_PASSWORD``, ``apiKey``), or None."""
    parts = _KEY_PARTS.findall(_CAMEL.sub("_", key).lower())
    if not parts or "".join(parts) in _NOT_SECRET_KEYS or "public" in parts:
        return None
    last = parts[-1]
    if last in ("confirmation", "confirm") and len(parts) > 1:
        last = parts[-2]
    qualifier = parts[-2] if len(parts) > 1 else ""
    if last in ("pass", "pwd") or last.endswith(_PASSWORD_SUFFIXES):
        return "generic-password"
    if qualifier in _NOT_SECRET_QUALIFIERS:
        return None
    if last in _SECRET_PARTS or last.endswith(_SECRET_SUFFIXES):
        return "generic-secret"
    if last == "key" and qualifier in _KEY_QUALIFIERS:
        return "generic-secret"
    return None


def _group(match: re.Match[str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if match.group(name) is not None:
            return name
    return None


def _classify_assignment(match: re.Match[str], value: str) -> str | None:
    """``key <sep> value`` where the key names a secret and the value is a literal."""
    key = match.group("key")
    kind = key_kind(key)
    if kind is None or (_is_weak_key(key) and not _looks_random(value)):
        return None
    bare = match.group("bare") is not None
    sep = match.group("sep")
    env = bare and sep == "=" and _is_env_line(match) and _ends_token(match)
    if match.re is _ENV_LINE and bare and not env:
        return None  # its value runs to the next blank; `_ASSIGNMENT` delimits code values better
    # `password: changeme` ending a line is YAML; `password: userPassword` or `: new_pw` is code.
    yaml_word = (
        bare and sep.strip() == ":" and _LOWER_LETTERS.fullmatch(value) is not None and _ends_line(match)
    )
    if bare and not env and (_prose_follows(match, value) or _is_bare_pass(key)):
        return None
    code = bare and not env and not yaml_word
    return kind if _is_literal_secret(value, code=code, env=env) else None


def _prose_follows(match: re.Match[str], value: str) -> bool:
    """``# the token: re-exchanging on every call``: a word, then more words (not ``user=bob``)."""
    tail = match.string[match.end() : match.end() + 64]
    return _PROSE_WORD.fullmatch(value) is not None and _PROSE_TAIL.match(tail) is not None


def _is_bare_pass(key: str) -> bool:
    """A lone unquoted ``pass`` key is the English word or the Python statement (``pass :data:``)."""
    return key.strip("_-$").lower() == "pass"


def _ends_line(match: re.Match[str]) -> bool:
    """Nothing but blanks or a comment follows the value on its line (looking a bounded distance)."""
    text, end = match.string, match.end()
    tail = text[end : end + 64]
    rest = tail.split("\n", 1)[0].strip()
    return rest.startswith("#") or (rest == "" and ("\n" in tail or end + 64 >= len(text)))


def _ends_token(match: re.Match[str]) -> bool:
    """The value runs up to whitespace: `f(\n  key=value,\n)` is an argument, not a shell line."""
    end = match.end()
    return end == len(match.string) or match.string[end].isspace() or match.string[end] < " "


@functools.lru_cache(maxsize=4096)
def _is_weak_key(key: str) -> bool:
    parts = _KEY_PARTS.findall(_CAMEL.sub("_", key).lower())
    return bool(parts) and parts[-1] in _WEAK_PARTS


def _looks_random(value: str) -> bool:
    """Mixed case or several digits: `dXNlcjpwYXNz`, not `basic`, `aws-profile-1` or `JSESSIONID`."""
    digits = sum(c.isdigit() for c in value)
    mixed_case = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return len(value) >= 8 and (digits >= 2 or mixed_case)


def _is_env_line(match: re.Match[str]) -> bool:
    """The assignment is a shell/.env line: ``KEY=v``, ``export key=v``, ``- KEY=v``, ``-e KEY=v``.

    An indented lower-case ``key=value`` without ``export`` is more likely a keyword argument.
    """
    text, start, key = match.string, match.start("key"), match.group("key")
    # Look back a bounded distance: a line holding thousands of assignments must stay linear.
    begin = max(0, start - 64)
    newline = text.rfind("\n", begin, start)
    raw = text[newline + 1 if newline != -1 else begin : start]
    prefix = raw.strip().rstrip("\"'").rstrip()
    if prefix in ("-e", "--env") or prefix.endswith((" -e", " --env")):
        return True
    if newline == -1 and begin > 0:
        return False
    if prefix == "":
        return not raw or key.isupper()
    return prefix in ("export", "set", "ENV", "-")


def _classify_literal(match: re.Match[str], value: str) -> str | None:
    """A value in a position where it is always a literal (CLI flags, XML text)."""
    key = match.group("key")
    kind = key_kind(key)
    if kind is None or (_is_weak_key(key) and not _looks_random(value)):
        return None
    if _OPTION_LIST.match(value):  # `docker build --secret id=npmrc,src=~/.npmrc`
        return None
    # An unquoted flag value may be a word from a usage message: `--password requires --user`.
    bare = "bare" in match.groupdict() and match.group("bare") is not None
    return kind if _is_literal_secret(value, code=bare) else None


def _classify_bare_word(match: re.Match[str], value: str) -> str | None:
    """Like ``_classify_literal`` but a bare word without digits may be prose, not a password."""
    return "generic-password" if _is_literal_secret(value, code=True) else None


def _classify_url_password(match: re.Match[str], value: str) -> str | None:
    """``scheme://user:PASSWORD@host``; ``http://host:8080?next=a@b`` is a port and a query."""
    if "?" in value and value.split("?", 1)[0].isdigit():
        return None
    return None if is_placeholder(value) else "url-password"


def _classify_query_password(match: re.Match[str], value: str) -> str | None:
    """``?password=`` / ``;password=`` in a JDBC or ODBC URL or connection string."""
    return "generic-password" if _is_literal_secret(value, code=False) else None


def _classify_flag_password(match: re.Match[str], value: str) -> str | None:
    """The value of ``-p`` in a command that takes a password there (``mysql``, ``sshpass``)."""
    return None if len(value) < 2 or is_placeholder(value) else "generic-password"


def _classify_shell_assignment(match: re.Match[str], value: str) -> str | None:
    """``KEY=value`` after other text on a command line, where a shell would run it."""
    key = match.group("key")
    kind = key_kind(key)
    if kind is None or (_is_weak_key(key) and not _looks_random(value)):
        return None
    if not _after_shell_prefix(match):
        # `... SECRET_KEY=value` after prose: an upper-case name still reads as an environment
        # variable, unless its value is code (`f(SECRET_KEY=settings.KEY,`).
        if not (_ENV_KEY.fullmatch(key) and match.group("bare") is not None):
            return None
        if value.endswith(",") or _is_expression(value):
            return None
    return kind if _is_literal_secret(value, code=False) else None


def _after_shell_prefix(match: re.Match[str]) -> bool:
    """What precedes the assignment on its line is a prompt, a command start or more assignments."""
    text, start = match.string, match.start("key")
    begin = max(0, start - 200)
    newline = text.rfind("\n", begin, start)
    prefix = text[newline + 1 if newline != -1 else begin : start]
    words = prefix.split()
    if not words:
        return False  # a line of its own: the .env rules decide
    while words and _SHELL_WORD_ASSIGNMENT.fullmatch(words[-1]):
        words.pop()
    if not words:
        return True  # `A=1 B=2 KEY=...`
    last = words[-1]
    if last in _SHELL_STARTERS or last.endswith(("&&", "||", ";", "|", "(")):
        return True
    if len(words) == 1 and _HISTORY_NUMBER.fullmatch(last):
        return True  # `history` output
    return _PROMPT_END.match(last) is not None


def _classify_yaml_line(match: re.Match[str], value: str) -> str | None:
    """Only values that hold a character the code rules stop at; others are theirs to judge."""
    key = match.group("key")
    kind = key_kind(key)
    if kind is None or (_is_weak_key(key) and not _looks_random(value)):
        return None
    if not any(c in value for c in ",;&)]}") or value[-1] in ",;)]}" or _is_expression(value):
        return None
    return kind if _is_literal_secret(value, code=False) else None


_PEM_END = re.compile(r"-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----")
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]{8,128}={0,2}\r?")


def _pem_body_before_end(match: re.Match[str]) -> tuple[int, int] | None:
    """A key block shown without its BEGIN line (``tail key.pem``): the base64 lines above END,
    separated by newlines or, inside JSON, by ``\\n``."""
    text = match.string
    start = match.start()
    separator = "\\n" if text.endswith("\\n", 0, start) else "\n"
    lines = 0
    while lines < 400 and text.endswith(separator, 0, start):
        line_end = start - len(separator)
        found = text.rfind(separator, max(0, line_end - 130), line_end)
        line_start = found + len(separator) if found != -1 else max(0, line_end - 130)
        if found == -1 and line_start > 0:
            break
        if not _BASE64_LINE.fullmatch(text, line_start, line_end):
            break
        start = line_start
        lines += 1
    return (start, match.end()) if lines else None


_PROSE_PASSWORD_KEY = re.compile(
    r"(?i)(?<![\w$.@/-])(?:password|passwd|passphrase|passcode|pwd|pw)(?=[ \t]|:[ \t])"
)
_PROSE_SYMBOLS = frozenset("!@#$%^&*+=?~")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_VERSION = re.compile(r"v?[0-9]+(?:\.[0-9]+)+[a-z0-9.+-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTES = "\"'`"


def _looks_like_prose_password(core: str) -> bool:
    if not 6 <= len(core) <= 128 or not any(c.isalpha() for c in core):
        return False
    if not (any(c.isdigit() for c in core) or any(c in _PROSE_SYMBOLS for c in core)):
        return False
    if any(part in core for part in ("://", "/", "\\", "(", "[", "{", "<", "=")) or is_placeholder(core):
        return False
    if "_" in core and _IDENTIFIER.fullmatch(core):
        return False  # `new_password2`: a name
    return not (_EMAIL.fullmatch(core) or _VERSION.fullmatch(core))


def _prose_password(match: re.Match[str]) -> tuple[int, int] | None:
    """``the password is hunter2x!``, ``passphrase letmein-77``, ``password for the db: S3cret!``:
    the first password-looking word among the next six on the line, over plain words only (any
    other word, such as code, ends the search)."""
    text = match.string
    end = text.find("\n", match.end(), match.end() + 200)
    tail = text[match.end() : end if end != -1 else match.end() + 200]
    offset = match.end()
    for count, word in enumerate(re.finditer(r"\S+", tail)):
        if count >= 6:
            break
        raw = word.group()
        lead = len(raw) - len(raw.lstrip(_QUOTES + ":"))
        core = raw[lead:].rstrip(_QUOTES + ")]},;")
        if _looks_like_prose_password(core.rstrip(":.")):
            start = offset + word.start() + lead
            return start, start + len(core)
        if raw not in (":", "=", "->", "-") and not _PLAIN_WORD.fullmatch(raw):
            break
    return None


_PLAIN_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*:?")


# --------------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------------

_B64 = "A-Za-z0-9+/"
_CTRL = r"\x00-\x1f\x7f"
_ANSI_CSI = r"\x1b\[[0-9;?]{0,32}[A-Za-z]"
_URLSAFE = "A-Za-z0-9_-"
_PEM_LABEL = r"(?P<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)"


def _b64_prefixes(headers: tuple[str, ...]) -> tuple[str, str]:
    """Base64 of each header, cut to whole 3-byte groups so the prefix is stable whatever follows.

    Returns the prefix all of them share (a literal the regex engine can scan for) and an
    alternation of the rest.
    """
    encoded = [base64.b64encode(h.encode()[: len(h) // 3 * 3]).decode() for h in headers]
    common = encoded[0]
    for other in encoded[1:]:
        while not other.startswith(common):
            common = common[:-1]
    return common, "|".join(e[len(common) :] for e in encoded)


_B64_PEM_COMMON, _B64_PEM_HEADERS = _b64_prefixes(
    tuple(f"-----BEGIN {k}PRIVATE KEY-----" for k in ("", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "))
)

# Quoted or bare value after a key; `bare` stops at separators used by URLs, kwargs and objects.
_VALUE = rf"""
    (?: "(?P<dq>(?:[^"\\\n]|\\.){{1,4096}})"
      | '(?P<sq>(?:[^'\\\n]|\\.){{1,4096}})'
      | \\(?P<eq>["'])(?P<esc>[^"'\\\n]{{1,4096}})\\(?P=eq)     # escaped JSON inside a log line
      | "(?P<dqo>[^"\\\n]{{4,4096}})(?=\r?\n|$)                  # cut off before its closing quote
      | '(?P<sqo>[^'\\\n]{{4,4096}})(?=\r?\n|$)
      | (?P<bare>[^\s"'`,;&)\]}}{_CTRL}]{{1,4096}})
    )"""
_VALUE_GROUPS = ("dq", "sq", "esc", "dqo", "sqo", "bare")

_ASSIGNMENT = re.compile(
    rf"""
    (?<![\w.@/-])
    (?P<q>\\?["']?)(?P<key>[A-Za-z_$][\w.$-]{{0,63}})(?P=q)\]?
    (?P<sep>[ \t]*
        (?::[ \t]*[A-Za-z_&][\w.\[\]|<>&, ]{{0,48}}(?==(?!=)))?    # type annotation: `key: str = v`
        (?::=|=>|=(?![=~])|:(?![:=/\\-]))
    [ \t]*)
    {_VALUE}
    """,
    re.VERBOSE,
)

# `.env`/properties lines: the bare value runs to the end of the token, symbols included.
_ENV_LINE = re.compile(
    rf"""
    ^[ \t]*(?:export[ \t]+|set[ \t]+|-[ \t]+)?
    (?P<key>[A-Za-z_][\w.-]{{0,63}})(?P<sep>=)
    (?: "(?P<dq>[^"\n]{{1,4096}})"
      | '(?P<sq>[^'\n]{{1,4096}})'
      | "(?P<dqo>[^"\n]{{4,4096}})                                  # cut off before its closing quote
      | '(?P<sqo>[^'\n]{{4,4096}})
      | (?P<bare>[^\s"'#{_CTRL}][^\s{_CTRL}]{{0,4095}})
    )(?=[ \t]|\r?$)
    """,
    re.VERBOSE | re.MULTILINE,
)

# `KEY=value` inside a command line: after a prompt (`$ PGPASSWORD=x psql`), `&&`, `env`, `sudo`,
# other assignments. The value is a shell word: it runs to the next blank unless quoted; a quoted
# value cut off before its closing quote runs to the end of the line.
_SHELL_ASSIGN = re.compile(
    rf"""
    (?<![\w$.@/:-])(?P<key>[A-Za-z_][A-Za-z0-9_]{{0,63}})=
    (?: "(?P<dq>[^"\n]{{1,4096}})"?
      | '(?P<sq>[^'\n]{{1,4096}})'?
      | (?P<bare>[^\s"'`{_CTRL}][^\s{_CTRL}]{{0,4095}})
    )
    """,
    re.VERBOSE,
)
_SHELL_STARTERS = frozenset(
    {
        "export", "env", "sudo", "-E", "set", "local", "declare", "readonly", "typeset", "ENV", "RUN",
        "command", "exec", "time", "nohup", "-e", "--env", "--build-arg", "--set", "&&", "||", ";", "|",
        "(", "$(", "`", "then", "do", "else",
    }
)  # fmt: skip
_PROMPT_END = re.compile(r"(?:^|.*[\w~/\])])?[$#%>❯➜»λ]$")
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_HISTORY_NUMBER = re.compile(r"[0-9]{1,7}\*?")
_SHELL_WORD_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")

# A YAML/header line (or a line ending in `key: value`) whose unquoted value holds characters that
# end a value in code (`)`, `;`): `secret_key: django-insecure-!1-fb)3=%h4...`, `X-Secret-Key: a;b`.
_YAML_LINE = re.compile(
    r"""(?:^[ \t]*(?:-[ \t]+)?|(?<=[ \t]))(?P<key>[A-Za-z_][\w.-]{0,63}):[ \t]+"""
    r"""(?P<bare>[^\s"'#&*!|>{\[][^\s]{0,4095})[ \t]*\r?$""",
    re.MULTILINE,
)

_XML_ELEMENT = re.compile(r"<(?P<key>[A-Za-z_][\w:.-]{0,63})>(?P<secret>[^<>\n]{1,1024})</(?P=key)>")
_SECRET_KEY_HINTS = ("pass", "pwd", "secret", "token", "key", "auth", "cred")

_CLI_FLAG = re.compile(
    rf"""
    (?<![\w-])--(?P<key>[A-Za-z][\w-]{{0,40}})(?:=|[ \t]+)
    (?: "(?P<dq>[^"\n]{{1,1024}})"
      | '(?P<sq>[^'\n]{{1,1024}})'
      | (?P<bare>[^\s"'{_CTRL}-][^\s"'{_CTRL}]{{0,1023}})
    )
    """,
    re.VERBOSE,
)


def _token(kind: str, pattern: str, *hints: str) -> _Rule:
    """A provider token found by its prefix; it must not continue a longer word."""
    return _Rule(kind, re.compile(pattern), hints=hints, word_start=True)


def _context(kind: str, pattern: str, *hints: str, classify: Classifier | None = None) -> _Rule:
    """A secret found by what precedes it on its line (a key name, a header, a command)."""
    return _Rule(kind, re.compile(pattern), classify=classify, hints=hints, by_line=True)


_RULES: tuple[_Rule, ...] = (
    # Multi-line blocks first: a PEM body may contain anything that looks like a shorter token.
    _Rule(
        "gcp-service-account-key",
        re.compile(
            rf'"private_key"[ \t]*:[ \t]*"(?P<secret>-----BEGIN PRIVATE KEY-----[{_B64}=\\]{{0,12000}}'
            r"-----END PRIVATE KEY-----)"
        ),
        hints=("private_key",),
    ),
    _Rule(
        "private-key",
        # The body stops at the next run of five dashes, so a BEGIN without END costs one line.
        re.compile(
            rf"(?P<secret>-----BEGIN {_PEM_LABEL}-----(?:[{_B64}=\s\\:,.]|-(?!----)){{0,20000}}"
            r"-----END (?P=label)-----)"
        ),
        hints=("-----begin",),
    ),
    _Rule(
        "private-key",
        # A block cut off before its END line (`head id_rsa`, truncated logs): header + base64 lines.
        re.compile(
            rf"(?P<secret>-----BEGIN {_PEM_LABEL}-----(?:(?:\r?\n|\\n)[{_B64}=]{{8,128}}){{1,400}})"
        ),
        hints=("-----begin",),
    ),
    _token(
        "private-key",
        rf"(?P<secret>{_B64_PEM_COMMON}(?:{_B64_PEM_HEADERS})[{_B64}]{{16,20000}}={{0,2}})",
        _B64_PEM_COMMON.lower(),
    ),
    _token(
        "gcp-service-account-key",
        r'"private_key_id"[ \t]*:[ \t]*"(?P<secret>[0-9a-f]{40})"',
        "private_key_id",
    ),
    _token("anthropic-key", rf"(?P<secret>sk-ant-(?:api|admin|oat)\d\d-[{_URLSAFE}]{{80,200}})", "sk-ant-"),
    _token(
        "openai-key",
        rf"(?P<secret>sk-(?:proj|svcacct|admin)-[{_URLSAFE}]{{40,250}}|sk-[A-Za-z0-9]{{48}})(?![\w-])",
        "sk-",
    ),
    _token(
        "github-token",
        r"(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{60,251})",
        "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    ),
    _token("gitlab-token", r"(?P<secret>gl(?:pat|dt|rt|ptt|ft|cbt|soat|imt)-[\w-]{20,100})", "gl"),
    _token(
        "slack-token",
        r"(?P<secret>xox[abposre]-[A-Za-z0-9-]{10,250}|xapp-[A-Za-z0-9-]{10,250})",
        "xox", "xapp-",
    ),
    _token(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]{20,250})",
        "hooks.slack.com",
    ),
    _token(
        "stripe-key",
        r"(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{20,247}|whsec_[A-Za-z0-9]{24,247})",
        "_live_", "_test_", "whsec_",
    ),
    _token("npm-token", r"(?P<secret>npm_[A-Za-z0-9]{36})(?!\w)", "npm_"),
    _token("pypi-token", rf"(?P<secret>pypi-AgE[{_URLSAFE}]{{40,500}})", "pypi-age"),
    _token("huggingface-token", r"(?P<secret>hf_[A-Za-z0-9]{34,40})(?!\w)", "hf_"),
    _token("sendgrid-key", rf"(?P<secret>SG\.[{_URLSAFE}]{{22}}\.[{_URLSAFE}]{{43}})", "sg."),
    _token("digitalocean-token", r"(?P<secret>do[opr]_v1_[a-f0-9]{64})", "_v1_"),
    _token("vault-token", r"(?P<secret>hv[sbr]\.[A-Za-z0-9_-]{24,500})", "hvs.", "hvb.", "hvr."),
    _token("gcp-api-key", r"(?P<secret>AIza[\w-]{35})(?![\w-])", "aiza"),
    _token(
        "gcp-oauth-token",
        rf"(?P<secret>ya29\.[{_URLSAFE}]{{20,2048}}|GOCSPX-[{_URLSAFE}]{{28}})",
        "ya29.", "gocspx-",
    ),
    _token(
        "aws-access-key-id",
        r"(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9])",
        "akia", "asia", "abia", "acca",
    ),
    _token(
        "jwt",
        rf"(?P<secret>eyJ[{_URLSAFE}]{{8,4096}}\.eyJ[{_URLSAFE}]{{8,8192}}\.[{_URLSAFE}]{{8,4096}})",
        "eyj",
    ),
    _token("azure-storage-key", rf"AccountKey=(?P<secret>[{_B64}]{{20,100}}={{0,2}})", "accountkey="),
    _token(
        "azure-connection-string",
        rf"SharedAccessKey=(?P<secret>[{_B64}]{{20,100}}={{0,2}})",
        "sharedaccesskey=",
    ),
    _token("azure-sas-token", r"[?&]sig=(?P<secret>[A-Za-z0-9%+/]{20,200}=*)", "sig="),
    # Provider formats gitleaks and detect-secrets also know (our own patterns, from each format).
    _token("twilio-key", r"(?P<secret>SK[0-9a-fA-F]{32})(?![0-9A-Za-z])", "sk"),
    _token("telegram-bot-token", r"(?P<secret>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?![\w-])", ":aa"),
    _token("shopify-token", r"(?P<secret>shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32})(?![0-9A-Za-z])", "shp"),
    _token(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]{17,20}/[A-Za-z0-9_-]{60,68})",
        "discord",
    ),
    _token(
        "discord-token",
        r"(?P<secret>[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})(?![\w-])",
        ".",
    ),
    _token(
        "age-secret-key",
        r"(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        "age-secret-key-1",
    ),
    _token("airtable-token", r"(?P<secret>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})(?![0-9a-z])", "pat"),
    _token("alibaba-access-key", r"(?P<secret>LTAI[A-Za-z0-9]{12,20})(?![A-Za-z0-9])", "ltai"),
    _token("atlassian-token", r"(?P<secret>ATATT3[A-Za-z0-9_=-]{150,250})", "atatt3"),
    _token("databricks-token", r"(?P<secret>dapi[a-f0-9]{32}(?:-[0-9])?)(?![0-9a-z])", "dapi"),
    _token("dockerhub-token", rf"(?P<secret>dckr_(?:pat|oat)_[{_URLSAFE}]{{27,80}})", "dckr_"),
    _token("doppler-token", r"(?P<secret>dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44})", "dp."),
    _token("figma-token", rf"(?P<secret>figd_[{_URLSAFE}]{{40,60}})", "figd_"),
    _token(
        "grafana-token",
        r"(?P<secret>glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})",
        "glsa_", "glc_",
    ),
    _token("linear-key", r"(?P<secret>lin_(?:api|oauth)_[A-Za-z0-9]{40})", "lin_"),
    _token("mailchimp-key", r"(?P<secret>[0-9a-f]{32}-us[0-9]{1,2})(?![0-9A-Za-z])", "-us"),
    _token("mailgun-key", r"(?P<secret>key-[0-9a-f]{32})(?![0-9A-Za-z])", "key-"),
    _token(
        "mapbox-secret-token",
        rf"(?P<secret>sk\.eyJ[{_URLSAFE}]{{10,400}}\.[{_URLSAFE}]{{20,100}})",
        "sk.eyj",
    ),
    _token(
        "new-relic-key",
        r"(?P<secret>NR(?:AK|II|JS|AA)-[A-Z0-9]{27})(?![A-Za-z0-9])",
        "nrak-", "nrii-", "nrjs-", "nraa-",
    ),
    _token(
        "notion-token",
        r"(?P<secret>ntn_[A-Za-z0-9]{46}|secret_[A-Za-z0-9]{43})(?![A-Za-z0-9])",
        "ntn_", "secret_",
    ),
    _token("postman-key", r"(?P<secret>PMAK-[a-f0-9]{24}-[a-f0-9]{34})", "pmak-"),
    _token("pulumi-token", r"(?P<secret>pul-[a-f0-9]{40})(?![0-9a-z])", "pul-"),
    _token("sentry-token", r"(?P<secret>sntry[us]_[A-Za-z0-9_+/=-]{40,600})", "sntry"),
    _token(
        "square-token",
        rf"(?P<secret>EAAA[{_URLSAFE}]{{60}}|sq0(?:atp|csp)-[{_URLSAFE}]{{22,43}})",
        "eaaa", "sq0",
    ),
    _token("supabase-token", r"(?P<secret>sbp_[a-f0-9]{40})(?![0-9a-z])", "sbp_"),
    _token(
        "terraform-token",
        r"(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})",
        "atlasv1",
    ),
    _token(
        "private-key",
        # A DER key body without its BEGIN line: PKCS#1 RSA, PKCS#8 (RSA, EC, Ed25519), SEC1 EC and
        # OpenSSH start with these bytes; certificates and public keys do not.
        rf"(?P<secret>(?:MII[{_B64}]{{3}}IBAAK|MII[{_B64}]{{3}}IBADAN|MIG[{_B64}]AgEAMBMG|MC4CAQAwBQYDK2Vw"
        rf"|MHcCAQEEI|MIGkAgEBBD|b3BlbnNzaC1rZXktdjEA)[{_B64}]{{8,128}}"
        rf"(?:(?:\r?\n|\\n)?[{_B64}]{{8,128}}){{0,400}}={{0,2}})",
        "mii", "mig", "mc4caqawbqydk2vw", "mhccaqeei", "b3blbnnzac1rzxktdjea",
    ),
    _Rule(
        "url-password",
        # scheme://user:PASSWORD@host; the password may hold ':', '?' and '@' but not '/' (a path).
        re.compile(r"""://[^\s:/@'"<>\[\]]{0,256}:(?P<secret>[^\s/'"<>\[\]]{1,256})@"""),
        classify=_classify_url_password,
        hints=("://",),
    ),
    _Rule("private-key", _PEM_END, span=_pem_body_before_end, hints=("-----end",)),
    # Context rules: case-insensitive or keyed patterns, run only on lines holding one of the hints.
    _context(
        "aws-secret-access-key",
        # Also the `aws configure` prompt: `AWS Secret Access Key [****EKEY]: <key>`.
        r"""(?i:secret[ _.-]?(?:access[ _.-]?)?key)(?:[ \t]*\[[^\]\n]{0,40}\])?["']?[ \t]*(?::|=>?)[ \t]*"""
        rf"""["']?(?P<secret>[{_B64}]{{40}})(?![{_B64}=])""",
        "secret",
    ),
    _context(
        "aws-session-token",
        r"""(?i:session[ _.-]?token|security[ _.-]?token)["']?[ \t]*(?::|=>?)[ \t]*["']?"""
        rf"""(?P<secret>[{_B64}]{{100,2000}}={{0,2}})""",
        "token",
    ),
    _context(
        "bearer-token",
        r"""(?i:authorization)["']?(?:[ \t]*[:=][ \t]*|[ \t]+)f?["']?(?i:bearer|token)[ \t]+"""
        r"(?P<secret>[A-Za-z0-9._~+/-]{8,4096}=*)",
        "authorization",
    ),
    _context(
        "basic-auth",
        r"""(?i:authorization)["']?(?:[ \t]*[:=][ \t]*|[ \t]+)f?["']?(?i:basic)[ \t]+"""
        r"(?P<secret>[A-Za-z0-9+/]{4,4096}=*)",
        "authorization",
    ),
    _context(
        "generic-password",
        r"\b(?:docker|podman|nerdctl)[ \t]+login\b[^\n]{0,200}?[ \t]-p[ \t]+(?P<secret>[^\s-]\S{0,1023})",
        "login",
    ),
    _Rule(
        "generic-password",
        re.compile(
            r"""\b(?:mysql(?:dump|admin)?[ \t][^\n]{0,200}?[ \t]-p|sshpass\b[^\n]{0,100}?[ \t]-p[ \t]*)"""
            r"""(?:'(?P<sq>[^'\n]{1,1024})'|"(?P<dq>[^"\n]{1,1024})"|(?P<bare>[^\s'"-]\S{0,1023}))"""
        ),
        ("sq", "dq", "bare"),
        _classify_flag_password,
        hints=("mysql", "sshpass"),
        by_line=True,
    ),
    _context(
        "basic-auth",
        # `curl -u user:pass`, `curl --user "user:pass"`, httpie's `-a user:pass`: only the password.
        r"""\b(?:curl|https?|wget)\b[^\n]{0,300}?[ \t](?:-u|--user|-a|--auth)(?:[ \t]+|=)["']?"""
        r"""[^\s:"'$]{1,256}:(?P<secret>[^\s"']{1,256})""",
        "curl", "http", "wget",
    ),
    _Rule(
        "generic-password",
        re.compile(r"""[?&;](?i:password|passwd|pwd)=(?P<secret>[^&;\s"'<>]{1,256})"""),
        classify=_classify_query_password,
        hints=("password=", "passwd=", "pwd="),
        by_line=True,
    ),
    _context(
        "generic-password",
        # .netrc: `machine h login u password p` on one line, or `password p` on a line of its own.
        r"""(?m:(?:^[ \t]*|\b(?:machine|login|default)\b[^\n]{0,200}?[ \t])"""
        r"""password[ \t]+(?P<secret>[^\s"'`]{1,1024})[ \t]*$)""",
        "password",
        classify=_classify_bare_word,
    ),
    _Rule("generic-secret", _CLI_FLAG, ("dq", "sq", "bare"), _classify_literal, by_line=True),
    _Rule("generic-secret", _XML_ELEMENT, classify=_classify_literal, by_line=True),
    _Rule("generic-secret", _SHELL_ASSIGN, ("dq", "sq", "bare"), _classify_shell_assignment, by_line=True),
    _Rule(
        "generic-secret", _ENV_LINE, ("dq", "sq", "dqo", "sqo", "bare"), _classify_assignment, by_line=True
    ),
    _Rule("generic-secret", _YAML_LINE, ("bare",), _classify_yaml_line, by_line=True),
    _Rule(
        "generic-secret", _ASSIGNMENT, _VALUE_GROUPS, _classify_assignment, by_line=True, retry_inside=True
    ),
    _Rule(
        "generic-password",
        _PROSE_PASSWORD_KEY,
        span=_prose_password,
        hints=("pass", "pwd", "pw"),
        by_line=True,
    ),
)  # fmt: skip

_ANSI_ESCAPE = re.compile(rf"{_ANSI_CSI}|\x1b\][^\x07\x1b]{{0,512}}(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]")
_EXISTING_PLACEHOLDER = re.compile(r"\[REDACTED:[a-z0-9-]{1,40}\]")
# Passes over the lines around fresh placeholders before giving up on reaching a fixed point.
_MAX_PASSES = 8


def _rules_by_hint() -> dict[str, tuple[int, ...]]:
    """For each hint, the positions in ``_RULES`` of the rules it lets run."""
    positions: dict[str, list[int]] = {}
    for position, rule in enumerate(_RULES):
        for hint in rule.hints or _SECRET_KEY_HINTS:
            positions.setdefault(hint, []).append(position)
    return {hint: tuple(found) for hint, found in positions.items()}


_RULES_BY_HINT = _rules_by_hint()


# --------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------


class _Spans:
    """Non-overlapping [start, end) intervals, kept sorted."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add_if_free(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start)
        if i > 0 and self._ends[i - 1] > start:
            return False
        if i < len(self._starts) and self._starts[i] < end:
            return False
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        return True


class _Scan:
    """One text being searched, with what the rules share: its lower-case copy, hint look-ups."""

    # Windows closer than this are searched as one, to save a regex call per line.
    _MERGE_GAP = 256

    def __init__(self, text: str) -> None:
        self.text = text
        self.lowered = text.lower()
        # `lowered` shares offsets with `text` only when lower-casing kept the length.
        self._aligned = len(self.lowered) == len(text)
        self._found: frozenset[str] | None = None
        self._windows: dict[tuple[str, ...], list[tuple[int, int]]] = {}

    @property
    def found(self) -> frozenset[str]:
        """The rules' hints the text holds (one comprehension: a loop setting each costs 5x)."""
        if self._found is None:
            lowered = self.lowered
            self._found = frozenset(hint for hint in _RULES_BY_HINT if hint in lowered)
        return self._found

    def rules(self) -> list[_Rule]:
        """The rules with a hint in the text, in their order (most texts hold few hints)."""
        positions = {position for hint in self.found for position in _RULES_BY_HINT[hint]}
        return [_RULES[position] for position in sorted(positions)]

    def has_any(self, hints: tuple[str, ...]) -> bool:
        found = self.found
        return any(hint in found for hint in hints)

    def spans(self, rule: _Rule) -> Iterator[tuple[int, int]]:
        """The parts of the text ``rule`` searches: all of it, or the lines holding its hints."""
        hints = rule.hints or _SECRET_KEY_HINTS
        if not self.has_any(hints):
            return
        if not rule.by_line or not self._aligned:
            yield 0, len(self.text)
            return
        if hints not in self._windows:
            self._windows[hints] = self._line_windows(hints)
        yield from self._windows[hints]

    def _line_windows(self, hints: tuple[str, ...]) -> list[tuple[int, int]]:
        """Spans of whole lines covering every line that holds one of ``hints``, in order."""
        text, lowered = self.text, self.lowered
        hits: list[int] = []
        for hint in hints:
            i = lowered.find(hint)
            while i != -1:
                hits.append(i)
                i = lowered.find(hint, i + 1)
        hits.sort()
        windows: list[tuple[int, int]] = []
        line_end = -1
        for hit in hits:
            if hit < line_end:
                continue
            line_start = text.rfind("\n", 0, hit) + 1
            line_end = text.find("\n", hit)
            if line_end == -1:
                line_end = len(text)
            if windows and line_start - windows[-1][1] <= self._MERGE_GAP:
                windows[-1] = (windows[-1][0], line_end)
            else:
                windows.append((line_start, line_end))
        return windows

    def candidates(self, rule: _Rule) -> Iterator[Finding]:
        text = self.text
        for window_start, window_end in self.spans(rule):
            position = window_start
            while position < window_end:
                match = rule.pattern.search(text, position, window_end)
                if match is None:
                    break
                position = match.end() if match.end() > match.start() else match.start() + 1
                if rule.span is not None:
                    found = rule.span(match)
                    if found is not None:
                        yield Finding(rule.kind, *found)
                    continue
                name = _group(match, rule.groups)
                if name is None:
                    continue
                start, end = match.span(name)
                if rule.word_start and start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
                    position = match.start() + 1
                    continue
                value = match.group(name)
                if rule.classify is not None:
                    kind = rule.classify(match, value)
                else:
                    kind = None if is_placeholder(value) else rule.kind
                if kind is not None:
                    yield Finding(kind, start, end)
                elif rule.retry_inside and _may_hide_a_key(match, value):
                    position = start


def _may_hide_a_key(match: re.Match[str], value: str) -> bool:
    """A rejected ``key = value`` whose key is no secret but whose value holds a secret-looking
    name: search again from the value. Each retry is followed by a match on a secret key, which
    is never retried, so the search stays linear."""
    if "key" not in match.groupdict() or key_kind(match.group("key")) is not None:
        return False
    head = value[:256].lower()
    return any(hint in head for hint in _SECRET_KEY_HINTS)


class _Visible:
    """The text as a terminal shows it (colour and cursor codes removed), mapped back to the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        # Parallel lists: where each kept run of characters starts in the visible and in the raw text.
        self._visible_starts: list[int] = []
        self._raw_starts: list[int] = []
        pieces: list[str] = []
        position = length = 0
        for match in _ANSI_ESCAPE.finditer(text):
            self._add(pieces, text[position : match.start()], length, position)
            length += match.start() - position
            position = match.end()
        self._add(pieces, text[position:], length, position)
        self.visible = "".join(pieces)

    def _add(self, pieces: list[str], run: str, visible_start: int, raw_start: int) -> None:
        if run:
            pieces.append(run)
            self._visible_starts.append(visible_start)
            self._raw_starts.append(raw_start)

    def _raw(self, position: int) -> int:
        i = bisect.bisect_right(self._visible_starts, position) - 1
        return self._raw_starts[i] + position - self._visible_starts[i]

    def to_raw(self, finding: Finding) -> Finding:
        return Finding(finding.kind, self._raw(finding.start), self._raw(finding.end - 1) + 1)


def _find_once(text: str) -> list[Finding]:
    """One pass of every rule over ``text``; where findings overlap the earlier rule wins.

    Rules see the text without terminal escape codes, so ``\x1b[32mghp_...`` still starts a token
    and ``KEY\x1b[0m=value`` is still an assignment; offsets are mapped back to ``text``.
    """
    visible = _Visible(text) if "\x1b" in text else None
    view = visible.visible if visible else text
    scan = _Scan(view)
    taken = _Spans()
    for match in _EXISTING_PLACEHOLDER.finditer(view):
        taken.add_if_free(*match.span())
    found: list[Finding] = []
    for rule in scan.rules():
        found.extend(f for f in scan.candidates(rule) if taken.add_if_free(f.start, f.end))
    return [visible.to_raw(f) for f in found] if visible else found


def _apply(text: str, findings: list[Finding]) -> tuple[str, list[int]]:
    """The text with each finding replaced, and where each placeholder starts in it."""
    pieces: list[str] = []
    starts: list[int] = []
    position = length = 0
    for finding in findings:
        kept = text[position : finding.start]
        placeholder = PLACEHOLDER.format(kind=finding.kind)
        pieces += [kept, placeholder]
        starts.append(length + len(kept))
        length += len(kept) + len(placeholder)
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces), starts


def _lines_around(text: str, positions: list[int]) -> list[tuple[int, int]]:
    """Merged spans of the whole lines holding ``positions`` (sorted)."""
    windows: list[tuple[int, int]] = []
    for position in positions:
        if windows and position < windows[-1][1]:
            continue
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        windows.append((start, len(text) if end == -1 else end))
    return windows


def find_secrets(text: str) -> tuple[Finding, ...]:
    """All secrets in ``text`` (offsets in ``text``), sorted by position.

    A placeholder changes its neighbourhood: ``-----END KEY-----dop_v1_...`` only shows a token
    boundary once the key block has become ``[REDACTED:private-key]``. So the lines around new
    placeholders are searched again until nothing new turns up, which makes ``redact`` idempotent.
    """
    findings = sorted(_find_once(text), key=lambda f: f.start)
    for _ in range(_MAX_PASSES):
        redacted, starts = _apply(text, findings)
        # Offset of the original text relative to the redacted text, after each placeholder.
        ends = [
            start + len(PLACEHOLDER.format(kind=f.kind)) for start, f in zip(starts, findings, strict=True)
        ]
        shifts = [f.end - end for f, end in zip(findings, ends, strict=True)]
        new: list[Finding] = []
        for begin, end in _lines_around(redacted, starts):
            for f in _find_once(redacted[begin:end]):
                start = begin + f.start
                i = bisect.bisect_right(ends, start)
                shift = shifts[i - 1] if i else 0
                new.append(Finding(f.kind, start + shift, begin + f.end + shift))
        if not new:
            break
        findings = sorted(findings + new, key=lambda f: f.start)
    return tuple(findings)


def storable(text: str) -> str:
    """``text`` as it can be stored and sent: a lone surrogate (valid in JSON's ``\\ud800``, not in
    UTF-8) becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)
    return text


def redact(text: str) -> Redacted:
    """Replace every secret in ``text`` by ``[REDACTED:<kind>]`` (the text made storable first)."""
    text = storable(text)
    findings = find_secrets(text)
    return Redacted(_apply(text, list(findings))[0], findings)


def redact_text(text: str) -> str:
    """``redact(text).text``."""
    return redact(text).text


_TAG_ASSIGNMENT = re.compile(r"(?:pass|pwd|secret|token|key|auth|cred)[\w-]*[\"']?\s*[:=\s]")


@functools.lru_cache(maxsize=8192)
def _redact_tag(tag: str) -> str:
    """A language or tool tag, which records have lower-cased already (so ``AKIA...`` arrives as
    ``akia...``): redacted as a whole when it holds a secret in either case or looks random."""
    digits = sum(c.isdigit() for c in tag)
    if (
        redact(tag).findings
        or redact(tag.upper()).findings
        or len(tag) > 48
        or (len(tag) >= 16 and digits >= 3)
        or _TAG_ASSIGNMENT.search(tag)  # `password: gl4cier_bay8`: lower-case code to the rules
    ):
        return PLACEHOLDER.format(kind="tag")
    return tag


def _redact_id(memory_id: str) -> str:
    """An id with a secret glued on (``mem_1_ghp_...``): provider rules skip a token that continues a
    word, so each part after a separator is also tried on its own."""
    clean = redact_text(memory_id)
    if clean != memory_id:
        return clean
    for i in range(1, min(len(memory_id), 256)):
        if memory_id[i - 1] in "_-.:/" and redact(memory_id[i:]).findings:
            return memory_id[:i] + redact_text(memory_id[i:])
    return memory_id


def _redact_tags(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_redact_tag(value) for value in values)


def redact_draft(draft: MemoryDraft) -> MemoryDraft:
    """The same draft with secrets replaced in every field a person or an import can fill in.

    Free text (title, description, content, when-not, check command), tags (languages, tools), the
    id and the provenance (workspace, source, distiller, episode ids): everything that is stored,
    shown or sent.
    """
    provenance = draft.provenance
    clean_provenance = attrs.evolve(
        provenance,
        workspace=redact_text(provenance.workspace),
        source=redact_text(provenance.source),
        distilled_by=redact_text(provenance.distilled_by),
        episode_ids=tuple(redact_text(value) for value in provenance.episode_ids),
    )
    return attrs.evolve(
        draft,
        title=redact_text(draft.title),
        description=redact_text(draft.description),
        content=redact_text(draft.content),
        when_not=redact_text(draft.when_not),
        check_command=redact_text(draft.check_command),
        languages=_redact_tags(draft.languages),
        tools=_redact_tags(draft.tools),
        id=None if draft.id is None else _redact_id(draft.id),
        provenance=clean_provenance,
    )

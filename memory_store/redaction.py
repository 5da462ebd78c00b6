"""Secret redaction: every text is passed through ``redact`` before it is stored or sent to a model.

Each secret is replaced by a typed placeholder ``[REDACTED:<kind>]``; everything else is kept byte for
byte. Rules live in one table, most specific first: provider token formats (``ghp_``, ``AKIA``, PEM
blocks, ...) win over context rules (``password: ...``, ``Authorization: Bearer ...``) when two
findings overlap.

What is *not* a secret, on purpose:

* syntactic placeholders and references: ``<token>``, ``${VAR}``, ``$VAR``, ``$(cmd)``, ``{{ x }}``,
  ``%(x)s``, masks such as ``****``/``xxxx``, ``your_api_key_here``;
* code rather than literals: calls (``get_token()``), attribute/subscript access (``self.token``,
  ``os.environ["X"]``), type annotations (``password: str``) and, outside ``.env``-style lines, bare
  words without digits (``password = new_password``);
* ``None``/``null``/``true``/... and other flag words, paths, values shorter than 4 characters and
  numbers shorter than 6 digits.

Dictionary words such as ``changeme`` or ``password`` *are* redacted: they are often live default
credentials. Existing placeholders are never redacted again, so ``redact`` is idempotent.

Every pattern is linear: bounded repetitions, no nested quantifiers over overlapping classes.
"""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Callable, Iterator

import attrs

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
    # Lower-case substrings of which at least one must occur in the text for the rule to run at all.
    hints: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# Value and key heuristics
# --------------------------------------------------------------------------------------------------

_NON_SECRET_WORDS = frozenset(
    {
        "none", "null", "nil", "true", "false", "undefined", "yes", "no", "on", "off", "required",
        "optional", "include", "omit", "same-origin", "empty", "unset", "string", "str", "int",
        "integer", "bool", "boolean", "bytes", "number", "any", "object", "redacted", "masked",
        "hidden", "secret_string", "***",
    }
)  # fmt: skip
_MASK = re.compile(r"[xX*.•#_\-]+|\*{3,}.*")
_PLACEHOLDER_SHAPE = re.compile(
    r"""
      [$][{(A-Za-z_]       # ${VAR}  $(cmd)  $VAR
    | [{\[<]               # {{ template }}  {name}  [list]  <your-token>
    | %[(sdv]              # %(name)s  %s
    | [#@][{]              # #{ruby}  @{x}
    | [!][A-Za-z]+$        # YAML tags: !Ref, !Sub
    | (?i:your|insert|enter|replace)[-_ ]
    | (?i:arn:|vault:|secretsmanager:|ref\+|op://)
    | [a-z]+=              # an option list such as `id=npm,src=~/.npmrc`
    | .*(?i:[-_ ]here)$
    | .*(?i:redacted)
    """,
    re.VERBOSE,
)
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.@/-]*|[A-Za-z]:\\[\w.\\ -]*")
_DIGITS = re.compile(r"[0-9]{1,5}")
# Code on the right-hand side: calls, subscripts, generics, attribute/path access, pointer types.
_CODE_EXPR = re.compile(r"[*&]?[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*(?:[(\[<].*)?")
_WORD = re.compile(r"[A-Za-z_]+")


def is_placeholder(value: str) -> bool:
    """True for values that stand for a secret without being one (``<token>``, ``${X}``, ``****``)."""
    v = value.strip()
    return (
        not v
        or v.lower() in _NON_SECRET_WORDS
        or _MASK.fullmatch(v) is not None
        or _PLACEHOLDER_SHAPE.match(v) is not None
    )


def _is_literal_secret(value: str, *, code: bool) -> bool:
    """Whether a value assigned to a secret-looking key is itself a secret.

    ``code`` says the value is unquoted in a place where it may be an expression (``x = value``,
    ``key: value``, ``f(key=value)``) rather than a shell/.env literal.
    """
    v = value.strip()
    if len(v) < 4 or is_placeholder(v) or _DIGITS.fullmatch(v) or _PATH.fullmatch(v):
        return False
    if not code:
        return True
    if _WORD.fullmatch(v):
        return False
    is_expression = _CODE_EXPR.fullmatch(v) is not None and (
        any(c in v for c in ".:([<") or v[0] in "*&"
    )
    return not is_expression


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


def key_kind(key: str) -> str | None:
    """The kind of secret a key name announces (``DB_PASSWORD``, ``apiKey``), or None."""
    parts = _KEY_PARTS.findall(_CAMEL.sub("_", key).lower())
    if not parts or "".join(parts) in _NOT_SECRET_KEYS:
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
    kind = key_kind(match.group("key"))
    if kind is None:
        return None
    spaced = match.group("sep") != match.group("sep").strip()
    env_literal = match.group("bare") is not None and not spaced and _is_env_line(match)
    code = match.group("bare") is not None and not env_literal
    return kind if _is_literal_secret(value, code=code) else None


def _is_env_line(match: re.Match[str]) -> bool:
    """The assignment starts its line (``KEY=v``, ``export KEY=v``, ``- KEY=v``): a shell literal."""
    text, start = match.string, match.start()
    line_start = text.rfind("\n", 0, start) + 1
    prefix = text[line_start:start].strip().rstrip("\"'")
    return prefix in ("", "export", "set", "ENV", "-", "- ", "-e") or prefix.endswith((" -e", " --env"))


def _classify_literal(match: re.Match[str], value: str) -> str | None:
    """A value in a position where it is always a literal (CLI flags, XML text, .netrc)."""
    kind = key_kind(match.group("key")) if "key" in match.groupdict() else "generic-password"
    return kind if kind and _is_literal_secret(value, code=False) else None


def _classify_bare_word(match: re.Match[str], value: str) -> str | None:
    """Like ``_classify_literal`` but a bare word without digits may be prose, not a password."""
    return "generic-password" if _is_literal_secret(value, code=True) else None


# --------------------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------------------

_B64 = "A-Za-z0-9+/"
_URLSAFE = "A-Za-z0-9_-"
_PEM_LABEL = r"(?P<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)"


def _b64_prefixes(headers: tuple[str, ...]) -> str:
    """Base64 of each header, cut to whole 3-byte groups so the prefix is stable whatever follows."""
    prefixes = []
    for header in headers:
        raw = header.encode()
        prefixes.append(base64.b64encode(raw[: len(raw) // 3 * 3]).decode())
    return "|".join(prefixes)


_B64_PEM_HEADERS = _b64_prefixes(
    tuple(f"-----BEGIN {k}PRIVATE KEY-----" for k in ("", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "))
)

# Quoted or bare value after a key; `bare` stops at separators used by URLs, kwargs and objects.
_VALUE = rf"""
    (?: "(?P<dq>(?:[^"\\\n]|\\.){{1,4096}})"
      | '(?P<sq>(?:[^'\\\n]|\\.){{1,4096}})'
      | \\(?P<eq>["'])(?P<esc>[^"'\\\n]{{1,4096}})\\(?P=eq)     # escaped JSON inside a log line
      | (?P<bare>[^\s"'`,;&)\]}}]{{1,4096}})
    )"""
_VALUE_GROUPS = ("dq", "sq", "esc", "bare")

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
    r"""
    ^[ \t]*(?:export[ \t]+|set[ \t]+|-[ \t]+)?
    (?P<key>[A-Za-z_][\w.-]{0,63})(?P<sep>=)
    (?: "(?P<dq>[^"\n]{1,4096})"
      | '(?P<sq>[^'\n]{1,4096})'
      | (?P<bare>[^\s"'#][^\s]{0,4095})
    )(?=[ \t]|\r?$)
    """,
    re.VERBOSE | re.MULTILINE,
)

_CLI_FLAG = re.compile(
    r"""
    (?<![\w-])--(?P<key>[A-Za-z][\w-]{0,40})(?:=|[ \t]+)
    (?: "(?P<dq>[^"\n]{1,1024})" | '(?P<sq>[^'\n]{1,1024})' | (?P<bare>[^\s"'-][^\s"']{0,1023}) )
    """,
    re.VERBOSE,
)

_RULES: tuple[_Rule, ...] = (
    _Rule(
        "gcp-service-account-key",
        re.compile(
            rf'"private_key"[ \t]*:[ \t]*"(?P<secret>-----BEGIN PRIVATE KEY-----[{_B64}=\\]{{0,12000}}'
            r'-----END PRIVATE KEY-----)'
        ),
        hints=("private_key",),
    ),
    _Rule(
        "gcp-service-account-key",
        re.compile(r'"private_key_id"[ \t]*:[ \t]*"(?P<secret>[0-9a-f]{40})"'),
        hints=("private_key_id",),
    ),
    _Rule(
        "private-key",
        # Lazy but bounded: the body never spans more than 20k characters.
        re.compile(
            rf"(?P<secret>-----BEGIN {_PEM_LABEL}-----[{_B64}=\s\\:,.-]{{0,20000}}?-----END (?P=label)-----)"
        ),
        hints=("-----begin",),
    ),
    _Rule(
        "private-key",
        # A block cut off before its END line (`head id_rsa`, truncated logs): header + base64 lines.
        re.compile(
            rf"(?P<secret>-----BEGIN {_PEM_LABEL}-----(?:(?:\r?\n|\\n)[{_B64}=]{{8,128}}){{0,400}})"
        ),
        hints=("-----begin",),
    ),
    _Rule(
        "private-key",
        re.compile(rf"(?<![{_B64}])(?P<secret>(?:{_B64_PEM_HEADERS})[{_B64}]{{16,20000}}={{0,2}})"),
        hints=("ls0tls1crudjtib",),
    ),
    _Rule(
        "anthropic-key",
        re.compile(rf"(?<![\w-])(?P<secret>sk-ant-(?:api|admin|oat)\d\d-[{_URLSAFE}]{{80,200}})"),
        hints=("sk-ant-",),
    ),
    _Rule(
        "openai-key",
        re.compile(
            rf"(?<![\w-])(?P<secret>sk-(?:proj|svcacct|admin)-[{_URLSAFE}]{{40,250}}|sk-[A-Za-z0-9]{{48}})"
            r"(?![\w-])"
        ),
        hints=("sk-",),
    ),
    _Rule(
        "github-token",
        re.compile(r"(?<![\w-])(?P<secret>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{60,251})"),
        hints=("gh", "github_pat_"),
    ),
    _Rule(
        "gitlab-token",
        re.compile(r"(?<![\w-])(?P<secret>gl(?:pat|dt|rt|ptt|ft|cbt|soat|imt)-[\w-]{20,100})"),
        hints=("gl",),
    ),
    _Rule(
        "slack-token",
        re.compile(r"(?<![\w-])(?P<secret>xox[abposre]-[A-Za-z0-9-]{10,250}|xapp-[A-Za-z0-9-]{10,250})"),
        hints=("xox", "xapp-"),
    ),
    _Rule(
        "slack-webhook",
        re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]{20,250})"),
        hints=("hooks.slack.com",),
    ),
    _Rule(
        "stripe-key",
        re.compile(r"(?<![\w-])(?P<secret>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,247}|whsec_[A-Za-z0-9]{24,})"),
        hints=("_live_", "_test_", "whsec_"),
    ),
    _Rule("npm-token", re.compile(r"(?<![\w-])(?P<secret>npm_[A-Za-z0-9]{36})(?!\w)"), hints=("npm_",)),
    _Rule(
        "pypi-token",
        re.compile(rf"(?<![\w-])(?P<secret>pypi-AgE[{_URLSAFE}]{{40,500}})"),
        hints=("pypi-age",),
    ),
    _Rule(
        "huggingface-token",
        re.compile(r"(?<![\w-])(?P<secret>hf_[A-Za-z0-9]{34,40})(?!\w)"),
        hints=("hf_",),
    ),
    _Rule(
        "sendgrid-key",
        re.compile(rf"(?<![\w.-])(?P<secret>SG\.[{_URLSAFE}]{{22}}\.[{_URLSAFE}]{{43}})"),
        hints=("sg.",),
    ),
    _Rule(
        "digitalocean-token",
        re.compile(r"(?<![\w-])(?P<secret>do[opr]_v1_[a-f0-9]{64})"),
        hints=("_v1_",),
    ),
    _Rule("gcp-api-key", re.compile(r"(?<![\w-])(?P<secret>AIza[\w-]{35})(?![\w-])"), hints=("aiza",)),
    _Rule(
        "gcp-oauth-token",
        re.compile(rf"(?<![\w-])(?P<secret>ya29\.[{_URLSAFE}]{{20,2048}}|GOCSPX-[{_URLSAFE}]{{28}})"),
        hints=("ya29.", "gocspx-"),
    ),
    _Rule(
        "aws-access-key-id",
        re.compile(r"(?<![A-Za-z0-9])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})(?![A-Za-z0-9])"),
        hints=("akia", "asia", "abia", "acca"),
    ),
    _Rule(
        "jwt",
        re.compile(rf"(?<![\w-])(?P<secret>eyJ[{_URLSAFE}]{{8,}}\.eyJ[{_URLSAFE}]{{8,}}\.[{_URLSAFE}]{{8,}})"),
        hints=("eyj",),
    ),
    _Rule(
        "aws-secret-access-key",
        # Also the `aws configure` prompt: `AWS Secret Access Key [****EKEY]: <key>`.
        re.compile(
            r"""(?i:secret[ _.-]?(?:access[ _.-]?)?key)(?:[ \t]*\[[^\]\n]{0,40}\])?["']?[ \t]*(?::|=>?)[ \t]*"""
            rf"""["']?(?P<secret>[{_B64}]{{40}})(?![{_B64}=])"""
        ),
        hints=("secret",),
    ),
    _Rule(
        "aws-session-token",
        re.compile(
            r"""(?i:session[ _.-]?token|security[ _.-]?token)["']?[ \t]*(?::|=>?)[ \t]*["']?"""
            rf"""(?P<secret>[{_B64}]{{100,2000}}={{0,2}})"""
        ),
        hints=("token",),
    ),
    _Rule(
        "azure-storage-key",
        re.compile(rf"(?i:AccountKey)=(?P<secret>[{_B64}]{{20,100}}={{0,2}})"),
        hints=("accountkey",),
    ),
    _Rule(
        "azure-connection-string",
        re.compile(rf"(?i:SharedAccessKey)=(?P<secret>[{_B64}]{{20,100}}={{0,2}})"),
        hints=("sharedaccesskey",),
    ),
    _Rule(
        "azure-sas-token",
        re.compile(r"[?&]sig=(?P<secret>[A-Za-z0-9%+/]{20,200}=*)"),
        hints=("sig=",),
    ),
    _Rule(
        "url-password",
        # scheme://user:PASSWORD@host; the password may hold ':' and '@' but not '/' (that is a path).
        re.compile(r"""(?<=[A-Za-z0-9])://[^\s:/@'"<>]{0,256}:(?P<secret>[^\s/?'"<>]{1,256})@"""),
        hints=("://",),
    ),
    _Rule(
        "bearer-token",
        re.compile(
            r"""(?i:authorization)["']?[ \t]*[:=][ \t]*["']?(?i:bearer|token)[ \t]+"""
            r"(?P<secret>[A-Za-z0-9._~+/-]{8,4096}=*)"
        ),
        hints=("authorization",),
    ),
    _Rule(
        "basic-auth",
        re.compile(r"""(?i:authorization)["']?[ \t]*[:=][ \t]*["']?(?i:basic)[ \t]+(?P<secret>[A-Za-z0-9+/]{4,4096}=*)"""),
        hints=("authorization",),
    ),
    _Rule(
        "generic-password",
        re.compile(r"\b(?:docker|podman|nerdctl)[ \t]+login\b[^\n]{0,200}?[ \t]-p[ \t]+(?P<secret>[^\s-]\S{0,1023})"),
        hints=("login",),
    ),
    _Rule(
        "generic-password",
        re.compile(r"\bmysql(?:dump|admin)?[ \t][^\n]{0,200}?[ \t]-p(?P<secret>[^\s-]\S{0,1023})"),
        hints=("mysql",),
    ),
    _Rule(
        "generic-password",
        # .netrc: `machine h login u password p`, one entry per line or one token per line.
        re.compile(r"(?:^|[ \t])password[ \t]+(?P<secret>\S{1,1024})[ \t]*$", re.MULTILINE),
        classify=_classify_bare_word,
        hints=("password",),
    ),
    _Rule("generic-secret", _CLI_FLAG, _VALUE_GROUPS[:2] + ("bare",), _classify_literal, hints=("--",)),
    _Rule(
        "generic-secret",
        re.compile(r"<(?P<key>[A-Za-z_][\w:.-]{0,63})>(?P<secret>[^<>\n]{1,1024})</(?P=key)>"),
        classify=_classify_literal,
        hints=("</",),
    ),
    _Rule("generic-secret", _ENV_LINE, ("dq", "sq", "bare"), _classify_assignment),
    _Rule("generic-secret", _ASSIGNMENT, _VALUE_GROUPS, _classify_assignment),
)

_EXISTING_PLACEHOLDER = re.compile(r"\[REDACTED:[a-z0-9-]{1,40}\]")
_SECRET_KEY_HINTS = ("pass", "pwd", "secret", "token", "key", "auth", "cred")


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


def _candidates(rule: _Rule, text: str) -> Iterator[Finding]:
    for match in rule.pattern.finditer(text):
        name = _group(match, rule.groups)
        if name is None:
            continue
        value = match.group(name)
        if rule.classify is not None:
            kind = rule.classify(match, value)
        else:
            kind = None if is_placeholder(value) else rule.kind
        if kind is not None:
            yield Finding(kind, match.start(name), match.end(name))


def find_secrets(text: str) -> tuple[Finding, ...]:
    """All secrets in ``text``, sorted by position; where findings overlap the earlier rule wins."""
    lowered = text.lower()
    taken = _Spans()
    for match in _EXISTING_PLACEHOLDER.finditer(text):
        taken.add_if_free(match.start(), match.end())
    found: list[Finding] = []
    for rule in _RULES:
        hints = rule.hints or _SECRET_KEY_HINTS
        if not any(hint in lowered for hint in hints):
            continue
        found.extend(f for f in _candidates(rule, text) if taken.add_if_free(f.start, f.end))
    found.sort(key=lambda f: f.start)
    return tuple(found)


def redact(text: str) -> Redacted:
    """Replace every secret in ``text`` by ``[REDACTED:<kind>]``."""
    findings = find_secrets(text)
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(PLACEHOLDER.format(kind=finding.kind))
        position = finding.end
    pieces.append(text[position:])
    return Redacted("".join(pieces), findings)


def redact_text(text: str) -> str:
    """``redact(text).text``."""
    return redact(text).text

"""``carryover shell-hook bash|zsh|fish``: a snippet for the user's shell start-up file.

After each command the snippet builds one JSON record::

    {"v": 1, "shell": "bash", "pid": 4242, "started": 1718000000.123456, "ended": 1718000001.5,
     "exit_code": 1, "cwd": "/home/me/project", "command": "pytest -x"}

and hands it, **through a pipe, never a file**, to a background
``python -m carryover.pipeline.capture.shell_hook --record LOG`` (:func:`record_from_stdin`). That
process redacts the command and the cwd (:func:`carryover.pool.redaction.redact_text`) and only then
appends the record (now ``"v": 2``) to ``<pool>/shell/commands.jsonl`` with one ``write`` to a file
opened ``O_APPEND``, mode 0600, in a directory of mode 0700. The daemon follows that file
(:mod:`carryover.pipeline.capture.shell_log`) and redacts again. So a command line holding a
secret is never on disk in plain text: not in the log, not in a temporary file (no here-strings,
which older bash writes to ``$TMPDIR``), not in ``ps`` (the record is not an argument).

Design points:

- The prompt waits for two ``fork`` calls and no ``exec`` (a subshell for the builtin ``printf``,
  one that starts the recorder and exits at once); the recorder runs detached, so it is no job of
  the shell and prints nothing. One short-lived process per command was chosen over one coprocess
  per shell: a dead coprocess would make the shell's next write raise SIGPIPE and could kill the
  user's shell, and ``coproc`` is a single slot the user may need. ``benchmarks/redaction.py
  --shell-hook`` measures the cost per command. Records are written in the order the recorders
  finish, which for commands less than about 0.1 s apart may differ from the order they ran; each
  record carries its times.
- Each record is kept under 4 KiB (command cut at 2,000 characters, cwd at 1,000) and written with
  one ``write``, so lines from concurrent shells never interleave.
- Exit status is preserved for the user's own prompt; an existing ``PROMPT_COMMAND`` (string or
  array), ``PS0`` and zsh/fish hooks keep working; sourcing the snippet twice hooks once.
- Privacy: a command the shell keeps out of history (leading space with ``ignorespace`` /
  ``HIST_IGNORE_SPACE``, fish's ``fish_private_mode``) is not handed on at all. In bash, as
  bash-preexec does, the hook takes ``ignorespace`` out of ``HISTCONTROL`` (``ignoreboth`` becomes
  ``ignoredups``) and deletes space-prefixed lines from history itself, so that a repeated command
  is still logged.
- The recorder is the Python that printed the snippet (``sys.executable``, run with ``-I``); if it
  is gone the record is dropped, never written raw.
- Times need bash 5 (``EPOCHREALTIME``) or zsh/datetime; bash 4.4 logs without them. Bash older than
  4.4 has no ``PS0`` and is not supported.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

SHELLS = ("bash", "zsh", "fish")
LOG_NAME = "commands.jsonl"
MAX_COMMAND_CHARS = 2000
MAX_CWD_CHARS = 1000
MAX_RECORD_BYTES = 4000
RECORD_VERSION = 2
_RECORD_FIELDS = ("shell", "pid", "started", "ended", "exit_code", "cwd", "command")


def default_log_path(pool_dir: Path) -> Path:
    return pool_dir / "shell" / LOG_NAME


def _quote_sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _quote_fish(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_BASH = r"""# Carryover shell hook (bash): logs each command, its cwd and exit code for the Carryover daemon.
# Install: add  eval "$(carryover shell-hook bash)"  to ~/.bashrc
if [[ -n "${BASH_VERSION-}" && $- == *i* && -z "${__carryover_hooked-}" ]]; then
__carryover_hooked=1
__carryover_log=__LOG__
__carryover_py=__PY__
__carryover_last_hist=
__carryover_t0=
__carryover_ignorespace=
__carryover_esc() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/}
  s=${s//[$'\001'-$'\037'$'\177']/}
  REPLY=$s
}
__carryover_secs() {  # microseconds (digits) -> seconds with a fraction, or null
  local t=$1
  if [[ ${#t} -gt 6 ]]; then REPLY="${t:0:${#t}-6}.${t:${#t}-6}"; else REPLY=null; fi
}
__carryover_histcontrol() {
  # Like bash-preexec: take ignorespace out of HISTCONTROL so that history always shows the line
  # that ran, and drop space-prefixed lines from history here instead (the user's intent is kept).
  case ":${HISTCONTROL-}:" in
    *:ignorespace:*|*:ignoreboth:*)
      __carryover_ignorespace=1
      local h=":${HISTCONTROL}:"
      h=${h//:ignorespace:/:}
      h=${h//:ignoreboth:/:ignoredups:}
      h=${h#:}; HISTCONTROL=${h%:}
      ;;
  esac
}
__carryover_precmd() {
  local ec=$?
  if [[ -z "$__carryover_t0" ]]; then __carryover_histcontrol; return $ec; fi
  local t0=$__carryover_t0 t1=${EPOCHREALTIME-}
  t1=${t1/[.,]/}
  __carryover_t0=
  local line num cmd
  line=$(HISTTIMEFORMAT= builtin history 1)
  if [[ $line =~ ^\ *([0-9]+)[*\ ]\ (.*)$ ]]; then
    num=${BASH_REMATCH[1]}
    cmd=${BASH_REMATCH[2]}
  else
    __carryover_histcontrol
    return $ec
  fi
  if [[ -n "${__carryover_ignorespace-}" && $cmd == [[:space:]]* ]]; then
    [[ "$num" != "$__carryover_last_hist" ]] && builtin history -d "$num" 2>/dev/null
    __carryover_histcontrol
    return $ec
  fi
  # An unchanged history number with the same line is a repeat that ignoredups kept out.
  __carryover_last_hist=$num
  __carryover_esc "${cmd:0:__MAXCMD__}"; local jcmd=$REPLY
  __carryover_esc "${PWD:0:__MAXCWD__}"; local jcwd=$REPLY
  local started=null ended=null
  if [[ $t0 != 1 ]]; then __carryover_secs "$t0"; started=$REPLY; fi
  if [[ -n $t1 ]]; then __carryover_secs "$t1"; ended=$REPLY; fi
  local fmt='{"v":1,"shell":"bash","pid":%d,"started":%s,"ended":%s,'
  fmt+='"exit_code":%d,"cwd":"%s","command":"%s"}\n'
  # Through a pipe to a detached recorder, which redacts before anything reaches the disk.
  builtin printf "$fmt" "$$" "$started" "$ended" "$ec" "$jcwd" "$jcmd" 2>/dev/null \
    | ( "$__carryover_py" -I -m carryover.pipeline.capture.shell_hook --record "$__carryover_log" \
          <&0 >/dev/null 2>&1 & ) 2>/dev/null
  __carryover_histcontrol
  return $ec
}
__carryover_histcontrol
if [[ -n "${EPOCHREALTIME-}" ]]; then
  PS0="${PS0-}"'${PS0:0:$((__carryover_t0=${EPOCHREALTIME/[.,]/},0))}'
else
  PS0="${PS0-}"'${PS0:0:$((__carryover_t0=1,0))}'
fi
if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
  PROMPT_COMMAND=(__carryover_precmd "${PROMPT_COMMAND[@]}")
else
  PROMPT_COMMAND="__carryover_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
fi
"""

_ZSH = r"""# Carryover shell hook (zsh): logs each command, its cwd and exit code for the Carryover daemon.
# Install: add  eval "$(carryover shell-hook zsh)"  to ~/.zshrc
if [[ -o interactive && -z "${__carryover_hooked-}" ]]; then
typeset -g __carryover_hooked=1
typeset -g __carryover_log=__LOG__
typeset -g __carryover_py=__PY__
zmodload zsh/datetime 2>/dev/null
typeset -g __carryover_cmd= __carryover_t0= __carryover_armed=
__carryover_esc() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//[[:cntrl:]]/}
  REPLY=$s
}
__carryover_preexec() {
  if [[ -o histignorespace && $1 == ' '* ]]; then __carryover_armed=; return; fi
  __carryover_cmd=$1
  __carryover_t0=${EPOCHREALTIME-}
  __carryover_armed=1
}
__carryover_precmd() {
  local ec=$?
  [[ -n $__carryover_armed ]] || return $ec
  __carryover_armed=
  local t1=${EPOCHREALTIME-}
  __carryover_esc "${__carryover_cmd[1,__MAXCMD__]}"; local jcmd=$REPLY
  __carryover_esc "${PWD[1,__MAXCWD__]}"; local jcwd=$REPLY
  local started=${__carryover_t0:-null} ended=${t1:-null}
  local fmt='{"v":1,"shell":"zsh","pid":%d,"started":%s,"ended":%s,'
  fmt+='"exit_code":%d,"cwd":"%s","command":"%s"}\n'
  # Through a pipe to a detached recorder, which redacts before anything reaches the disk.
  builtin printf "$fmt" $$ "${started/,/.}" "${ended/,/.}" $ec "$jcwd" "$jcmd" 2>/dev/null \
    | ( "$__carryover_py" -I -m carryover.pipeline.capture.shell_hook --record "$__carryover_log" \
          <&0 >/dev/null 2>&1 & ) 2>/dev/null
  return $ec
}
autoload -Uz add-zsh-hook
add-zsh-hook preexec __carryover_preexec
add-zsh-hook precmd __carryover_precmd
fi
"""

_FISH = r"""# Carryover shell hook (fish): logs each command, its cwd and exit code for the Carryover daemon.
# Install: add  carryover shell-hook fish | source  to ~/.config/fish/config.fish
if status is-interactive; and not set -q __carryover_hooked
set -g __carryover_hooked 1
set -g __carryover_log __LOG__
set -g __carryover_py __PY__
function __carryover_esc
    string replace -a -- '\\' '\\\\' $argv[1] | string replace -a -- '"' '\\"' \
        | string replace -a -- \t '\\t' | string replace -ra -- '[\x00-\x08\x0b-\x1f\x7f]' '' \
        | string join -- '\\n'
end
function __carryover_postexec --on-event fish_postexec
    set -l ec $status
    test -n "$fish_private_mode"; and return $ec
    set -l cmd $argv[1]
    test -n "$cmd"; or return $ec
    set -l jcmd (__carryover_esc (string sub -l __MAXCMD__ -- $cmd | string collect))
    set -l jcwd (__carryover_esc (string sub -l __MAXCWD__ -- $PWD))
    set -l ended (command date +%s.%N 2>/dev/null; or command date +%s)
    set -l dur 0
    set -q CMD_DURATION; and set dur $CMD_DURATION
    set -l started (math --scale=6 "$ended - $dur / 1000" 2>/dev/null; or echo null)
    set -l fmt '{"v":1,"shell":"fish","pid":%d,"started":%s,"ended":%s,'
    set fmt "$fmt"'"exit_code":%d,"cwd":"%s","command":"%s"}\n'
    # Through a pipe to a detached recorder, which redacts before anything reaches the disk.
    printf $fmt $fish_pid $started $ended $ec "$jcwd" "$jcmd" 2>/dev/null \
        | $__carryover_py -I -m carryover.pipeline.capture.shell_hook --record $__carryover_log \
        >/dev/null 2>&1 &
    disown $last_pid 2>/dev/null
    return $ec
end
end
"""


def shell_hook_snippet(shell: str, log_path: Path, python: str | None = None) -> str:
    """The snippet for ``shell`` whose recorder (``python``, this interpreter by default) appends to
    ``log_path``."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    template = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
    quote = _quote_fish if shell == "fish" else _quote_sh
    return (
        template.replace("__LOG__", quote(str(log_path)))
        .replace("__PY__", quote(python or sys.executable))
        .replace("__MAXCMD__", str(MAX_COMMAND_CHARS))
        .replace("__MAXCWD__", str(MAX_CWD_CHARS))
    )


def run_shell_hook(shell: str, pool_dir: Path | None = None) -> str:
    """What ``carryover shell-hook SHELL`` prints: the snippet, logging under the pool's directory
    (the configured pool unless ``pool_dir`` is given). Raises ValueError for an unknown shell."""
    if pool_dir is None:
        from carryover.pool.config import load_config

        pool_dir = load_config().pool_dir
    return shell_hook_snippet(shell, default_log_path(Path(pool_dir).expanduser().resolve()))


# --------------------------------------------------------------------------------------------------
# The recorder: one record from the hook, redacted, then appended
# --------------------------------------------------------------------------------------------------


def append_private(path: Path, data: bytes) -> None:
    """Append ``data`` with one ``write`` to ``path`` (created 0600, narrowed to 0600 if it was not)."""
    from carryover.pool.locking import PRIVATE_FILE_MODE, private_dir

    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        written = os.write(fd, data)
        if written != len(data):  # a full disk: a cut line would be malformed, so say so
            raise OSError(f"only {written} of {len(data)} bytes reached {path}")
    finally:
        os.close(fd)


def clean_record(raw: bytes) -> bytes | None:
    """The log line for one record from the hook: its known fields, command and cwd redacted,
    under ``MAX_RECORD_BYTES``; None when ``raw`` is not a command record."""
    from carryover.pool.redaction import redact_text

    try:
        record = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("command"), str):
        return None
    clean: dict[str, Any] = {"v": RECORD_VERSION}
    for name in _RECORD_FIELDS:
        value = record.get(name)
        if name in ("command", "cwd", "shell"):
            value = redact_text(str(value or ""))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            value = None
        clean[name] = value
    clean["command"] = clean["command"][:MAX_COMMAND_CHARS]
    clean["cwd"] = clean["cwd"][:MAX_CWD_CHARS]
    clean["shell"] = clean["shell"][:16]
    line = json.dumps(clean, ensure_ascii=False, separators=(",", ":")) + "\n"
    data = line.encode("utf-8", errors="replace")
    while len(data) > MAX_RECORD_BYTES and clean["command"]:
        # Placeholders and escapes can make a redacted line longer than the shell's cut; cut more.
        clean["command"] = clean["command"][: len(clean["command"]) * 3 // 4]
        data = (json.dumps(clean, ensure_ascii=False, separators=(",", ":")) + "\n").encode(
            "utf-8", "replace"
        )
    return data


def record_from_stdin(pool_dir: Path | None, stdin: BinaryIO, log_path: Path | None = None) -> bool:
    """Read one record from ``stdin`` (what the hook pipes), redact it, append it to the pool's shell
    log (or ``log_path``). Returns whether a record was written."""
    if log_path is None:
        if pool_dir is None:
            raise ValueError("record_from_stdin needs the pool directory or the log path")
        log_path = default_log_path(Path(pool_dir))
    data = clean_record(stdin.read(MAX_RECORD_BYTES * 4))
    if data is None:
        return False
    append_private(log_path, data)
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m carryover.pipeline.capture.shell_hook --record LOG``: what the hook runs."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--record":
        sys.stderr.write("usage: python -m carryover.pipeline.capture.shell_hook --record LOG\n")
        return 2
    try:
        record_from_stdin(None, sys.stdin.buffer, Path(args[1]))
    except OSError as error:
        sys.stderr.write(f"carryover shell hook: cannot record the command: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

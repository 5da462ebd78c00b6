"""``carryover shell-hook bash|zsh|fish``: a snippet for the user's shell start-up file.

The snippet appends one JSON line per command to ``<pool>/shell/commands.jsonl``::

    {"v": 1, "shell": "bash", "pid": 4242, "started": 1718000000.123456, "ended": 1718000001.5,
     "exit_code": 1, "cwd": "/home/me/project", "command": "pytest -x"}

and the daemon follows that file (:mod:`carryover.pipeline.capture.shell_log`). Design points:

- No process is started per command in bash and zsh (only shell built-ins; bash runs one command
  substitution to read the history line); fish calls ``date`` once.
- Each line is written by a single ``printf``/``print`` to a file opened with ``O_APPEND``, and is
  kept under 4 KiB (command cut at 2,000 characters, cwd at 1,000), so lines from concurrent shells
  never interleave.
- Exit status is preserved for the user's own prompt; an existing ``PROMPT_COMMAND`` (string or
  array), ``PS0`` and zsh/fish hooks keep working; sourcing the snippet twice hooks once.
- Privacy: a command the shell keeps out of history (leading space with ``ignorespace`` /
  ``HIST_IGNORE_SPACE``, fish's ``fish_private_mode``) is not logged. In bash, as bash-preexec does,
  the hook takes ``ignorespace`` out of ``HISTCONTROL`` (``ignoreboth`` becomes ``ignoredups``) and
  deletes space-prefixed lines from history itself, so that a repeated command is still logged.
  Secrets in the line are redacted by the daemon before anything is stored.
- Times need bash 5 (``EPOCHREALTIME``) or zsh/datetime; bash 4.4 logs without them. Bash older than
  4.4 has no ``PS0`` and is not supported.
"""

from __future__ import annotations

from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
LOG_NAME = "commands.jsonl"
MAX_COMMAND_CHARS = 2000
MAX_CWD_CHARS = 1000


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
command mkdir -p -- "${__carryover_log%/*}" 2>/dev/null
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
  builtin printf "$fmt" "$$" "$started" "$ended" "$ec" "$jcwd" "$jcmd" >>"$__carryover_log" 2>/dev/null
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
command mkdir -p -- "${__carryover_log:h}" 2>/dev/null
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
  builtin printf "$fmt" $$ "${started/,/.}" "${ended/,/.}" $ec "$jcwd" "$jcmd" \
    >>| "$__carryover_log" 2>/dev/null
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
command mkdir -p -- (path dirname -- $__carryover_log 2>/dev/null; or dirname -- $__carryover_log) 2>/dev/null
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
    printf $fmt $fish_pid $started $ended $ec "$jcwd" "$jcmd" >>$__carryover_log 2>/dev/null
    return $ec
end
end
"""


def shell_hook_snippet(shell: str, log_path: Path) -> str:
    """The snippet for ``shell`` that appends to ``log_path``."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}; choose one of {', '.join(SHELLS)}")
    template = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
    quoted = _quote_fish(str(log_path)) if shell == "fish" else _quote_sh(str(log_path))
    return (
        template.replace("__LOG__", quoted)
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

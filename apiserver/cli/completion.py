"""`apiserver completion bash|zsh`: a shell completion script, generated from the parser itself.

A generated script needs no extra package and nothing in the shell's startup beyond one line
(`source <(apiserver completion bash)`). It completes commands, each command's flags, resource
types, output formats, files after -f, and object names by asking the server (`get TYPE -o name`)
with the same connection settings as the command being typed.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from . import kinds, printers

DESCRIPTION = """\
Print a shell completion script for bash or zsh. Load it in the current shell with
`source <(apiserver completion bash)`, or for every shell by adding that line to ~/.bashrc
(zsh: `source <(apiserver completion zsh)` in ~/.zshrc)."""

EXAMPLES = """\
  source <(apiserver completion bash)
  apiserver completion zsh > "${fpath[1]}/_apiserver"
"""

_FILE_FLAGS = (
    "-f",
    "--filename",
    "--config",
    "--certificate-authority",
    "--data-dir",
    "--kek-file",
    "--tls-cert",
    "--tls-key",
)
_TYPE_COMMANDS = ("get", "delete")
_VALUE_FLAGS = (
    "-n",
    "--namespace",
    "--server",
    "--token",
    "--context",
    "--config",
    "-o",
    "--output",
    "-l",
    "--selector",
    "-f",
    "--filename",
    "--field-manager",
    "--certificate-authority",
)
_TYPES = " ".join((*kinds.TYPE_NAMES, "securevalue", "keeper", "namespace", "sv", "ns"))

_BASH = r"""# bash completion for apiserver                      -*- shell-script -*-
_apiserver() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local command="" type="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            __VALUE_FLAGS__) ((i++)) ;;  # the next word is this flag's value
            -*) ;;
            *) if [[ -z "$command" ]]; then command="${COMP_WORDS[i]}"
               elif [[ -z "$type" ]]; then type="${COMP_WORDS[i]}"; fi ;;
        esac
    done
    if [[ -z "$command" ]]; then
        COMPREPLY=($(compgen -W "__COMMANDS__" -- "$cur")); return
    fi
    case "$prev" in
        __FILE_FLAGS__) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        -o|--output) COMPREPLY=($(compgen -W "__FORMATS__" -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        case "$command" in
__FLAGS__
        esac
        return
    fi
    case "$command" in
        __TYPE_COMMANDS__)
            if [[ -z "$type" ]]; then
                COMPREPLY=($(compgen -W "__TYPES__" -- "$cur"))
            else
                local -a connection=()
                for ((i = 1; i < COMP_CWORD; i++)); do
                    case "${COMP_WORDS[i]}" in
                        -n|--namespace|--server|--token|--context|--config)
                            connection+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
                    esac
                done
                local names
                names="$(apiserver get "$type" -o name "${connection[@]}" 2>/dev/null | cut -d/ -f2)"
                COMPREPLY=($(compgen -W "$names" -- "$cur"))
            fi ;;
        completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
    esac
}
complete -o default -F _apiserver apiserver
"""

_ZSH_PREAMBLE = """#compdef apiserver
autoload -U +X bashcompinit && bashcompinit
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description=DESCRIPTION,
        epilog="examples:\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=("bash", "zsh"))
    # The other commands are registered on the same `sub` by the time this runs.
    parser.set_defaults(run=lambda args: _print(sub, args.shell))


def _print(sub: argparse._SubParsersAction, shell: str) -> int:
    script = bash_script(sub)
    sys.stdout.write(_ZSH_PREAMBLE + script if shell == "zsh" else script)
    return 0


def bash_script(sub: argparse._SubParsersAction) -> str:
    commands: dict[str, argparse.ArgumentParser] = dict(sub.choices)
    flag_cases = []
    for name, parser in sorted(commands.items()):
        flags = sorted({opt for action in parser._actions for opt in action.option_strings})
        words = shlex.quote(" ".join(flags))
        flag_cases.append(f'            {name}) COMPREPLY=($(compgen -W {words} -- "$cur")) ;;')
    return (
        _BASH.replace("__COMMANDS__", " ".join(sorted(commands)))
        .replace("__FILE_FLAGS__", "|".join(_FILE_FLAGS))
        .replace("__VALUE_FLAGS__", "|".join(_VALUE_FLAGS))
        .replace("__FORMATS__", " ".join(printers.FORMATS))
        .replace("__FLAGS__", "\n".join(flag_cases))
        .replace("__TYPE_COMMANDS__", "|".join(_TYPE_COMMANDS))
        .replace("__TYPES__", _TYPES)
    )

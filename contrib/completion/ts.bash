# bash completion for ts (Linda tuple spaces for the shell): tsd, ts-out,
# ts-in, ts-rd, ts-dump and ts-eval.
#
# Completes options until the first field (options go before the fields),
# the formals of a template, quoted so the shell does not glob them
# ('?int'), the names of the workers of the live daemon after ts-eval -k,
# and the command and its arguments after the -- of tsd and ts-eval.
# make install puts it where bash-completion looks for each command.

# Print the names of the workers of the daemon at socket $1 (or the default).
_ts_workers()
{
    local sock=$1
    command ts-dump -w ${sock:+-s "$sock"} 2>/dev/null |
        sed -n 's/^{"worker":{"name":"\([^"\\]*\)".*/\1/p' | sort -u
}

_ts_complete()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd=${COMP_WORDS[0]##*/} opts argopts sock= i w fields=0 f q
    COMPREPLY=()

    case $cmd in
    tsd) opts='-d -h -k -l -m -s --help --log --version --'; argopts='-l|--log|-m|-s' ;;
    ts-out) opts='-0 -h -j -L -l -S -s --help --strings --version -'; argopts='-s' ;;
    ts-in | ts-rd) opts='-0 -a -h -j -n -q -S -s -t --help --strings --version'
        argopts='-n|-s|-t' ;;
    ts-dump) opts='-h -S -s -w --help --strings --version'; argopts='-s' ;;
    ts-eval) opts='-g -h -k -n -S -s --help --name --put --strings --take --version --'
        argopts='-g|-k|-n|-s|--name|--put|--take' ;;
    *) return 0 ;;
    esac

    # Walk the words before this one: an option's argument, "--", the first field.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == -- ]]; then
            if [[ $cmd == tsd || $cmd == ts-eval ]]; then
                if ((i + 1 == COMP_CWORD)); then
                    COMPREPLY=($(compgen -c -- "$cur" | sort -u))
                elif declare -F _command_offset >/dev/null; then
                    _command_offset $((i + 1))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0
            fi
            fields=1
            break
        fi
        if [[ $w == -s ]]; then
            sock=${COMP_WORDS[i + 1]}
        fi
        if [[ $w == -* && $w != - ]] && ((!fields)); then
            [[ "|$argopts|" == *"|$w|"* ]] && ((i++))
            continue
        fi
        fields=1
        break
    done

    case $prev in
    -s | -l | --log) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    -k) if [[ $cmd == ts-eval ]]; then
            COMPREPLY=($(compgen -W "$(_ts_workers "$sock")" -- "$cur"))
            return 0
        fi ;;
    -t | -n | -m | -g | --name | --put | --take) return 0 ;;
    esac
    if ((!fields)) && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi
    # A field of a template: the formals, quoted for the shell.
    case $cmd in
    ts-in | ts-rd | ts-dump)
        for f in '?' '?str' '?int' '?num' '?bool' '?null' '?arr' '?obj' '?~'; do
            q="'$f'"
            case $cur in
            \'*) [[ $q == "$cur"* ]] && COMPREPLY+=("$q") ;;
            \?* | '') [[ $f == "$cur"* ]] && COMPREPLY+=("$q") ;;
            esac
        done
        ;;
    esac
    return 0
}

complete -F _ts_complete tsd ts-out ts-in ts-rd ts-dump ts-eval

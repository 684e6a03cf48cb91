# bash completion for kanri: commands, options, and the names of the VMs,
# containers and hosts the manager knows (asked of kanrid, with the
# --url/--context/--token on the line, else the current context).
_kanri()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local IFS=$'\n'
    local words=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete "${words[@]}" -- "$cur" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _kanri kanri

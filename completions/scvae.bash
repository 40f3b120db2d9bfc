# bash completion for the scvae tools.  Source it, or install it as
# /usr/share/bash-completion/completions/scvae-<tool> (one symlink per tool).

_scvae_files() { # $1: glob extension pattern, e.g. '@(png|jpg|jpeg|PNG|JPG|JPEG)'
    local cur=${COMP_WORDS[COMP_CWORD]}
    COMPREPLY+=( $(compgen -f -X "!*.$1" -- "$cur") $(compgen -d -- "$cur") )
}

_scvae_encode() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -m|--model) shopt -s extglob; _scvae_files 'scvm'; return ;;
        -o|--output|--files-from) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        -b|--batch|-t|--threads|--shard) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '-m --model -o --output -j --json --half -b --batch -t --threads --device
            --files-from -k --keep-going --shard -q --quiet -h --help --version' -- "$cur") )
    else
        shopt -s extglob; _scvae_files '@(png|jpg|jpeg|PNG|JPG|JPEG)'
    fi
}
complete -F _scvae_encode scvae-encode

_scvae_decode() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -m|--model) shopt -s extglob; _scvae_files 'scvm'; return ;;
        -o|--output) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        -b|--batch|-t|--threads|--quality|--montage|--gap) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W '-o --output -m --model -f --force -b --batch -t --threads --device --quality
            --montage --labels --gap -q --quiet -h --help --version' -- "$cur") )
    else
        shopt -s extglob; _scvae_files '@(scv|jsonl|json)'
    fi
}
complete -F _scvae_decode scvae-decode

# bash completion for the scvae tools.  Source it, or install it as
# /usr/share/bash-completion/completions/scvae-<tool> (one symlink per tool).

# Completion candidates are added one per line (so that "my photo.jpg" stays one word) with -o filenames
# (readline quotes them); folders end in '/'. extglob is switched on only while a pattern is matched.
_scvae_add() { # $@: compgen arguments
    local line
    while IFS= read -r line; do COMPREPLY+=( "$line" ); done < <(compgen "$@")
    compopt -o filenames 2>/dev/null || true
}

_scvae_dirs() {
    _scvae_add -d -S / -- "${COMP_WORDS[COMP_CWORD]}"
}

_scvae_any_file() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    _scvae_add -f -- "$cur"
    # folders once, with their '/': drop the plain names compgen -f gave them
    local i kept=()
    for i in "${COMPREPLY[@]}"; do [[ -d $i ]] || kept+=( "$i" ); done
    COMPREPLY=( "${kept[@]}" )
    _scvae_dirs
}

# _scvae_options WORDS: the options among WORDS when the word being completed starts with '-'; else fails
_scvae_options() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    [[ $cur == -* ]] || return 1
    COMPREPLY=( $(compgen -W "$1" -- "$cur") )
    return 0
}

_scvae_files() { # $1: extension pattern, e.g. '@(png|jpg|jpeg|PNG|JPG|JPEG)'
    local cur=${COMP_WORDS[COMP_CWORD]} restore
    restore=$(shopt -p extglob) || true
    shopt -s extglob
    local line
    while IFS= read -r line; do [[ -d $line ]] || COMPREPLY+=( "$line" ); done < <(compgen -f -X "!*.$1" -- "$cur")
    eval "$restore"
    _scvae_dirs
}

_scvae_encode() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -m|--model) _scvae_files 'scvm'; return ;;
        -o|--output|--files-from) _scvae_any_file; return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        --solver) COMPREPLY=( $(compgen -W 'lista ista fista' -- "$cur") ); return ;;
        -b|--batch|-t|--threads|--shard|--solver-steps) return ;;
    esac
    _scvae_options '-m --model -o --output -j --json --half -b --batch -t --threads --device
            --files-from -k --keep-going --shard --solver --solver-steps -q --quiet -h --help --version' || _scvae_files '@(png|jpg|jpeg|ppm|pgm|pbm|pnm|pam|PNG|JPG|JPEG|PPM|PGM|PBM|PNM|PAM)'
}
complete -F _scvae_encode scvae-encode

_scvae_decode() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -m|--model) _scvae_files 'scvm'; return ;;
        -o|--output) _scvae_any_file; return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        -F|--format) COMPREPLY=( $(compgen -W 'png jpeg pnm pam' -- "$cur") ); return ;;
        -b|--batch|-t|--threads|--quality|--montage|--gap|--title) return ;;
    esac
    _scvae_options '-o --output -F --format -m --model -f --force -b --batch -t --threads --device
            --quality --montage --labels --gap --title -q --quiet -h --help --version' || _scvae_files '@(scv|jsonl|json)'
}
complete -F _scvae_decode scvae-decode

_scvae_metrics() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -m|--model) _scvae_files 'scvm'; return ;;
        -c|--codes) _scvae_files '@(scv|jsonl|json)'; return ;;
        --lpips-model|--fid-model) _scvae_files '@(pt|pth|ts)'; return ;;
        -o|--output|--ref-list|--dist-list) _scvae_any_file; return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        --metrics) COMPREPLY=( $(compgen -W 'psnr mse ssim ms_ssim psnr,ssim psnr,ssim,ms_ssim' -- "$cur") ); return ;;
        --check|-t|--threads) return ;;
    esac
    _scvae_options '--ref-list --dist-list -c --codes --masks -m --model -f --force --metrics
            --lpips-model --fid-model --tsv -s --summary --check -o --output -t --threads --device
            -h --help --version' || _scvae_files '@(png|jpg|jpeg|PNG|JPG|JPEG)'
}
complete -F _scvae_metrics scvae-metrics

_scvae_edit() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -o|--output) _scvae_any_file; return ;;
        --traverse) COMPREPLY=( $(compgen -W 'top1 top2 top3' -- "$cur") ); return ;;
        --set|--add|--scale) COMPREPLY=( $(compgen -W 'top1= top2= top3=' -- "$cur") ); compopt -o nospace 2>/dev/null; return ;;
        --at|--from|--to|--steps) return ;;
        --interpolate) _scvae_files '@(scv|jsonl|json)'; return ;;
    esac
    _scvae_options '--set --add --scale --at --traverse --from --to --interpolate --steps
            -o --output --json --half -h --help --version' || _scvae_files '@(scv|jsonl|json)'
}
complete -F _scvae_edit scvae-edit

_scvae_model() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=( $(compgen -W 'init info grow export -h --help --version' -- "$cur") )
        return
    fi
    case ${COMP_WORDS[1]} in
        init)
            case $prev in
                -p|--preset) COMPREPLY=( $(compgen -W 'paper-f8 paper-f16 paper-f64 paper-f256 cpu-f8 tiny' -- "$cur") ); return ;;
                -c|--config) _scvae_files 'json'; return ;;
                -o|--output) _scvae_any_file; return ;;
                --latent) COMPREPLY=( $(compgen -W 'sc vq' -- "$cur") ); return ;;
                -s|--seed|--vq-ema) return ;;
            esac
            COMPREPLY=( $(compgen -W '-p --preset -c --config --latent --vq-ema -s --seed --half -o --output -h --help --version' -- "$cur") )
            ;;
        info)
            _scvae_options '-j --json -h --help --version' || _scvae_files 'scvm'
            ;;
        grow)
            case $prev in
                -o|--output) _scvae_any_file; return ;;
                -r|--res-blocks|-c|--channels|-s|--seed) return ;;
            esac
            _scvae_options '-r --res-blocks -c --channels -s --seed --half -o --output -h --help --version' || _scvae_files 'scvm'
            ;;
        export)
            case $prev in
                -o|--output) _scvae_any_file; return ;;
            esac
            _scvae_options '-o --output -h --help --version' || _scvae_files 'scvm'
            ;;
    esac
}
complete -F _scvae_model scvae-model

_scvae_cluster() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -o|--output|--save-centroids) _scvae_any_file; return ;;
        --centroids) _scvae_files 'scvk'; return ;;
        --mosaic) _scvae_files '@(png|PNG)'; return ;;
        --images) _scvae_dirs; return ;;
        --distances) COMPREPLY=( $(compgen -W 'auto dense sparse' -- "$cur") ); return ;;
        -k|--clusters|--iters|--redo|--seed|--max-points|--rows|--per-row|--patch-scale|-t|--threads) return ;;
    esac
    _scvae_options '-k --clusters --iters --redo --seed --max-points --spherical -o --output --tsv
            --save-centroids --centroids --mosaic --rows --per-row --patch-scale --images --distances -t --threads
            -v --verbose -h --help --version' || _scvae_files '@(scv|jsonl|json)'
}
complete -F _scvae_cluster scvae-cluster

_scvae_segment() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        --method) COMPREPLY=( $(compgen -W 'kmeans spectral' -- "$cur") ); return ;;
        -m|--model) _scvae_files 'scvm'; return ;;
        -o|--output|--labels|--mask|--overlay) _scvae_any_file; return ;;
        --images) _scvae_dirs; return ;;
        -k|--classes|--iters|--redo|--seed|--bndcon-threshold|--bandwidth|--noise|--pixels|-b|--batch|-t|--threads) return ;;
    esac
    _scvae_options '--method -k --classes --iters --redo --seed --bndcon-threshold --bandwidth -m --model
            --pixels --noise -o --output --labels --mask --overlay --images -b --batch -t --threads -h --help
            --version' || _scvae_files '@(scv|jsonl|json|png|jpg|jpeg|PNG|JPG|JPEG)'
}
complete -F _scvae_segment scvae-segment

_scvae_train() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    case $prev in
        -o|--output|--resume|--val) _scvae_dirs; return ;;
        --files-from|--config|--rank-model) _scvae_any_file; return ;;
        --init) _scvae_files 'scvm'; return ;;
        -p|--preset) COMPREPLY=( $(compgen -W 'paper-f8 paper-f16 paper-f64 paper-f256 cpu-f8 tiny' -- "$cur") ); return ;;
        --solver) COMPREPLY=( $(compgen -W 'lista ista fista' -- "$cur") ); return ;;
        --latent) COMPREPLY=( $(compgen -W 'sc vq' -- "$cur") ); return ;;
        --device) COMPREPLY=( $(compgen -W 'cpu cuda' -- "$cur") ); return ;;
        --val-fraction|--val-images|-s|--size|--resize-short|-d|--channels|-n|-K|--lista-steps|--vq-beta|--vq-ema|--alpha|--init-alpha|--lr|--grown-lr|--adam-eps|\
        -b|--batch|--epochs|--steps|--grad-clip|--seed|--val-every|--checkpoint-every|--log-every|-t|--threads|--procs|\
        --data-threads|--world-size|--rank|--local-rank|--master-addr|--master-port|--dist-timeout|--bucket-mb) return ;;
    esac
    _scvae_options '-o --output --resume --files-from --val --val-fraction --val-images -s --size
            --resize-short -p --preset --config -d --channels -n -K --lista-steps --solver --latent --vq-beta --vq-ema --init --alpha --init-alpha --lr --grown-lr --adam-eps
            -b --batch --epochs --steps --grad-clip --seed --val-every --checkpoint-every --log-every --half
            --procs -t --threads --data-threads --device --world-size --rank --local-rank --master-addr --master-port
            --dist-timeout --bucket-mb --rank-model -q --quiet -h --help --version' || _scvae_files '@(png|jpg|jpeg|PNG|JPG|JPEG)'
}
complete -F _scvae_train scvae-train

#!/bin/sh
# test_includes.sh - the include graph between the top-level folders is the
# one HACKING.md states, without cycles:
#   common      nothing (header-only rules every folder may use)
#   core        nothing of ours
#   kernels     core (the GP interface: gp.h, protein.h)
#   queue       nothing of ours, except queue_model.[ch] -> core
#   plugin      queue
#   coordinator queue, core, kernels
#   cli         queue, core
# Every quoted #include of a source or header is resolved to the folder
# that holds the header, or that make writes it to (generated, below);
# config.h (generated) is everyone's.
set -u
: "${top_srcdir:?run by make check}"
cd "$top_srcdir" || exit 99
folders="common core kernels queue plugin coordinator cli"
# headers that make writes into the build tree (kernels/Makefile.am)
generated="kernels/gp_cuda_fingerprint.h"

allowed() { # allowed FILE: the folders FILE may include from
    case $1 in
    common/*) echo "common" ;;
    core/*) echo "core common" ;;
    kernels/*) echo "kernels core common" ;;
    queue/queue_model.*) echo "queue core common" ;;
    queue/*) echo "queue common" ;;
    plugin/*) echo "plugin queue common" ;;
    coordinator/*) echo "coordinator queue core kernels common" ;;
    cli/*) echo "cli queue core common" ;;
    esac
}

owner() { # owner HEADER: the folder holding or generating it, or nothing
    for f in $folders; do
        [ -f "$f/$1" ] && { echo "$f"; return; }
        case " $generated " in *" $f/$1 "*) echo "$f"; return ;; esac
    done
}

failed=0
checked=0
for d in $folders; do
    for file in "$d"/*.c "$d"/*.h "$d"/*.cu; do
        [ -f "$file" ] || continue
        ok=$(allowed "$file")
        for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file"); do
            [ "$h" = config.h ] && continue
            o=$(owner "$h")
            if [ -z "$o" ]; then
                echo "FAIL: $file includes \"$h\", which no folder holds"
                failed=1
                continue
            fi
            checked=$((checked + 1))
            case " $ok " in
            *" $o "*) ;;
            *) echo "FAIL: $file includes $o/$h; $d may include from: $ok"
               failed=1 ;;
            esac
        done
    done
done
echo "$checked includes checked"
[ "$checked" -gt 0 ] || { echo "FAIL: no includes found under $top_srcdir"; exit 1; }
exit $failed

#!/bin/sh
# test_links.sh - in a CUDA build only the programs that choose a GP backend
# (proteind, the GPU tests and benchmark) link the CUDA libraries: the
# protein command, the SPANK plugin and every CPU test link none
# (readelf -d), and the plugin links no optimizer library either. Skips
# (77) in a build without CUDA, where nothing can link CUDA.
set -u
: "${top_builddir:?run by make check}"
if ! grep -q '^#define HAVE_CUDA 1' "$top_builddir/config.h"; then
    echo "SKIP: not a CUDA build (configure found no CUDA)"
    exit 77
fi
if ! command -v readelf >/dev/null 2>&1; then
    echo "SKIP: readelf (binutils) is not installed"
    exit 77
fi
cuda='libcudart|libcublas|libcusolver'
failed=0

needed() {
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '
}

# expect FILE yes|no PATTERN: FILE links a library matching PATTERN or not.
expect() {
    if [ ! -f "$1" ]; then
        echo "FAIL: $1 was not built"
        failed=1
        return
    fi
    libs=$(needed "$1")
    if echo "$libs" | grep -Eq "$3"; then has=yes; else has=no; fi
    if [ "$has" != "$2" ]; then
        echo "FAIL: $1 links [$libs]; a library matching $3 expected: $2"
        failed=1
    else
        echo "ok: $1 ($2 $3)"
    fi
}

b=$top_builddir
expect "$b/coordinator/proteind" yes "$cuda"
expect "$b/cli/protein" no "$cuda"
plugin=$b/plugin/.libs/spank_protein.so
if [ -f "$plugin" ]; then
    expect "$plugin" no "$cuda|libopenblas|liblapack|libblas|libyaml|libgsl"
fi
for prog in "$b"/tests/unit/* "$b"/tests/integration/* "$b"/tests/bench/* \
            "$b"/tests/fuzz/*; do
    [ -f "$prog" ] && [ -x "$prog" ] || continue
    head -c 4 "$prog" | grep -q 'ELF' || continue
    case ${prog##*/} in
    test_gp_cuda | test_proteind_device | bench_gp_cuda)
        expect "$prog" yes "$cuda" ;;
    *)
        expect "$prog" no "$cuda" ;;
    esac
done
exit $failed

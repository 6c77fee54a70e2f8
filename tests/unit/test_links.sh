#!/bin/sh
# test_links.sh - in a CUDA build only the CUDA backend links the CUDA
# libraries: its module (kernels/protein-gp-cuda.so, which proteind loads
# when it wants the GPU) and the GPU tests and benchmark that link it
# statically. proteind, the protein command, the SPANK plugin and every
# other test link none (readelf -d), and the plugin links no optimizer
# library either. The module exports its entry point alone. Skips (77) in
# a build without CUDA, where nothing can link CUDA.
set -u
: "${top_builddir:?run by make check}"
if ! grep -q '^#define HAVE_CUDA 1' "$top_builddir/config.h"; then
    echo "SKIP: not a CUDA build (configure found no CUDA)"
    exit 77
fi
if ! command -v readelf >/dev/null 2>&1 || ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: readelf or nm (binutils) is not installed"
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
module=$b/kernels/.libs/protein-gp-cuda.so
expect "$module" yes "$cuda"
if [ -f "$module" ]; then
    exported=$(nm -D --defined-only "$module" | awk '{ print $3 }' | tr '\n' ' ')
    if [ "$exported" != "protein_gp_cuda_module_entry " ]; then
        echo "FAIL: $module exports [$exported], its entry point alone expected"
        failed=1
    else
        echo "ok: $module exports protein_gp_cuda_module_entry alone"
    fi
fi
expect "$b/coordinator/proteind" no "$cuda"
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
    test_gp_cuda | bench_gp_cuda)
        expect "$prog" yes "$cuda" ;;
    *)
        expect "$prog" no "$cuda" ;;
    esac
done
exit $failed

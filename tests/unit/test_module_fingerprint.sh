#!/bin/sh
# test_module_fingerprint.sh - the CUDA module's interface fingerprint
# (kernels/module-fingerprint.sh, gp_cuda_module.h), which proteind
# compares with the module's at load, in place of an ABI number bumped by
# hand:
#   - it covers the interface: core/gp.h (the backend table and the structs
#     it passes), the status codes, gp_cuda_module.h and the imported
#     functions; a change of any one of them changes it;
#   - make remade the build's gp_cuda_fingerprint.h from the sources as
#     they are (a dependency missing in kernels/Makefile.am leaves it
#     stale after an edit);
#   - proteind and the module both carry it (both rebuilt with it).
# Skips (77) in a build without CUDA, which has no module.
set -u
: "${top_srcdir:?run by make check}" "${top_builddir:?run by make check}"
if ! grep -q '^#define HAVE_CUDA 1' "$top_builddir/config.h"; then
    echo "SKIP: not a CUDA build (configure found no CUDA)"
    exit 77
fi
script=$top_srcdir/kernels/module-fingerprint.sh
header=$top_builddir/kernels/gp_cuda_fingerprint.h
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}
fingerprint() { # fingerprint SRCDIR FILE...: the value the script gives
    sh "$script" "$@" | sed -n 's/.*FINGERPRINT "\([0-9a-f]*\)".*/\1/p'
}

[ -f "$header" ] || { echo "FAIL: $header was not made"; exit 1; }
interface=$(sed -n 's/^ \* interface: //p' "$header")
built=$(sed -n 's/.*FINGERPRINT "\([0-9a-f]*\)".*/\1/p' "$header")
if [ -z "$interface" ] || [ -z "$built" ]; then
    echo "FAIL: $header names no interface or fingerprint"
    exit 1
fi
for want in core/gp.h common/protein_status.h kernels/gp_cuda_module.h \
            kernels/module-imports.list; do
    case " $interface " in
    *" $want "*) echo "ok: the fingerprint covers $want" ;;
    *) fail "the fingerprint leaves out $want (it covers: $interface)" ;;
    esac
done

# shellcheck disable=SC2086 # the list is words
now=$(fingerprint "$top_srcdir" $interface)
if [ "$now" = "$built" ]; then
    echo "ok: $header is the sources' fingerprint ($built)"
else
    fail "$header says $built, the sources give $now: make did not remake it"
fi

tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
for f in $interface; do
    mkdir -p "$tmp/$(dirname "$f")"
    cp "$top_srcdir/$f" "$tmp/$f"
done
for f in $interface; do
    cp "$tmp/$f" "$tmp/saved"
    echo "/* a change */" >>"$tmp/$f"
    # shellcheck disable=SC2086 # the list is words
    changed=$(fingerprint "$tmp" $interface)
    cp "$tmp/saved" "$tmp/$f"
    if [ -z "$changed" ] || [ "$changed" = "$built" ]; then
        fail "a change of $f leaves the fingerprint $built"
    else
        echo "ok: a change of $f makes it $changed"
    fi
done

for bin in "$top_builddir/coordinator/proteind" \
           "$top_builddir/kernels/.libs/protein-gp-cuda.so"; do
    if grep -q -a "$built" "$bin"; then
        echo "ok: $bin carries $built"
    else
        fail "$bin does not carry the fingerprint $built (built before it?)"
    fi
done
exit $failed

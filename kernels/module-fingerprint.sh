#!/bin/sh
# module-fingerprint.sh SRCDIR FILE... - prints gp_cuda_fingerprint.h, the
# fingerprint of the CUDA module's interface: a checksum of the text of
# each FILE (relative to SRCDIR, in the order given; kernels/Makefile.am
# names them), which protein-gp-cuda.so and proteind both compile in and
# proteind compares when it loads the module (gp_cuda_module.h). Any
# change of those files, a comment's too, gives another fingerprint, so
# that two builds of one version with different interfaces refuse each
# other without anyone bumping a number.
#
# The start of the texts' SHA-256, as queue/ versions functions.lua. Exits
# 1, printing nothing, when a FILE cannot be read; 2 on a bad command
# line.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 SRCDIR FILE..." >&2
    exit 2
fi
srcdir=$1
shift
for f in "$@"; do
    if [ ! -r "$srcdir/$f" ]; then
        echo "$0: cannot read $srcdir/$f" >&2
        exit 1
    fi
done
sum=$(for f in "$@"; do cat "$srcdir/$f"; done | sha256sum | cut -c1-16)
cat <<HEADER
/* gp_cuda_fingerprint.h - made by make (kernels/module-fingerprint.sh);
 * do not edit. The CUDA module's interface fingerprint, of the text of:
 * interface: $*
 */
#define PROTEIN_GP_CUDA_MODULE_FINGERPRINT "$sum"
HEADER

#!/usr/bin/env bash
# The test command of the README: configure an out-of-tree build in ./build
# with warnings as errors, build everything and run every test suite (unit,
# integration on a real redis-server, end-to-end on a real Slurm cluster when
# run as root). The sources must also match .clang-format (make
# format-check): the tests run either way, and the command fails at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# a git checkout makes its configure; a release tarball ships one
if [ -d .git ] || [ -f .git ] || [ ! -x configure ]; then
  ./autogen.sh >/dev/null
fi
mkdir -p build
cd build
../configure --enable-werror -q
make -j"$(nproc)" >/dev/null
format=0
make -s format-check || format=$?
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if ! make -j"$(nproc)" check; then
  cat tests/test-suite.log
  exit 1
fi
if [ $format != 0 ]; then
  echo "run-all: FAILED: make format-check: sources differ from .clang-format;" \
    "run 'make -C build format' and commit the result" >&2
  exit 1
fi

# cli_test.sh - the setup shared by the shell tests of the protein command
# (source it after `set -eu`, as "$top_srcdir/tests/common/cli_test.sh";
# make check sets top_builddir and top_srcdir).
#
#   cli_test_init NAME  sets PROTEIN and OBJECTIVE (the built programs) and
#                       tmp (a private temp dir named after the test); at
#                       exit tmp is removed and a server from cli_test_redis
#                       stopped. Clears the PROTEIN_* variables a trial
#                       would see, so that the caller's environment does not
#                       leak in.
#   cli_test_redis      starts a private redis-server (tests/common/redis.sh)
#                       and exports PROTEIN_REDIS for it; exits with
#                       redis_start's status (77: skip) when it cannot.
#   fail MESSAGE        prints "FAIL: MESSAGE" and counts a failure.
#   expect_rc WANT GOT WHAT   fails "WHAT: exit status GOT, expected WANT".
#   wait_for COMMAND... runs COMMAND every 0.1 s until it succeeds, for 10 s
#                       at most (the caller checks what it waited for).
#   cli_test_python MODULE...  sets python to a Python that imports the
#                       modules: $PROTEIN_WANDB_PYTHON, the venv of
#                       .ci/install-deps (/opt/protein-venv), or python3;
#                       exits 77 (skip) saying why when none does.
#   cli_test_finish     exits 1 after any failure, else prints
#                       "NAME: all passed".

. "$top_srcdir/tests/common/redis.sh"

cli_test_init() {
    cli_test_name=$1
    PROTEIN=$top_builddir/cli/protein
    OBJECTIVE=$top_builddir/examples/objective
    export OPENBLAS_NUM_THREADS=1
    unset PROTEIN_REDIS PROTEIN_REDIS_PASSWORD PROTEIN_REDIS_PASSWORD_FILE \
        PROTEIN_RESULT PROTEIN_SWEEP PROTEIN_TRIAL PROTEIN_TOKEN \
        PROTEIN_METRIC_KEY PROTEIN_COST_KEY
    REDIS_PID=
    REDIS_DIR=
    failures=0
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$cli_test_name.XXXXXX")
    trap cli_test_cleanup EXIT
    # the private directories protein makes in $TMPDIR go with the test's
    # files, also those of runs and agents a test kills outright
    mkdir "$tmp/tmpdir"
    export TMPDIR=$tmp/tmpdir
}

cli_test_cleanup() {
    redis_stop
    rm -rf "$tmp"
}

cli_test_redis() {
    rc=0
    redis_start || rc=$?
    [ $rc -eq 0 ] || exit $rc
    export PROTEIN_REDIS=$REDIS_URL
}

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

expect_rc() {
    [ "$1" = "$2" ] || fail "$3: exit status $2, expected $1"
}

wait_for() {
    i=0
    until "$@" || [ $i -ge 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

cli_test_python() {
    imports=$(printf '%s, ' "$@")
    for p in "${PROTEIN_WANDB_PYTHON:-}" /opt/protein-venv/bin/python python3; do
        if [ -n "$p" ] && "$p" -c "import ${imports%, }" >/dev/null 2>&1; then
            python=$p
            return 0
        fi
    done
    echo "SKIP: no Python with $* (.ci/install-deps installs them into" \
         "/opt/protein-venv)"
    exit 77
}

cli_test_finish() {
    if [ $failures -ne 0 ]; then
        echo "$failures failures" >&2
        exit 1
    fi
    echo "$cli_test_name: all passed"
}

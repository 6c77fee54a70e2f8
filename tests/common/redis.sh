# redis.sh - a private redis-server for shell tests (source it).
#
#   redis_start         starts redis-server on a free loopback port in its
#                       own temp dir; sets REDIS_PORT, REDIS_URL, REDIS_DIR
#                       and REDIS_PID. Returns 77 (skip) when redis-server
#                       is missing, 1 when it does not answer within 5 s.
#   redis_stop          stops it by pid (SIGTERM, SIGKILL after 5 s) and
#                       removes its directory. Safe to call twice.
#   rcli ARGS...        redis-cli against it (raw output).
#
# The server is found on PATH or as $REDIS_SERVER.

redis_free_port() {
    # a random high port; redis_start retries when it is taken
    echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
}

redis_start() {
    server=${REDIS_SERVER:-$(command -v redis-server || true)}
    if [ -z "$server" ] || [ ! -x "$server" ]; then
        echo "redis-server not found${server:+ at $server}: install redis-server" >&2
        return 77
    fi
    REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/protein-redis.XXXXXX")
    tries=0
    while :; do
        REDIS_PORT=$(redis_free_port)
        "$server" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
            --save '' --appendonly no --daemonize no \
            --logfile "$REDIS_DIR/redis.log" &
        REDIS_PID=$!
        i=0
        while [ $i -lt 50 ]; do
            if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
                REDIS_URL=redis://127.0.0.1:$REDIS_PORT
                export REDIS_PORT REDIS_URL REDIS_DIR REDIS_PID
                return 0
            fi
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        tries=$((tries + 1))
        if [ $tries -ge 5 ]; then
            echo "redis-server did not start; log:" >&2
            cat "$REDIS_DIR/redis.log" >&2 || true
            rm -rf "$REDIS_DIR"
            return 1
        fi
    done
}

redis_stop() {
    if [ -n "${REDIS_PID:-}" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        i=0
        while kill -0 "$REDIS_PID" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
    fi
    if [ -n "${REDIS_DIR:-}" ]; then
        rm -rf "$REDIS_DIR"
        REDIS_DIR=
    fi
}

rcli() {
    redis-cli -p "$REDIS_PORT" "$@"
}

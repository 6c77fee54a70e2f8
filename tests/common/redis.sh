# redis.sh - a private redis-server for shell tests (source it).
#
#   redis_start         starts redis-server on a free loopback port in its
#                       own temp dir; sets REDIS_PORT, REDIS_URL, REDIS_DIR
#                       and REDIS_PID. Returns 77 (skip) when redis-server
#                       is missing, 1 when it does not answer within 5 s.
#   redis_stop          stops it by pid (SIGTERM, SIGKILL after 5 s) and
#                       removes its directory. Safe to call twice.
#   redis_down          stops it with SHUTDOWN SAVE (its data kept in
#                       REDIS_DIR) and waits until it is gone.
#   redis_up            starts it again on the same port and directory
#                       (a Redis restart); returns 1 when it does not
#                       answer within 5 s.
#   rcli ARGS...        redis-cli against it (raw output).
#
# The server is found on PATH or as $REDIS_SERVER.

redis_free_port() {
    # a random high port; redis_start retries when it is taken
    echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
}

# starts the server on REDIS_PORT in REDIS_DIR, in the background
redis_launch() {
    "$server" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
        --save '' --appendonly no --daemonize no \
        --logfile "$REDIS_DIR/redis.log" &
    REDIS_PID=$!
}

# waits up to 5 s for the server to answer; 1 when it does not (or died)
redis_wait() {
    i=0
    while [ $i -lt 50 ]; do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
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
        redis_launch
        if redis_wait; then
            REDIS_URL=redis://127.0.0.1:$REDIS_PORT
            export REDIS_PORT REDIS_URL REDIS_DIR REDIS_PID
            return 0
        fi
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

redis_down() {
    redis-cli -p "$REDIS_PORT" shutdown save >/dev/null 2>&1 || true
    wait "$REDIS_PID" 2>/dev/null || true
}

redis_up() {
    server=${REDIS_SERVER:-$(command -v redis-server)}
    redis_launch
    redis_wait
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

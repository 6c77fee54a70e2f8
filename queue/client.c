/*
 * client.c - connecting to Redis (URL, timeouts, AUTH), loading protein's
 * Redis Functions, calling them and turning replies into pq_error codes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"

/* The refusal of a URL that carries a password, around the redacted URL
 * cut to URL_QUOTED_MAX bytes: the advice at its end must reach the user
 * whole, however long the URL. */
#define URL_QUOTED_MAX 512
#define URL_PASSWORD_FMT                                                       \
    "Redis URL '%.*s' carries a password: protein never takes one from a "     \
    "URL (it would show in job environments and logs); put it in a file "      \
    "only you can read and pass that file (--password-file, "                  \
    "password_file=) or set PROTEIN_REDIS_PASSWORD"
_Static_assert(sizeof URL_PASSWORD_FMT + URL_QUOTED_MAX <=
                   sizeof((pq_context *)0)->errstr,
               "the refusal of a URL with a password fits ctx->errstr");

/* The answer to a server that wants a password when none was given,
 * around the redacted URL cut as above: it names every way there is to
 * give one. */
#define NO_PASSWORD_FMT                                                        \
    "Redis at %.*s wants a password and none was given: pass a file holding "  \
    "it (--password-file, password_file=) or set PROTEIN_REDIS_PASSWORD; "     \
    "the protein command also reads ~/" PQ_USER_PASSWORD_FILE                  \
    ", which 'protein admin add-user NAME' writes"
_Static_assert(sizeof NO_PASSWORD_FMT + URL_QUOTED_MAX <=
                   sizeof((pq_context *)0)->errstr,
               "the advice on a missing password fits ctx->errstr");

/* Contract in pq_internal.h. */
int pq_set_error(pq_context *ctx, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errstr, sizeof ctx->errstr, fmt, ap);
    va_end(ap);
    ctx->err = err;
    return err;
}

/* Contract in pq_internal.h. */
int pq_random_token(char out[33])
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return PQ_EIO;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return PQ_OK;
}

/* Contract in pq_internal.h. */
void pq_key(char *buf, size_t len, const char *sweep, const char *suffix)
{
    snprintf(buf, len, "protein:{%s}:%s", sweep, suffix);
}

/* Contract in pq_internal.h. */
int pq_check_sweep(pq_context *ctx, const char *sweep)
{
    if (pq_sweep_name_valid(sweep))
        return PQ_OK;
    return pq_set_error(
        ctx, PQ_EINVAL,
        "invalid sweep name '%s': use 1-64 characters of [A-Za-z0-9._-], not "
        "starting with '.' or '-', after an optional OWNER/ (a user name)",
        sweep ? sweep : "(null)");
}

/* ms milliseconds (>= 0) as the timeval hiredis' timeouts take. */
static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Finds the password url may carry: from the first ':' after the scheme
 * to the last '@' of the whole URL, so that a password holding '@', '/'
 * or '?' is found whole (a host, port or database has no '@'). Returns 1
 * with *colon and *at set around it, 0 when url has none. */
static int find_password(const char *url, const char **colon, const char **at)
{
    const char *s = strstr(url, "://");

    s = s ? s + 3 : url;
    *at = strrchr(s, '@');
    *colon = *at ? memchr(s, ':', (size_t)(*at - s)) : NULL;
    return *colon != NULL;
}

/* Contract in protein_queue.h. */
int pq_url_redact(const char *url, char *buf, size_t len)
{
    const char *at, *colon;
    int n;

    if (!url)
        url = "";
    if (!find_password(url, &colon, &at)) {
        n = snprintf(buf, len, "%s", url);
        return n >= 0 && (size_t)n < len ? 0 : -1;
    }
    n = snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
    return n >= 0 && (size_t)n < len ? 1 : -1;
}

/* Contract in pq_internal.h. */
int pq_url_parse(pq_context *ctx, const char *url, pq_conn *conn)
{
    const char *s, *end, *at, *colon, *hend;

    conn->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        if (path[0] != '/' || strlen(path) >= sizeof conn->host)
            return pq_set_error(
                ctx, PQ_EINVAL,
                "bad Redis URL '%s': expected unix:///absolute/path", ctx->url);
        conn->is_unix = 1;
        strcpy(conn->host, path);
        return PQ_OK;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        return pq_set_error(
            ctx, PQ_EINVAL,
            "bad Redis URL '%s': TLS (rediss://) is not supported (Debian 12's "
            "hiredis 0.14 has none); reach Redis over loopback, a Unix socket "
            "or a TLS tunnel such as stunnel, with redis:// or unix://",
            ctx->url);
    if (strncmp(url, "redis://", 8) != 0)
        return pq_set_error(ctx, PQ_EINVAL,
                            "bad Redis URL '%s': expected "
                            "redis://[user@]host[:port][/db] or unix:///path",
                            ctx->url);
    if (find_password(url, &colon, &at))
        return pq_set_error(ctx, PQ_EINVAL, URL_PASSWORD_FMT, URL_QUOTED_MAX,
                            ctx->url);
    s = url + 8;
    end = s + strcspn(s, "/");
    at = memchr(s, '@', (size_t)(end - s));
    if (at) {
        size_t ulen = (size_t)(at - s);
        if (ulen == 0 || ulen >= sizeof conn->user)
            return pq_set_error(
                ctx, PQ_EINVAL,
                "bad Redis URL '%s': empty or overlong user name before '@'",
                ctx->url);
        memcpy(conn->user, s, ulen);
        conn->user[ulen] = '\0';
        s = at + 1;
    }
    colon = memchr(s, ':', (size_t)(end - s));
    hend = colon ? colon : end;
    if (hend == s || (size_t)(hend - s) >= sizeof conn->host)
        return pq_set_error(ctx, PQ_EINVAL,
                            "bad Redis URL '%s': missing or overlong host",
                            ctx->url);
    memcpy(conn->host, s, (size_t)(hend - s));
    conn->host[hend - s] = '\0';
    if (colon) {
        char *pe;
        long port = strtol(colon + 1, &pe, 10);
        if (pe != end || port < 1 || port > 65535)
            return pq_set_error(ctx, PQ_EINVAL, "bad Redis URL '%s': bad port",
                                ctx->url);
        conn->port = (int)port;
    }
    if (*end == '/' && end[1]) {
        char *pe;
        long db = strtol(end + 1, &pe, 10);
        if (*pe || db < 0 || db > 1000000)
            return pq_set_error(ctx, PQ_EINVAL,
                                "bad Redis URL '%s': bad database number",
                                ctx->url);
        conn->db = (int)db;
    }
    return PQ_OK;
}

/* Reads the first line of a password file into a malloc'ed string. */
static int read_password_file(pq_context *ctx, const char *path, char **out)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return pq_set_error(ctx, PQ_EAUTH,
                            "cannot read Redis password file %s: %s", path,
                            strerror(errno));
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0])
        return pq_set_error(ctx, PQ_EAUTH, "Redis password file %s is empty",
                            path);
    if (!(*out = pq_strdup(line)))
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    return PQ_OK;
}

/* The inverse of ms_tv: tv in whole milliseconds, for messages. */
static long tv_ms(struct timeval tv)
{
    return (long)tv.tv_sec * 1000 + (long)tv.tv_usec / 1000;
}

/* Sets PQ_EIO for a command that got no reply on conn, which waited at
 * most `waited` for it: a timeout says so and for how long (hiredis only
 * says "Resource temporarily unavailable"), anything else gives hiredis'
 * reason. `during` names the command. Returns PQ_EIO. */
static int no_reply(pq_context *ctx, const pq_conn *conn, struct timeval waited,
                    const char *during)
{
    const char *why =
        conn->rc && conn->rc->errstr[0] ? conn->rc->errstr : "no reply";
    if (strcmp(why, strerror(EAGAIN)) == 0 ||
        strcmp(why, strerror(ETIMEDOUT)) == 0)
        return pq_set_error(
            ctx, PQ_EIO,
            "Redis at %s did not answer %s within %ld ms (server overloaded, "
            "busy in a long script, or network trouble)",
            ctx->url, during, tv_ms(waited));
    /* an answer that is no Redis reply: another service on that port (a
     * web server's "HTTP/1.1 400" reads as 'got "H" as reply type byte') */
    if (conn->rc && conn->rc->err == REDIS_ERR_PROTOCOL)
        return pq_set_error(
            ctx, PQ_EIO,
            "%s does not answer as Redis does (%s, during %s): is that "
            "redis-server's host and port?",
            ctx->url, why, during);
    return pq_set_error(ctx, PQ_EIO, "Redis at %s: %s (during %s)", ctx->url,
                        why, during);
}

/* 1 when error reply str says that the server cannot serve the command
 * just now (busy in a script, loading its data, a failover or a replica
 * read-only until then, out of memory or client slots, writes stopped
 * after a failed save): the command did not run, it says nothing of the
 * settings, and trying again later may work, so callers treat it as
 * PQ_EIO (retry, spool) rather than losing an outcome to it. */
static int refused_for_now(const char *str)
{
    static const char *const prefixes[] = {
        "BUSY",     "LOADING",    "MASTERDOWN",
        "TRYAGAIN", "OOM",        "READONLY",
        "MISCONF",  "NOREPLICAS", "ERR max number of clients"};

    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(str, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* 1 when error reply str is the server's refusal of an unauthenticated
 * client: it wants a password (requirepass, or a disabled default user). */
static int wants_password(const char *str)
{
    return strncmp(str, "NOAUTH", 6) == 0;
}

/* Runs one command on a fresh connection (no reconnect). Returns PQ_OK, or
 * on an error reply: PQ_EAUTH saying how to give a password when the
 * server wants one, PQ_EIO when it cannot serve just now
 * (refused_for_now), else fail_code: the settings are wrong and no retry
 * can help. */
static int setup_command(pq_context *ctx, pq_conn *conn, int argc,
                         const char **argv, int fail_code, const char *what)
{
    redisReply *r = redisCommandArgv(conn->rc, argc, argv, NULL);
    int rc = PQ_OK;

    if (!r)
        return no_reply(ctx, conn, conn->command_tv, what);
    if (r->type == REDIS_REPLY_ERROR && wants_password(r->str))
        rc = pq_set_error(ctx, PQ_EAUTH, NO_PASSWORD_FMT, URL_QUOTED_MAX,
                          ctx->url);
    else if (r->type == REDIS_REPLY_ERROR)
        rc = pq_set_error(ctx, refused_for_now(r->str) ? PQ_EIO : fail_code,
                          "Redis at %s: %s failed: %s", ctx->url, what, r->str);
    freeReplyObject(r);
    return rc;
}

/* Opens conn->rc: connect with the connect timeout, set the command
 * timeout, AUTH and SELECT. Returns PQ_OK; PQ_EIO when the server cannot
 * be reached or cannot serve just now; PQ_EAUTH when it refuses the
 * password or wants one; PQ_EINVAL when it refuses the database. */
static int open_conn(pq_context *ctx, pq_conn *conn)
{
    int rc;

    if (conn->is_unix)
        conn->rc = redisConnectUnixWithTimeout(conn->host, conn->connect_tv);
    else
        conn->rc =
            redisConnectWithTimeout(conn->host, conn->port, conn->connect_tv);
    if (!conn->rc)
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory connecting to %s",
                            ctx->url);
    if (conn->rc->err) {
        const char *why = conn->rc->errstr;
        if (strcmp(why, strerror(ETIMEDOUT)) == 0 ||
            strcmp(why, strerror(EAGAIN)) == 0)
            return pq_set_error(
                ctx, PQ_EIO,
                "cannot connect to Redis at %s: no answer within %ld ms (is "
                "the host up and the port open?)",
                ctx->url, tv_ms(conn->connect_tv));
        return pq_set_error(ctx, PQ_EIO,
                            "cannot connect to Redis at %s: %s (is "
                            "redis-server running? check the Redis URL)",
                            ctx->url, why);
    }
    if (redisSetTimeout(conn->rc, conn->command_tv) != REDIS_OK)
        return pq_set_error(ctx, PQ_EIO,
                            "Redis at %s: cannot set the command timeout",
                            ctx->url);
    /* hiredis opens its socket without close-on-exec: a program this
     * process starts (an agent's trial) would inherit the authenticated
     * connection, and could write into its protocol stream */
    if (fcntl(conn->rc->fd, F_SETFD, FD_CLOEXEC) < 0)
        return pq_set_error(ctx, PQ_EIO,
                            "Redis at %s: cannot mark the connection "
                            "close-on-exec: %s",
                            ctx->url, strerror(errno));
    if (conn->password) {
        const char *user_argv[3] = {"AUTH", conn->user, conn->password};
        const char *plain_argv[2] = {"AUTH", conn->password};
        if (conn->user[0])
            rc = setup_command(ctx, conn, 3, user_argv, PQ_EAUTH, "AUTH");
        else
            rc = setup_command(ctx, conn, 2, plain_argv, PQ_EAUTH, "AUTH");
        if (rc != PQ_OK)
            return rc;
    }
    if (conn->db) {
        char db[16];
        const char *argv[2] = {"SELECT", db};

        snprintf(db, sizeof db, "%d", conn->db);
        if ((rc = setup_command(ctx, conn, 2, argv, PQ_EINVAL, "SELECT")) !=
            PQ_OK)
            return rc;
    }
    return PQ_OK;
}

/* Loads the functions library unless the server has this very one. The
 * version is a hash of the library's text (queue/Makefile.am), so a server
 * library that differs in any byte, older or newer, is replaced. A client
 * that Redis' ACL does not let load functions works with the library the
 * server has (an admin's client loads it). Returns PQ_OK; PQ_EAUTH when
 * the server wants a password and none was given; PQ_EIO or PQ_EPROTO
 * otherwise. */
static int ensure_functions(pq_context *ctx, pq_conn *conn)
{
    const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", pq_functions_lua};
    redisReply *r = redisCommand(conn->rc, "FCALL_RO protein_version 0");
    int loaded, same, denied, rc = PQ_OK;

    if (!r)
        return no_reply(ctx, conn, conn->command_tv, "protein_version");
    /* Heard here, before FUNCTION LOAD: Redis refuses the library's large
     * argument to an unauthenticated client with a protocol error that
     * says nothing of a password. */
    if (r->type == REDIS_REPLY_ERROR && wants_password(r->str)) {
        freeReplyObject(r);
        return pq_set_error(ctx, PQ_EAUTH, NO_PASSWORD_FMT, URL_QUOTED_MAX,
                            ctx->url);
    }
    if (r->type == REDIS_REPLY_ERROR && refused_for_now(r->str)) {
        rc = pq_set_error(ctx, PQ_EIO, "Redis at %s cannot serve just now: %s",
                          ctx->url, r->str);
        freeReplyObject(r);
        return rc;
    }
    /* protected mode: the server says why and closes the connection */
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "DENIED", 6) == 0) {
        rc = pq_set_error(ctx, PQ_EPROTO, "Redis at %s refuses this client: %s",
                          ctx->url, r->str);
        freeReplyObject(r);
        return rc;
    }
    loaded = r->type != REDIS_REPLY_ERROR;
    same = r->type == REDIS_REPLY_STRING &&
           strcmp(r->str, pq_functions_version) == 0;
    freeReplyObject(r);
    ctx->functions_stale = 0;
    if (same)
        return PQ_OK;
    r = redisCommandArgv(conn->rc, 4, argv, NULL);
    if (!r)
        return no_reply(ctx, conn, conn->command_tv, "FUNCTION LOAD");
    denied = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0;
    ctx->functions_stale = denied && loaded;
    if (r->type == REDIS_REPLY_ERROR && refused_for_now(r->str))
        rc = pq_set_error(ctx, PQ_EIO, "Redis at %s cannot serve just now: %s",
                          ctx->url, r->str);
    else if (r->type == REDIS_REPLY_ERROR && !(denied && loaded))
        rc = pq_set_error(
            ctx, PQ_EPROTO,
            "Redis at %s cannot load protein's functions (Redis 7 needed; with "
            "ACLs an admin connects once to load them): %s",
            ctx->url, r->str);
    freeReplyObject(r);
    return rc;
}

/* Contract in protein_queue.h. */
const char *pq_env_password(void)
{
    const char *pw = getenv("PROTEIN_REDIS_PASSWORD");
    return pw && *pw ? pw : NULL;
}

/* Replaces ctx->url by the address conn connects to, as the user it logs
 * in as (the caller's pq_connect_options.user, not the URL's, when a
 * password goes with it): messages name the identity used. Returns PQ_OK
 * or PQ_ENOMEM (ctx->url kept). */
static int show_user(pq_context *ctx, const pq_conn *conn)
{
    char db[16] = "", *shown;
    size_t len = strlen(conn->host) + strlen(conn->user) + 48;

    if (!(shown = malloc(len)))
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    if (conn->db > 0)
        snprintf(db, sizeof db, "/%d", conn->db);
    if (conn->is_unix)
        snprintf(shown, len, "unix://%s (Redis user %s)", conn->host,
                 conn->user);
    else
        snprintf(shown, len, "redis://%s@%s:%d%s", conn->user, conn->host,
                 conn->port, db);
    free(ctx->url);
    ctx->url = shown;
    return PQ_OK;
}

/* The URL a connection given url uses: url, else $PROTEIN_REDIS, else the
 * default. */
static const char *chosen_url(const char *url)
{
    if (!url || !*url)
        url = getenv("PROTEIN_REDIS");
    return url && *url ? url : PQ_DEFAULT_URL;
}

/* Contract in protein_queue.h. */
int pq_url_check(const char *url, char *why, size_t len)
{
    pq_context ctx;
    pq_conn conn;
    size_t shown;
    int rc;

    url = chosen_url(url);
    shown = strlen(url) + 4;
    memset(&ctx, 0, sizeof ctx);
    memset(&conn, 0, sizeof conn);
    if (!(ctx.url = malloc(shown))) {
        snprintf(why, len, "out of memory");
        return PQ_ENOMEM;
    }
    pq_url_redact(url, ctx.url, shown);
    rc = pq_url_parse(&ctx, url, &conn);
    if (rc != PQ_OK)
        snprintf(why, len, "%s", ctx.errstr);
    free(ctx.url);
    return rc;
}

/* Contract in protein_queue.h. */
pq_context *pq_connect(const pq_connect_options *opts)
{
    pq_connect_options o = {0};
    pq_context *ctx = calloc(1, sizeof *ctx);
    pq_conn *conn = calloc(1, sizeof *conn);
    const char *url, *pw;
    size_t shown;

    if (!ctx || !conn) {
        free(ctx);
        free(conn);
        return NULL;
    }
    ctx->redis = conn;
    if (opts)
        o = *opts;
    url = chosen_url(o.url);
    shown = strlen(url) + 4;
    if (!(ctx->url = malloc(shown))) {
        pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        return ctx;
    }
    pq_url_redact(url, ctx->url, shown);
    conn->connect_tv =
        ms_tv(o.connect_timeout_ms > 0 ? o.connect_timeout_ms : 2000);
    conn->command_tv =
        ms_tv(o.command_timeout_ms > 0 ? o.command_timeout_ms : 5000);
    if (pq_url_parse(ctx, url, conn) != PQ_OK)
        return ctx;
    if (o.user && *o.user) {
        if (strlen(o.user) >= sizeof conn->user) {
            pq_set_error(ctx, PQ_EINVAL, "Redis user name '%s' is too long",
                         o.user);
            return ctx;
        }
        strcpy(conn->user, o.user);
    }
    /* What the caller names beats the environment: a --password-file
     * given on the command line or in plugstack.conf is meant for this
     * connection, an inherited $PROTEIN_REDIS_PASSWORD may not be. */
    pw = o.password;
    if ((!pw || !*pw) && !o.password_file)
        pw = pq_env_password();
    if (pw && *pw) {
        if (!(conn->password = pq_strdup(pw))) {
            pq_set_error(ctx, PQ_ENOMEM, "out of memory");
            return ctx;
        }
    } else if (o.password_file &&
               read_password_file(ctx, o.password_file, &conn->password) !=
                   PQ_OK) {
        return ctx;
    }
    /* without a password no AUTH is sent: the URL's own user stays shown */
    if (o.user && *o.user && conn->password && show_user(ctx, conn) != PQ_OK)
        return ctx;
    if (open_conn(ctx, conn) != PQ_OK)
        return ctx;
    ensure_functions(ctx, conn);
    return ctx;
}

/* Contract in protein_queue.h. */
void pq_free(pq_context *ctx)
{
    pq_conn *conn;

    if (!ctx)
        return;
    conn = ctx->redis;
    if (conn) {
        if (conn->rc)
            redisFree(conn->rc);
        free(conn->password);
        free(conn);
    }
    free(ctx->url);
    free(ctx);
}

/* Makes sure there is a usable connection: after an I/O failure the old
 * one is dropped and one reconnect is tried. */
static int live_conn(pq_context *ctx, pq_conn **out)
{
    pq_conn *conn = ctx->redis;
    int rc;

    if (!conn || !ctx->url)
        return pq_set_error(ctx, PQ_EIO, "not connected to Redis");
    if (conn->rc && !conn->rc->err) {
        *out = conn;
        return PQ_OK;
    }
    if (conn->rc) {
        redisFree(conn->rc);
        conn->rc = NULL;
    }
    rc = open_conn(ctx, conn);
    if (rc == PQ_OK)
        rc = ensure_functions(ctx, conn);
    if (rc != PQ_OK && conn->rc && !conn->rc->err) {
        redisFree(conn->rc);
        conn->rc = NULL;
    }
    *out = conn;
    return rc;
}

/* Contract in pq_internal.h. */
const char *pq_flat_get(const pq_reply *flat, const char *field)
{
    if (!flat || flat->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, field) == 0)
            return v->type == REDIS_REPLY_STRING ? v->str : NULL;
    }
    return NULL;
}

/* Contract in pq_internal.h. */
long pq_flat_long(const pq_reply *flat, const char *field, long fallback)
{
    return pq_parse_long(pq_flat_get(flat, field), fallback);
}

/* Contract in pq_internal.h. */
double pq_flat_double(const pq_reply *flat, const char *field, double fallback)
{
    return pq_parse_double(pq_flat_get(flat, field), fallback);
}

/* Contract in pq_internal.h. */
char *pq_flat_strdup(const pq_reply *flat, const char *field, int *oom)
{
    const char *v = pq_flat_get(flat, field);
    char *d;

    if (!v || !*v)
        return NULL;
    d = pq_strdup(v);
    if (!d)
        *oom = 1;
    return d;
}

/* Contract in pq_internal.h. */
void pq_reply_free(pq_reply *reply)
{
    if (reply)
        freeReplyObject(reply);
}

/* Contract in pq_internal.h. */
int pq_command(pq_context *ctx, int argc, const char **argv,
               const size_t *argvlen, int extra_ms, pq_reply **reply)
{
    pq_conn *conn;
    struct timeval tv;
    redisReply *r;
    int rc;

    *reply = NULL;
    ctx->err = PQ_OK;
    ctx->errstr[0] = '\0';
    ctx->unanswered = 0;
    if ((rc = live_conn(ctx, &conn)) != PQ_OK)
        return rc;
    tv = conn->command_tv;
    if (extra_ms > 0) {
        tv.tv_sec += extra_ms / 1000;
        tv.tv_usec += (extra_ms % 1000) * 1000;
        if (tv.tv_usec >= 1000000) {
            tv.tv_sec++;
            tv.tv_usec -= 1000000;
        }
        redisSetTimeout(conn->rc, tv);
    }
    r = redisCommandArgv(conn->rc, argc, argv, argvlen);
    if (extra_ms > 0 && !conn->rc->err)
        redisSetTimeout(conn->rc, conn->command_tv);
    if (!r) {
        ctx->unanswered = 1;
        return no_reply(ctx, conn, tv, argv[0]);
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rc = pq_set_error(ctx,
                          strncmp(r->str, "NOPERM", 6) == 0 ? PQ_EPERM
                          : refused_for_now(r->str)         ? PQ_EIO
                                                            : PQ_EPROTO,
                          "Redis at %s: %s: %s", ctx->url, argv[0], r->str);
        freeReplyObject(r);
        return rc;
    }
    *reply = r;
    return PQ_OK;
}

/* Error codes the functions library uses as the first word of an error. */
static const struct {
    const char *name;
    int code;
} server_codes[] = {
    {"EINVAL", PQ_EINVAL},     {"ENOSWEEP", PQ_ENOSWEEP},
    {"EEXISTS", PQ_EEXISTS},   {"ENOTRIAL", PQ_ENOTRIAL},
    {"ETOKEN", PQ_ETOKEN},     {"ESTATE", PQ_ESTATE},
    {"EBUDGET", PQ_EBUDGET},   {"EPERM", PQ_EPERM},
    {"ESTOPPED", PQ_ESTOPPED}, {"EEMPTY", PQ_EEMPTY},
    {"EDONE", PQ_EDONE},       {"ECORRUPT", PQ_EPROTO},
};

/* Contract in pq_internal.h. */
int pq_fcall(pq_context *ctx, const char *fn, int read_only, const char *key,
             const char *key2, int argc, const char **argv,
             const size_t *argvlen, pq_reply **reply)
{
    const char *keys[2] = {key, key2};

    return pq_fcall_keys(ctx, fn, read_only, key2 ? 2 : 1, keys, argc, argv,
                         argvlen, reply);
}

/* Contract in protein_queue.h. */
int pq_error_is_acl(const char *err)
{
    /* a command's refusal is said after its name: "Redis at URL: SCAN:
     * NOPERM ..." */
    return strncmp(err, "NOPERM", 6) == 0 || strstr(err, ": NOPERM") ||
           strstr(err, "user executing the script can't run") != NULL;
}

/* Sets ctx's error for the error reply text err of function fn and
 * returns its code: a code of the functions' own ("ENOSWEEP message",
 * server_codes) with its message, PQ_EPERM for an ACL refusal, else
 * PQ_EPROTO with a message saying the function failed. */
static int error_reply(pq_context *ctx, const char *fn, const char *err)
{
    size_t wl = strcspn(err, " ");
    const char *msg = err[wl] ? err + wl + 1 : err;

    if (pq_error_is_acl(err))
        return pq_set_error(ctx, PQ_EPERM, "%s", err);
    for (size_t i = 0; i < sizeof server_codes / sizeof server_codes[0]; i++)
        if (strlen(server_codes[i].name) == wl &&
            strncmp(err, server_codes[i].name, wl) == 0)
            return pq_set_error(ctx, server_codes[i].code, "%s", msg);
    /* Not one of the functions' own errors: a Lua runtime error or a server
     * refusal, shown as such rather than raw. */
    return pq_set_error(ctx, PQ_EPROTO,
                        "Redis at %s: protein's function %s failed (a damaged "
                        "store, or a server older than the library?): %s",
                        ctx->url, fn, err);
}

/* Contract in pq_internal.h. */
int pq_fcall_keys(pq_context *ctx, const char *fn, int read_only, int n_keys,
                  const char *const *keys, int argc, const char **argv,
                  const size_t *argvlen, pq_reply **reply)
{
    const int head = 3 + n_keys;
    const char **av = malloc((size_t)(argc + head) * sizeof *av);
    size_t *al = malloc((size_t)(argc + head) * sizeof *al);
    char numkeys[16];
    pq_conn *conn;
    redisReply *r;
    int rc;

    *reply = NULL;
    ctx->err = PQ_OK;
    ctx->errstr[0] = '\0';
    ctx->unanswered = 0;
    if (!av || !al) {
        rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(numkeys, sizeof numkeys, "%d", n_keys);
    av[0] = read_only ? "FCALL_RO" : "FCALL";
    av[1] = fn;
    av[2] = numkeys;
    for (int i = 0; i < n_keys; i++)
        av[3 + i] = keys[i];
    for (int i = 0; i < head; i++)
        al[i] = strlen(av[i]);
    for (int i = 0; i < argc; i++) {
        av[head + i] = argv[i];
        al[head + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    if ((rc = live_conn(ctx, &conn)) != PQ_OK)
        goto fail;
    r = redisCommandArgv(conn->rc, argc + head, av, al);
    /* The library went away under the connection (FUNCTION FLUSH, or a
     * server restarted without it behind a proxy): the call did not run,
     * so it runs once more after loading the library again. */
    if (r && r->type == REDIS_REPLY_ERROR &&
        strncmp(r->str, "ERR Function not found", 22) == 0) {
        freeReplyObject(r);
        if ((rc = ensure_functions(ctx, conn)) != PQ_OK)
            goto fail;
        r = redisCommandArgv(conn->rc, argc + head, av, al);
    }
    if (!r) {
        ctx->unanswered = 1;
        rc = no_reply(ctx, conn, conn->command_tv, fn);
        goto fail;
    }
    if (r->type == REDIS_REPLY_ERROR && refused_for_now(r->str)) {
        rc = pq_set_error(ctx, PQ_EIO, "Redis at %s cannot run %s just now: %s",
                          ctx->url, fn, r->str);
        freeReplyObject(r);
        goto fail;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rc = error_reply(ctx, fn, r->str);
        freeReplyObject(r);
        goto fail;
    }
    *reply = r;
    rc = PQ_OK;
fail:
    free(av);
    free(al);
    return rc;
}

/* Contract in pq_internal.h. */
int pq_sweep_fcall(pq_context *ctx, const char *sweep, const char *fn,
                   int read_only, const char *key2, int argc, const char **argv,
                   const size_t *argvlen, pq_reply **reply)
{
    char meta[128];
    pq_reply *r = NULL;
    int rc;

    pq_key(meta, sizeof meta, sweep, "meta");
    rc = pq_fcall(ctx, fn, read_only, meta, key2, argc, argv, argvlen, &r);
    if (reply)
        *reply = r;
    else
        pq_reply_free(r);
    return rc;
}

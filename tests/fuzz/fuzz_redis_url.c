/* fuzz_redis_url.c - libFuzzer target for Redis URLs (--redis URL,
 * $PROTEIN_REDIS, plugstack redis=), read as pq_connect reads them: the
 * URL redacted for messages (pq_url_redact), then parsed (pq_url_parse).
 * The input up to its first NUL is the URL. After a NUL, the input is
 * A NUL P [NUL B], and the URL is redis://A:P@B, a password P written
 * into a URL. A crash, a leak, a parsed URL without a host or with a port
 * or database out of range (abort), a URL with a password that is parsed,
 * or a password that shows in the redacted URL (abort) is a finding. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Redacts and parses url as pq_connect does; aborts on a finding. Returns
 * the parse's code; the redacted URL is left in ctx->url. */
static int check_url(pq_context *ctx, const char *url)
{
    size_t shown = strlen(url) + 4;
    pq_conn conn;
    int rc;

    memset(ctx, 0, sizeof *ctx);
    memset(&conn, 0, sizeof conn);
    if (!(ctx->url = malloc(shown)))
        abort();
    if (pq_url_redact(url, ctx->url, shown) < 0)
        abort();
    rc = pq_url_parse(ctx, url, &conn);
    if (rc != PQ_OK) {
        if (rc != PQ_EINVAL || ctx->err != rc || !ctx->errstr[0])
            abort();
        return rc;
    }
    if (!conn.host[0] || !memchr(conn.host, '\0', sizeof conn.host) ||
        !memchr(conn.user, '\0', sizeof conn.user) || conn.port < 1 ||
        conn.port > 65535 || conn.db < 0 || conn.db > 1000000 ||
        (conn.is_unix && conn.host[0] != '/') || strchr(conn.user, ':'))
        abort();
    return rc;
}

/* Checks that redis://A:P@B is refused and that P does not show in the
 * redacted URL, when P is a password that can be told apart from the
 * rest (no '*', found nowhere else in the URL) and A a host (no ':', '@'
 * or '/'). */
static void check_password(pq_context *ctx, const char *a, const char *p,
                           const char *b)
{
    size_t n = strlen(a) + strlen(p) + strlen(b) + 16;
    char *url = malloc(n), *head = malloc(n), *tail = malloc(n);

    if (!url || !head || !tail)
        abort();
    snprintf(url, n, "redis://%s:%s@%s", a, p, b);
    snprintf(head, n, "redis://%s:", a);
    snprintf(tail, n, "@%s", b);
    if (check_url(ctx, url) == PQ_OK)
        abort();
    if (p[0] && !strchr(p, '*') && !a[strcspn(a, ":@/")] && !strstr(head, p) &&
        !strstr(tail, p) && strstr(ctx->url, p))
        abort();
    free(ctx->url);
    free(url);
    free(head);
    free(tail);
}

/* Checks data as a URL, or as a URL with a password. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 2);
    const char *p, *b;
    pq_context ctx;

    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    check_url(&ctx, text);
    free(ctx.url);
    if (strlen(text) < size) {
        p = text + strlen(text) + 1;
        b = p + strlen(p) < text + size ? p + strlen(p) + 1 : "";
        check_password(&ctx, text, p, b);
    }
    free(text);
    return 0;
}

/* fuzz_trial_hash.c - libFuzzer target for what the queue reads from
 * Redis replies: trial hashes (HGETALL, for trials/best/export) and claim
 * replies. The input is cut at NUL bytes into the elements of an array
 * reply; an element starting with ':' becomes an integer reply and one
 * starting with '*' a nested empty array, so that the decoders see wrong
 * types too. A crash, a leak, or a decoded record with an invalid id,
 * state or non-finite number (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Most elements one reply gets (trial hashes have about 30 fields). */
#define MAX_ELEMENTS 96

/* Builds the array reply from data into r and its elements (storage in
 * elems and text); returns the element count. */
static size_t build(const uint8_t *data, size_t size, char *text, redisReply *r,
                    redisReply *elems, redisReply **ptrs)
{
    size_t n = 0, start = 0;

    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i <= size && n < MAX_ELEMENTS; i++) {
        if (i < size && text[i] != '\0')
            continue;
        redisReply *e = &elems[n];
        memset(e, 0, sizeof *e);
        e->str = text + start;
        e->len = i - start;
        e->type = REDIS_REPLY_STRING;
        if (e->len > 0 && e->str[0] == ':') {
            e->type = REDIS_REPLY_INTEGER;
            e->integer = strtoll(e->str + 1, NULL, 10);
            e->str = NULL;
        } else if (e->len > 0 && e->str[0] == '*') {
            e->type = REDIS_REPLY_ARRAY;
            e->str = NULL;
        }
        ptrs[n++] = e;
        start = i + 1;
    }
    memset(r, 0, sizeof *r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = ptrs;
    return n;
}

/* Decodes data as a trial hash and as a claim reply. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static redisReply elems[MAX_ELEMENTS];
    static redisReply *ptrs[MAX_ELEMENTS];
    redisReply r;
    pq_context ctx;
    pq_trial_record *rec = calloc(1, sizeof *rec);
    pq_trial *t = NULL;
    long claimed = 0;
    char *text = malloc(size + 1);

    if (!text || !rec) {
        free(text);
        free(rec);
        return 0;
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.url = "redis://fuzz";
    build(data, size, text, &r, elems, ptrs);
    if (pq_trial_record_from_flat(&ctx, "fuzz", &r, rec) == PQ_OK &&
        (rec->id < 1 || (int)rec->state < 0 ||
         (int)rec->state >= PQ_TRIAL_NSTATES ||
         (rec->has_score && !isfinite(rec->score)) ||
         (rec->has_cost && !isfinite(rec->cost))))
        abort();
    pq_trial_record_free(rec);
    if (pq_trial_from_claim_reply(&ctx, "fuzz", &r, &t, &claimed) == PQ_OK) {
        if (t->id < 1 || !t->token || t->state != PQ_TRIAL_RUNNING)
            abort();
        pq_trial_free(t);
    }
    free(text);
    return 0;
}

/*
 * params.c - trial parameters without Redis: copies, number text,
 * msgpack payloads, state names; the growing string buffer the encoders
 * share. JSON is in json.c, the environment contract in env.c, result
 * files in result.c.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "pq_internal.h"
#include "protein_number.h"

/* Contract in pq_internal.h. */
void pq_sb_add(pq_strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;

        while (b->len + n + 1 > cap)
            cap *= 2;
        p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Contract in pq_internal.h. */
void pq_sb_puts(pq_strbuf *b, const char *s)
{
    pq_sb_add(b, s, strlen(s));
}

/* Contract in pq_internal.h. */
int pq_sb_finish(pq_strbuf *b, char **out)
{
    if (b->oom) {
        free(b->s);
        *out = NULL;
        return PQ_ENOMEM;
    }
    if (!b->s) {
        b->s = malloc(1);
        if (!b->s)
            return PQ_ENOMEM;
        b->s[0] = '\0';
    }
    *out = b->s;
    return PQ_OK;
}

/* Contract in pq_internal.h. */
char *pq_strdup(const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Contract in pq_internal.h. */
long pq_parse_long(const char *s, long fallback)
{
    char *end;
    long v;

    if (!s || !*s)
        return fallback;
    errno = 0;
    v = strtol(s, &end, 10);
    return (*end || errno) ? fallback : v;
}

/* Contract in pq_internal.h. */
double pq_parse_double(const char *s, double fallback)
{
    char *end;
    double v;

    if (!s || !*s)
        return fallback;
    v = strtod(s, &end);
    return *end ? fallback : v;
}

/* Contract in protein_queue.h. */
void pq_params_free(pq_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].text);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* Contract in protein_queue.h. */
void pq_params_array_free(pq_params *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++)
        pq_params_free(&arr[i]);
    free(arr);
}

/* Contract in protein_queue.h. */
void pq_strings_free(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

/* Contract in protein_queue.h. */
int pq_params_copy(const pq_params *src, pq_params *out)
{
    out->n = 0;
    out->items = NULL;
    if (src->n == 0)
        return PQ_OK;
    out->items = calloc(src->n, sizeof *out->items);
    if (!out->items)
        return PQ_ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        const pq_param *s = &src->items[i];
        pq_param *d = &out->items[i];
        *d = *s;
        d->name = pq_strdup(s->name);
        d->text = s->is_string ? pq_strdup(s->text ? s->text : "") : NULL;
        out->n = i + 1;
        if (!d->name || (s->is_string && !d->text)) {
            pq_params_free(out);
            return PQ_ENOMEM;
        }
    }
    return PQ_OK;
}

/* 1 when p's number can be written: finite, and when flagged as an
 * integer, whole and within int64. */
int pq_param_number_ok(const pq_param *p)
{
    if (!isfinite(p->number))
        return 0;
    return !p->is_integer ||
           (p->number == floor(p->number) && fabs(p->number) < 9.2e18);
}

/* Text of a number parameter as JSON and arguments show it: integers
 * without a fraction, other numbers with '.' or an exponent so that they
 * read back as non-integers. PQ_EINVAL when not pq_param_number_ok. */
int pq_param_number_text(const pq_param *p, char buf[40])
{
    if (!pq_param_number_ok(p))
        return PQ_EINVAL;
    if (p->is_integer) {
        snprintf(buf, 40, "%.0f", p->number);
        return PQ_OK;
    }
    protein_number_text(p->number, buf, 40);
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    return PQ_OK;
}

/* ------------------------------------------------------------ msgpack */

/* Packs the NUL-terminated s as a msgpack str. */
static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Packs params as a msgpack map name -> value into an initialised sbuffer. */
static int pack_params_into(msgpack_packer *pk, const pq_params *p)
{
    msgpack_pack_map(pk, p->n);
    for (size_t i = 0; i < p->n; i++) {
        const pq_param *it = &p->items[i];
        pack_str(pk, it->name ? it->name : "");
        if (it->is_string) {
            pack_str(pk, it->text ? it->text : "");
        } else if (!pq_param_number_ok(it)) {
            return PQ_EINVAL;
        } else if (it->is_integer) {
            msgpack_pack_int64(pk, (int64_t)it->number);
        } else {
            msgpack_pack_double(pk, it->number);
        }
    }
    return PQ_OK;
}

/* Moves the sbuffer's data to *buf and *len (the caller frees *buf). */
static int sbuffer_release(msgpack_sbuffer *sb, char **buf, size_t *len)
{
    *len = sb->size;
    *buf = msgpack_sbuffer_release(sb);
    if (!*buf) {
        *buf = malloc(1);
        if (!*buf)
            return PQ_ENOMEM;
    }
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_params_pack(const pq_params *p, char **buf, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    *buf = NULL;
    *len = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = pack_params_into(&pk, p);
    if (rc == PQ_OK)
        rc = sbuffer_release(&sb, buf, len);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Contract in pq_internal.h. */
int pq_entry_pack(const pq_params *p, char **buf, size_t *len)
{
    char *json = NULL, *packed = NULL;
    size_t packed_len = 0;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;
    *buf = NULL;
    *len = 0;
    msgpack_sbuffer_init(&sb);
    if ((rc = pq_params_to_json(p, &json)) != PQ_OK)
        goto fail;
    if (strlen(json) > PQ_PARAMS_MAX) {
        rc = PQ_EINVAL;
        goto fail;
    }
    if ((rc = pq_params_pack(p, &packed, &packed_len)) != PQ_OK)
        goto fail;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, json);
    msgpack_pack_str(&pk, packed_len);
    msgpack_pack_str_body(&pk, packed, packed_len);
    rc = sbuffer_release(&sb, buf, len);
fail:
    msgpack_sbuffer_destroy(&sb);
    free(json);
    free(packed);
    return rc;
}

/* Contract in pq_internal.h. */
int pq_point_args_build(pq_context *ctx, const char *sweep, const char *what,
                        size_t fixed, const pq_params *points, size_t n,
                        pq_point_args *args)
{
    int rc;
    args->argv = calloc(fixed + n + 1, sizeof *args->argv);
    args->argvlen = calloc(fixed + n + 1, sizeof *args->argvlen);
    args->entries = calloc(n + 1, sizeof *args->entries);
    args->n = n;
    if (!args->argv || !args->argvlen || !args->entries) {
        pq_point_args_free(args);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        rc = pq_entry_pack(&points[i], &args->entries[i],
                           &args->argvlen[fixed + i]);
        if (rc != PQ_OK) {
            pq_point_args_free(args);
            return pq_set_error(ctx, rc,
                                "sweep '%s': %s point %zu has a non-finite "
                                "number or is over %d bytes as JSON",
                                sweep, what, i + 1, PQ_PARAMS_MAX);
        }
        args->argv[fixed + i] = args->entries[i];
    }
    return PQ_OK;
}

/* Contract in pq_internal.h. */
void pq_point_args_free(pq_point_args *args)
{
    pq_strings_free(args->entries, args->n);
    free(args->argv);
    free(args->argvlen);
    memset(args, 0, sizeof *args);
}

/* Copies a msgpack str object into a malloc'ed NUL-terminated string. */
static char *obj_strdup(const msgpack_object *o)
{
    char *s = malloc(o->via.str.size + 1);
    if (s) {
        memcpy(s, o->via.str.ptr, o->via.str.size);
        s[o->via.str.size] = '\0';
    }
    return s;
}

/* Contract in pq_internal.h. */
int pq_params_from_object(const void *object, pq_params *out)
{
    const msgpack_object *o = object;
    out->n = 0;
    out->items = NULL;
    if (o->type != MSGPACK_OBJECT_MAP)
        return PQ_EINVAL;
    if (o->via.map.size == 0)
        return PQ_OK;
    out->items = calloc(o->via.map.size, sizeof *out->items);
    if (!out->items)
        return PQ_ENOMEM;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        pq_param *p = &out->items[i];
        /* Names and texts are C strings: no NUL inside, no empty name. */
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 ||
            memchr(k->via.str.ptr, '\0', k->via.str.size) ||
            (v->type == MSGPACK_OBJECT_STR &&
             memchr(v->via.str.ptr, '\0', v->via.str.size)))
            goto bad;
        out->n = i + 1;
        if (!(p->name = obj_strdup(k)))
            goto oom;
        switch (v->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            p->is_integer = 1;
            p->number = (double)v->via.u64;
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            p->is_integer = 1;
            p->number = (double)v->via.i64;
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            p->number = v->via.f64;
            if (!isfinite(p->number))
                goto bad;
            break;
        case MSGPACK_OBJECT_STR:
            p->is_string = 1;
            if (!(p->text = obj_strdup(v)))
                goto oom;
            break;
        default: goto bad;
        }
        /* Integers beyond what pq_params_pack writes are not ours. */
        if (!p->is_string && !pq_param_number_ok(p))
            goto bad;
    }
    return PQ_OK;
bad:
    pq_params_free(out);
    return PQ_EINVAL;
oom:
    pq_params_free(out);
    return PQ_ENOMEM;
}

/* Big-endian unsigned integer of n bytes at p. */
static uint64_t be_uint(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Contract in pq_internal.h. */
int pq_msgpack_bounded(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    uint64_t need = 1; /* objects still to read, each at least one byte */

    while (need > 0) {
        unsigned b;
        /* head: bytes of the header after b; size: its length field's
         * width; body: payload bytes that follow; items: objects inside. */
        size_t head = 0, size = 0;
        uint64_t body = 0, items = 0;

        if (p >= end || need > (uint64_t)(end - p))
            return 0;
        need--;
        b = *p;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        } else if (b <= 0x8f) {
            items = 2 * (uint64_t)(b & 0x0f);
        } else if (b <= 0x9f) {
            items = b & 0x0f;
        } else if (b <= 0xbf) {
            body = b & 0x1f;
        } else if (b >= 0xc4 && b <= 0xc6) {
            size = (size_t)1 << (b - 0xc4); /* bin 8/16/32 */
        } else if (b >= 0xc7 && b <= 0xc9) {
            size = (size_t)1 << (b - 0xc7); /* ext 8/16/32 */
            body = 1;
        } else if (b == 0xca || b == 0xcb) {
            head = b == 0xca ? 4 : 8;
        } else if (b >= 0xcc && b <= 0xd3) {
            head = (size_t)1 << ((b - 0xcc) & 3);
        } else if (b >= 0xd4 && b <= 0xd8) {
            head = 1 + ((size_t)1 << (b - 0xd4)); /* fixext */
        } else if (b >= 0xd9 && b <= 0xdb) {
            size = (size_t)1 << (b - 0xd9); /* str 8/16/32 */
        } else if (b == 0xdc || b == 0xdd) {
            size = b == 0xdc ? 2 : 4;
            items = 1; /* times the count */
        } else if (b == 0xde || b == 0xdf) {
            size = b == 0xde ? 2 : 4;
            items = 2;
        } else {
            return 0; /* 0xc1: never used */
        }
        p++;
        if ((size_t)(end - p) < head + size)
            return 0;
        p += head;
        if (size) {
            uint64_t n = be_uint(p, size);
            p += size;
            if (items)
                items *= n;
            else
                body += n;
        }
        if (body > (uint64_t)(end - p))
            return 0;
        p += body;
        need += items;
    }
    return 1;
}

/* Contract in protein_queue.h. */
int pq_params_unpack(const char *buf, size_t len, pq_params *out)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc;
    out->n = 0;
    out->items = NULL;
    if (!pq_msgpack_bounded(buf, len))
        return PQ_EINVAL;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        rc = PQ_EINVAL;
    else
        rc = pq_params_from_object(&u.data, out);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* ------------------------------------------------------------ names */

static const char *const trial_states[PQ_TRIAL_NSTATES] = {
    "queued",      "running", "completed", "failed",
    "interrupted", "lost",    "pruned"};

/* Contract in protein_queue.h. */
const char *pq_trial_state_name(pq_trial_state s)
{
    int i = (int)s;
    return (i >= 0 && i < PQ_TRIAL_NSTATES) ? trial_states[i] : "unknown";
}

/* Contract in protein_queue.h. */
int pq_trial_state_parse(const char *name)
{
    for (int i = 0; name && i < PQ_TRIAL_NSTATES; i++)
        if (strcmp(name, trial_states[i]) == 0)
            return i;
    return -1;
}

/* Contract in protein_queue.h. */
const char *pq_sweep_state_name(pq_sweep_state s)
{
    switch (s) {
    case PQ_SWEEP_ACTIVE: return "active";
    case PQ_SWEEP_PAUSED: return "paused";
    case PQ_SWEEP_STOPPED: return "stopped";
    }
    return "unknown";
}

/* The owner's part as pq_acl_user_name_valid, the name's as
 * protein_sweep_name_valid (common/protein_names.h). */
int pq_sweep_name_valid(const char *name)
{
    char owner[PQ_OWNER_MAX + 1];
    const char *slash = name ? strchr(name, '/') : NULL;
    size_t olen;

    if (!slash)
        return protein_sweep_name_valid(name);
    olen = (size_t)(slash - name);
    if (olen > PQ_OWNER_MAX)
        return 0;
    memcpy(owner, name, olen);
    owner[olen] = '\0';
    return pq_acl_user_name_valid(owner) && protein_sweep_name_valid(slash + 1);
}

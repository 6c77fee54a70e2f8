/*
 * params.c - trial parameters without Redis: JSON, --name=value arguments,
 * PROTEIN_* environment names, msgpack payloads, result files.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "pq_internal.h"

/* A growing malloc'ed string. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->s, cap);
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

static void sb_puts(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Hands the buffer to *out, or frees it and returns PQ_ENOMEM. */
static int sb_finish(strbuf *b, char **out)
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

char *pq_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void pq_format_double(double v, char buf[32])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

long pq_parse_long(const char *s, long fallback)
{
    if (!s || !*s)
        return fallback;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (*end || errno) ? fallback : v;
}

double pq_parse_double(const char *s, double fallback)
{
    if (!s || !*s)
        return fallback;
    char *end;
    double v = strtod(s, &end);
    return *end ? fallback : v;
}

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

void pq_params_array_free(pq_params *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++)
        pq_params_free(&arr[i]);
    free(arr);
}

void pq_strings_free(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

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
static int number_ok(const pq_param *p)
{
    if (!isfinite(p->number))
        return 0;
    return !p->is_integer ||
           (p->number == floor(p->number) && fabs(p->number) < 9.2e18);
}

/* Text of a number parameter as JSON and arguments show it: integers
 * without a fraction, other numbers with '.' or an exponent so that they
 * read back as non-integers. PQ_EINVAL when not number_ok. */
static int number_text(const pq_param *p, char buf[40])
{
    if (!number_ok(p))
        return PQ_EINVAL;
    if (p->is_integer) {
        snprintf(buf, 40, "%.0f", p->number);
        return PQ_OK;
    }
    pq_format_double(p->number, buf);
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    return PQ_OK;
}

static void json_string(strbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        case '\b': sb_add(b, "\\b", 2); break;
        case '\f': sb_add(b, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                sb_puts(b, esc);
            } else {
                sb_add(b, (const char *)c, 1);
            }
        }
    }
    sb_add(b, "\"", 1);
}

/* Appends the value of it: its text (as a JSON string literal when json)
 * or its number_text. PQ_EINVAL for a number that is not number_ok. */
static int add_value(strbuf *b, const pq_param *it, int json)
{
    char num[40];
    if (!it->is_string) {
        if (number_text(it, num) != PQ_OK)
            return PQ_EINVAL;
        sb_puts(b, num);
    } else if (json) {
        json_string(b, it->text ? it->text : "");
    } else {
        sb_puts(b, it->text ? it->text : "");
    }
    return PQ_OK;
}

int pq_params_to_json(const pq_params *p, char **out)
{
    strbuf b = {0};
    *out = NULL;
    sb_add(&b, "{", 1);
    for (size_t i = 0; i < p->n; i++) {
        const pq_param *it = &p->items[i];
        if (i)
            sb_add(&b, ", ", 2);
        json_string(&b, it->name ? it->name : "");
        sb_add(&b, ": ", 2);
        if (add_value(&b, it, 1) != PQ_OK) {
            free(b.s);
            return PQ_EINVAL;
        }
    }
    sb_add(&b, "}", 1);
    return sb_finish(&b, out);
}

int pq_params_to_args(const pq_params *p, char **out)
{
    strbuf b = {0};
    *out = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const pq_param *it = &p->items[i];
        if (i)
            sb_add(&b, " ", 1);
        sb_add(&b, "--", 2);
        sb_puts(&b, it->name ? it->name : "");
        sb_add(&b, "=", 1);
        if (add_value(&b, it, 0) != PQ_OK) {
            free(b.s);
            return PQ_EINVAL;
        }
    }
    return sb_finish(&b, out);
}

int pq_param_env_name(const char *name, char *buf, size_t len)
{
    static const char prefix[] = "PROTEIN_PARAM_";
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || sizeof prefix + n > len)
        return PQ_EINVAL;
    memcpy(buf, prefix, sizeof prefix - 1);
    char *o = buf + sizeof prefix - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)toupper((unsigned char)name[i]);
        o[i] = ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? (char)c : '_';
    }
    o[n] = '\0';
    return PQ_OK;
}

/* ------------------------------------------------------------ JSON parsing */

typedef struct jparser {
    const char *s;
} jparser;

static void j_ws(jparser *j)
{
    while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
        j->s++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

static void utf8_put(strbuf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_add(b, u, n);
}

/* Parses a JSON string at j->s into a malloc'ed *out. */
static int j_string(jparser *j, char **out)
{
    strbuf b = {0};
    if (*j->s != '"')
        return PQ_EINVAL;
    j->s++;
    while (*j->s != '"') {
        unsigned char c = (unsigned char)*j->s;
        if (c == '\0' || c < 0x20)
            goto bad;
        if (c != '\\') {
            sb_add(&b, j->s++, 1);
            continue;
        }
        j->s++;
        switch (*j->s) {
        case '"': sb_add(&b, "\"", 1); break;
        case '\\': sb_add(&b, "\\", 1); break;
        case '/': sb_add(&b, "/", 1); break;
        case 'n': sb_add(&b, "\n", 1); break;
        case 'r': sb_add(&b, "\r", 1); break;
        case 't': sb_add(&b, "\t", 1); break;
        case 'b': sb_add(&b, "\b", 1); break;
        case 'f': sb_add(&b, "\f", 1); break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(j->s + 1, &cp))
                goto bad;
            j->s += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (j->s[1] != '\\' || j->s[2] != 'u' || hex4(j->s + 3, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j->s += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad;
            }
            utf8_put(&b, cp);
            break;
        }
        default:
            goto bad;
        }
        j->s++;
    }
    j->s++;
    return sb_finish(&b, out);
bad:
    free(b.s);
    return PQ_EINVAL;
}

/* Parses a JSON number at j->s (strict grammar). */
static int j_number(jparser *j, pq_param *p)
{
    const char *s = j->s;
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return PQ_EINVAL;
    if (*s == '0' && isdigit((unsigned char)s[1]))
        return PQ_EINVAL;
    while (isdigit((unsigned char)*s))
        s++;
    int integer = 1;
    if (*s == '.') {
        integer = 0;
        s++;
        if (!isdigit((unsigned char)*s))
            return PQ_EINVAL;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        integer = 0;
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return PQ_EINVAL;
        while (isdigit((unsigned char)*s))
            s++;
    }
    p->number = strtod(j->s, NULL);
    if (!isfinite(p->number))
        return PQ_EINVAL;
    p->is_integer = integer;
    p->is_string = 0;
    j->s = s;
    return PQ_OK;
}

int pq_params_from_json(const char *json, pq_params *out)
{
    jparser j = {json};
    size_t cap = 0;
    int rc = PQ_EINVAL;
    out->n = 0;
    out->items = NULL;
    if (!json)
        return PQ_EINVAL;
    j_ws(&j);
    if (*j.s++ != '{')
        goto fail;
    j_ws(&j);
    if (*j.s == '}') {
        j.s++;
        goto end;
    }
    for (;;) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            pq_param *items = realloc(out->items, ncap * sizeof *items);
            if (!items) {
                rc = PQ_ENOMEM;
                goto fail;
            }
            out->items = items;
            cap = ncap;
        }
        pq_param *p = &out->items[out->n];
        memset(p, 0, sizeof *p);
        j_ws(&j);
        if ((rc = j_string(&j, &p->name)) != PQ_OK)
            goto fail;
        out->n++;
        rc = PQ_EINVAL;
        j_ws(&j);
        if (*j.s++ != ':')
            goto fail;
        j_ws(&j);
        if (*j.s == '"') {
            if ((rc = j_string(&j, &p->text)) != PQ_OK)
                goto fail;
            p->is_string = 1;
        } else if ((rc = j_number(&j, p)) != PQ_OK) {
            goto fail;
        }
        rc = PQ_EINVAL;
        j_ws(&j);
        if (*j.s == ',') {
            j.s++;
            continue;
        }
        if (*j.s++ != '}')
            goto fail;
        break;
    }
end:
    j_ws(&j);
    if (*j.s != '\0')
        goto fail;
    return PQ_OK;
fail:
    pq_params_free(out);
    return rc;
}

/* ------------------------------------------------------------ msgpack */

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
        } else if (!number_ok(it)) {
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

int pq_params_pack(const pq_params *p, char **buf, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    *buf = NULL;
    *len = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = pack_params_into(&pk, p);
    if (rc == PQ_OK)
        rc = sbuffer_release(&sb, buf, len);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

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
        rc = pq_entry_pack(&points[i], &args->entries[i], &args->argvlen[fixed + i]);
        if (rc != PQ_OK) {
            pq_point_args_free(args);
            return pq_set_error(ctx, rc, "sweep '%s': %s point %zu has a non-finite "
                                "number or is over %d bytes as JSON",
                                sweep, what, i + 1, PQ_PARAMS_MAX);
        }
        args->argv[fixed + i] = args->entries[i];
    }
    return PQ_OK;
}

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
        if (k->type != MSGPACK_OBJECT_STR)
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
        default:
            goto bad;
        }
    }
    return PQ_OK;
bad:
    pq_params_free(out);
    return PQ_EINVAL;
oom:
    pq_params_free(out);
    return PQ_ENOMEM;
}

int pq_params_unpack(const char *buf, size_t len, pq_params *out)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc;
    out->n = 0;
    out->items = NULL;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        rc = PQ_EINVAL;
    else
        rc = pq_params_from_object(&u.data, out);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* ------------------------------------------------------------ environment */

/* Appends one name/value pair (both copied). */
static int env_add(pq_env *env, const char *name, const char *value)
{
    char **names = realloc(env->names, (env->n + 1) * sizeof *names);
    if (!names)
        return PQ_ENOMEM;
    env->names = names;
    char **values = realloc(env->values, (env->n + 1) * sizeof *values);
    if (!values)
        return PQ_ENOMEM;
    env->values = values;
    names[env->n] = pq_strdup(name);
    values[env->n] = pq_strdup(value);
    env->n++;
    return (names[env->n - 1] && values[env->n - 1]) ? PQ_OK : PQ_ENOMEM;
}

int pq_env_build(const char *sweep, long trial_id, const pq_params *params,
                 const char *result_path, const char *token, pq_env *out)
{
    char *json = NULL, *args = NULL;
    char num[40], name[256];
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = pq_params_to_json(params, &json)) != PQ_OK ||
        (rc = pq_params_to_args(params, &args)) != PQ_OK)
        goto fail;
    snprintf(num, sizeof num, "%ld", trial_id);
    if ((rc = env_add(out, "PROTEIN_SWEEP", sweep)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_TRIAL", num)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_PARAMS", json)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_ARGS", args)) != PQ_OK)
        goto fail;
    for (size_t i = 0; i < params->n; i++) {
        const pq_param *p = &params->items[i];
        if ((rc = pq_param_env_name(p->name, name, sizeof name)) != PQ_OK)
            goto fail;
        if (!p->is_string)
            number_text(p, num);
        if ((rc = env_add(out, name, p->is_string ? p->text : num)) != PQ_OK)
            goto fail;
    }
    if (result_path && (rc = env_add(out, "PROTEIN_RESULT", result_path)) != PQ_OK)
        goto fail;
    if (token && (rc = env_add(out, "PROTEIN_TOKEN", token)) != PQ_OK)
        goto fail;
    free(json);
    free(args);
    return PQ_OK;
fail:
    free(json);
    free(args);
    pq_env_free(out);
    return rc;
}

void pq_env_free(pq_env *env)
{
    if (!env)
        return;
    pq_strings_free(env->names, env->n);
    pq_strings_free(env->values, env->n);
    memset(env, 0, sizeof *env);
}

/* ------------------------------------------------------------ result files */

/* Trims spaces and tabs from both ends of [*b, *e). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t' || **b == '\r'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

/* Sets *has and *val from the value text: last value wins, and a value that
 * is not a finite number clears an earlier one. */
static void take_value(const char *b, const char *e, int *has, double *val)
{
    char tmp[64];
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= sizeof tmp) {
        *has = 0;
        return;
    }
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(v)) {
        *has = 0;
        return;
    }
    *has = 1;
    *val = v;
}

static int key_is(const char *b, const char *e, const char *key)
{
    size_t n = strlen(key);
    return (size_t)(e - b) == n && memcmp(b, key, n) == 0;
}

int pq_result_parse(const char *text, size_t len, const char *metric_key,
                    const char *cost_key, pq_result *out)
{
    const char *p = text, *end = text + len;
    memset(out, 0, sizeof *out);
    if (!metric_key)
        metric_key = "score";
    if (!cost_key)
        cost_key = "cost";
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        const char *kb = p, *ke = eq, *vb = eq ? eq + 1 : NULL, *ve = le;
        p = nl ? nl + 1 : end;
        if (!eq)
            continue;
        trim(&kb, &ke);
        if (kb == ke || *kb == '#')
            continue;
        trim(&vb, &ve);
        if (key_is(kb, ke, metric_key))
            take_value(vb, ve, &out->has_metric, &out->metric);
        else if (key_is(kb, ke, cost_key))
            take_value(vb, ve, &out->has_cost, &out->cost);
        else if (key_is(kb, ke, "step"))
            take_value(vb, ve, &out->has_step, &out->step);
    }
    return PQ_OK;
}

/* ------------------------------------------------------------ names */

static const char *const trial_states[PQ_TRIAL_NSTATES] = {
    "queued", "running", "completed", "failed", "interrupted", "lost", "pruned"
};

const char *pq_trial_state_name(pq_trial_state s)
{
    int i = (int)s;
    return (i >= 0 && i < PQ_TRIAL_NSTATES) ? trial_states[i] : "unknown";
}

int pq_trial_state_parse(const char *name)
{
    for (int i = 0; name && i < PQ_TRIAL_NSTATES; i++)
        if (strcmp(name, trial_states[i]) == 0)
            return i;
    return -1;
}

const char *pq_sweep_state_name(pq_sweep_state s)
{
    switch (s) {
    case PQ_SWEEP_ACTIVE: return "active";
    case PQ_SWEEP_PAUSED: return "paused";
    case PQ_SWEEP_STOPPED: return "stopped";
    }
    return "unknown";
}

int pq_sweep_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64 || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

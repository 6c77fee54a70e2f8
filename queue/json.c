/*
 * json.c - the JSON codec of trial parameters: a flat object of names to
 * strings and numbers, written for PROTEIN_PARAMS and Redis and read back
 * with the strict JSON grammar.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* ------------------------------------------------------------ writing */

/* Appends s (NUL-terminated, not NULL) to b as a JSON string literal:
 * quotes, the short escapes, \u00XX for other control characters; bytes
 * from 0x80 on are copied, so UTF-8 stays UTF-8. Out of memory sets
 * b->oom. */
static void json_string(pq_strbuf *b, const char *s)
{
    pq_sb_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': pq_sb_add(b, "\\\"", 2); break;
        case '\\': pq_sb_add(b, "\\\\", 2); break;
        case '\n': pq_sb_add(b, "\\n", 2); break;
        case '\r': pq_sb_add(b, "\\r", 2); break;
        case '\t': pq_sb_add(b, "\\t", 2); break;
        case '\b': pq_sb_add(b, "\\b", 2); break;
        case '\f': pq_sb_add(b, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                pq_sb_puts(b, esc);
            } else {
                pq_sb_add(b, (const char *)c, 1);
            }
        }
    }
    pq_sb_add(b, "\"", 1);
}

/* Contract in protein_queue.h. */
int pq_json_quote(const char *s, char **out)
{
    pq_strbuf b = {0};

    assert(s != NULL);
    json_string(&b, s);
    return pq_sb_finish(&b, out);
}

/* Contract in pq_internal.h. */
int pq_sb_param_value(pq_strbuf *b, const pq_param *p, int json)
{
    char num[40];
    if (!p->is_string) {
        if (pq_param_number_text(p, num) != PQ_OK)
            return PQ_EINVAL;
        pq_sb_puts(b, num);
    } else if (json) {
        json_string(b, p->text ? p->text : "");
    } else {
        pq_sb_puts(b, p->text ? p->text : "");
    }
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_params_to_json(const pq_params *p, char **out)
{
    pq_strbuf b = {0};
    *out = NULL;
    pq_sb_add(&b, "{", 1);
    for (size_t i = 0; i < p->n; i++) {
        const pq_param *it = &p->items[i];
        if (i)
            pq_sb_add(&b, ", ", 2);
        json_string(&b, it->name ? it->name : "");
        pq_sb_add(&b, ": ", 2);
        if (it->is_string && it->is_json) {
            pq_sb_puts(&b, it->text ? it->text : "null");
        } else if (pq_sb_param_value(&b, it, 1) != PQ_OK) {
            free(b.s);
            return PQ_EINVAL;
        }
    }
    pq_sb_add(&b, "}", 1);
    return pq_sb_finish(&b, out);
}

/* ------------------------------------------------------------ parsing */

typedef struct jparser {
    const char *s;
} jparser;

/* Skips JSON white space (space, tab, newline, carriage return) at j->s. */
static void j_ws(jparser *j)
{
    while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
        j->s++;
}

/* Reads the four hex digits of a \u escape at s (either case) into *out: 0,
 * or -1 at a non-hex character (a NUL included) with *out untouched. */
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

/* Appends code point cp (at most 0x10FFFF, surrogates already paired by the
 * caller) to b as 1 to 4 bytes of UTF-8. */
static void utf8_put(pq_strbuf *b, unsigned cp)
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
    pq_sb_add(b, u, n);
}

/* Parses a JSON string at j->s into a malloc'ed *out. */
static int j_string(jparser *j, char **out)
{
    pq_strbuf b = {0};
    if (*j->s != '"')
        return PQ_EINVAL;
    j->s++;
    while (*j->s != '"') {
        unsigned char c = (unsigned char)*j->s;
        if (c < 0x20) /* a control character, or the text ends unclosed */
            goto bad;
        if (c != '\\') {
            pq_sb_add(&b, j->s++, 1);
            continue;
        }
        j->s++;
        switch (*j->s) {
        case '"': pq_sb_add(&b, "\"", 1); break;
        case '\\': pq_sb_add(&b, "\\", 1); break;
        case '/': pq_sb_add(&b, "/", 1); break;
        case 'n': pq_sb_add(&b, "\n", 1); break;
        case 'r': pq_sb_add(&b, "\r", 1); break;
        case 't': pq_sb_add(&b, "\t", 1); break;
        case 'b': pq_sb_add(&b, "\b", 1); break;
        case 'f': pq_sb_add(&b, "\f", 1); break;
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
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                goto bad; /* a lone low surrogate; NUL ends a C string */
            }
            utf8_put(&b, cp);
            break;
        }
        default: goto bad;
        }
        j->s++;
    }
    j->s++;
    return pq_sb_finish(&b, out);
bad:
    free(b.s);
    return PQ_EINVAL;
}

/* Parses a JSON number at j->s (strict grammar). */
static int j_number(jparser *j, pq_param *p)
{
    const char *s = j->s;
    int integer = 1;

    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return PQ_EINVAL;
    if (*s == '0' && isdigit((unsigned char)s[1]))
        return PQ_EINVAL;
    while (isdigit((unsigned char)*s))
        s++;
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
    p->is_string = 0;
    p->is_integer = integer;
    /* A whole number beyond int64 is kept as a plain number, so that it
     * writes back ("1e+23") and reads back the same. */
    if (!pq_param_number_ok(p))
        p->is_integer = 0;
    j->s = s;
    return PQ_OK;
}

#define JSON_MAX_DEPTH 32

/* Steps over one JSON value of any kind at j->s (strict grammar, at most
 * JSON_MAX_DEPTH levels of nesting), and over Python json's Infinity,
 * -Infinity and NaN, the form a config's .inf and .nan reach a trial in. */
static int j_skip(jparser *j, int depth)
{
    static const char *const words[] = {"true",     "false",     "null",
                                        "Infinity", "-Infinity", "NaN"};
    pq_param num;
    char *str;

    if (depth > JSON_MAX_DEPTH)
        return PQ_EINVAL;
    j_ws(j);
    if (*j->s == '"') {
        if (j_string(j, &str) != PQ_OK)
            return PQ_EINVAL;
        free(str);
        return PQ_OK;
    }
    if (*j->s == '[' || *j->s == '{') {
        char close = *j->s == '[' ? ']' : '}';
        j->s++;
        j_ws(j);
        if (*j->s == close) {
            j->s++;
            return PQ_OK;
        }
        for (;;) {
            if (close == '}') {
                j_ws(j);
                if (*j->s != '"' || j_string(j, &str) != PQ_OK)
                    return PQ_EINVAL;
                free(str);
                j_ws(j);
                if (*j->s++ != ':')
                    return PQ_EINVAL;
            }
            if (j_skip(j, depth + 1) != PQ_OK)
                return PQ_EINVAL;
            j_ws(j);
            if (*j->s == ',') {
                j->s++;
                continue;
            }
            if (*j->s++ != close)
                return PQ_EINVAL;
            return PQ_OK;
        }
    }
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i]);
        if (strncmp(j->s, words[i], n) == 0) {
            j->s += n;
            return PQ_OK;
        }
    }
    return j_number(j, &num);
}

/* A true, false, null, list or object value at j->s: its text, kept as
 * it is (is_json). */
static int j_literal(jparser *j, pq_param *p)
{
    const char *start = j->s;
    int rc = j_skip(j, 0);

    if (rc != PQ_OK)
        return rc;
    p->text = malloc((size_t)(j->s - start) + 1);
    if (!p->text)
        return PQ_ENOMEM;
    memcpy(p->text, start, (size_t)(j->s - start));
    p->text[j->s - start] = '\0';
    p->is_string = 1;
    p->is_json = 1;
    return PQ_OK;
}

/* Contract in protein_queue.h. */
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
        pq_param *p;

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
        p = &out->items[out->n];
        memset(p, 0, sizeof *p);
        j_ws(&j);
        if ((rc = j_string(&j, &p->name)) != PQ_OK)
            goto fail;
        out->n++;
        rc = PQ_EINVAL;
        if (!p->name[0])
            goto fail;
        j_ws(&j);
        if (*j.s++ != ':')
            goto fail;
        j_ws(&j);
        if (*j.s == '"') {
            if ((rc = j_string(&j, &p->text)) != PQ_OK)
                goto fail;
            p->is_string = 1;
        } else if ((*j.s == '-' && j.s[1] != 'I') ||
                   isdigit((unsigned char)*j.s)) {
            if ((rc = j_number(&j, p)) != PQ_OK)
                goto fail;
        } else if ((rc = j_literal(&j, p)) != PQ_OK) {
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

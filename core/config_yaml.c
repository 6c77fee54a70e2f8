/*
 * config_yaml.c - W&B sweep files (YAML or JSON, read with libyaml as
 * YAML 1.1, as PyYAML reads them for W&B), and the loader of any config
 * file: protein_config_load_file picks the format and, for a PufferLib
 * INI, the default.ini it is read over.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "config_common.h"
#include "protein_number.h"

#define MAX_GROUP_DEPTH 8     /* nested parameters: blocks */
#define MAX_MAPPING_KEYS 4096 /* keys in one mapping */
#define MAX_FILE_BYTES (16 << 20)
/* open [ and { at once; libyaml slows down quadratically with deeper
 * nesting */
#define MAX_FLOW_DEPTH 256

/* State of one YAML parse: the loaded document and where errors go. */
typedef struct yaml_ctx {
    yaml_document_t doc;
    const char *file;
    protein_error *err;
    protein_sweep_config *cfg;
} yaml_ctx;

/* The 1-based line where n starts. */
static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

/* The node with id `id` in the document being read (NULL for an id it does
 * not hold). */
static yaml_node_t *node_at(yaml_ctx *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

/* What n is, for messages: "a mapping", "a list" or "a scalar". */
static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a scalar";
    }
}

/* The text of a scalar node; an error naming key when n is not a scalar
 * or holds a NUL byte. */
static int scalar(yaml_ctx *c, yaml_node_t *n, const char *key,
                  const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return protein_config_error(c->err, c->file, line_of(n), key,
                                    "expected %s here, found %s", what,
                                    kind_name(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return protein_config_error(
            c->err, c->file, line_of(n), key,
            "the value contains a NUL character; remove it");
    *out = (const char *)n->data.scalar.value;
    return 0;
}

/* Checks that n is a mapping whose keys are distinct scalars. */
static int mapping(yaml_ctx *c, yaml_node_t *n, const char *key,
                   const char *what)
{
    yaml_node_pair_t *a, *b;
    const char *ka, *kb;
    char path[192];

    if (n->type != YAML_MAPPING_NODE)
        return protein_config_error(c->err, c->file, line_of(n), key,
                                    "expected %s, found %s", what,
                                    kind_name(n));
    if (n->data.mapping.pairs.top - n->data.mapping.pairs.start >
        MAX_MAPPING_KEYS)
        return protein_config_error(c->err, c->file, line_of(n), key,
                                    "more than %d keys in one mapping",
                                    MAX_MAPPING_KEYS);
    for (a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
        yaml_node_t *kn = node_at(c, a->key);
        if (scalar(c, kn, key, "a plain key", &ka))
            return PROTEIN_ECONFIG;
        for (b = n->data.mapping.pairs.start; b < a; b++) {
            kb = (const char *)node_at(c, b->key)->data.scalar.value;
            if (strcmp(ka, kb) == 0)
                return protein_config_error(
                    c->err, c->file, line_of(kn),
                    protein_config_key(path, sizeof path, key, ka),
                    "key '%s' appears twice (first on line %d); keep one", ka,
                    line_of(node_at(c, b->key)));
        }
    }
    return 0;
}

/* The key text of the mapping pair p (mapping() has checked that every key
 * is a scalar). */
static const char *pair_key(yaml_ctx *c, const yaml_node_pair_t *p)
{
    return (const char *)node_at(c, p->key)->data.scalar.value;
}

/* An error for the key kn of the mapping at path, with a suggestion from
 * known when one is close. */
static int unknown_key(yaml_ctx *c, yaml_node_t *kn, const char *path,
                       const char *const *known)
{
    const char *k = (const char *)kn->data.scalar.value;
    const char *near = protein_closest_word(k, known);
    char key[192];

    protein_config_key(key, sizeof key, path, k);
    if (near)
        return protein_config_error(c->err, c->file, line_of(kn), key,
                                    "unknown key '%s'; did you mean '%s'?", k,
                                    near);
    return protein_config_error(
        c->err, c->file, line_of(kn), key,
        "unknown key '%s'; remove it or check the spelling", k);
}

/* Sets option opt from the scalar n; key names it in errors. */
static int option(yaml_ctx *c, yaml_node_t *n, const char *opt, const char *key)
{
    const char *s;

    if (scalar(c, n, key, "a single value", &s))
        return PROTEIN_ECONFIG;
    return protein_config_set_option(c->cfg, opt, s, c->file, line_of(n), key,
                                     c->err);
}

/* Reads a block (metric:, cost:, protein:) whose keys are options. names[i]
 * is the key in the file, opts[i] the option it sets. */
static int option_block(yaml_ctx *c, yaml_node_t *n, const char *block,
                        const char *what, const char *const *names,
                        const char *const *opts)
{
    yaml_node_pair_t *p;
    char key[96];
    size_t i;
    int rc;

    if (mapping(c, n, block, what))
        return PROTEIN_ECONFIG;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = pair_key(c, p);
        for (i = 0; names[i] && strcmp(names[i], k) != 0; i++)
            continue;
        if (!names[i])
            return unknown_key(c, node_at(c, p->key), block, names);
        protein_config_key(key, sizeof key, block, k);
        rc = option(c, node_at(c, p->value), opts[i], key);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ parameters */

/* Records scalar n as field f (text and line); a non-scalar is
 * PROTEIN_ECONFIG naming path. */
static int spec_field(yaml_ctx *c, yaml_node_t *n, const char *path,
                      protein_spec_field *f)
{
    if (scalar(c, n, path, "a single value", &f->text))
        return PROTEIN_ECONFIG;
    f->line = line_of(n);
    return 0;
}

/* Gives an exponent form without a '.' one ("8e+01" -> "8.0e+01"): YAML
 * 1.1 reads a float only with a '.', so a written config would read the
 * number back as a string (fuzz_config). */
static void yaml11_float_text(char *buf, size_t len)
{
    char *e = strpbrk(buf, "eE");
    size_t n = strlen(buf);

    if (!e || strchr(buf, '.') || n + 3 > len)
        return;
    memmove(e + 2, e, strlen(e) + 1);
    e[0] = '.';
    e[1] = '0';
}

/* What a plain scalar is by YAML 1.1's resolver. */
typedef enum yaml11_kind { Y_STRING, Y_INT, Y_FLOAT, Y_BIG } yaml11_kind;

/* Past p's characters from set, counting those other than '_' in *n. */
static const char *span(const char *p, const char *set, int *n)
{
    for (; *p && strchr(set, *p); p++)
        *n += *p != '_';
    return p;
}

/* Past one base-60 part after a ':' ("[0-5]?[0-9]"); NULL when there is
 * none (PyYAML then resolves a string). */
static const char *sexagesimal_part(const char *p)
{
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]))
        return p[0] <= '5' ? p + 2 : NULL;
    return isdigit((unsigned char)*p) ? p + 1 : NULL;
}

/* The integer of digits [from, to) in base (':' starting a base-60 part,
 * '_' skipped) as decimal text in buf: Y_INT, or Y_BIG from 9.2e18 on,
 * where the queue (pq_param_number_ok) no longer carries a whole number. */
static yaml11_kind int_text(const char *from, const char *to, int base, int neg,
                            char *buf, size_t len)
{
    unsigned long long u = 0, part = 0, d;

    for (; from < to; from++) {
        if (*from == '_')
            continue;
        if (*from == ':') {
            if (u > (ULLONG_MAX - part) / 60)
                return Y_BIG;
            u = u * 60 + part;
            part = 0;
            continue;
        }
        d = isdigit((unsigned char)*from)
                ? (unsigned long long)(*from - '0')
                : (unsigned long long)(tolower((unsigned char)*from) - 'a' +
                                       10);
        if (part > (ULLONG_MAX - d) / (unsigned long long)base)
            return Y_BIG;
        part = part * (unsigned long long)base + d;
    }
    if (u > (ULLONG_MAX - part) / 60)
        return Y_BIG;
    u = u * 60 + part;
    if (!(u * 1.0 < 9.2e18))
        return Y_BIG;
    snprintf(buf, len, "%s%llu", neg && u ? "-" : "", u);
    return Y_INT;
}

/* Text of float v that YAML 1.1 reads back as the same float: ".inf",
 * "-.inf", ".nan", else with a '.' (a float needs one there). */
static void float_text(double v, char *buf, size_t len)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, len, "%s", isnan(v) ? ".nan" : v > 0 ? ".inf" : "-.inf");
        return;
    }
    protein_number_text(v, buf, len);
    if (!strpbrk(buf, ".e") && strlen(buf) + 3 <= len)
        strcat(buf, ".0");
    yaml11_float_text(buf, len);
}

/* The float of [s, end) (sign already stepped over), as PyYAML's
 * constructor makes it: '_' dropped, base-60 parts summed from the last
 * one up as it sums them (so the rounding is the same). Its text in buf:
 * the digits as written when they fit and are finite ("1." as "1.0", so
 * that JSON keeps it a float), else float_text. Y_STRING when out of
 * memory. */
static yaml11_kind float_value(const char *s, int neg, char *buf, size_t len)
{
    size_t i, o = 0, n = strlen(s);
    char *d = malloc(n + 2), *colon;
    double v = 0, base = 1;

    if (!d)
        return Y_STRING;
    for (i = 0; i < n; i++) {
        if (s[i] != '_')
            d[o++] = s[i];
        if (s[i] == '.' &&
            !isdigit((unsigned char)s[i + 1 + strspn(s + i + 1, "_")]))
            d[o++] = '0';
    }
    d[o] = '\0';
    while ((colon = strrchr(d, ':'))) {
        v += strtod(colon + 1, NULL) * base;
        base *= 60;
        *colon = '\0';
    }
    v += strtod(d, NULL) * base;
    v = neg ? -v : v;
    if (isfinite(v) && !strchr(s, ':') && o + 1 + (size_t)neg < len)
        snprintf(buf, len, "%s%s", neg ? "-" : "", d);
    else
        float_text(v, buf, len);
    free(d);
    return Y_FLOAT;
}

/* Reads t as PyYAML's YAML 1.1 resolver and constructor do: ints binary
 * (0b), octal (a leading 0), hex (0x), decimal and base 60 ("3:25:45");
 * floats only with a '.' and an exponent with a sign ("1.0e-5": "1e-5"
 * is a string), base 60 ("1:30.5"), .inf and .nan; '_' ignored after the
 * first digit. The value's text goes into buf: an int in decimal, a float
 * as float_value gives it. Y_BIG for an int a trial cannot be given;
 * Y_STRING, buf untouched, for anything else. */
static yaml11_kind yaml11_number(const char *t, char *buf, size_t len)
{
    static const char *const inf[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
    int neg = *t == '-', n = 0, f = 0;
    const char *s = t + (*t == '-' || *t == '+'), *p;

    if (protein_in_list(s, inf) || (s == t && protein_in_list(s, nan))) {
        float_text(s[1] == 'n' || s[1] == 'N' ? NAN
                   : neg                      ? -INFINITY
                                              : INFINITY,
                   buf, len);
        return Y_FLOAT;
    }
    if (s == t && s[0] == '.' && isdigit((unsigned char)s[1])) {
        p = span(s + 1, "0123456789_", &n);
        goto exponent;
    }
    if (s[0] == '0' && (s[1] == 'b' || s[1] == 'x')) {
        p = span(s + 2, s[1] == 'b' ? "01_" : "0123456789abcdefABCDEF_", &n);
        return *p || !n
                   ? Y_STRING
                   : int_text(s + 2, p, s[1] == 'b' ? 2 : 16, neg, buf, len);
    }
    if (!isdigit((unsigned char)s[0]))
        return Y_STRING;
    p = span(s, "0123456789_", &n);
    if (*p == '\0') {
        if (s[0] != '0' || p == s + 1)
            return int_text(s, p, 10, neg, buf, len);
        return strspn(s, "01234567_") == (size_t)(p - s)
                   ? int_text(s, p, 8, neg, buf, len)
                   : Y_STRING; /* "08", "0_9": neither octal nor decimal */
    }
    while (*p == ':' && (p = sexagesimal_part(p + 1)))
        f = 1;
    if (!p)
        return Y_STRING;
    if (f && *p == '\0')
        return s[0] == '0' ? Y_STRING : int_text(s, p, 10, neg, buf, len);
    if (*p != '.')
        return Y_STRING;
    p = span(p + 1, "0123456789_", &n);
    if (f)
        return *p ? Y_STRING : float_value(s, neg, buf, len);
exponent:
    if ((*p == 'e' || *p == 'E') && (p[1] == '-' || p[1] == '+') &&
        isdigit((unsigned char)p[2]))
        p = span(p + 2, "0123456789", &n);
    return *p ? Y_STRING : float_value(s, neg, buf, len);
}

/* The YAML 1.1 type of scalar n (at `path`), as PyYAML (and so W&B)
 * reads it, into *type and its canonical text into buf: booleans
 * "true"/"false", null "null", numbers as yaml11_number writes them,
 * strings as written. PROTEIN_ECONFIG with the error set for an integer
 * no trial can be given (rather than a trial that fails to start). */
static int scalar_type(yaml_ctx *c, const yaml_node_t *n, const char *path,
                       char *buf, size_t len, protein_value_type *type)
{
    static const char *const yes[] = {"yes",  "Yes", "YES", "true", "True",
                                      "TRUE", "on",  "On",  "ON",   NULL};
    static const char *const no[] = {"no",    "No",  "NO",  "false", "False",
                                     "FALSE", "off", "Off", "OFF",   NULL};
    static const char *const null[] = {"~", "null", "Null", "NULL", "", NULL};
    const char *t = (const char *)n->data.scalar.value;
    const char *tag = (const char *)n->tag;
    int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    yaml11_kind k;
    double v;
    size_t i, o = 0;

    *type = PROTEIN_VALUE_STRING;
    snprintf(buf, len, "%s", t);
    if (!plain && !(tag && (strcmp(tag, YAML_FLOAT_TAG) == 0 ||
                            strcmp(tag, YAML_INT_TAG) == 0)))
        return 0;
    if (plain && (protein_in_list(t, yes) || protein_in_list(t, no))) {
        snprintf(buf, len, "%s", protein_in_list(t, yes) ? "true" : "false");
        *type = PROTEIN_VALUE_BOOL;
        return 0;
    }
    if (plain && protein_in_list(t, null)) {
        snprintf(buf, len, "null");
        *type = PROTEIN_VALUE_NULL;
        return 0;
    }
    k = yaml11_number(t, buf, len);
    if (k == Y_BIG)
        return protein_config_error(
            c->err, c->file, line_of(n), path,
            "the integer %.40s%s is too large for a trial (its magnitude "
            "must be below 9.2e18, about a 64-bit integer's range); quote "
            "it to pass it as a string",
            t, strlen(t) > 40 ? "..." : "");
    if (k != Y_STRING) {
        *type = PROTEIN_VALUE_NUMBER;
        return 0;
    }
    if (!plain) { /* !!int or !!float quoted: what strtod reads */
        for (i = 0; t[i] && o + 1 < len; i++)
            if (t[i] != '_')
                buf[o++] = t[i];
        buf[o] = '\0';
        if (protein_parse_number(buf, &v) == 0) {
            *type = PROTEIN_VALUE_NUMBER;
            return 0;
        }
    }
    snprintf(buf, len, "%s", t);
    return 0;
}

/* A number as JSON writes it: the text when it already is JSON, .inf and
 * .nan as Python's json does, else (a YAML 1.1 float JSON cannot spell:
 * .5e+3, 0100.0, 1:30:00.0) its shortest round-trip form, kept a float:
 * with a '.' ("500.0"; before any exponent). */
static void json_number(const char *text, char *buf, size_t len)
{
    const char *p = text + (*text == '-');
    const char *word = protein_value_nonfinite_json(text);

    if (word) {
        snprintf(buf, len, "%s", word);
        return;
    }
    if (isdigit((unsigned char)*p) &&
        !(p[0] == '0' && isdigit((unsigned char)p[1]))) {
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.' && isdigit((unsigned char)p[1]))
            for (p++; isdigit((unsigned char)*p); p++)
                continue;
        if (*p == 'e' || *p == 'E') {
            p++;
            p += *p == '+' || *p == '-';
            if (isdigit((unsigned char)*p))
                while (isdigit((unsigned char)*p))
                    p++;
            else
                p = text;
        }
        if (*p == '\0') {
            snprintf(buf, len, "%s", text);
            return;
        }
    }
    float_text(strtod(text, NULL), buf, len);
}

/* Appends s to the growing string *out (length *n); -1 when out of
 * memory or past the limit. */
static int json_put(char **out, size_t *n, const char *s, size_t len)
{
    char *g;

    if (*n + len > (1u << 20))
        return -1;
    g = realloc(*out, *n + len + 1);
    if (!g)
        return -1;
    memcpy(g + *n, s, len);
    *n += len;
    g[*n] = '\0';
    *out = g;
    return 0;
}

/* Appends s to the JSON text *out (*n bytes) as a string literal: quotes
 * and backslashes escaped, other control characters as \u00XX. 0, or -1 out
 * of memory (*out then still the caller's to free). */
static int json_put_string(char **out, size_t *n, const char *s)
{
    char esc[8];
    int rc = json_put(out, n, "\"", 1);

    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            rc = json_put(out, n, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            rc = json_put(out, n, esc, 6);
        } else {
            rc = json_put(out, n, s, 1);
        }
    }
    return rc ? rc : json_put(out, n, "\"", 1);
}

/* Longest key of a mapping inside a value, as written: YAML reads a
 * plain (implicit) key of at most 1024 characters, and the written config
 * must read back. */
#define JSON_KEY_MAX 1000

/* Characters key s may take once written as a quoted YAML key, counted
 * high: an escaped character (a control, DEL, any non-ASCII code point
 * the writer may escape) as 6, a quote or backslash as 2. */
static size_t written_key_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 2;

    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p >= 0xc0)
            w += 6;
        else if (*p == '"' || *p == '\\')
            w += 2;
        else if (*p < 0x80)
            w += 1;
    }
    return w;
}

/* Writes node n (any YAML value, at `path` for messages) as compact JSON
 * into *out. Returns 0; -1 when out of memory; PROTEIN_ECONFIG with the
 * error set for what a config cannot hold (nested deeper than 32, a key
 * that is not a plain scalar or is over JSON_KEY_MAX bytes). */
static int node_json(yaml_ctx *c, yaml_node_t *n, const char *path, char **out,
                     size_t *len, int depth)
{
    char text[512], num[512];
    protein_value_type type;
    int rc = 0;

    if (depth > 32)
        return protein_config_error(
            c->err, c->file, line_of(n), path,
            "the value is nested deeper than 32 levels");
    if (n->type == YAML_SCALAR_NODE) {
        if (scalar_type(c, n, path, text, sizeof text, &type))
            return PROTEIN_ECONFIG;
        switch (type) {
        case PROTEIN_VALUE_STRING:
            return json_put_string(out, len,
                                   (const char *)n->data.scalar.value);
        case PROTEIN_VALUE_NUMBER:
            json_number(text, num, sizeof num);
            return json_put(out, len, num, strlen(num));
        default: return json_put(out, len, text, strlen(text));
        }
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;
        rc = json_put(out, len, "[", 1);
        for (it = n->data.sequence.items.start;
             rc == 0 && it < n->data.sequence.items.top; it++) {
            if (it != n->data.sequence.items.start)
                rc = json_put(out, len, ", ", 2);
            if (rc == 0)
                rc = node_json(c, node_at(c, *it), path, out, len, depth + 1);
        }
        return rc ? rc : json_put(out, len, "]", 1);
    }
    {
        yaml_node_pair_t *pr;
        rc = json_put(out, len, "{", 1);
        for (pr = n->data.mapping.pairs.start;
             rc == 0 && pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = node_at(c, pr->key);
            if (pr != n->data.mapping.pairs.start)
                rc = json_put(out, len, ", ", 2);
            if (rc == 0 &&
                (k->type != YAML_SCALAR_NODE ||
                 written_key_width((const char *)k->data.scalar.value) >
                     JSON_KEY_MAX))
                return protein_config_error(
                    c->err, c->file, line_of(k), path,
                    "a mapping inside a value needs plain keys of at most %d "
                    "characters as written",
                    JSON_KEY_MAX);
            if (rc == 0)
                rc = json_put_string(out, len,
                                     (const char *)k->data.scalar.value);
            if (rc == 0)
                rc = json_put(out, len, ": ", 2);
            if (rc == 0)
                rc = node_json(c, node_at(c, pr->value), path, out, len,
                               depth + 1);
        }
        return rc ? rc : json_put(out, len, "}", 1);
    }
}

/* Strings owned while one parameter spec is read. */
typedef struct spec_strings {
    char **s;
    size_t n;
} spec_strings;

/* Hands s (malloc'ed, or NULL) to k, which frees it with keep_free, and
 * returns it: the parser's strings then live as long as the config being
 * read. NULL when s is NULL or out of memory (s is then freed). */
static const char *keep(spec_strings *k, char *s)
{
    char **g;

    if (!s)
        return NULL;
    g = realloc(k->s, (k->n + 1) * sizeof *g);
    if (!g) {
        free(s);
        return NULL;
    }
    k->s = g;
    k->s[k->n++] = s;
    return s;
}

/* Frees every string handed to k, and k's array. */
static void keep_free(spec_strings *k)
{
    size_t i;

    for (i = 0; i < k->n; i++)
        free(k->s[i]);
    free(k->s);
}

/* The text and type of one value (a choice or a constant): a scalar by
 * YAML's rules, a list or mapping as JSON. NULL when out of memory, or
 * with *bad set for what a config cannot hold (the error set). */
static const char *typed_value(yaml_ctx *c, yaml_node_t *n, const char *path,
                               spec_strings *k, unsigned char *type, int *bad)
{
    char text[512], *json = NULL;
    const char *raw;
    protein_value_type t;
    size_t len = 0;
    int rc;

    *bad = 0;
    if (n->type == YAML_SCALAR_NODE) {
        if (scalar(c, n, path, "a value", &raw) ||
            scalar_type(c, n, path, text, sizeof text, &t)) {
            *bad = 1;
            return NULL;
        }
        *type = (unsigned char)t;
        if (*type == PROTEIN_VALUE_STRING)
            return (const char *)n->data.scalar.value;
        return keep(k, strdup(text));
    }
    *type = PROTEIN_VALUE_JSON;
    rc = node_json(c, n, path, &json, &len, 0);
    if (rc != 0) {
        *bad = rc != -1;
        free(json);
        return NULL;
    }
    return keep(k, json);
}

/* Reads a list of scalars (probabilities) into a NULL-terminated array. */
static int scalar_list(yaml_ctx *c, yaml_node_t *v, const char *path,
                       const char ***out, size_t *n)
{
    size_t i, cnt;

    if (v->type != YAML_SEQUENCE_NODE)
        return protein_config_error(c->err, c->file, line_of(v), path,
                                    "expected a list [a, b, ...], found %s",
                                    kind_name(v));
    cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    *out = calloc(cnt + 1, sizeof **out);
    if (!*out)
        return PROTEIN_ENOMEM;
    for (i = 0; i < cnt; i++)
        if (scalar(c, node_at(c, v->data.sequence.items.start[i]), path,
                   "a number", &(*out)[i]))
            return PROTEIN_ECONFIG;
    *n = cnt;
    return 0;
}

/* The choices of a values: list as parse_spec hands them to
 * protein_config_add_param, n + 1 entries each: the texts (owned by the
 * parser's spec_strings), their lines, types and whether each is a plain
 * scalar (types also serves a value:'s single entry). */
typedef struct value_lists {
    const char **values;
    int *lines;
    unsigned char *types, *plain;
} value_lists;

/* Frees l's arrays (not the texts) and empties it. */
static void value_lists_free(value_lists *l)
{
    free(l->values);
    free(l->lines);
    free(l->types);
    free(l->plain);
    memset(l, 0, sizeof *l);
}

/* Reads the values: list v (at path) into l, replacing what l held, and
 * its length into *count. 0, or PROTEIN_ECONFIG (v is not a list, or a
 * choice a config cannot hold; the error set) or PROTEIN_ENOMEM; l is
 * then the caller's to free with value_lists_free all the same. */
static int parse_values(yaml_ctx *c, yaml_node_t *v, const char *path,
                        spec_strings *owned, value_lists *l, size_t *count)
{
    size_t i, cnt;

    if (v->type != YAML_SEQUENCE_NODE)
        return protein_config_error(
            c->err, c->file, line_of(v), path,
            "expected a list of choices [a, b, ...], found %s", kind_name(v));
    cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    value_lists_free(l);
    l->values = calloc(cnt + 1, sizeof *l->values);
    l->lines = calloc(cnt + 1, sizeof *l->lines);
    l->types = calloc(cnt + 1, 1);
    l->plain = calloc(cnt + 1, 1);
    if (!l->values || !l->lines || !l->types || !l->plain)
        return PROTEIN_ENOMEM;
    for (i = 0; i < cnt; i++) {
        yaml_node_t *item = node_at(c, v->data.sequence.items.start[i]);
        int bad;
        if (!(l->values[i] =
                  typed_value(c, item, path, owned, &l->types[i], &bad)))
            return bad ? PROTEIN_ECONFIG : PROTEIN_ENOMEM;
        l->lines[i] = line_of(item);
        l->plain[i] = item->type == YAML_SCALAR_NODE &&
                      item->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    *count = cnt;
    return 0;
}

/* Reads one parameter spec mapping (not a group) and adds it. */
static int parse_spec(yaml_ctx *c, yaml_node_t *n, const char *name,
                      const char *key, int line)
{
    static const char *const known[] = {"distribution",
                                        "min",
                                        "max",
                                        "scale",
                                        "integer",
                                        "default",
                                        "value",
                                        "values",
                                        "probabilities",
                                        "mu",
                                        "sigma",
                                        "a",
                                        "b",
                                        "q",
                                        "parameters",
                                        NULL};
    static const char *const field_names[] = {
        "distribution", "min",   "max", "scale", "integer", "default",
        "mu",           "sigma", "a",   "b",     "q",       NULL};
    protein_param_spec s;
    protein_spec_field *fields[11];
    yaml_node_pair_t *p;
    const char **probs = NULL;
    value_lists lists = {0};
    int rc;
    spec_strings owned = {0};
    char path[192];
    size_t f;

    memset(&s, 0, sizeof s);
    fields[0] = &s.distribution;
    fields[1] = &s.min;
    fields[2] = &s.max;
    fields[3] = &s.scale;
    fields[4] = &s.integer;
    fields[5] = &s.def;
    fields[6] = &s.mu;
    fields[7] = &s.sigma;
    fields[8] = &s.a;
    fields[9] = &s.b;
    fields[10] = &s.q;
    s.name = name;
    s.key = key;
    s.line = line;
    s.def_key = "default";
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *v = node_at(c, p->value);
        const char *k = pair_key(c, p);
        protein_config_key(path, sizeof path, key, k);
        for (f = 0; field_names[f] && strcmp(field_names[f], k) != 0; f++)
            continue;
        if (field_names[f]) {
            if (spec_field(c, v, path, fields[f])) {
                rc = PROTEIN_ECONFIG;
                goto fail;
            }
        } else if (strcmp(k, "value") == 0) {
            int bad;
            rc = PROTEIN_ENOMEM;
            if (!lists.types && !(lists.types = calloc(1, 1)))
                goto fail;
            s.value.text = typed_value(c, v, path, &owned, &s.value_type, &bad);
            s.value.line = line_of(v);
            if (!s.value.text) {
                rc = bad ? PROTEIN_ECONFIG : PROTEIN_ENOMEM;
                goto fail;
            }
        } else if (strcmp(k, "values") == 0) {
            rc = parse_values(c, v, path, &owned, &lists, &s.n_values);
            if (rc)
                goto fail;
            s.has_values = 1;
            s.values_line = line_of(v);
            s.values = lists.values;
            s.value_lines = lists.lines;
            s.value_plain = lists.plain;
        } else if (strcmp(k, "probabilities") == 0) {
            free(probs);
            probs = NULL;
            rc = scalar_list(c, v, path, &probs, &s.n_probabilities);
            if (rc)
                goto fail;
            s.has_probabilities = 1;
            s.probabilities_line = line_of(v);
            s.probabilities = probs;
        } else if (strcmp(k, "parameters") == 0) {
            rc = protein_config_error(c->err, c->file,
                                      line_of(node_at(c, p->key)), path,
                                      "a group (parameters:) cannot have other "
                                      "keys; move them into a parameter");
            goto fail;
        } else {
            rc = unknown_key(c, node_at(c, p->key), key, known);
            goto fail;
        }
    }
    s.value_types = lists.types;
    rc = protein_config_add_param(c->cfg, c->file, &s, c->err);
fail:
    value_lists_free(&lists);
    free(probs);
    keep_free(&owned);
    return rc;
}

/* The value node of key in mapping map, or NULL when map has no such key. */
static yaml_node_t *find_key(yaml_ctx *c, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p;

    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++)
        if (strcmp(pair_key(c, p), key) == 0)
            return node_at(c, p->value);
    return NULL;
}

/* Reads a parameters: mapping; nested groups become "prefix/name". */
static int parse_params(yaml_ctx *c, yaml_node_t *n, const char *prefix,
                        const char *key, int depth)
{
    yaml_node_pair_t *p;
    char name[PROTEIN_PARAM_NAME_MAX + 2], path[192], gpath[192];
    int rc;

    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
        return protein_config_error(c->err, c->file, line_of(n), key,
                                    "no parameters to sweep; add at least one");
    if (mapping(c, n, key, "a mapping from parameter names to specs"))
        return PROTEIN_ECONFIG;
    if (n->data.mapping.pairs.top == n->data.mapping.pairs.start)
        return protein_config_error(c->err, c->file, line_of(n), key,
                                    "no parameters to sweep; add at least one");
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(c, p->key), *v = node_at(c, p->value);
        const char *k = pair_key(c, p);
        yaml_node_t *group;
        int len = snprintf(name, sizeof name, "%s%s%s", prefix,
                           *prefix ? "/" : "", k);
        protein_config_key(path, sizeof path, key, k);
        if (len < 0 || (size_t)len >= sizeof name || !*k)
            return protein_config_error(
                c->err, c->file, line_of(kn), path,
                "parameter name '%s%s%s' is invalid; use 1 to %d characters",
                prefix, *prefix ? "/" : "", k, PROTEIN_PARAM_NAME_MAX);
        if (mapping(c, v, path,
                    "a parameter spec (distribution/min/max, values or value)"))
            return PROTEIN_ECONFIG;
        group = find_key(c, v, "parameters");
        if (group &&
            v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1) {
            if (depth >= MAX_GROUP_DEPTH)
                return protein_config_error(
                    c->err, c->file, line_of(kn), path,
                    "parameter groups nest deeper than %d levels; flatten them",
                    MAX_GROUP_DEPTH);
            protein_config_key(gpath, sizeof gpath, path, "parameters");
            rc = parse_params(c, group, name, gpath, depth + 1);
        } else {
            size_t before = c->cfg->n_params;
            rc = parse_spec(c, v, name, path, line_of(kn));
            if (!rc && c->cfg->n_params == before + 1)
                c->cfg->params[before].group_len =
                    *prefix ? strlen(prefix) + 1 : 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ top level */

/* 1 when s ends with suffix, in any case. */
static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* An unknown top-level key, with advice for the W&B keys protein does
 * not take. */
static int top_unknown_key(yaml_ctx *c, yaml_node_t *kn,
                           const char *const *known)
{
    static const char *const launch[] = {"job",        "scheduler", "image_uri",
                                         "apiVersion", "kind",      NULL};
    const char *k = (const char *)kn->data.scalar.value;

    if (protein_in_list(k, launch))
        return protein_config_error(
            c->err, c->file, line_of(kn), k,
            "%s belongs to W&B Launch sweeps, which need W&B's servers; give "
            "program: (and command:) instead",
            k);
    if (strcmp(k, "metrics") == 0)
        return protein_config_error(
            c->err, c->file, line_of(kn), k,
            "W&B's multi-objective metrics (method: custom) is not supported; "
            "give one metric: and its cost as cost:");
    return unknown_key(c, kn, "", known);
}

/* A top-level string setting (program, description, project, entity)
 * into *dst. */
static int string_setting(yaml_ctx *c, yaml_node_t *n, const char *key,
                          char **dst)
{
    const char *s;

    if (scalar(c, n, key, "a single value", &s))
        return PROTEIN_ECONFIG;
    return protein_config_set_string(dst, s);
}

/* W&B's command: a list of arguments and macros. */
static int parse_command(yaml_ctx *c, yaml_node_t *n)
{
    protein_sweep_config *cfg = c->cfg;
    size_t i, cnt;

    if (n->type != YAML_SEQUENCE_NODE)
        return protein_config_error(
            c->err, c->file, line_of(n), "command",
            "expected a list of arguments such as [${env}, ${interpreter}, "
            "${program}, ${args}], found %s",
            kind_name(n));
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0)
        return protein_config_error(c->err, c->file, line_of(n), "command",
                                    "the command is empty; remove command: to "
                                    "run W&B's default, or list arguments");
    cfg->command = calloc(cnt + 1, sizeof *cfg->command);
    if (!cfg->command)
        return PROTEIN_ENOMEM;
    for (i = 0; i < cnt; i++) {
        const char *arg;
        if (scalar(c, node_at(c, n->data.sequence.items.start[i]), "command",
                   "an argument", &arg))
            return PROTEIN_ECONFIG;
        if (!(cfg->command[i] = strdup(arg)))
            return PROTEIN_ENOMEM;
        cfg->n_command = i + 1;
    }
    return 0;
}

/* W&B's early_terminate: {type: hyperband, min_iter | max_iter and s,
 * eta, strict}. */
static int parse_early_terminate(yaml_ctx *c, yaml_node_t *n)
{
    static const char *const keys[] = {"type", "min_iter", "max_iter", "s",
                                       "eta",  "strict",   NULL};
    protein_hyperband *h = &c->cfg->hyperband;
    yaml_node_pair_t *p;
    char key[64];
    const char *v;
    long long iv;
    double dv;
    int type = 0, has_s = 0;

    if (mapping(c, n, "early_terminate", "a mapping {type: hyperband, ...}"))
        return PROTEIN_ECONFIG;
    memset(h, 0, sizeof *h);
    h->eta = 3;
    h->strict = 1;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = pair_key(c, p);
        yaml_node_t *vn = node_at(c, p->value);
        protein_config_key(key, sizeof key, "early_terminate", k);
        if (!protein_in_list(k, keys))
            return unknown_key(c, node_at(c, p->key), "early_terminate", keys);
        if (scalar(c, vn, key, "a single value", &v))
            return PROTEIN_ECONFIG;
        if (strcmp(k, "type") == 0) {
            if (strcmp(v, "hyperband") != 0)
                return protein_config_error(c->err, c->file, line_of(vn), key,
                                            "unknown type '%s'; W&B's only "
                                            "early_terminate type is hyperband",
                                            v);
            type = 1;
        } else if (strcmp(k, "strict") == 0) {
            if (protein_parse_bool(v, &h->strict) != 0)
                return protein_config_error(
                    c->err, c->file, line_of(vn), key,
                    "'%s' is not a boolean; write true or false", v);
        } else if (strcmp(k, "eta") == 0) {
            if (protein_parse_number(v, &dv) != 0 || !(dv > 1))
                return protein_config_error(
                    c->err, c->file, line_of(vn), key,
                    "'%s' is not valid; eta is a number > 1", v);
            h->eta = dv;
        } else {
            if (protein_parse_integer(v, &iv) != 0 || iv < 1 || iv > 1000000000)
                return protein_config_error(
                    c->err, c->file, line_of(vn), key,
                    "'%s' is not valid; write a whole number >= 1", v);
            if (strcmp(k, "min_iter") == 0)
                h->min_iter = (long)iv;
            else if (strcmp(k, "max_iter") == 0)
                h->max_iter = (long)iv;
            else {
                h->s = (int)iv;
                has_s = 1;
            }
        }
    }
    if (!type)
        return protein_config_error(c->err, c->file, line_of(n),
                                    "early_terminate",
                                    "type is missing; write type: hyperband");
    if (!h->min_iter && !(h->max_iter && has_s))
        return protein_config_error(
            c->err, c->file, line_of(n), "early_terminate",
            "hyperband needs min_iter, or max_iter and s (W&B's rule)");
    /* wandb/sweeps' hyperband_stopping.py reads max_iter first: with it,
     * min_iter is unused, and a missing s fails W&B's controller */
    if (h->max_iter && !has_s)
        return protein_config_error(
            c->err, c->file, line_of(n), "early_terminate",
            "max_iter without s: W&B's hyperband reads max_iter and s "
            "before min_iter and fails without s; give s, or remove "
            "max_iter to use min_iter");
    if (h->max_iter)
        h->min_iter = 0;
    h->enabled = 1;
    return 0;
}

/* metric: {name, goal, target, impute, impute_while_running,
 * distribution}. */
static int parse_metric(yaml_ctx *c, yaml_node_t *n)
{
    static const char *const keys[] = {
        "name",         "goal", "target", "impute", "impute_while_running",
        "distribution", NULL};
    yaml_node_pair_t *p;
    char key[64];
    int rc;

    if (mapping(c, n, "metric", "a mapping {name: ..., goal: ...}"))
        return PROTEIN_ECONFIG;
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = pair_key(c, p);
        yaml_node_t *vn = node_at(c, p->value);
        protein_config_key(key, sizeof key, "metric", k);
        if (!protein_in_list(k, keys))
            return unknown_key(c, node_at(c, p->key), "metric", keys);
        if (strncmp(k, "impute", 6) == 0) {
            rc = protein_config_warn(
                c->cfg,
                "%s:%d: %s: ignored: a failed trial is kept out of the score "
                "model (it is not given an imputed score)",
                c->file ? c->file : "", line_of(vn), key);
        } else {
            rc = option(c, vn,
                        strcmp(k, "name") == 0           ? "metric"
                        : strcmp(k, "distribution") == 0 ? "metric_distribution"
                                                         : k,
                        key);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* The sweep name: a W&B display name that is no valid sweep name ("First
 * Sweep") becomes one, with a note. */
static int parse_name(yaml_ctx *c, yaml_node_t *n)
{
    char slug[PROTEIN_SWEEP_NAME_MAX + 1];
    const char *s;

    if (scalar(c, n, "name", "a single value", &s))
        return PROTEIN_ECONFIG;
    if (!protein_sweep_name_valid(s) && *s &&
        protein_slug_name(s, slug, sizeof slug)) {
        if (protein_config_warn(c->cfg,
                                "%s:%d: name: '%s' is used as '%s' (a sweep "
                                "name is A-Z a-z 0-9 . _ -)",
                                c->file ? c->file : "", line_of(n), s, slug))
            return PROTEIN_ENOMEM;
        s = slug;
    }
    return protein_config_set_option(c->cfg, "name", s, c->file, line_of(n),
                                     "name", c->err);
}

/* Reads the top-level mapping root into c->cfg: each known key by its
 * parser, an unknown one with advice, the name from the file when none is
 * given, then warns about a W&B program without a metric and a metric named
 * like the cost key, and checks the whole config. 0, or an error code with
 * c->err filled. */
static int parse_top(yaml_ctx *c, yaml_node_t *root)
{
    static const char *const known[] = {"name",
                                        "method",
                                        "metric",
                                        "cost",
                                        "cost_param",
                                        "max_trials",
                                        "max_suggestion_cost",
                                        "seed",
                                        "protein",
                                        "parameters",
                                        "program",
                                        "command",
                                        "description",
                                        "project",
                                        "entity",
                                        "run_cap",
                                        "early_terminate",
                                        "controller",
                                        NULL};
    static const char *const cost_keys[] = {"name", NULL};
    static const char *const cost_opts[] = {"cost", NULL};
    static const char *const knobs[] = {PROTEIN_KNOBS(PROTEIN_KNOB_NAME) NULL};
    protein_sweep_config *cfg = c->cfg;
    yaml_node_pair_t *p;
    yaml_node_t *params = NULL, *metric = NULL;
    int cost_line = 0, has_cost = 0, rc;
    /* run_cap (W&B) and max_trials (protein) are one setting */
    const char *budget_key = NULL;
    int budget_line = 0;

    if (mapping(c, root, "",
                "a mapping of sweep settings (name:, parameters:, ...)"))
        return PROTEIN_ECONFIG;
    cfg->minimize = 1; /* W&B: a metric without a goal is minimized */
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *vn = node_at(c, p->value);
        const char *k = pair_key(c, p);
        /* a warning, not an error: sweeps stored before it still load */
        if ((strcmp(k, "run_cap") == 0 || strcmp(k, "max_trials") == 0) &&
            budget_key &&
            (rc = protein_config_warn(
                 cfg,
                 "%s:%d: %s: %s and %s are one setting, the budget, which %s "
                 "gave on line %d; this one, the last, counts: keep one",
                 c->file ? c->file : "", line_of(vn), k, k, budget_key,
                 budget_key, budget_line)))
            return rc;
        if (strcmp(k, "run_cap") == 0 || strcmp(k, "max_trials") == 0) {
            budget_key = k;
            budget_line = line_of(vn);
        }
        if (strcmp(k, "metric") == 0) {
            metric = vn;
            rc = parse_metric(c, vn);
        } else if (strcmp(k, "cost") == 0) {
            has_cost = 1;
            rc = option_block(c, vn, "cost", "a mapping {name: ...}", cost_keys,
                              cost_opts);
        } else if (strcmp(k, "protein") == 0) {
            rc = option_block(c, vn, "protein", "a mapping of Protein settings",
                              knobs, knobs);
        } else if (strcmp(k, "parameters") == 0) {
            params = vn;
            rc = parse_params(c, vn, "", "parameters", 0);
        } else if (strcmp(k, "name") == 0) {
            rc = parse_name(c, vn);
        } else if (strcmp(k, "program") == 0) {
            rc = string_setting(c, vn, k, &cfg->program);
        } else if (strcmp(k, "description") == 0) {
            rc = string_setting(c, vn, k, &cfg->description);
        } else if (strcmp(k, "project") == 0) {
            rc = string_setting(c, vn, k, &cfg->project);
        } else if (strcmp(k, "entity") == 0) {
            rc = string_setting(c, vn, k, &cfg->entity);
        } else if (strcmp(k, "command") == 0) {
            rc = parse_command(c, vn);
        } else if (strcmp(k, "early_terminate") == 0) {
            rc = parse_early_terminate(c, vn);
        } else if (strcmp(k, "controller") == 0) {
            rc =
                protein_config_warn(cfg,
                                    "%s:%d: controller: ignored: protein is "
                                    "the controller (proteind, or protein run)",
                                    c->file ? c->file : "", line_of(vn));
        } else if (strcmp(k, "run_cap") == 0) {
            rc = option(c, vn, "max_trials", k);
        } else if (protein_in_list(k, known)) {
            rc = option(c, vn, k, k);
            cost_line = strcmp(k, "cost_param") == 0 ? line_of(vn) : cost_line;
        } else {
            return top_unknown_key(c, node_at(c, p->key), known);
        }
        if (rc)
            return rc;
    }
    /* W&B files often have no name: the file gives one (a JSON sweep file
     * too, which PyYAML and so `wandb sweep` read). Text that comes from no
     * file (a stored config) keeps none; its reader names it. */
    if (c->file &&
        (has_suffix(c->file, ".yaml") || has_suffix(c->file, ".yml") ||
         has_suffix(c->file, ".json"))) {
        rc = protein_config_name_from_file(cfg, c->file, line_of(root), "name",
                                           c->err);
        if (rc)
            return rc;
    }
    if (!params)
        return protein_config_error(
            c->err, c->file, line_of(root), "parameters",
            "no parameters to sweep; add a parameters: mapping");
    /* W&B runs a grid or random sweep without a metric; protein scores
     * every trial, and a W&B program that logs no 'score' fails each one */
    if (!metric && (cfg->program || cfg->n_command > 0) &&
        (rc = protein_config_warn(
             cfg,
             "%s:%d: metric: none given, so each trial's score is the value "
             "its program logs as 'score' (wandb.log({'score': ...})), and a "
             "trial that logs none fails; add metric: {name: KEY, goal: "
             "maximize or minimize}",
             c->file ? c->file : "", line_of(root))))
        return rc;
    /* W&B minimizes a metric without a goal, and so does protein; a
     * `score=` that is higher for better runs would be searched the wrong
     * way without a word */
    if ((metric || !(cfg->program || cfg->n_command > 0)) &&
        !(metric && find_key(c, metric, "goal")) &&
        (rc = protein_config_warn(
             cfg,
             "%s:%d: metric.goal: none given, so '%s' is minimized (W&B's "
             "default); write goal: maximize if higher is better, or goal: "
             "minimize to silence this",
             c->file ? c->file : "", line_of(metric ? metric : root),
             cfg->metric)))
        return rc;
    /* a W&B metric named like protein's default cost key: its value
     * would be each trial's cost too */
    if (metric && !has_cost && strcmp(cfg->metric, cfg->cost_metric) == 0 &&
        (rc = protein_config_warn(
             cfg,
             "%s:%d: metric.name: '%s' is also the key protein reads each "
             "trial's cost from, so the score would be the cost too; add "
             "cost: {name: KEY} with another key (a trial that reports none "
             "costs 1)",
             c->file ? c->file : "", line_of(metric), cfg->metric)))
        return rc;
    return protein_config_check(cfg, c->file, line_of(params), "cost_param",
                                cost_line, c->err);
}

/* The line where more than MAX_FLOW_DEPTH brackets are open, or 0. Brackets
 * inside quotes and comments count too: an over-estimate only refuses
 * inputs that no real sweep config comes near. */
static int too_deep(const char *text, size_t len)
{
    size_t i;
    int depth = 0, line = 1;

    for (i = 0; i < len; i++) {
        if (text[i] == '\n')
            line++;
        else if (text[i] == '[' || text[i] == '{')
            depth++;
        else if ((text[i] == ']' || text[i] == '}') && depth > 0)
            depth--;
        if (depth > MAX_FLOW_DEPTH)
            return line;
    }
    return 0;
}

/* Refuses a second document after the first ("---" twice). */
static int second_document(yaml_ctx *c, yaml_parser_t *parser)
{
    yaml_document_t next;
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_load(parser, &next))
        return parser->error == YAML_MEMORY_ERROR
                   ? PROTEIN_ENOMEM
                   : protein_config_error(
                         c->err, c->file, (int)parser->problem_mark.line + 1,
                         "", "invalid YAML: %s; fix the syntax",
                         parser->problem ? parser->problem : "error");
    root = yaml_document_get_root_node(&next);
    if (root)
        rc = protein_config_error(c->err, c->file,
                                  (int)next.start_mark.line + 1, "",
                                  "a second YAML document starts here; a sweep "
                                  "config holds one document");
    yaml_document_delete(&next);
    return rc;
}

/* Parses YAML text (see protein.h). len bytes of text are read (no NUL
 * needed); filename (may be NULL) names the file in errors and becomes
 * cfg->source. */
int protein_config_parse_yaml(const char *text, size_t len,
                              const char *filename, protein_sweep_config **out,
                              protein_error *err)
{
    yaml_parser_t parser;
    yaml_ctx c;
    yaml_node_t *root;
    int rc, loaded = 0, deep;

    if (!text || !out)
        return PROTEIN_EINVAL;
    memset(&c, 0, sizeof c);
    c.file = filename;
    c.err = err;
    deep = too_deep(text, len);
    if (deep)
        return protein_config_error(
            err, filename, deep, "",
            "brackets nest deeper than %d levels; flatten the config",
            MAX_FLOW_DEPTH);
    if (!yaml_parser_initialize(&parser))
        return PROTEIN_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &c.doc)) {
        rc = parser.error == YAML_MEMORY_ERROR
                 ? PROTEIN_ENOMEM
                 : protein_config_error(
                       err, filename, (int)parser.problem_mark.line + 1, "",
                       "invalid YAML: %s%s%s; fix the syntax",
                       parser.problem ? parser.problem : "error",
                       parser.context ? " " : "",
                       parser.context ? parser.context : "");
        goto fail;
    }
    loaded = 1;
    root = yaml_document_get_root_node(&c.doc);
    if (!root) {
        rc = protein_config_error(
            err, filename, 1, "",
            "the config is empty; it needs name: and parameters:");
        goto fail;
    }
    rc = second_document(&c, &parser);
    if (rc)
        goto fail;
    rc = PROTEIN_ENOMEM;
    if (!(c.cfg = protein_config_new(filename)))
        goto fail;
    rc = parse_top(&c, root);
    if (rc)
        goto fail;
    *out = c.cfg;
    c.cfg = NULL;
fail:
    protein_config_free(c.cfg);
    if (loaded)
        yaml_document_delete(&c.doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Reads path whole (up to 16 MiB) into *buf (NUL-terminated) and *len.
 * PROTEIN_EIO / PROTEIN_ECONFIG with err naming the file. */
static int read_whole(const char *path, char **out, size_t *out_len,
                      protein_error *err)
{
    FILE *fp = NULL;
    char *buf = NULL, *grown;
    size_t len = 0, cap = 0, n;
    int rc = PROTEIN_EIO;

    if (!(fp = fopen(path, "rb")))
        goto io_fail;
    do {
        if (cap - len < 65536) {
            if (cap >= MAX_FILE_BYTES) {
                protein_config_error(err, path, 0, "",
                                     "the file is larger than %d MiB; is it "
                                     "really a sweep config?",
                                     MAX_FILE_BYTES >> 20);
                rc = PROTEIN_ECONFIG;
                goto fail;
            }
            cap = cap ? 2 * cap : 65536;
            if (!(grown = realloc(buf, cap + 1))) {
                rc = PROTEIN_ENOMEM;
                goto fail;
            }
            buf = grown;
        }
        n = fread(buf + len, 1, cap - len, fp);
        len += n;
    } while (n > 0);
    if (ferror(fp))
        goto io_fail;
    buf[len] = '\0';
    fclose(fp);
    *out = buf;
    *out_len = len;
    return PROTEIN_OK;
io_fail:
    if (err) {
        int e = errno;
        protein_config_error(err, path, 0, "", "cannot read the file: %s",
                             strerror(e));
    }
    rc = PROTEIN_EIO;
fail:
    if (fp)
        fclose(fp);
    free(buf);
    return rc;
}

/* The default.ini PufferLib merges an environment's INI over: the first
 * one in the file's directory or the two above it (PufferLib keeps
 * config/default.ini above config/ocean/). NULL when there is none
 * or path is default.ini itself; malloc'ed. */
static char *default_ini(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir, *candidate = NULL;
    int up;

    if (strcmp(slash ? slash + 1 : path, "default.ini") == 0)
        return NULL;
    dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    for (up = 0; dir && up < 3; up++) {
        if (asprintf(&candidate, "%s/default.ini", dir) < 0) {
            candidate = NULL;
            break;
        }
        if (access(candidate, R_OK) == 0)
            break;
        free(candidate);
        candidate = NULL;
        if (asprintf(&candidate, "%s/..", dir) < 0) {
            candidate = NULL;
            break;
        }
        free(dir);
        dir = candidate;
        candidate = NULL;
    }
    free(dir);
    return candidate;
}

/* Reads path and parses it as INI when the name ends in .ini (any case),
 * merged over the default.ini PufferLib would merge it with, else as
 * YAML; see protein.h. */
int protein_config_load_file(const char *path, protein_sweep_config **out,
                             protein_error *err)
{
    char *buf = NULL, *base = NULL, *base_path = NULL;
    size_t len = 0, base_len = 0;
    int rc;

    if (!path || !out)
        return PROTEIN_EINVAL;
    rc = read_whole(path, &buf, &len, err);
    if (rc)
        return rc;
    /* what W&B's Python API users reach for: the sweep is a dict there */
    if (has_suffix(path, ".py")) {
        free(buf);
        return protein_config_error(
            err, path, 1, "",
            "a Python program, not a sweep file: put the sweep (the dict "
            "it gives wandb.sweep) in a YAML file with program: %s, and "
            "have the program call its train function itself when "
            "$WANDB_SWEEP_PARAM_PATH is set (docs/config-reference.md, "
            "Scripts that call wandb.sweep)",
            path);
    }
    if (!has_suffix(path, ".ini")) {
        rc = protein_config_parse_yaml(buf, len, path, out, err);
        free(buf);
        return rc;
    }
    base_path = default_ini(path);
    if (base_path)
        rc = read_whole(base_path, &base, &base_len, err);
    if (rc == PROTEIN_OK)
        rc = protein_config_parse_ini_over(base, base_len, base_path, buf, len,
                                           path, out, err);
    free(base);
    free(base_path);
    free(buf);
    return rc;
}

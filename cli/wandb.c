/*
 * wandb.c - W&B training scripts, unchanged and offline: the sweep
 * config's program/command with the W&B agent's macros, the offline W&B
 * environment a script expects from `wandb agent`, and the sweep metric
 * read back from the run's own .wandb log.
 *
 * The log is read here, not through the wandb package: wandb 0.31 has no
 * Python reader any more (wandb-core reads it). Its format is LevelDB's
 * log format (32 KiB blocks, 7-byte record headers: CRC-32 of type and
 * data, length, type FULL/FIRST/MIDDLE/LAST) after a 7-byte file header
 * ":W&B", 0xBEE1, version 0; each record is a protobuf wandb Record. Only
 * the fields needed are decoded: Record.history (2) and Record.summary (3),
 * their items (1) with key (1), nested_key (2) and value_json (16).
 * `wandb sync` must read every old file, so none of this can change.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define LOG_BLOCK 32768
#define LOG_HEADER 7
#define MAX_LOG_BYTES (1L << 30)

/* ------------------------------------------------------------ .wandb log */

static uint32_t crc32_table[256];

/* Fills the CRC-32 (IEEE) table on first use. */
static void crc32_init(void)
{
    uint32_t c;
    int i, k;

    if (crc32_table[1])
        return;
    for (i = 0; i < 256; i++) {
        c = (uint32_t)i;
        for (k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc32_table[i] = c;
    }
}

/* crc extended over the n bytes at p (the CRC-32 of W&B's log blocks);
 * crc32_init must have run. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* A protobuf reader over [p, end). */
typedef struct pb {
    const unsigned char *p, *end;
} pb;

/* Reads a protobuf varint at b->p into *v and advances past it: 0, or -1
 * when the buffer ends inside it or it is longer than 64 bits. */
static int pb_varint(pb *b, uint64_t *v)
{
    int shift = 0;

    *v = 0;
    while (b->p < b->end && shift < 64) {
        unsigned char c = *b->p++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
        shift += 7;
    }
    return -1;
}

/* Reads the next field: its number, wire type and, for length-delimited
 * fields, the bytes. Other fields are skipped over. 0, or -1 at the end or
 * on malformed input. */
static int pb_next(pb *b, unsigned *field, pb *bytes)
{
    uint64_t key, len;

    for (;;) {
        if (b->p >= b->end || pb_varint(b, &key) < 0)
            return -1;
        *field = (unsigned)(key >> 3);
        switch (key & 7) {
        case 0:
            if (pb_varint(b, &len) < 0)
                return -1;
            continue;
        case 1:
            if (b->end - b->p < 8)
                return -1;
            b->p += 8;
            continue;
        case 5:
            if (b->end - b->p < 4)
                return -1;
            b->p += 4;
            continue;
        case 2:
            if (pb_varint(b, &len) < 0 || len > (uint64_t)(b->end - b->p))
                return -1;
            bytes->p = b->p;
            bytes->end = b->p + len;
            b->p += len;
            return 0;
        default: return -1;
        }
    }
}

/* 1 when the key of a history or summary item (its key, or nested_key
 * joined with '.') is metric. */
static int item_value(pb item, const char *metric, double *value)
{
    char key[256] = "", json[64];
    size_t klen = 0, mlen = strlen(metric);
    unsigned field;
    pb f;
    int has_value = 0;
    char *end;

    while (pb_next(&item, &field, &f) == 0) {
        size_t n = (size_t)(f.end - f.p);
        if (field == 1 || field == 2) {
            if (klen + n + 1 >= sizeof key)
                return 0;
            if (field == 2 && klen > 0)
                key[klen++] = '.';
            memcpy(key + klen, f.p, n);
            klen += n;
            key[klen] = '\0';
        } else if (field == 16 && n < sizeof json) {
            memcpy(json, f.p, n);
            json[n] = '\0';
            errno = 0;
            *value = strtod(json, &end);
            has_value =
                end != json && *end == '\0' && errno == 0 && isfinite(*value);
        }
    }
    return has_value && klen == mlen && memcmp(key, metric, mlen) == 0;
}

/* Contract in cli.h. */
void cli_wandb_take_record(const unsigned char *data, size_t len,
                           const char *metric, cli_wandb_metric *out)
{
    pb rec = {data, data + len}, sub, item;
    unsigned field, ifield;
    double v = 0;

    while (pb_next(&rec, &field, &sub) == 0) {
        if (field != 2 && field != 3)
            continue;
        while (pb_next(&sub, &ifield, &item) == 0) {
            if (ifield != 1 || !item_value(item, metric, &v))
                continue;
            if (field == 3) {
                out->has_summary = 1;
                out->summary = v;
            } else if (out->n_history < CLI_WANDB_MAX_HISTORY) {
                double *g =
                    realloc(out->history, (out->n_history + 1) * sizeof(*g));
                if (!g)
                    continue;
                out->history = g;
                out->history[out->n_history++] = v;
            }
        }
    }
}

/* Walks the records of a whole .wandb file in buf. A torn record at the
 * end (the run is still writing) ends the walk quietly. */
static int scan_log(const unsigned char *buf, size_t len, const char *metric,
                    cli_wandb_metric *out)
{
    unsigned char *rec = NULL, *grown;
    size_t off = LOG_HEADER, rec_len = 0;

    if (len < LOG_HEADER || memcmp(buf, ":W&B", 4) != 0 || buf[4] != 0xe1 ||
        buf[5] != 0xbe)
        return -1;
    crc32_init();
    while (off + LOG_HEADER <= len) {
        size_t left = LOG_BLOCK - off % LOG_BLOCK, n;
        uint32_t crc;
        unsigned char type;

        if (left < LOG_HEADER) {
            off += left; /* the block's zero padding */
            continue;
        }
        crc = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 |
              (uint32_t)buf[off + 2] << 16 | (uint32_t)buf[off + 3] << 24;
        n = (size_t)buf[off + 4] | (size_t)buf[off + 5] << 8;
        type = buf[off + 6];
        if (off + LOG_HEADER + n > len || n > left - LOG_HEADER)
            break;
        if (crc32_update(crc32_update(0, &type, 1), buf + off + LOG_HEADER,
                         n) != crc)
            break;
        if (type == 1 || type == 2)
            rec_len = 0;
        grown = realloc(rec, rec_len + n + 1);
        if (!grown) {
            free(rec);
            return -1;
        }
        rec = grown;
        memcpy(rec + rec_len, buf + off + LOG_HEADER, n);
        rec_len += n;
        if (type == 1 || type == 4)
            cli_wandb_take_record(rec, rec_len, metric, out);
        off += LOG_HEADER + n;
    }
    free(rec);
    return 0;
}

/* Contract in cli.h. */
int cli_wandb_read_log(const char *path, const char *metric,
                       cli_wandb_metric *out)
{
    unsigned char *buf = NULL;
    struct stat st;
    size_t len = 0;
    ssize_t n;
    int fd, rc = -1;

    cli_wandb_metric_free(out);
    /* O_NONBLOCK: a FIFO planted under the run's name must not hang the
     * open; it is then no regular file and refused */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size > MAX_LOG_BYTES)
        goto done;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        goto done;
    while (len < (size_t)st.st_size &&
           (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)n;
    rc = scan_log(buf, len, metric, out);
done:
    free(buf);
    close(fd);
    return rc;
}

/* Contract in cli.h. */
int cli_wandb_find_log(const char *wandb_dir, const char *run_id, char **path)
{
    char suffix[160], *found = NULL, *run_dir;
    struct dirent *e;
    struct stat st;
    DIR *d;
    size_t sl, nl;

    *path = NULL;
    snprintf(suffix, sizeof(suffix), "-%s", run_id);
    sl = strlen(suffix);
    d = opendir(wandb_dir);
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        nl = strlen(e->d_name);
        if (strncmp(e->d_name, "offline-run-", 12) != 0 || nl <= sl ||
            strcmp(e->d_name + nl - sl, suffix) != 0)
            continue;
        /* the program's own run: a directory of this user's, not one
         * that another user planted in a shared directory */
        if (asprintf(&run_dir, "%s/%s", wandb_dir, e->d_name) < 0)
            continue;
        if (lstat(run_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid()) {
            free(found);
            if (asprintf(&found, "%s/run-%s.wandb", run_dir, run_id) < 0)
                found = NULL;
        }
        free(run_dir);
    }
    closedir(d);
    if (!found)
        return -1;
    *path = found;
    return 0;
}

/* ------------------------------------------------------------ values */

/* A growing string. */
typedef struct buf {
    char *s;
    size_t n, cap;
    int failed;
} buf;

/* Appends the n bytes at s to b, keeping it NUL-terminated; out of memory
 * sets b->failed, and every later put is a no-op. */
static void put(buf *b, const char *s, size_t n)
{
    char *g;

    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        g = realloc(b->s, cap);
        if (!g) {
            b->failed = 1;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

/* Appends the string s; see put. */
static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* How a value is written: Python's repr (str() for ${args}), json.dumps,
 * or YAML 1.1 as PyYAML reads it. */
typedef enum style { PYREPR, JSONDUMPS, YAML11 } style;

/* Python's repr of a float: the shortest digits that read back, in
 * exponent form below 1e-4 or from 1e16 on ("1e-05", "1.5e+16"), else
 * fixed with at least one decimal ("3.0"). YAML11: a mantissa always with
 * '.', as PyYAML needs to read it as a float ("1.0e-05"), and .inf, .nan;
 * JSONDUMPS: Infinity and NaN, as json.dumps writes them. */
static void put_float(buf *b, double v, style st)
{
    static const char *const words[][3] = {{"nan", "NaN", ".nan"},
                                           {"inf", "Infinity", ".inf"},
                                           {"-inf", "-Infinity", "-.inf"}};
    char digits[40], out[64], *e;
    int prec, exp10, len, yaml11 = st == YAML11;

    if (isnan(v) || isinf(v)) {
        puts_(b, words[isnan(v) ? 0 : v > 0 ? 1 : 2][st]);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof(digits), "%.*e", prec - 1, v);
        if (strtod(digits, NULL) == v)
            break;
    }
    e = strchr(digits, 'e');
    exp10 = atoi(e + 1);
    *e = '\0';
    if (exp10 < -4 || exp10 >= 16) {
        len = snprintf(out, sizeof(out), "%s%se%c%02d", digits,
                       yaml11 && !strchr(digits, '.') ? ".0" : "",
                       exp10 < 0 ? '-' : '+', abs(exp10));
    } else {
        int decimals = prec - 1 - exp10;
        len =
            snprintf(out, sizeof(out), "%.*f", decimals > 0 ? decimals : 1, v);
    }
    put(b, out, (size_t)len);
}

/* The code point of the UTF-8 sequence at s (n bytes left) and its
 * length; an invalid byte stands for itself. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1, i;

    *cp = len == 1 ? s[0] : s[0] & (0x3f >> (len - 1));
    if (len > n)
        len = 1;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = s[0];
            return 1;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return len;
}

/* A str as Python's repr writes it (json: as json.dumps writes it, ASCII
 * only, other code points as \uXXXX and surrogate pairs). repr uses single
 * quotes unless the text holds one and no double quote. */
static void put_quoted(buf *b, const char *str, size_t n, int json)
{
    const unsigned char *s = (const unsigned char *)str;
    char q = json ? '"' : memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    char esc[32];
    size_t i = 0, len;
    unsigned long cp;

    put(b, &q, 1);
    while (i < n) {
        unsigned char c = s[i];
        len = 1;
        if (c == '\\' || c == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            puts_(b, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            if (json)
                snprintf(esc, sizeof(esc), "\\u%04x", c);
            else
                snprintf(esc, sizeof(esc), "\\x%02x", c);
            puts_(b, esc);
        } else if (c >= 0x80 && json) {
            len = utf8_decode(s + i, n - i, &cp);
            if (cp > 0xffff)
                snprintf(esc, sizeof(esc), "\\u%04lx\\u%04lx",
                         0xd800 + ((cp - 0x10000) >> 10),
                         0xdc00 + ((cp - 0x10000) & 0x3ff));
            else
                snprintf(esc, sizeof(esc), "\\u%04lx", cp);
            puts_(b, esc);
        } else {
            put(b, (const char *)s + i, 1);
        }
        i += len;
    }
    put(b, &q, 1);
}

/* Appends the n bytes at s as Python's repr writes them. */
static void put_pystr(buf *b, const char *s, size_t n)
{
    put_quoted(b, s, n, 0);
}

/* Appends the n bytes at s as json.dumps writes them. */
static void put_jsonstr(buf *b, const char *s, size_t n)
{
    put_quoted(b, s, n, 1);
}

/* Decodes a JSON string literal at *p (our own JSON: escapes \" \\ \/ \b
 * \f \n \r \t and \u00XX) into out; advances *p. */
static int json_string(const char **p, buf *out)
{
    const char *s = *p + 1;

    while (*s && *s != '"') {
        if (*s == '\\' && s[1]) {
            char c = s[1];
            s += 2;
            switch (c) {
            case 'n': put(out, "\n", 1); break;
            case 't': put(out, "\t", 1); break;
            case 'r': put(out, "\r", 1); break;
            case 'b': put(out, "\b", 1); break;
            case 'f': put(out, "\f", 1); break;
            case 'u': {
                char hex[5] = {0};
                unsigned long cp;
                if (strlen(s) < 4)
                    return -1;
                memcpy(hex, s, 4);
                cp = strtoul(hex, NULL, 16);
                s += 4;
                if (cp < 0x80) {
                    char ch = (char)cp;
                    put(out, &ch, 1);
                } else {
                    char u[3];
                    if (cp >= 0x800)
                        return -1;
                    u[0] = (char)(0xc0 | (cp >> 6));
                    u[1] = (char)(0x80 | (cp & 0x3f));
                    put(out, u, 2);
                }
                break;
            }
            default: put(out, &c, 1); break;
            }
        } else {
            put(out, s++, 1);
        }
    }
    if (*s != '"')
        return -1;
    *p = s + 1;
    return 0;
}

/* Advances *p past white space. */
static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* Rewrites the JSON value at *p in style st; advances *p. */
static int convert(const char **p, style st, buf *b, int depth)
{
    skip_ws(p);
    if (depth > 64)
        return -1;
    if (**p == '[' || **p == '{') {
        char close = **p == '[' ? ']' : '}';
        int first = 1;
        put(b, *p, 1);
        (*p)++;
        for (;;) {
            skip_ws(p);
            if (**p == close) {
                (*p)++;
                put(b, &close, 1);
                return 0;
            }
            if (!first) {
                if (**p != ',')
                    return -1;
                (*p)++;
                puts_(b, ", ");
            }
            first = 0;
            if (close == '}') {
                buf key = {0};
                skip_ws(p);
                if (**p != '"' || json_string(p, &key) < 0) {
                    free(key.s);
                    return -1;
                }
                if (st == PYREPR)
                    put_pystr(b, key.s ? key.s : "", key.n);
                else
                    put_jsonstr(b, key.s ? key.s : "", key.n);
                free(key.s);
                skip_ws(p);
                if (**p != ':')
                    return -1;
                (*p)++;
                puts_(b, ": ");
            }
            if (convert(p, st, b, depth + 1) < 0)
                return -1;
        }
    }
    if (**p == '"') {
        buf s = {0};
        int rc = json_string(p, &s);
        if (rc == 0) {
            if (st == PYREPR)
                put_pystr(b, s.s ? s.s : "", s.n);
            else
                put_jsonstr(b, s.s ? s.s : "", s.n);
        }
        free(s.s);
        return rc;
    }
    if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0 ||
        strncmp(*p, "null", 4) == 0) {
        const char *word = **p == 't' ? "true" : **p == 'f' ? "false" : "null";
        *p += strlen(word);
        if (st == PYREPR)
            puts_(b, word[0] == 't'   ? "True"
                     : word[0] == 'f' ? "False"
                                      : "None");
        else
            puts_(b, word);
        return 0;
    }
    {
        char *end;
        const char *start = *p;
        double v = strtod(start, &end);
        if (end == start)
            return -1;
        *p = end;
        if (strcspn(start, ".eE") >= (size_t)(end - start) && fabs(v) < 9.2e18)
            put(b, start, (size_t)(end - start));
        else
            put_float(b, v, st);
        return 0;
    }
}

/* Writes one parameter value in style st (str() of it for ${args} when
 * top is set and it is a string). */
static int put_param(buf *b, const pq_param *q, style st, int top)
{
    char num[32];

    if (q->is_string && q->is_json) {
        const char *p = q->text;
        return convert(&p, st, b, 0);
    }
    if (q->is_string) {
        const char *t = q->text ? q->text : "";
        if (top && st == PYREPR)
            puts_(b, t);
        else if (st == PYREPR)
            put_pystr(b, t, strlen(t));
        else
            put_jsonstr(b, t, strlen(t));
        return 0;
    }
    if (q->is_integer) {
        snprintf(num, sizeof(num), "%.0f", q->number);
        puts_(b, num);
        return 0;
    }
    put_float(b, q->number, st);
    return 0;
}

/* ------------------------------------------------------------ nesting */

/* W&B nested parameters (a parameter with parameters:) reach the script as
 * one dict per top-level name; protein names their leaves "outer/inner".
 * A node of that tree: a leaf parameter, or a group of children. */
typedef struct node {
    char *name;
    const pq_param *leaf;
    struct node *kids;
    size_t n_kids;
} node;

/* Frees what n holds, its children's too; n itself is the caller's. */
static void node_free(node *n)
{
    size_t i;

    for (i = 0; i < n->n_kids; i++)
        node_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
}

/* The child of n named by the len bytes at name, added (with no children)
 * when n has none so named. NULL out of memory. */
static node *node_child(node *n, const char *name, size_t len)
{
    node *g;
    size_t i;

    for (i = 0; i < n->n_kids; i++)
        if (strlen(n->kids[i].name) == len &&
            memcmp(n->kids[i].name, name, len) == 0)
            return &n->kids[i];
    g = realloc(n->kids, (n->n_kids + 1) * sizeof(*g));
    if (!g)
        return NULL;
    n->kids = g;
    g = &n->kids[n->n_kids];
    memset(g, 0, sizeof(*g));
    g->name = strndup(name, len);
    if (!g->name)
        return NULL;
    n->n_kids++;
    return g;
}

/* The trial's parameters as W&B nests them: the leaves of a parameters:
 * group under the group's name; a '/' in a parameter's own name (past its
 * group prefix, cfg's group_len) stays in the name, as W&B keeps it. A
 * name cfg does not know nests at every '/'. */
static int build_tree(const protein_sweep_config *cfg, const pq_params *params,
                      node *root)
{
    size_t i;

    memset(root, 0, sizeof(*root));
    for (i = 0; i < params->n; i++) {
        const char *name = params->items[i].name, *slash, *leaf = name;
        int k = protein_config_find_param(cfg, name);
        node *at = root;

        if (k >= 0)
            leaf = name + cfg->params[k].group_len;
        else if ((slash = strrchr(name, '/')) != NULL)
            leaf = slash + 1;
        while ((slash = strchr(name, '/')) != NULL && slash < leaf) {
            if (!(at = node_child(at, name, (size_t)(slash - name))))
                return -1;
            name = slash + 1;
        }
        if (!(at = node_child(at, name, strlen(name))))
            return -1;
        at->leaf = &params->items[i];
    }
    return 0;
}

/* Writes node n's value: its leaf, or a dict of its children. */
static int put_node(buf *b, const node *n, style st, int top)
{
    size_t i;

    if (n->leaf && n->n_kids == 0)
        return put_param(b, n->leaf, st, top);
    put(b, "{", 1);
    for (i = 0; i < n->n_kids; i++) {
        if (i)
            puts_(b, ", ");
        if (st == PYREPR)
            put_pystr(b, n->kids[i].name, strlen(n->kids[i].name));
        else
            put_jsonstr(b, n->kids[i].name, strlen(n->kids[i].name));
        puts_(b, ": ");
        if (put_node(b, &n->kids[i], st, 0) < 0)
            return -1;
    }
    put(b, "}", 1);
    return 0;
}

/* ------------------------------------------------------------ command */

/* Appends a copy of s to the NULL-terminated array *argv of *n strings. 0,
 * or -1 out of memory (*argv stays valid and the caller's to free). */
static int argv_add(char ***argv, size_t *n, const char *s)
{
    char **g = realloc(*argv, (*n + 2) * sizeof(**argv));

    if (!g)
        return -1;
    *argv = g;
    if (!(g[*n] = strdup(s)))
        return -1;
    g[++*n] = NULL;
    return 0;
}

/* The macros a command: item can be whole, ${NAME}: W&B's agent's, and
 * ${project} and ${entity}, which protein adds. */
static const char *const macros[] = {"env",
                                     "interpreter",
                                     "program",
                                     "project",
                                     "entity",
                                     "args",
                                     "args_no_hyphens",
                                     "args_no_boolean_flags",
                                     "args_no_equals",
                                     "args_append_hydra",
                                     "args_override_hydra",
                                     "args_json",
                                     "args_json_file"};

/* 1 when item is one macro whole, ${NAME} (not ${envvar:NAME}, which is
 * replaced inside any item), with NAME in name (cut to len - 1); else 0. */
static int macro_item(const char *item, char *name, size_t len)
{
    size_t il = strlen(item);

    if (il <= 3 || item[0] != '$' || item[1] != '{' || item[il - 1] != '}' ||
        strncmp(item, "${envvar:", 9) == 0)
        return 0;
    snprintf(name, len, "%.*s", (int)(il - 3), item + 2);
    return 1;
}

/* 1 when name (without ${}) is one of macros. */
static int known_macro(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(macros) / sizeof(*macros); i++)
        if (strcmp(name, macros[i]) == 0)
            return 1;
    return 0;
}

/* Contract in cli.h. */
int cli_wandb_dropped_macro(const char *item)
{
    char name[64];

    return macro_item(item, name, sizeof(name)) && !known_macro(name);
}

/* Appends the arguments of macro `name` (without ${}); 0 when name is a
 * macro, 1 when it is not, -1 on failure. */
static int expand(const char *name, const cli_wandb_job *job, const node *tree,
                  char ***argv, size_t *n)
{
    const protein_sweep_config *cfg = job->cfg;
    size_t i;
    int rc = 0;

    if (!known_macro(name))
        return 1;
    if (strcmp(name, "env") == 0)
        return argv_add(argv, n, "/usr/bin/env");
    if (strcmp(name, "interpreter") == 0)
        return argv_add(argv, n, "python");
    if (strcmp(name, "program") == 0)
        return cfg->program ? argv_add(argv, n, cfg->program) : 0;
    if (strcmp(name, "project") == 0)
        return cfg->project ? argv_add(argv, n, cfg->project) : 0;
    if (strcmp(name, "entity") == 0)
        return cfg->entity ? argv_add(argv, n, cfg->entity) : 0;
    if (strcmp(name, "args_json_file") == 0)
        return argv_add(argv, n, job->json_path);
    if (strcmp(name, "args_json") == 0) {
        buf b = {0};
        put_node(&b, tree, JSONDUMPS, 0);
        rc = b.failed ? -1 : argv_add(argv, n, b.s ? b.s : "{}");
        free(b.s);
        return rc;
    }
    /* the rest are the args_* macros: one argument per parameter */
    for (i = 0; i < tree->n_kids && rc == 0; i++) {
        const node *k = &tree->kids[i];
        const pq_param *leaf = k->n_kids ? NULL : k->leaf;
        int is_bool = leaf && leaf->is_json && leaf->text &&
                      (strcmp(leaf->text, "true") == 0 ||
                       strcmp(leaf->text, "false") == 0);
        buf b = {0};

        if (strcmp(name, "args_no_boolean_flags") == 0 && is_bool) {
            if (leaf->text[0] == 't') {
                puts_(&b, "--");
                puts_(&b, k->name);
            }
        } else if (strcmp(name, "args_no_equals") == 0) {
            puts_(&b, "--");
            puts_(&b, k->name);
            if (!b.failed && (rc = argv_add(argv, n, b.s)) == 0) {
                b.n = 0;
                put_node(&b, k, PYREPR, 1);
            }
        } else {
            /* Hydra: +name=value appends a key, ++name=value sets it */
            if (strcmp(name, "args_append_hydra") == 0)
                puts_(&b, "+");
            else if (strcmp(name, "args_override_hydra") == 0)
                puts_(&b, "++");
            else if (strcmp(name, "args_no_hyphens") != 0)
                puts_(&b, "--");
            puts_(&b, k->name);
            puts_(&b, "=");
            put_node(&b, k, PYREPR, 1);
        }
        if (b.failed)
            rc = -1;
        else if (rc == 0 && b.n > 0)
            rc = argv_add(argv, n, b.s);
        free(b.s);
    }
    return rc;
}

/* ${envvar:NAME} inside an item: the variable's value, or NAME when unset
 * (as the W&B agent does). */
static char *envvars(const char *item)
{
    buf b = {0};
    const char *p = item, *m;

    while ((m = strstr(p, "${envvar:")) != NULL) {
        const char *name = m + 9, *end = name;
        char var[256];
        const char *val;
        while (isupper((unsigned char)*end) || isdigit((unsigned char)*end) ||
               *end == '_')
            end++;
        put(&b, p, (size_t)(m - p));
        if (*end != '}' || (size_t)(end - name) >= sizeof(var)) {
            put(&b, m, 9);
            p = name;
            continue;
        }
        memcpy(var, name, (size_t)(end - name));
        var[end - name] = '\0';
        val = getenv(var);
        puts_(&b, val ? val : var);
        p = end + 1;
    }
    puts_(&b, p);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s ? b.s : strdup("");
}

static const char *const default_command[] = {"${env}", "${interpreter}",
                                              "${program}", "${args}"};

/* Contract in cli.h. */
int cli_wandb_command(const cli_wandb_job *job, char ***out, char *why,
                      size_t len)
{
    const protein_sweep_config *cfg = job->cfg;
    const char *const *items =
        cfg->command ? (const char *const *)cfg->command : default_command;
    size_t n_items = cfg->command ? cfg->n_command : 4, i, n = 0;
    char **argv = NULL;
    node tree;
    int rc = 0;

    *out = NULL;
    if (!cfg->program && !cfg->command) {
        snprintf(why, len, "the config has no program: or command: to run");
        return -1;
    }
    if (build_tree(job->cfg, job->params, &tree) < 0) {
        node_free(&tree);
        snprintf(why, len, "out of memory");
        return -1;
    }
    for (i = 0; i < n_items && rc >= 0; i++) {
        const char *item = items[i];
        char name[64], *text;
        if (macro_item(item, name, sizeof(name))) {
            rc = expand(name, job, &tree, &argv, &n);
            if (rc == 1)
                rc = 0; /* an unknown macro: W&B drops it */
            continue;
        }
        text = envvars(item);
        rc = text ? argv_add(&argv, &n, text) : -1;
        free(text);
    }
    node_free(&tree);
    if (rc < 0 || n == 0) {
        cli_strv_free(argv);
        snprintf(why, len,
                 rc < 0 ? "out of memory"
                        : "the command: of the config is empty");
        return -1;
    }
    *out = argv;
    return 0;
}

/* Contract in cli.h. */
void cli_strv_free(char **v)
{
    size_t i;

    for (i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ------------------------------------------------------------ files */

/* Contract in cli.h. */
int cli_wandb_write_params(const cli_wandb_job *job, char *why, size_t len)
{
    node tree;
    buf yaml = {0}, json = {0};
    size_t i;
    FILE *fp;
    int rc = -1;

    if (build_tree(job->cfg, job->params, &tree) < 0)
        goto done;
    puts_(&yaml, "wandb_version: 1\n\n");
    for (i = 0; i < tree.n_kids; i++) {
        put_jsonstr(&yaml, tree.kids[i].name, strlen(tree.kids[i].name));
        puts_(&yaml, ":\n  value: ");
        put_node(&yaml, &tree.kids[i], YAML11, 0);
        puts_(&yaml, "\n");
    }
    put_node(&json, &tree, JSONDUMPS, 0);
    if (yaml.failed || json.failed)
        goto done;
    fp = fopen(job->param_path, "w");
    if (!fp || fputs(yaml.s, fp) < 0 || fclose(fp) != 0) {
        snprintf(why, len, "cannot write %s: %s", job->param_path,
                 strerror(errno));
        goto done;
    }
    fp = fopen(job->json_path, "w");
    if (!fp || fputs(json.s ? json.s : "{}", fp) < 0 || fclose(fp) != 0) {
        snprintf(why, len, "cannot write %s: %s", job->json_path,
                 strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (rc < 0 && !why[0])
        snprintf(why, len, "out of memory");
    node_free(&tree);
    free(yaml.s);
    free(json.s);
    return rc;
}

/* Contract in cli.h. */
void cli_wandb_metric_free(cli_wandb_metric *m)
{
    free(m->history);
    memset(m, 0, sizeof(*m));
}

/* Contract in cli.h. */
int cli_wandb_result(const cli_wandb_metric *m, const char *metric,
                     const char *result_path, size_t *reported, int final)
{
    buf b = {0};
    char line[96];
    size_t i;
    int fd, rc = 0;

    for (i = *reported; i < m->n_history; i++) {
        snprintf(line, sizeof(line), "step=%zu\n", i + 1);
        puts_(&b, line);
        puts_(&b, metric);
        puts_(&b, "=");
        put_float(&b, m->history[i], 0);
        puts_(&b, "\n");
    }
    if (final && (m->has_summary || m->n_history > 0)) {
        puts_(&b, metric);
        puts_(&b, "=");
        put_float(
            &b, m->has_summary ? m->summary : m->history[m->n_history - 1], 0);
        puts_(&b, "\n");
    }
    if (b.failed)
        rc = -1;
    else if (b.n > 0) {
        fd = open(result_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write(fd, b.s, b.n) != (ssize_t)b.n)
            rc = -1;
        if (fd >= 0)
            close(fd);
    }
    free(b.s);
    if (rc == 0)
        *reported = m->n_history;
    return rc;
}

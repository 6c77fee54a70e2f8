#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_common.h"

/* PufferLib INI sweeps: a [sweep] section with the sweep settings and one
 * [sweep.SECTION.PARAM] section per parameter, named "SECTION/PARAM".
 * Other sections (the training config itself) are skipped. */

/* [sweep] keys that PufferLib uses and Protein has no use for. */
static const char *const skipped_keys[] = {
    "metric_distribution", "downsample", "use_gpu", "gpus", NULL
};

static const char *const sweep_keys[] = {
    "name", "method", "metric", "goal", "cost", "cost_param", "max_runs",
    "max_trials", "max_suggestion_cost", "seed", "sweep_only",
    "num_random_samples", "suggestions_per_pareto", "expansion_rate",
    "early_stop_quantile", "gp_max_obs", "gp_training_iter", "prune_pareto",
    "metric_distribution", "downsample", "use_gpu", "gpus", NULL
};

static const char *const param_keys[] = {
    "distribution", "min", "max", "scale", "mean", "default", "integer", NULL
};

typedef struct ini_param {
    protein_param_spec spec;
    char *name; /* "train/learning_rate" */
    char *key;  /* "sweep.train.learning_rate" */
} ini_param;

typedef struct ini_ctx {
    const char *file;
    protein_error *err;
    protein_sweep_config *cfg;
    ini_param *params;
    size_t n_params;
    int sweep_line;             /* 0 until [sweep] is seen */
    const char *sweep_only;
    int sweep_only_line;
    int cost_param_line;
    const char *seen[32];       /* keys already set in [sweep] */
    int seen_line[32];
    size_t n_seen;
} ini_ctx;

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int unknown_key(ini_ctx *c, int line, const char *section,
                       const char *k, const char *const *known)
{
    const char *near = protein_closest_word(k, known);
    char key[192];

    protein_config_key(key, sizeof key, section, k);
    if (near)
        return protein_config_error(c->err, c->file, line, key, "unknown key "
                                    "'%s'; did you mean '%s'?", k, near);
    return protein_config_error(c->err, c->file, line, key, "unknown key '%s';"
                                " remove it or check the spelling", k);
}

/* Starts a [sweep.A.B] section. */
static int begin_param(ini_ctx *c, const char *rest, int line)
{
    ini_param *grown, *p;
    size_t i, n = strlen(rest);

    for (i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].key + 6, rest) == 0)
            return protein_config_error(c->err, c->file, line, c->params[i].key,
                                        "section [%s] appears twice (first on "
                                        "line %d); merge them",
                                        c->params[i].key, c->params[i].spec.line);
    if (n == 0 || n > PROTEIN_PARAM_NAME_MAX || rest[0] == '.' ||
        rest[n - 1] == '.' || strstr(rest, ".."))
        return protein_config_error(c->err, c->file, line, "", "section "
                                    "[sweep.%s] does not name a parameter; "
                                    "write [sweep.SECTION.PARAM]", rest);
    if (c->n_params >= PROTEIN_MAX_PARAMS)
        return protein_config_error(c->err, c->file, line, "", "too many "
                                    "parameters (at most %d)",
                                    PROTEIN_MAX_PARAMS);
    grown = realloc(c->params, (c->n_params + 1) * sizeof *grown);
    if (!grown)
        return PROTEIN_ENOMEM;
    c->params = grown;
    p = &c->params[c->n_params];
    memset(p, 0, sizeof *p);
    p->name = strdup(rest);
    p->key = malloc(n + 7);
    if (!p->name || !p->key) {
        free(p->name);
        free(p->key);
        return PROTEIN_ENOMEM;
    }
    memcpy(p->key, "sweep.", 6);
    memcpy(p->key + 6, rest, n + 1);
    for (i = 0; i < n; i++)
        if (p->name[i] == '.')
            p->name[i] = '/';
    p->spec.name = p->name;
    p->spec.key = p->key;
    p->spec.line = line;
    p->spec.def_key = "mean";
    c->n_params++;
    return 0;
}

static int param_key(ini_ctx *c, ini_param *p, const char *k, const char *v,
                     int line)
{
    protein_param_spec *s = &p->spec;
    protein_spec_field *f;
    char key[192];

    if (strcmp(k, "distribution") == 0)
        f = &s->distribution;
    else if (strcmp(k, "min") == 0)
        f = &s->min;
    else if (strcmp(k, "max") == 0)
        f = &s->max;
    else if (strcmp(k, "scale") == 0)
        f = &s->scale;
    else if (strcmp(k, "integer") == 0)
        f = &s->integer;
    else if (strcmp(k, "mean") == 0 || strcmp(k, "default") == 0)
        f = &s->def;
    else
        return unknown_key(c, line, p->key, k, param_keys);
    if (f->text)
        return protein_config_error(c->err, c->file, line,
                                    protein_config_key(key, sizeof key, p->key, k),
                                    "set twice in this section (first on line "
                                    "%d); keep one", f->line);
    if (f == &s->def)
        s->def_key = strcmp(k, "mean") == 0 ? "mean" : "default";
    f->text = v;
    f->line = line;
    return 0;
}

static int sweep_key(ini_ctx *c, const char *k, const char *v, int line)
{
    char key[192];
    size_t i;
    int rc;

    protein_config_key(key, sizeof key, "sweep", k);
    for (i = 0; i < c->n_seen; i++)
        if (strcmp(c->seen[i], k) == 0)
            return protein_config_error(c->err, c->file, line, key, "set twice "
                                        "in [sweep] (first on line %d); keep "
                                        "one", c->seen_line[i]);
    if (c->n_seen < sizeof c->seen / sizeof c->seen[0]) {
        c->seen[c->n_seen] = k;
        c->seen_line[c->n_seen++] = line;
    }
    if (protein_in_list(k, skipped_keys) || strncmp(k, "match_", 6) == 0)
        return 0;
    if (strcmp(k, "sweep_only") == 0) {
        c->sweep_only = v;
        c->sweep_only_line = line;
        return 0;
    }
    if (strcmp(k, "cost_param") == 0)
        c->cost_param_line = line;
    rc = protein_config_set_option(c->cfg, strcmp(k, "max_runs") == 0
                                   ? "max_trials" : k, v, c->file, line, key,
                                   c->err);
    if (rc == PROTEIN_ENOTFOUND || (rc == 0 && !protein_in_list(k, sweep_keys)))
        return unknown_key(c, line, "sweep", k, sweep_keys);
    return rc;
}

/* Strips one pair of matching quotes ('x' or "x"). */
static char *unquote(char *v)
{
    size_t n = strlen(v);

    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

/* Reads every line of buf (modified in place). */
static int read_lines(ini_ctx *c, char *buf)
{
    enum { NONE, SWEEP, PARAM, OTHER } section = NONE;
    char *line = buf, *next;
    int lineno = 0, rc;

    for (; line; line = next) {
        char *s, *sep, *k, *v;
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            size_t n = strlen(s);
            if (s[n - 1] != ']')
                return protein_config_error(c->err, c->file, lineno, "", "a "
                                            "section header must end with ']'");
            s[n - 1] = '\0';
            s = trim(s + 1);
            if (strcmp(s, "sweep") == 0) {
                if (c->sweep_line)
                    return protein_config_error(c->err, c->file, lineno, "sweep",
                                                "section [sweep] appears twice "
                                                "(first on line %d); merge them",
                                                c->sweep_line);
                c->sweep_line = lineno;
                section = SWEEP;
            } else if (strncmp(s, "sweep.", 6) == 0) {
                if ((rc = begin_param(c, s + 6, lineno)))
                    return rc;
                section = PARAM;
            } else {
                section = OTHER;
            }
            continue;
        }
        sep = strpbrk(s, "=:");
        if (!sep)
            return protein_config_error(c->err, c->file, lineno, "", "expected "
                                        "'key = value' or a [section] header");
        *sep = '\0';
        k = trim(s);
        v = unquote(trim(sep + 1));
        for (s = k; *s; s++)
            *s = (char)tolower((unsigned char)*s);
        if (*k == '\0')
            return protein_config_error(c->err, c->file, lineno, "", "a key is "
                                        "missing before '='");
        if (section == NONE)
            return protein_config_error(c->err, c->file, lineno, k, "key "
                                        "outside any section; put it under "
                                        "[sweep] or [sweep.SECTION.PARAM]");
        if (section == SWEEP)
            rc = sweep_key(c, k, v, lineno);
        else if (section == PARAM)
            rc = param_key(c, &c->params[c->n_params - 1], k, v, lineno);
        else
            rc = 0;
        if (rc)
            return rc;
    }
    return 0;
}

/* 1 when name contains one of the comma-separated substrings of list. */
static int sweep_only_match(const char *list, const char *name)
{
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n > 0 && memmem(name, strlen(name), p, n))
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* Sets the name from the file's base name when [sweep] has none. */
static int name_from_file(ini_ctx *c)
{
    const char *base, *dot;
    char name[PROTEIN_NAME_MAX + 2];
    size_t n;

    if (c->cfg->name)
        return 0;
    if (!c->file)
        return protein_config_error(c->err, c->file, c->sweep_line, "sweep.name",
                                    "the sweep has no name; add name = my-sweep"
                                    " to [sweep]");
    base = strrchr(c->file, '/');
    base = base ? base + 1 : c->file;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n > PROTEIN_NAME_MAX)
        n = PROTEIN_NAME_MAX + 1;
    memcpy(name, base, n);
    name[n] = '\0';
    if (!protein_valid_name(name, PROTEIN_NAME_MAX, 0))
        return protein_config_error(c->err, c->file, c->sweep_line, "sweep.name",
                                    "the sweep name taken from the file name "
                                    "('%s') is invalid; add name = my-sweep to "
                                    "[sweep] (1 to %d characters of A-Z a-z 0-9"
                                    " . _ -)", name, PROTEIN_NAME_MAX);
    return protein_config_set_string(&c->cfg->name, name);
}

static int build(ini_ctx *c)
{
    size_t i;
    int rc, cost;

    if (!c->sweep_line)
        return protein_config_error(c->err, c->file, 1, "sweep", "no [sweep] "
                                    "section; this is not a PufferLib sweep "
                                    "config");
    if ((rc = name_from_file(c)))
        return rc;
    for (i = 0; i < c->n_params; i++) {
        if (c->sweep_only && !sweep_only_match(c->sweep_only, c->params[i].name))
            continue;
        rc = protein_config_add_param(c->cfg, c->file, &c->params[i].spec,
                                      c->err);
        if (rc)
            return rc;
    }
    if (c->cfg->n_params == 0 && c->sweep_only)
        return protein_config_error(c->err, c->file, c->sweep_only_line,
                                    "sweep.sweep_only", "'%s' matches no "
                                    "parameter; fix it or remove it",
                                    c->sweep_only);
    if (c->cfg->n_params == 0)
        return protein_config_error(c->err, c->file, c->sweep_line, "sweep",
                                    "no parameters to sweep; add a "
                                    "[sweep.SECTION.PARAM] section");
    cost = protein_config_find_param(c->cfg, "train/total_timesteps");
    if (!c->cfg->cost_param && cost >= 0 &&
        c->cfg->params[cost].kind != PROTEIN_PARAM_CATEGORICAL &&
        c->cfg->params[cost].kind != PROTEIN_PARAM_CONSTANT)
        return protein_config_set_string(&c->cfg->cost_param,
                                         "train/total_timesteps");
    return protein_config_check(c->cfg, c->file, c->sweep_line,
                                "sweep.cost_param", c->cost_param_line, c->err);
}

/* Parses PufferLib INI text (see protein.h). The text may hold anything but
 * NUL bytes; filename (may be NULL) names the file in errors and gives the
 * sweep its name when [sweep] has no name key. */
int protein_config_parse_ini(const char *text, size_t len,
                             const char *filename,
                             protein_sweep_config **out, protein_error *err)
{
    ini_ctx c;
    char *buf = NULL;
    const char *nul;
    size_t i;
    int rc = PROTEIN_ENOMEM;

    if (!text || !out)
        return PROTEIN_EINVAL;
    memset(&c, 0, sizeof c);
    c.file = filename;
    c.err = err;
    nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (i = 0; text + i < nul; i++)
            line += text[i] == '\n';
        return protein_config_error(err, filename, line, "", "the file contains"
                                    " a NUL byte; it is not a text file");
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* a UTF-8 byte order mark */
        len -= 3;
    }
    if (!(buf = malloc(len + 1)))
        goto fail;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (!(c.cfg = protein_config_new()))
        goto fail;
    if (filename && protein_config_set_string(&c.cfg->source, filename))
        goto fail;
    if ((rc = read_lines(&c, buf)) || (rc = build(&c)))
        goto fail;
    *out = c.cfg;
    c.cfg = NULL;
fail:
    for (i = 0; i < c.n_params; i++) {
        free(c.params[i].name);
        free(c.params[i].key);
    }
    free(c.params);
    protein_config_free(c.cfg);
    free(buf);
    return rc;
}

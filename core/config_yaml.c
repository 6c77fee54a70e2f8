#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config_common.h"

#define MAX_GROUP_DEPTH 8     /* nested parameters: blocks */
#define MAX_MAPPING_KEYS 4096 /* keys in one mapping */
#define MAX_FILE_BYTES (16 << 20)
#define MAX_FLOW_DEPTH 256    /* open [ and { at once; libyaml slows down
                               * quadratically with deeper nesting */

/* State of one YAML parse: the loaded document and where errors go. */
typedef struct yaml_ctx {
    yaml_document_t doc;
    const char *file;
    protein_error *err;
    protein_sweep_config *cfg;
} yaml_ctx;

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static yaml_node_t *node_at(yaml_ctx *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

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
        return protein_config_error(c->err, c->file, line_of(n), key, "expected"
                                    " %s here, found %s", what, kind_name(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return protein_config_error(c->err, c->file, line_of(n), key, "the "
                                    "value contains a NUL character; remove it");
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
        return protein_config_error(c->err, c->file, line_of(n), key, "expected"
                                    " %s, found %s", what, kind_name(n));
    if (n->data.mapping.pairs.top - n->data.mapping.pairs.start >
        MAX_MAPPING_KEYS)
        return protein_config_error(c->err, c->file, line_of(n), key, "more "
                                    "than %d keys in one mapping",
                                    MAX_MAPPING_KEYS);
    for (a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
        yaml_node_t *kn = node_at(c, a->key);
        if (scalar(c, kn, key, "a plain key", &ka))
            return PROTEIN_ECONFIG;
        for (b = n->data.mapping.pairs.start; b < a; b++) {
            kb = (const char *)node_at(c, b->key)->data.scalar.value;
            if (strcmp(ka, kb) == 0)
                return protein_config_error(c->err, c->file, line_of(kn),
                                            protein_config_key(path, sizeof path,
                                                               key, ka),
                                            "key '%s' appears twice (first on "
                                            "line %d); keep one", ka,
                                            line_of(node_at(c, b->key)));
        }
    }
    return 0;
}

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
    return protein_config_error(c->err, c->file, line_of(kn), key, "unknown "
                                "key '%s'; remove it or check the spelling", k);
}

/* Sets option opt from the scalar n; key names it in errors. */
static int option(yaml_ctx *c, yaml_node_t *n, const char *opt,
                  const char *key)
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

static int spec_field(yaml_ctx *c, yaml_node_t *n, const char *path,
                      protein_spec_field *f)
{
    if (scalar(c, n, path, "a single value", &f->text))
        return PROTEIN_ECONFIG;
    f->line = line_of(n);
    return 0;
}

/* Reads one parameter spec mapping (not a group) and adds it. */
static int parse_spec(yaml_ctx *c, yaml_node_t *n, const char *name,
                      const char *key, int line)
{
    static const char *const known[] = {
        "distribution", "min", "max", "scale", "integer", "default", "value",
        "values", "parameters", NULL
    };
    protein_param_spec s;
    yaml_node_pair_t *p;
    const char **values = NULL;
    int *lines = NULL, rc;
    char path[192];

    memset(&s, 0, sizeof s);
    s.name = name;
    s.key = key;
    s.line = line;
    s.def_key = "default";
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *v = node_at(c, p->value);
        const char *k = pair_key(c, p);
        protein_spec_field *f = NULL;
        protein_config_key(path, sizeof path, key, k);
        if (strcmp(k, "distribution") == 0)
            f = &s.distribution;
        else if (strcmp(k, "min") == 0)
            f = &s.min;
        else if (strcmp(k, "max") == 0)
            f = &s.max;
        else if (strcmp(k, "scale") == 0)
            f = &s.scale;
        else if (strcmp(k, "integer") == 0)
            f = &s.integer;
        else if (strcmp(k, "default") == 0)
            f = &s.def;
        else if (strcmp(k, "value") == 0)
            f = &s.value;
        if (f) {
            if (spec_field(c, v, path, f)) {
                rc = PROTEIN_ECONFIG;
                goto fail;
            }
        } else if (strcmp(k, "values") == 0) {
            size_t i, cnt;
            if (v->type != YAML_SEQUENCE_NODE) {
                rc = protein_config_error(c->err, c->file, line_of(v), path,
                                          "expected a list of choices [a, b, "
                                          "...], found %s", kind_name(v));
                goto fail;
            }
            cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            free(values);
            free(lines);
            values = calloc(cnt + 1, sizeof *values);
            lines = calloc(cnt + 1, sizeof *lines);
            if (!values || !lines) {
                rc = PROTEIN_ENOMEM;
                goto fail;
            }
            for (i = 0; i < cnt; i++) {
                yaml_node_t *item = node_at(c, v->data.sequence.items.start[i]);
                if (scalar(c, item, path, "a number or a string", &values[i])) {
                    rc = PROTEIN_ECONFIG;
                    goto fail;
                }
                lines[i] = line_of(item);
            }
            s.has_values = 1;
            s.values_line = line_of(v);
            s.n_values = cnt;
            s.values = values;
            s.value_lines = lines;
        } else if (strcmp(k, "parameters") == 0) {
            rc = protein_config_error(c->err, c->file, line_of(node_at(c, p->key)),
                                      path, "a group (parameters:) cannot have "
                                      "other keys; move them into a parameter");
            goto fail;
        } else {
            rc = unknown_key(c, node_at(c, p->key), key, known);
            goto fail;
        }
    }
    rc = protein_config_add_param(c->cfg, c->file, &s, c->err);
fail:
    free(values);
    free(lines);
    return rc;
}

static yaml_node_t *find_key(yaml_ctx *c, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p;

    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
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
        return protein_config_error(c->err, c->file, line_of(n), key, "no "
                                    "parameters to sweep; add at least one");
    if (mapping(c, n, key, "a mapping from parameter names to specs"))
        return PROTEIN_ECONFIG;
    if (n->data.mapping.pairs.top == n->data.mapping.pairs.start)
        return protein_config_error(c->err, c->file, line_of(n), key, "no "
                                    "parameters to sweep; add at least one");
    for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node_at(c, p->key), *v = node_at(c, p->value);
        const char *k = pair_key(c, p);
        yaml_node_t *group;
        int len = snprintf(name, sizeof name, "%s%s%s", prefix,
                           *prefix ? "/" : "", k);
        protein_config_key(path, sizeof path, key, k);
        if (len < 0 || (size_t)len >= sizeof name || !*k)
            return protein_config_error(c->err, c->file, line_of(kn), path,
                                        "parameter name '%s%s%s' is invalid; "
                                        "use 1 to %d characters", prefix,
                                        *prefix ? "/" : "", k,
                                        PROTEIN_PARAM_NAME_MAX);
        if (mapping(c, v, path, "a parameter spec (distribution/min/max, "
                    "values or value)"))
            return PROTEIN_ECONFIG;
        group = find_key(c, v, "parameters");
        if (group && v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1) {
            if (depth >= MAX_GROUP_DEPTH)
                return protein_config_error(c->err, c->file, line_of(kn), path,
                                            "parameter groups nest deeper than "
                                            "%d levels; flatten them",
                                            MAX_GROUP_DEPTH);
            protein_config_key(gpath, sizeof gpath, path, "parameters");
            rc = parse_params(c, group, name, gpath, depth + 1);
        } else {
            rc = parse_spec(c, v, name, path, line_of(kn));
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ top level */

/* An unknown top-level key, with advice for the W&B keys people bring. */
static int top_unknown_key(yaml_ctx *c, yaml_node_t *kn,
                           const char *const *known)
{
    static const char *const wandb[] = {
        "program", "command", "project", "entity", "description",
        "early_terminate", NULL
    };
    const char *k = (const char *)kn->data.scalar.value;

    if (strcmp(k, "run_cap") == 0)
        return protein_config_error(c->err, c->file, line_of(kn), k, "W&B's "
                                    "run_cap is max_trials here; rename it");
    if (protein_in_list(k, wandb))
        return protein_config_error(c->err, c->file, line_of(kn), k, "W&B's "
                                    "%s has no meaning here (the sbatch script "
                                    "runs the program); remove it", k);
    return unknown_key(c, kn, "", known);
}

static int parse_top(yaml_ctx *c, yaml_node_t *root)
{
    static const char *const known[] = {
        "name", "method", "metric", "cost", "cost_param", "max_trials",
        "max_suggestion_cost", "seed", "protein", "parameters", NULL
    };
    static const char *const metric_keys[] = { "name", "goal", NULL };
    static const char *const metric_opts[] = { "metric", "goal", NULL };
    static const char *const cost_keys[] = { "name", NULL };
    static const char *const cost_opts[] = { "cost", NULL };
    static const char *const knobs[] = {
        "num_random_samples", "suggestions_per_pareto", "expansion_rate",
        "early_stop_quantile", "gp_max_obs", "gp_training_iter",
        "prune_pareto", NULL
    };
    yaml_node_pair_t *p;
    yaml_node_t *params = NULL;
    int cost_line = 0, rc;

    if (mapping(c, root, "", "a mapping of sweep settings (name:, "
                "parameters:, ...)"))
        return PROTEIN_ECONFIG;
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *vn = node_at(c, p->value);
        const char *k = pair_key(c, p);
        if (strcmp(k, "metric") == 0) {
            rc = option_block(c, vn, "metric", "a mapping {name: ..., goal: "
                              "...}", metric_keys, metric_opts);
        } else if (strcmp(k, "cost") == 0) {
            rc = option_block(c, vn, "cost", "a mapping {name: ...}",
                              cost_keys, cost_opts);
        } else if (strcmp(k, "protein") == 0) {
            rc = option_block(c, vn, "protein", "a mapping of Protein "
                              "settings", knobs, knobs);
        } else if (strcmp(k, "parameters") == 0) {
            params = vn;
            rc = parse_params(c, vn, "", "parameters", 0);
        } else if (protein_in_list(k, known)) {
            rc = option(c, vn, k, k);
            cost_line = strcmp(k, "cost_param") == 0 ? line_of(vn) : cost_line;
        } else {
            return top_unknown_key(c, node_at(c, p->key), known);
        }
        if (rc)
            return rc;
    }
    if (!c->cfg->name)
        return protein_config_error(c->err, c->file, line_of(root), "name",
                                    "the sweep has no name; add name: my-sweep");
    if (!params)
        return protein_config_error(c->err, c->file, line_of(root), "parameters",
                                    "no parameters to sweep; add a parameters: "
                                    "mapping");
    return protein_config_check(c->cfg, c->file, line_of(params), "cost_param",
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
        return parser->error == YAML_MEMORY_ERROR ? PROTEIN_ENOMEM
               : protein_config_error(c->err, c->file,
                                      (int)parser->problem_mark.line + 1, "",
                                      "invalid YAML: %s; fix the syntax",
                                      parser->problem ? parser->problem
                                                      : "error");
    root = yaml_document_get_root_node(&next);
    if (root)
        rc = protein_config_error(c->err, c->file, (int)next.start_mark.line + 1,
                                  "", "a second YAML document starts here; a "
                                  "sweep config holds one document");
    yaml_document_delete(&next);
    return rc;
}

/* Parses YAML text (see protein.h). len bytes of text are read (no NUL
 * needed); filename (may be NULL) names the file in errors and becomes
 * cfg->source. */
int protein_config_parse_yaml(const char *text, size_t len,
                              const char *filename,
                              protein_sweep_config **out, protein_error *err)
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
        return protein_config_error(err, filename, deep, "", "brackets nest "
                                    "deeper than %d levels; flatten the "
                                    "config", MAX_FLOW_DEPTH);
    if (!yaml_parser_initialize(&parser))
        return PROTEIN_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &c.doc)) {
        rc = parser.error == YAML_MEMORY_ERROR ? PROTEIN_ENOMEM
             : protein_config_error(err, filename,
                                    (int)parser.problem_mark.line + 1, "",
                                    "invalid YAML: %s%s%s; fix the syntax",
                                    parser.problem ? parser.problem : "error",
                                    parser.context ? " " : "",
                                    parser.context ? parser.context : "");
        goto fail;
    }
    loaded = 1;
    root = yaml_document_get_root_node(&c.doc);
    if (!root) {
        rc = protein_config_error(err, filename, 1, "", "the config is empty; "
                                  "it needs name: and parameters:");
        goto fail;
    }
    rc = second_document(&c, &parser);
    if (rc)
        goto fail;
    rc = PROTEIN_ENOMEM;
    if (!(c.cfg = protein_config_new()))
        goto fail;
    if (filename && protein_config_set_string(&c.cfg->source, filename))
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

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Reads path whole (up to 16 MiB) and parses it as INI when the name ends
 * in .ini (any case), else as YAML; see protein.h. A file that cannot be
 * opened or read is PROTEIN_EIO with err naming it and the system's
 * reason. */
int protein_config_load_file(const char *path, protein_sweep_config **out,
                             protein_error *err)
{
    FILE *fp = NULL;
    char *buf = NULL, *grown;
    size_t len = 0, cap = 0, n;
    int rc = PROTEIN_EIO;

    if (!path || !out)
        return PROTEIN_EINVAL;
    if (!(fp = fopen(path, "rb")))
        goto io_fail;
    do {
        if (cap - len < 65536) {
            if (cap >= MAX_FILE_BYTES) {
                protein_config_error(err, path, 0, "", "the file is larger "
                                     "than %d MiB; is it really a sweep config?",
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
    if (has_suffix(path, ".ini"))
        rc = protein_config_parse_ini(buf, len, path, out, err);
    else
        rc = protein_config_parse_yaml(buf, len, path, out, err);
    goto fail;
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

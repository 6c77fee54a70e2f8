#include "config.h"

/* test_space.c - parameter spaces: normalization of every kind, one-hot
 * categoricals, constants, formatting, unit-cube sampling, dedup. */
#include <math.h>
#include <stdlib.h>

#include "cunit_run.h"
#include "internal.h"
#include "optimizer_fixture.h"

/* Builds s with one parameter of `kind` over [min, max] (whole numbers
 * when integer, and always for pow2), checks that the bounds map to -1 and
 * 1 and that vals[0..n) round-trip through the unit cube, and leaves s for
 * the caller's own checks. */
static void numeric_space(fx_sweep *s, protein_param_kind kind, double min,
                          double max, int integer, const double *vals, size_t n)
{
    double u, back;
    fx_init(s, 1);
    fx_numeric(s, "x", kind, min, max)->is_integer =
        integer || kind == PROTEIN_PARAM_POW2;
    CU_ASSERT_EQUAL(protein_space_dim(&s->cfg), 1);
    protein_space_normalize(&s->cfg, &min, &u);
    CU_ASSERT_DOUBLE_EQUAL(u, -1.0, 1e-12);
    protein_space_normalize(&s->cfg, &max, &u);
    CU_ASSERT_DOUBLE_EQUAL(u, 1.0, 1e-12);
    for (size_t i = 0; i < n; i++) {
        protein_space_normalize(&s->cfg, &vals[i], &u);
        CU_ASSERT(u >= -1.0 - 1e-12 && u <= 1.0 + 1e-12);
        protein_space_denormalize(&s->cfg, &u, &back);
        CU_ASSERT_DOUBLE_EQUAL(back, vals[i], 1e-9 * fabs(vals[i]) + 1e-12);
    }
}

static void test_linear(void)
{
    const double v[] = {0.0, 0.25, 3.5, 10.0};
    double u = 0.5, out;
    fx_sweep s;
    numeric_space(&s, PROTEIN_PARAM_LINEAR, 0, 10, 0, v, 4);
    protein_space_denormalize(&s.cfg, &u, &out);
    CU_ASSERT_DOUBLE_EQUAL(out, 7.5, 1e-12);
}

static void test_integer(void)
{
    const double v[] = {1, 2, 7, 16};
    fx_sweep s;
    double u = 0.01, out, again;
    numeric_space(&s, PROTEIN_PARAM_LINEAR, 1, 16, 1, v, 4);
    protein_space_denormalize(&s.cfg, &u, &out);
    CU_ASSERT_EQUAL(out, nearbyint(out));
    CU_ASSERT_DOUBLE_EQUAL(out, 9.0, 1e-12); /* 8.575 rounds to 9 */
    protein_space_normalize(&s.cfg, &out, &u);
    protein_space_denormalize(&s.cfg, &u, &again);
    CU_ASSERT_EQUAL(again, out); /* the fixed point */
}

static void test_log(void)
{
    const double v[] = {1e-5, 3e-4, 1e-3, 0.1};
    double mid = 1e-3, u;
    fx_sweep s;
    numeric_space(&s, PROTEIN_PARAM_LOG, 1e-5, 1e-1, 0, v, 4);
    protein_space_normalize(&s.cfg, &mid, &u);
    CU_ASSERT_DOUBLE_EQUAL(u, 0.0, 1e-12); /* geometric midpoint */
}

static void test_pow2(void)
{
    const double v[] = {16, 32, 256, 1024};
    double u = 0.1, out;
    fx_sweep s;
    numeric_space(&s, PROTEIN_PARAM_POW2, 16, 1024, 1, v, 4);
    protein_space_denormalize(&s.cfg, &u, &out);
    CU_ASSERT_EQUAL(out, 128.0); /* log2 = 7.3 -> 7 */
}

static void test_logit(void)
{
    const double v[] = {0.8, 0.95, 0.99, 0.999};
    double above = 0.9999, below = 0.5, u;
    fx_sweep s;
    numeric_space(&s, PROTEIN_PARAM_LOGIT, 0.8, 0.999, 0, v, 4);
    /* logit clamps to the bounds */
    protein_space_normalize(&s.cfg, &above, &u);
    CU_ASSERT_DOUBLE_EQUAL(u, 1.0, 1e-12);
    protein_space_normalize(&s.cfg, &below, &u);
    CU_ASSERT_DOUBLE_EQUAL(u, -1.0, 1e-12);
}

static void test_out_of_range(void)
{
    fx_sweep s;
    double v[2] = {20.0, 1e-7}, u[2], back[2];
    fx_init(&s, 1);
    fx_numeric(&s, "x", PROTEIN_PARAM_LINEAR, 0, 10);
    fx_numeric(&s, "lr", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    protein_space_normalize(&s.cfg, v, u);
    CU_ASSERT_DOUBLE_EQUAL(u[0], 3.0, 1e-12); /* kept, |u| > 1 */
    CU_ASSERT_DOUBLE_EQUAL(u[1], -2.0, 1e-12);
    protein_space_denormalize(&s.cfg, u, back);
    CU_ASSERT_DOUBLE_EQUAL(back[0], 20.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(back[1], 1e-7, 1e-18);
}

static void test_categorical_constant(void)
{
    fx_sweep s;
    double v[3] = {0.5, 2, 0}, u[5], back[3], sc[5];
    fx_init(&s, 1);
    fx_numeric(&s, "x", PROTEIN_PARAM_LINEAR, 0, 1);
    fx_categorical(&s, "act", 4)->scale = 0.3;
    fx_constant(&s, "env", "42", 42);
    CU_ASSERT_EQUAL(protein_space_dim(&s.cfg), 5);
    protein_space_scales(&s.cfg, sc);
    CU_ASSERT_EQUAL(sc[0], 0.5); /* unset: the auto scale */
    CU_ASSERT_EQUAL(sc[1], 0.3);
    CU_ASSERT_EQUAL(sc[4], 0.3);
    CU_ASSERT_EQUAL(protein_space_free_params(&s.cfg), 2);
    CU_ASSERT_EQUAL(protein_space_offset(&s.cfg, 1), 1);
    protein_space_normalize(&s.cfg, v, u);
    CU_ASSERT_EQUAL(u[1], -1.0);
    CU_ASSERT_EQUAL(u[3], 1.0);
    CU_ASSERT_EQUAL(u[4], -1.0);
    protein_space_denormalize(&s.cfg, u, back);
    CU_ASSERT_EQUAL(back[1], 2.0);
    CU_ASSERT_EQUAL(back[2], 42.0);
    /* a perturbed block decodes by argmax */
    u[1] = 0.3;
    u[2] = 0.9;
    u[3] = 0.1;
    protein_space_denormalize(&s.cfg, u, back);
    CU_ASSERT_EQUAL(back[1], 1.0);
    /* an out-of-range index is clamped */
    v[1] = 9;
    protein_space_normalize(&s.cfg, v, u);
    CU_ASSERT_EQUAL(u[4], 1.0);
}

static void test_snap_and_from_unit(void)
{
    fx_sweep s;
    double u[4] = {0.123, 0.2, 0.7, -0.1}, vals[3], z[3] = {0.999, 0.5, 0.0};
    fx_init(&s, 1);
    fx_numeric(&s, "n", PROTEIN_PARAM_LINEAR, 0, 4)->is_integer = 1;
    fx_categorical(&s, "c", 3);
    protein_space_snap(&s.cfg, u, vals);
    CU_ASSERT_DOUBLE_EQUAL(u[0], 0.0, 1e-12); /* 2.246 -> 2 -> u 0 */
    CU_ASSERT_EQUAL(u[2], 1.0);
    CU_ASSERT_EQUAL(u[1], -1.0);
    protein_space_from_unit(&s.cfg, z, vals);
    CU_ASSERT_EQUAL(vals[0], 4.0);
    CU_ASSERT_EQUAL(vals[1], 1.0); /* floor(0.5 * 3) */
}

static void test_format(void)
{
    fx_sweep s;
    char buf[64];
    protein_param *f, *i, *c, *k;
    fx_init(&s, 1);
    f = fx_numeric(&s, "lr", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    i = fx_numeric(&s, "bs", PROTEIN_PARAM_POW2, 16, 1024);
    c = fx_categorical(&s, "act", 3);
    k = fx_constant(&s, "env", "breakout", NAN);
    protein_format_value(f, 0.1, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "0.10000000000000001");
    protein_format_value(i, 256, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "256");
    protein_format_value(c, 2, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "c");
    protein_format_value(k, 0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "breakout");
}

static void test_dedup(void)
{
    const double X[] = {0, 0, 1, 1, 0, 5e-7, 0.5, 0.5, 1, 1};
    unsigned char keep[5];
    size_t kept = protein_dedup_rows(X, 5, 2, PROTEIN_DEDUP_RADIUS, keep);
    CU_ASSERT_EQUAL(kept, 3);
    CU_ASSERT_EQUAL(keep[0], 0); /* row 2 is within 5e-7: the newer stays */
    CU_ASSERT_EQUAL(keep[1], 0); /* exact copy in row 4 */
    CU_ASSERT_EQUAL(keep[2], 1);
    CU_ASSERT_EQUAL(keep[3], 1);
    CU_ASSERT_EQUAL(keep[4], 1);
    CU_ASSERT_EQUAL(protein_dedup_rows(X, 0, 2, 1e-6, keep), 0);
}

/* Adds row r of rows to ix when no earlier row shares its cell; returns
 * the row it shares a cell with, else r. */
static size_t cell_add_or_find(protein_cell_index *ix, const double *rows,
                               size_t d, size_t r)
{
    size_t found = protein_cell_index_find(ix, rows, d, rows + r * d);
    if (found != SIZE_MAX)
        return found;
    CU_ASSERT_EQUAL(ix->n_rows, r);
    CU_ASSERT_EQUAL(protein_cell_index_add(ix, rows, d), PROTEIN_OK);
    return r;
}

static void test_cell_index(void)
{
    enum { N = 5000, D = 3 };
    double *rows = malloc(N * D * sizeof(double));
    const double apart[D] = {0.25, 0.25 + 1.2e-6, 0.25}; /* next cell */
    const double near[D] = {0.25, 0.25 + 4e-7, 0.25};    /* same cell */
    protein_cell_index ix;

    CU_ASSERT_FATAL(rows != NULL);
    protein_cell_index_init(&ix, PROTEIN_DEDUP_RADIUS);
    CU_ASSERT_EQUAL(protein_cell_index_find(&ix, rows, D, apart), SIZE_MAX);
    /* rows on a 1e-4 grid: every one its own cell, found again after the
     * table has grown many times */
    for (size_t r = 0; r < N; r++) {
        rows[r * D + 0] = -0.5 + 1e-4 * (double)(r % 17);
        rows[r * D + 1] = 0.1 + 1e-4 * (double)(r / 17);
        rows[r * D + 2] = r % 2 ? 1.0 : 0.0;
        CU_ASSERT_EQUAL(cell_add_or_find(&ix, rows, D, r), r);
    }
    CU_ASSERT_EQUAL(ix.n_rows, N);
    CU_ASSERT(ix.n_slots >= 2 * N);
    for (size_t r = 0; r < N; r += 97)
        CU_ASSERT_EQUAL(protein_cell_index_find(&ix, rows, D, rows + r * D), r);
    protein_cell_index_free(&ix);

    /* a point 4e-7 away shares the cell, one 1.2e-6 away does not */
    protein_cell_index_init(&ix, PROTEIN_DEDUP_RADIUS);
    rows[0] = rows[1] = rows[2] = 0.25;
    CU_ASSERT_EQUAL(cell_add_or_find(&ix, rows, D, 0), 0);
    CU_ASSERT_EQUAL(protein_cell_index_find(&ix, rows, D, near), 0);
    CU_ASSERT_EQUAL(protein_cell_index_find(&ix, rows, D, apart), SIZE_MAX);
    protein_cell_index_free(&ix);
    CU_ASSERT_EQUAL(ix.n_rows, 0);
    free(rows);
}

static const cunit_test tests[] = {
    {"linear", test_linear},
    {"integer", test_integer},
    {"log", test_log},
    {"pow2", test_pow2},
    {"logit", test_logit},
    {"out of range", test_out_of_range},
    {"categorical and constant", test_categorical_constant},
    {"snap and unit cube", test_snap_and_from_unit},
    {"format", test_format},
    {"dedup", test_dedup},
    {"cell index", test_cell_index},
};

int main(void)
{
    return cunit_run_suite("space", tests, CUNIT_COUNT(tests));
}

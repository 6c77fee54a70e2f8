#include "config.h"
/*
 * An index of the rows of a growing row-major table by the grid cell each
 * row falls in (side `cell` in every dimension, cells centred on the
 * multiples of `cell`): finding whether a new point shares a cell with an
 * earlier row costs O(d) expected, however many rows there are. The
 * optimizer finds the observation a new success replaces this way; a
 * scan of every earlier success made rebuilding a sweep of a million
 * observations (a stream's length) take ten minutes.
 *
 * Open addressing with linear probing, at most half full. The hash is
 * seeded from the index's own address, so that a person who fills their
 * own sweep with chosen points cannot aim them at one chain of a shared
 * coordinator; which rows share a cell does not depend on the seed.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define CELL_INDEX_MIN_SLOTS 64

/* The index of the cell of side `cell` that x falls in, cells centred on
 * the multiples of `cell`. */
static int64_t cell_coordinate(double x, double cell)
{
    return (int64_t)llround(x / cell);
}

/* Hash of the cell that the point u (d coordinates) falls in, seeded per
 * index so that two indexes do not collide alike. */
static uint64_t cell_hash(const protein_cell_index *ix, const double *u,
                          size_t d)
{
    uint64_t h = ix->seed;
    for (size_t j = 0; j < d; j++) {
        h ^= (uint64_t)cell_coordinate(u[j], ix->cell);
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

/* 1 when points a and b (d coordinates) fall in the same cell. */
static int same_cell(const double *a, const double *b, size_t d, double cell)
{
    for (size_t j = 0; j < d; j++)
        if (cell_coordinate(a[j], cell) != cell_coordinate(b[j], cell))
            return 0;
    return 1;
}

/* Puts row r of rows into a table known to have a free slot. */
static void place(protein_cell_index *ix, const double *rows, size_t d,
                  size_t r)
{
    size_t mask = ix->n_slots - 1,
           s = (size_t)cell_hash(ix, rows + r * d, d) & mask;
    while (ix->slot[s] != 0)
        s = (s + 1) & mask;
    ix->slot[s] = r + 1;
}

/* Sets up an empty index of cells of side `cell` (> 0). */
void protein_cell_index_init(protein_cell_index *ix, double cell)
{
    assert(cell > 0);
    ix->slot = NULL;
    ix->n_slots = 0;
    ix->n_rows = 0;
    ix->cell = cell;
    ix->seed = (uint64_t)(uintptr_t)ix * 0xD6E8FEB86659FD93ull;
}

/* Frees the index's table; the index is empty again. */
void protein_cell_index_free(protein_cell_index *ix)
{
    free(ix->slot);
    ix->slot = NULL;
    ix->n_slots = 0;
    ix->n_rows = 0;
}

/* Contract in internal.h. */
size_t protein_cell_index_find(const protein_cell_index *ix, const double *rows,
                               size_t d, const double *u)
{
    size_t mask, s;

    if (ix->n_slots == 0)
        return SIZE_MAX;
    mask = ix->n_slots - 1;
    for (s = (size_t)cell_hash(ix, u, d) & mask; ix->slot[s] != 0;
         s = (s + 1) & mask)
        if (same_cell(rows + (ix->slot[s] - 1) * d, u, d, ix->cell))
            return ix->slot[s] - 1;
    return SIZE_MAX;
}

/* Contract in internal.h. */
int protein_cell_index_add(protein_cell_index *ix, const double *rows, size_t d)
{
    if (2 * (ix->n_rows + 1) > ix->n_slots) {
        size_t n = ix->n_slots ? 2 * ix->n_slots : CELL_INDEX_MIN_SLOTS;
        size_t *slot = calloc(n, sizeof(*slot));
        if (slot == NULL)
            return PROTEIN_ENOMEM;
        free(ix->slot);
        ix->slot = slot;
        ix->n_slots = n;
        for (size_t r = 0; r < ix->n_rows; r++)
            place(ix, rows, d, r);
    }
    place(ix, rows, d, ix->n_rows++);
    return PROTEIN_OK;
}

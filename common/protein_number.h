/*
 * protein_number.h - the one text form of a double that the tree writes
 * where it must read back as the same double (Redis fields, stored YAML,
 * CSV and terminal output): the shortest of %.15g, %.16g and %.17g that
 * strtod turns back into v, so 0.1 stays "0.1". Header-only, like
 * everything in common/.
 */
#ifndef PROTEIN_NUMBER_H
#define PROTEIN_NUMBER_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes v into buf (len bytes; 32 hold any double): inf and nan as %g
 * writes them. */
static inline void protein_number_text(double v, char *buf, size_t len)
{
    for (int digits = 15; digits < 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
    snprintf(buf, len, "%.17g", v);
}

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_NUMBER_H */

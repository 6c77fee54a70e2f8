/* internal.h - declarations shared between core/ modules, not public. */
#ifndef PROTEIN_INTERNAL_H
#define PROTEIN_INTERNAL_H
#include "protein.h"
#endif

/*
 * gp_cuda_module.h - the entry point of protein-gp-cuda.so, the CUDA GP
 * backend as a module that proteind loads (dlopen) only when it wants the
 * GPU, so that a proteind fitting on the CPU maps none of the CUDA
 * libraries (about 190 MB resident).
 *
 * The module exports one symbol, PROTEIN_GP_CUDA_MODULE_ENTRY. It calls
 * back into core (protein_gp_minimize and the others listed in
 * kernels/module-imports.list), which the loading program exports: the
 * module links no copy of core, so there is one core, with one state, in
 * the process.
 *
 * A module from another build is refused by its abi and version: bump
 * PROTEIN_GP_CUDA_MODULE_ABI whenever this struct, the backend table of
 * core/gp.h, the structs it passes (params, options, report, objective)
 * or the imported functions change.
 */
#ifndef PROTEIN_GP_CUDA_MODULE_H
#define PROTEIN_GP_CUDA_MODULE_H

#include <stddef.h>

#include "gp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROTEIN_GP_CUDA_MODULE_ABI 1
/* The module's file name, installed in $(pkglibdir). */
#define PROTEIN_GP_CUDA_MODULE_FILE "protein-gp-cuda.so"
/* The symbol proteind looks up (dlsym) in the module. */
#define PROTEIN_GP_CUDA_MODULE_ENTRY "protein_gp_cuda_module_entry"

/* What the module gives its loader. abi stays the first member in every
 * ABI, so that any module's number can be read. */
typedef struct protein_gp_cuda_module {
    int abi;             /* the module's PROTEIN_GP_CUDA_MODULE_ABI */
    const char *version; /* the module's PACKAGE_VERSION */
    /* protein_gp_backend_cuda and protein_gp_cuda_available of gp_cuda.h */
    const protein_gp_backend *(*backend)(void);
    int (*available)(char *errbuf, size_t errlen);
} protein_gp_cuda_module;

/* The module's description (static storage, never freed); never fails.
 * Only the module defines it (gp_cuda_module.c). */
const protein_gp_cuda_module *protein_gp_cuda_module_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_GP_CUDA_MODULE_H */

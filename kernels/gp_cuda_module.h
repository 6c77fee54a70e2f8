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
 * A module from another build is refused by its interface fingerprint
 * and version. The fingerprint (PROTEIN_GP_CUDA_MODULE_FINGERPRINT, made
 * by make into gp_cuda_fingerprint.h from the text of this header, of
 * core/gp.h with the backend table and the structs it passes, of the
 * status codes and of module-imports.list: MODULE_INTERFACE in
 * kernels/Makefile.am) changes with any of them, so that no number has to
 * be bumped by hand: two builds of one version with different interfaces
 * refuse each other. A header the interface comes to depend on goes into
 * MODULE_INTERFACE.
 */
#ifndef PROTEIN_GP_CUDA_MODULE_H
#define PROTEIN_GP_CUDA_MODULE_H

#include <stddef.h>

#include "gp.h"
#include "gp_cuda_fingerprint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The layout of protein_gp_cuda_module up to its fingerprint: 2 since
 * the fingerprint came, 1 before (no fingerprint). It stays 2 while abi
 * and fingerprint stay the first two members; the fingerprint covers
 * every other change. */
#define PROTEIN_GP_CUDA_MODULE_ABI 2
/* The module's file name, installed in $(pkglibdir). */
#define PROTEIN_GP_CUDA_MODULE_FILE "protein-gp-cuda.so"
/* The symbol proteind looks up (dlsym) in the module. */
#define PROTEIN_GP_CUDA_MODULE_ENTRY "protein_gp_cuda_module_entry"

/* What the module gives its loader. abi and fingerprint stay the first
 * two members, so that any module's can be read. */
typedef struct protein_gp_cuda_module {
    int abi;                 /* the module's PROTEIN_GP_CUDA_MODULE_ABI */
    const char *fingerprint; /* its PROTEIN_GP_CUDA_MODULE_FINGERPRINT */
    const char *version;     /* the module's PACKAGE_VERSION */
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

/*
 * gp_cuda_module.c - the entry point of protein-gp-cuda.so (see
 * gp_cuda_module.h): the CUDA backend of gp_cuda.cu, described for the
 * program that loads the module.
 */
#include "config.h"

#include "gp_cuda.h"
#include "gp_cuda_module.h"

/* Contract in gp_cuda_module.h. */
const protein_gp_cuda_module *protein_gp_cuda_module_entry(void)
{
    static const protein_gp_cuda_module module = {
        PROTEIN_GP_CUDA_MODULE_ABI,
        PROTEIN_GP_CUDA_MODULE_FINGERPRINT,
        PACKAGE_VERSION,
        protein_gp_backend_cuda,
        protein_gp_cuda_available,
    };

    return &module;
}

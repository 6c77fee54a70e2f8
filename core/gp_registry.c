#include "config.h"

/*
 * gp_registry.c - finds a GP backend by name. The CUDA backend lives in
 * kernels/ and exists only when configure found CUDA (HAVE_CUDA); without
 * it this file supplies the stubs that say so.
 */
#include <string.h>

#include "gp.h"
#include "protein.h"

#ifndef HAVE_CUDA
const protein_gp_backend *protein_gp_backend_cuda(void)
{
    return NULL;
}

int protein_gp_cuda_available(char *errbuf, size_t errlen)
{
    protein_gp_fail(0, errbuf, errlen,
                    "protein was built without CUDA (configure --with-cuda)");
    return 0;
}
#endif

const protein_gp_backend *protein_gp_backend_by_name(const char *name,
                                                     char *errbuf,
                                                     size_t errlen)
{
    const protein_gp_backend *cuda;
    char why[256] = "";

    if (name == NULL) {
        protein_gp_fail(0, errbuf, errlen, "GP backend: no name given "
                        "(use cpu, cuda or auto)");
        return NULL;
    }
    if (strcmp(name, "cpu") == 0)
        return &protein_gp_backend_cpu;
    if (strcmp(name, "cuda") != 0 && strcmp(name, "auto") != 0) {
        protein_gp_fail(0, errbuf, errlen, "GP backend '%s' is unknown "
                        "(use cpu, cuda or auto)", name);
        return NULL;
    }
    /* Either says why CUDA cannot serve: not built in, or no device. */
    cuda = protein_gp_backend_cuda();
    if (protein_gp_cuda_available(why, sizeof(why)) && cuda != NULL)
        return cuda;
    if (strcmp(name, "auto") == 0)
        return &protein_gp_backend_cpu;
    protein_gp_fail(0, errbuf, errlen, "GP backend 'cuda' is unavailable: %s",
                    why[0] != '\0' ? why : "no usable CUDA device");
    return NULL;
}

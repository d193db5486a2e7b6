/* Shared helpers of the libFuzzer targets: one APR pool per process and a
 * sub-pool per input (so pool memory never outlives an input), and an
 * invariant check that aborts with the place, which libFuzzer records as a
 * crash with its input. Header-only: every target is one translation unit. */
#ifndef GC_FUZZ_H
#define GC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static apr_pool_t *fuzz_root;

/* An invariant of the code under test; a failure is a finding. */
#define FUZZ_ASSERT(cond)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                     \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* APR once per process. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&fuzz_root, NULL);
    return 0;
}

/* A fresh pool for one input; destroy it when done. */
static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    apr_pool_create(&p, fuzz_root);
    return p;
}

/* A NUL-terminated malloc'd copy of the input (C-string APIs). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Reads up to 8 bytes as a little-endian integer, advancing the input. */
static inline uint64_t fuzz_take_u64(const uint8_t **data, size_t *size, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n && *size > 0; i++) {
        v |= (uint64_t)(*data)[0] << (8 * i);
        (*data)++;
        (*size)--;
    }
    return v;
}

#endif

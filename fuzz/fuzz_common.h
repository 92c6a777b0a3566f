
/*
 * Copyright (C) The signaller for nginx authors
 */


#ifndef _FUZZ_COMMON_H_INCLUDED_
#define _FUZZ_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_signaller.h"

#include <stdio.h>
#include <stdlib.h>


/* an invariant that must hold: a report and a crash libFuzzer records */

#define FUZZ_ASSERT(expr)                                                    \
    do {                                                                     \
        if (!(expr)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n",                 \
                    __FILE__, __LINE__, #expr);                              \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* ngx_stubs.c: how many times the ngx_alloc() stand-in was called */

extern ngx_uint_t  fuzz_stub_allocs;


/* an exact heap copy, so that ASan catches a read past its end */

static ngx_inline u_char *
fuzz_dup(const u_char *p, size_t len)
{
    u_char  *d;

    d = malloc(len ? len : 1);
    FUZZ_ASSERT(d != NULL);

    if (len) {
        memcpy(d, p, len);
    }

    return d;
}


#endif /* _FUZZ_COMMON_H_INCLUDED_ */

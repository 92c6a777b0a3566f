
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Stand-ins for the symbols of nginx's core that the module's files linked
 * into the fuzz targets use.  nginx itself cannot be linked: build/nginx
 * is Debian's nginx-dev tree, headers and objs/ngx_auto_config.h only, no
 * sources or objects.  Each stand-in has the contract of nginx 1.22's
 * function; nothing here is the module's (the Makefile checks with nm
 * that this file and the harnesses define no ngx_http_signaller_ symbol).
 *
 * The regular expression stand-in, ngx_regex_exec_array(), is not here:
 * what its "expressions" mean is part of fuzz_handshake.c's model.
 */


#include "fuzz_common.h"


static int fuzz_stub_lower(int c);


/*
 * src/core/ngx_log.c: the logs have log_level 0, so that nothing calls
 * this; formatting would need ngx_vslprintf().
 */

void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
}


/* src/core/ngx_cycle.c: only its log is used */

static ngx_log_t    fuzz_stub_log;
static ngx_cycle_t  fuzz_stub_cycle = { .log = &fuzz_stub_log };

volatile ngx_cycle_t  *ngx_cycle = &fuzz_stub_cycle;


/*
 * src/event/ngx_event_posted.c: a harness that lets the module post an
 * event takes it off the queue itself (ngx_delete_posted_event()).
 */

ngx_queue_t  ngx_posted_events = { &ngx_posted_events, &ngx_posted_events };


/*
 * src/os/unix/ngx_alloc.c: exactly the size asked for, so that ASan's
 * redzone lies right behind it; counted for the harnesses.
 */

ngx_uint_t  fuzz_stub_allocs;


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    fuzz_stub_allocs++;

    return malloc(size);
}


/*
 * src/core/ngx_string.c
 */


/* compares at most n bytes ignoring ASCII case; stops at a NUL in both */

ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    int  c1, c2;

    while (n--) {
        c1 = fuzz_stub_lower(*s1++);
        c2 = fuzz_stub_lower(*s2++);

        if (c1 != c2) {
            return c1 - c2;
        }

        if (c1 == 0) {
            return 0;
        }
    }

    return 0;
}


/*
 * Finds s2 (n + 1 bytes, in lower case) in [s1, last) ignoring case;
 * NULL if it is not there.
 */

u_char *
ngx_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n)
{
    size_t  k;

    n++;

    for ( /* void */ ; s1 < last && (size_t) (last - s1) >= n; s1++) {
        for (k = 0; k < n; k++) {
            if (fuzz_stub_lower(s1[k]) != s2[k]) {
                break;
            }
        }

        if (k == n) {
            return s1;
        }
    }

    return NULL;
}


/*
 * Standard base64 of src up to its first "=" (or its end): NGX_ERROR if a
 * byte before that is not of the alphabet, or their number is 4k + 1.
 * dst->data has room for the result.
 */

ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char       *d, *s;
    size_t        len, i;
    uint32_t      acc;
    ngx_uint_t    bits;
    const char   *q;

    static const char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    s = src->data;

    for (len = 0; len < src->len; len++) {
        if (s[len] == '=') {
            break;
        }

        if (s[len] == '\0' || strchr(b64, s[len]) == NULL) {
            return NGX_ERROR;
        }
    }

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    d = dst->data;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        q = strchr(b64, s[i]);
        acc = (acc << 6) | (uint32_t) (q - b64);
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (acc >> bits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* each byte as two lower case hex digits; the end of what it wrote */

u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


static int
fuzz_stub_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}

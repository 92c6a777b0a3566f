
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: ngx_http_signaller_report_parse() and
 * ngx_http_signaller_report_write(), the figures the listener's worker
 * sends back on a link when a handed-over session ends (each followed by
 * its 8-byte tag, up to 64 to a message):
 *
 *     'r'  close code (2)  messages in, messages out, bytes in, bytes out
 *                          (8 bytes each)
 *
 * in network order, NGX_HTTP_SIGNALLER_REPORT_LEN (35) bytes.
 *
 * report_parse() takes no length: it reads exactly
 * NGX_HTTP_SIGNALLER_REPORT_LEN bytes, which its caller has received in
 * full before calling it (the connector's worker takes a message of
 * whole records only).  So the harness gives it exactly that many
 * bytes, on an exact heap copy, so that a read past them is caught;
 * shorter inputs are not run, and the bytes after the first 35 are the
 * figures for the write test below.
 *
 * A reference model: 35 bytes parse (NGX_OK) if and only if the first is
 * 'r' and the close code is 0 (none sent) or 1000..4999; then close_code
 * and the counts are the big-endian values, bytes_in and bytes_out masked
 * to NGX_MAX_OFF_T_VALUE, and no other field of the figures changes.  On
 * NGX_ERROR nothing of the figures changes (the caller logs what it knew
 * before).  The input bytes are never changed.  report_write() of the
 * figures parsed, into a heap buffer of exactly 35 bytes, returns its end
 * and gives back the input but for the bits masked, and that parses back
 * to the same figures.
 *
 * Then report_write() of figures that need not come from a parse: any
 * 16-bit close code, any counts, any byte counts from 0 to
 * NGX_MAX_OFF_T_VALUE (an off_t of the module is never negative).  The
 * bytes must be the documented ones, and parse back, to the same figures,
 * if and only if the code is one that parses.
 *
 * Input:
 *   bytes 0..34    the report the other worker sent
 *   bytes 35..68   if all there, figures for report_write(): close code
 *                  (2 bytes), messages in, out, bytes in, out (8 bytes
 *                  each), big-endian
 */


#include "fuzz_common.h"


#define FUZZ_LEN      NGX_HTTP_SIGNALLER_REPORT_LEN
#define FUZZ_FIGURES  (2 + 4 * 8)


static uint64_t fuzz_be(const u_char *p, size_t n);
static void fuzz_encode(u_char *p, const ngx_http_signaller_figures_t *f);
static ngx_uint_t fuzz_code_valid(ngx_uint_t code);
static void fuzz_garbage(ngx_http_signaller_figures_t *f);
static void fuzz_check_same(const ngx_http_signaller_figures_t *a,
    const ngx_http_signaller_figures_t *b);
static void fuzz_check_others(const ngx_http_signaller_figures_t *a,
    const ngx_http_signaller_figures_t *b);
static void fuzz_write(const ngx_http_signaller_figures_t *f, u_char *out);
static void fuzz_write_any(const u_char *data);


/* the big-endian value of n bytes */

static uint64_t
fuzz_be(const u_char *p, size_t n)
{
    size_t    i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}


/* the documented bytes for "f", written independently of the module */

static void
fuzz_encode(u_char *p, const ngx_http_signaller_figures_t *f)
{
    size_t    i, k;
    uint64_t  v[4];

    v[0] = f->messages_in;
    v[1] = f->messages_out;
    v[2] = (uint64_t) f->bytes_in;
    v[3] = (uint64_t) f->bytes_out;

    p[0] = 'r';
    p[1] = (u_char) ((f->close_code >> 8) & 0xff);
    p[2] = (u_char) (f->close_code & 0xff);

    for (k = 0; k < 4; k++) {
        for (i = 0; i < 8; i++) {
            p[3 + 8 * k + i] = (u_char) ((v[k] >> (56 - 8 * i)) & 0xff);
        }
    }
}


/* 0: no close frame was sent; else a code a close frame may carry */

static ngx_uint_t
fuzz_code_valid(ngx_uint_t code)
{
    return code == 0 || (code >= 1000 && code <= 4999);
}


/* figures filled with garbage, every field set to something known */

static void
fuzz_garbage(ngx_http_signaller_figures_t *f)
{
    static u_char  handle[] = "a-handle";

    ngx_memset(f, 0xa5, sizeof(ngx_http_signaller_figures_t));

    f->data = (void *) f;
    f->handle.data = handle;
    f->handle.len = sizeof(handle) - 1;
    f->opened = 12345;
    f->paired = 67890;
    f->listener = 1;
    f->crossed = 0;
}


/* the fields a report carries */

static void
fuzz_check_same(const ngx_http_signaller_figures_t *a,
    const ngx_http_signaller_figures_t *b)
{
    FUZZ_ASSERT(a->close_code == b->close_code);
    FUZZ_ASSERT(a->messages_in == b->messages_in);
    FUZZ_ASSERT(a->messages_out == b->messages_out);
    FUZZ_ASSERT(a->bytes_in == b->bytes_in);
    FUZZ_ASSERT(a->bytes_out == b->bytes_out);
}


/* the fields it does not */

static void
fuzz_check_others(const ngx_http_signaller_figures_t *a,
    const ngx_http_signaller_figures_t *b)
{
    FUZZ_ASSERT(a->data == b->data);
    FUZZ_ASSERT(a->handle.data == b->handle.data);
    FUZZ_ASSERT(a->handle.len == b->handle.len);
    FUZZ_ASSERT(a->opened == b->opened);
    FUZZ_ASSERT(a->paired == b->paired);
    FUZZ_ASSERT(a->listener == b->listener);
    FUZZ_ASSERT(a->crossed == b->crossed);
}


/* report_write() into exactly FUZZ_LEN heap bytes: ASan guards the end */

static void
fuzz_write(const ngx_http_signaller_figures_t *f, u_char *out)
{
    u_char                        *buf, *end;
    ngx_http_signaller_figures_t   copy;

    copy = *f;

    buf = malloc(FUZZ_LEN);
    FUZZ_ASSERT(buf != NULL);

    end = ngx_http_signaller_report_write(buf, &copy);

    FUZZ_ASSERT(end == buf + FUZZ_LEN);

    /* the figures are only read */
    fuzz_check_same(&copy, f);
    fuzz_check_others(&copy, f);

    ngx_memcpy(out, buf, FUZZ_LEN);

    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *buf, *back;
    u_char                          out[FUZZ_LEN], expect[FUZZ_LEN];
    ngx_int_t                       rc, rc2;
    ngx_uint_t                      code;
    ngx_http_signaller_figures_t    f, before, f2;

    /* what the module keeps, the report carries in 8 bytes */
    FUZZ_ASSERT(FUZZ_LEN == 1 + 2 + 4 * 8);
    FUZZ_ASSERT(sizeof(ngx_uint_t) == 8 && sizeof(off_t) == 8);

    if (size < FUZZ_LEN) {
        return 0;
    }

    /* exactly the bytes the caller has received: ASan guards their end */

    buf = fuzz_dup(data, FUZZ_LEN);

    fuzz_garbage(&f);
    before = f;

    rc = ngx_http_signaller_report_parse(buf, &f);

    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_ERROR);

    /* the input is only read */
    FUZZ_ASSERT(ngx_memcmp(buf, data, FUZZ_LEN) == 0);

    code = (ngx_uint_t) fuzz_be(data + 1, 2);

    FUZZ_ASSERT((rc == NGX_OK) == (data[0] == 'r' && fuzz_code_valid(code)));

    fuzz_check_others(&f, &before);

    if (rc != NGX_OK) {
        /* nothing of the figures changed */
        fuzz_check_same(&f, &before);

    } else {
        FUZZ_ASSERT(f.close_code == code);
        FUZZ_ASSERT(f.messages_in == fuzz_be(data + 3, 8));
        FUZZ_ASSERT(f.messages_out == fuzz_be(data + 11, 8));
        FUZZ_ASSERT((uint64_t) f.bytes_in
                    == (fuzz_be(data + 19, 8) & NGX_MAX_OFF_T_VALUE));
        FUZZ_ASSERT((uint64_t) f.bytes_out
                    == (fuzz_be(data + 27, 8) & NGX_MAX_OFF_T_VALUE));
        FUZZ_ASSERT(f.bytes_in >= 0 && f.bytes_out >= 0);

        /* written back: the input, but for the bits masked */

        fuzz_write(&f, out);

        ngx_memcpy(expect, data, FUZZ_LEN);
        expect[19] &= 0x7f;
        expect[27] &= 0x7f;

        FUZZ_ASSERT(ngx_memcmp(out, expect, FUZZ_LEN) == 0);

        fuzz_encode(expect, &f);
        FUZZ_ASSERT(ngx_memcmp(out, expect, FUZZ_LEN) == 0);

        /* and that parses to the same figures */

        back = fuzz_dup(out, FUZZ_LEN);

        fuzz_garbage(&f2);
        rc2 = ngx_http_signaller_report_parse(back, &f2);

        FUZZ_ASSERT(rc2 == NGX_OK);
        fuzz_check_same(&f2, &f);

        free(back);
    }

    free(buf);

    if (size >= FUZZ_LEN + FUZZ_FIGURES) {
        fuzz_write_any(data + FUZZ_LEN);
    }

    return 0;
}


/* report_write() of any figures the module may hold, and back */

static void
fuzz_write_any(const u_char *data)
{
    u_char                        *back;
    u_char                         out[FUZZ_LEN], expect[FUZZ_LEN];
    ngx_int_t                      rc;
    ngx_http_signaller_figures_t   f, g, before;

    fuzz_garbage(&f);

    f.close_code = (ngx_uint_t) fuzz_be(data, 2);
    f.messages_in = (ngx_uint_t) fuzz_be(data + 2, 8);
    f.messages_out = (ngx_uint_t) fuzz_be(data + 10, 8);
    f.bytes_in = (off_t) (fuzz_be(data + 18, 8) & NGX_MAX_OFF_T_VALUE);
    f.bytes_out = (off_t) (fuzz_be(data + 26, 8) & NGX_MAX_OFF_T_VALUE);

    fuzz_write(&f, out);

    fuzz_encode(expect, &f);
    FUZZ_ASSERT(ngx_memcmp(out, expect, FUZZ_LEN) == 0);

    back = fuzz_dup(out, FUZZ_LEN);

    fuzz_garbage(&g);
    before = g;

    rc = ngx_http_signaller_report_parse(back, &g);

    FUZZ_ASSERT((rc == NGX_OK) == fuzz_code_valid(f.close_code));

    fuzz_check_others(&g, &before);
    fuzz_check_same(&g, rc == NGX_OK ? &f : &before);

    free(back);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: ngx_http_signaller_preamble_parse(), fed a stream in
 * reads of fuzzer-chosen sizes into a buffer of exactly
 * NGX_HTTP_SIGNALLER_PREAMBLE_MAX bytes, each read bounded by the room
 * left, parsed after every read as the listener's worker does, until
 * NGX_OK or NGX_ERROR.  A reference model of the documented format,
 *
 *     "SGNL"  version (2)  flags  handle length (3..63)  id (16 bytes)
 *     handle
 *
 * where the flags are 0, HANDOFF (1) or HANDOFF|REPORT (3): REPORT only
 * with HANDOFF, no other bit, judges every prefix of the stream (on an
 * exact heap copy, so that a read past its end is caught): NGX_OK for
 * exactly one whole preamble, with its flags, id and handle, the handle
 * pointing into the buffer; NGX_AGAIN for a strict prefix of one; once
 * NGX_OK or NGX_ERROR, NGX_ERROR for every longer prefix.  A full buffer
 * must never leave the parser at NGX_AGAIN.
 *
 * Then ngx_http_signaller_preamble_write(), when the stream holds an id
 * and a handle of valid length (its first 16 bytes, and the next ones, up
 * to 63), with each valid flags value in turn, into a heap buffer of
 * exactly NGX_HTTP_SIGNALLER_PREAMBLE_MAX bytes: the bytes must be the
 * documented ones and parse back to the same flags, id and handle, and
 * each strict prefix of them to NGX_AGAIN.
 *
 * Input:
 *   byte 0      number of read sizes (mod 16), followed by them (+1 each:
 *               a read gets at least one byte); after them the rest of
 *               the stream comes in reads as large as the room left
 *   the rest    the stream the connector's worker sends
 */


#include "fuzz_common.h"


#define FUZZ_ID_LEN   NGX_HTTP_SIGNALLER_ID_LEN
#define FUZZ_VERSION  2
#define FUZZ_HEADER   (4 + 1 + 1 + 1 + FUZZ_ID_LEN)
#define FUZZ_MAX      NGX_HTTP_SIGNALLER_PREAMBLE_MAX

/* the offsets of the flags, the handle length and the id */
#define FUZZ_FLAGS    5
#define FUZZ_HLEN     6
#define FUZZ_ID       7

/* past this every prefix is only longer than any preamble */
#define FUZZ_SCAN     (4 * FUZZ_MAX)


/* the valid flags values, spelt out: REPORT only together with HANDOFF */
static const ngx_uint_t  fuzz_flags[] = {
    0,
    NGX_HTTP_SIGNALLER_HANDOFF,
    NGX_HTTP_SIGNALLER_HANDOFF|NGX_HTTP_SIGNALLER_REPORT
};


static ngx_uint_t fuzz_flags_valid(ngx_uint_t flags);
static ngx_int_t fuzz_ref(const u_char *p, size_t len, size_t *hlen);
static ngx_int_t fuzz_parse(u_char *buf, size_t len,
    ngx_http_signaller_preamble_t *pre);
static void fuzz_check_pre(ngx_http_signaller_preamble_t *pre, u_char *buf,
    size_t len, ngx_uint_t flags, const u_char *id, const u_char *handle,
    size_t hlen);
static void fuzz_round_trip(u_char *stream, size_t size);


static ngx_uint_t
fuzz_flags_valid(ngx_uint_t flags)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(fuzz_flags) / sizeof(fuzz_flags[0]); i++) {
        if (flags == fuzz_flags[i]) {
            return 1;
        }
    }

    return 0;
}


/*
 * The reference: each byte in turn is checked against what the format
 * allows at its offset; *hlen is set once the length byte is known.
 */

static ngx_int_t
fuzz_ref(const u_char *p, size_t len, size_t *hlen)
{
    size_t  i, total;
    static const u_char  magic[4] = { 'S', 'G', 'N', 'L' };

    total = 0;
    *hlen = 0;

    for (i = 0; i < len; i++) {

        if (i < 4) {
            if (p[i] != magic[i]) {
                return NGX_ERROR;
            }

        } else if (i == 4) {
            if (p[i] != FUZZ_VERSION) {
                return NGX_ERROR;
            }

        } else if (i == FUZZ_FLAGS) {
            if (!fuzz_flags_valid(p[i])) {
                return NGX_ERROR;
            }

        } else if (i == FUZZ_HLEN) {
            if (p[i] < NGX_HTTP_SIGNALLER_HANDLE_MIN
                || p[i] > NGX_HTTP_SIGNALLER_HANDLE_MAX)
            {
                return NGX_ERROR;
            }

            *hlen = p[i];
            total = FUZZ_HEADER + p[i];

        } else if (i >= total) {
            /* a byte after the end of the preamble */
            return NGX_ERROR;
        }
    }

    return (total != 0 && len == total) ? NGX_OK : NGX_AGAIN;
}


/* the parser, "pre" filled with garbage first */

static ngx_int_t
fuzz_parse(u_char *buf, size_t len, ngx_http_signaller_preamble_t *pre)
{
    ngx_int_t  rc;

    ngx_memset(pre, 0xa5, sizeof(ngx_http_signaller_preamble_t));

    rc = ngx_http_signaller_preamble_parse(buf, len, pre);

    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_AGAIN || rc == NGX_ERROR);

    return rc;
}


/* what NGX_OK returned for the "len" bytes at "buf" */

static void
fuzz_check_pre(ngx_http_signaller_preamble_t *pre, u_char *buf, size_t len,
    ngx_uint_t flags, const u_char *id, const u_char *handle, size_t hlen)
{
    FUZZ_ASSERT(len == FUZZ_HEADER + hlen);
    FUZZ_ASSERT(pre->flags == flags);
    FUZZ_ASSERT(fuzz_flags_valid(pre->flags));
    FUZZ_ASSERT(ngx_memcmp(pre->id.data, id, FUZZ_ID_LEN) == 0);

    FUZZ_ASSERT(pre->handle.len == hlen);
    FUZZ_ASSERT(pre->handle.data >= buf
                && pre->handle.data + pre->handle.len <= buf + len);
    FUZZ_ASSERT(pre->handle.data == buf + FUZZ_HEADER);
    FUZZ_ASSERT(ngx_memcmp(pre->handle.data, handle, hlen) == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *stream, *buf, *copy;
    size_t                          nreads, i, n, len, off, scan, hlen,
                                    reads[16];
    ngx_int_t                       rc, ref, prev;
    ngx_http_signaller_preamble_t   pre;

    /* the buffer holds the longest preamble, and no more */
    FUZZ_ASSERT(FUZZ_MAX == FUZZ_HEADER + NGX_HTTP_SIGNALLER_HANDLE_MAX);

    if (size == 0) {
        return 0;
    }

    nreads = data[0] % 16;
    data++;
    size--;

    if (size < nreads) {
        return 0;
    }

    for (i = 0; i < nreads; i++) {
        reads[i] = (size_t) data[i] + 1;
    }

    data += nreads;
    size -= nreads;

    stream = fuzz_dup(data, size);

    /*
     * Every prefix on an exact heap copy: the reference's verdict, and
     * after NGX_OK or NGX_ERROR only NGX_ERROR.
     */

    scan = ngx_min(size, FUZZ_SCAN);
    prev = NGX_AGAIN;

    for (len = 0; len <= scan; len++) {
        copy = fuzz_dup(stream, len);

        rc = fuzz_parse(copy, len, &pre);
        ref = fuzz_ref(stream, len, &hlen);

        FUZZ_ASSERT(rc == ref);

        if (prev != NGX_AGAIN) {
            FUZZ_ASSERT(rc == NGX_ERROR);
        }

        if (rc == NGX_OK) {
            fuzz_check_pre(&pre, copy, len, stream[FUZZ_FLAGS],
                           stream + FUZZ_ID, stream + FUZZ_HEADER, hlen);
        }

        prev = rc;

        free(copy);
    }

    /* the listener's worker: reads into its buffer until a verdict */

    buf = malloc(FUZZ_MAX);
    FUZZ_ASSERT(buf != NULL);

    ngx_memset(buf, 0x5a, FUZZ_MAX);

    len = 0;
    off = 0;
    i = 0;

    while (off < size) {
        n = (i < nreads) ? reads[i++] : size - off;

        if (n > FUZZ_MAX - len) {
            n = FUZZ_MAX - len;
        }

        if (n > size - off) {
            n = size - off;
        }

        FUZZ_ASSERT(n > 0);

        ngx_memcpy(buf + len, stream + off, n);
        len += n;
        off += n;

        rc = fuzz_parse(buf, len, &pre);
        ref = fuzz_ref(stream, len, &hlen);

        FUZZ_ASSERT(rc == ref);

        if (rc == NGX_OK) {
            fuzz_check_pre(&pre, buf, len, stream[FUZZ_FLAGS],
                           stream + FUZZ_ID, stream + FUZZ_HEADER, hlen);
            break;
        }

        if (rc == NGX_ERROR) {
            break;
        }

        /* a full buffer holds any preamble: the parser must have decided */
        FUZZ_ASSERT(len < FUZZ_MAX);
    }

    free(buf);

    fuzz_round_trip(stream, size);

    free(stream);

    return 0;
}


/*
 * The id is the stream's first 16 bytes, the handle the next ones; written
 * with each valid flags value.
 */

static void
fuzz_round_trip(u_char *stream, size_t size)
{
    u_char                         *out, *end;
    size_t                          total, len, hlen;
    ngx_int_t                       rc;
    ngx_str_t                       handle;
    ngx_uint_t                      f, flags;
    ngx_http_signaller_id_t         id;
    ngx_http_signaller_preamble_t   pre;

    if (size < FUZZ_ID_LEN + NGX_HTTP_SIGNALLER_HANDLE_MIN) {
        return;
    }

    ngx_memcpy(id.data, stream, FUZZ_ID_LEN);

    handle.data = stream + FUZZ_ID_LEN;
    handle.len = ngx_min(size - FUZZ_ID_LEN,
                         (size_t) NGX_HTTP_SIGNALLER_HANDLE_MAX);

    total = FUZZ_HEADER + handle.len;

    for (f = 0; f < sizeof(fuzz_flags) / sizeof(fuzz_flags[0]); f++) {
        flags = fuzz_flags[f];

        /* exactly the size of the longest preamble: ASan guards its end */

        out = malloc(FUZZ_MAX);
        FUZZ_ASSERT(out != NULL);

        end = ngx_http_signaller_preamble_write(out, &id, &handle, flags);

        FUZZ_ASSERT(end == out + total);

        FUZZ_ASSERT(ngx_memcmp(out, "SGNL", 4) == 0);
        FUZZ_ASSERT(out[4] == FUZZ_VERSION);
        FUZZ_ASSERT(out[FUZZ_FLAGS] == flags);
        FUZZ_ASSERT(out[FUZZ_HLEN] == handle.len);
        FUZZ_ASSERT(ngx_memcmp(out + FUZZ_ID, stream, FUZZ_ID_LEN) == 0);
        FUZZ_ASSERT(ngx_memcmp(out + FUZZ_HEADER, handle.data, handle.len)
                    == 0);

        FUZZ_ASSERT(fuzz_ref(out, total, &hlen) == NGX_OK
                    && hlen == handle.len);

        for (len = 0; len < total; len++) {
            FUZZ_ASSERT(fuzz_parse(out, len, &pre) == NGX_AGAIN);
        }

        rc = fuzz_parse(out, total, &pre);

        FUZZ_ASSERT(rc == NGX_OK);

        fuzz_check_pre(&pre, out, total, flags, stream, handle.data,
                       handle.len);

        free(out);
    }
}

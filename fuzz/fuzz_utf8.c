
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: ngx_http_signaller_utf8() against a reference decoder,
 * on the whole input and on the input split at fuzzer-chosen points (the
 * state carried between pieces), plus ngx_http_signaller_close_code()
 * and ngx_http_signaller_close_frame().
 *
 * Input: byte 0 is the number of split points (mod 16), followed by that
 * many bytes, each a piece length; the rest is the text.
 */


#include "fuzz_common.h"


static size_t fuzz_ref_len(u_char c);
static int fuzz_ref_char(const u_char *p, size_t n);
static int fuzz_ref_begins(const u_char *p, size_t k);
static size_t fuzz_ref_check(const u_char *p, size_t len, int *complete);
static void fuzz_check_close(const u_char *p, size_t len);


/* the length of the character a byte starts by its bit pattern, 0 if none */

static size_t
fuzz_ref_len(u_char c)
{
    if (c < 0x80) {
        return 1;
    }

    if ((c & 0xe0) == 0xc0) {
        return 2;
    }

    if ((c & 0xf0) == 0xe0) {
        return 3;
    }

    if ((c & 0xf8) == 0xf0) {
        return 4;
    }

    return 0;
}


/* a complete character of n bytes: decodes it and checks the code point */

static int
fuzz_ref_char(const u_char *p, size_t n)
{
    size_t    k;
    uint32_t  cp;
    static const uint32_t  min[] = { 0, 0, 0x80, 0x800, 0x10000 };

    if (fuzz_ref_len(p[0]) != n) {
        return 0;
    }

    cp = (n == 1) ? p[0] : (uint32_t) (p[0] & (0x7f >> n));

    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[k] & 0x3f);
    }

    return cp >= min[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
}


/*
 * Whether the first k bytes of a character can be completed to a valid
 * one: only the second byte is restricted, so all its values are tried and
 * the bytes after it are set to 0x80.
 */

static int
fuzz_ref_begins(const u_char *p, size_t k)
{
    u_char  buf[4];
    size_t  n, j;
    u_int   c;

    n = fuzz_ref_len(p[0]);

    if (n == 0 || k > n) {
        return 0;
    }

    memcpy(buf, p, k);

    if (k == n) {
        return fuzz_ref_char(buf, n);
    }

    for (c = 0x80; c <= 0xbf; c++) {
        for (j = k; j < n; j++) {
            buf[j] = (j == k) ? (u_char) c : 0x80;
        }

        for (j = 1; j < k; j++) {
            if ((buf[j] & 0xc0) != 0x80) {
                return 0;
            }
        }

        if (fuzz_ref_char(buf, n)) {
            return 1;
        }
    }

    return 0;
}


/*
 * The offset of the first byte after which [p, p + len) cannot be the
 * beginning of valid UTF-8, or len if it can; *complete tells whether it
 * ends on a character boundary.
 */

static size_t
fuzz_ref_check(const u_char *p, size_t len, int *complete)
{
    size_t  i, k, n;

    *complete = 0;
    i = 0;

    while (i < len) {
        n = fuzz_ref_len(p[i]);

        if (n == 0) {
            return i;
        }

        for (k = 1; k <= n; k++) {
            if (i + k > len) {
                return len;
            }

            if (!fuzz_ref_begins(p + i, k)) {
                return i + k - 1;
            }
        }

        i += n;
    }

    *complete = 1;

    return len;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int         complete, pcomplete;
    u_char     *text;
    size_t      nsplit, i, len, off, piece, bad, pbad;
    size_t      splits[16];
    uint32_t    state;
    ngx_int_t   rc;

    if (size == 0) {
        return 0;
    }

    nsplit = data[0] % 16;
    data++;
    size--;

    if (size < nsplit) {
        return 0;
    }

    for (i = 0; i < nsplit; i++) {
        splits[i] = data[i];
    }

    data += nsplit;
    size -= nsplit;

    /* an exact copy on the heap: reads past the end are caught */
    len = size;
    text = fuzz_dup(data, len);

    bad = fuzz_ref_check(text, len, &complete);

    /* the whole text in one call */

    state = 0;
    rc = ngx_http_signaller_utf8(&state, text, len);

    if (bad < len) {
        FUZZ_ASSERT(rc == NGX_ERROR);

    } else {
        FUZZ_ASSERT(rc == NGX_OK);
        FUZZ_ASSERT((state == 0) == complete);
    }

    /* in pieces, the state carried over */

    state = 0;
    off = 0;
    i = 0;

    for ( ;; ) {
        piece = (i < nsplit) ? splits[i++] : len - off;

        if (piece > len - off) {
            piece = len - off;
        }

        rc = ngx_http_signaller_utf8(&state, text + off, piece);

        if (rc != NGX_OK) {
            /* fails in the piece that holds the first bad byte */
            FUZZ_ASSERT(rc == NGX_ERROR);
            FUZZ_ASSERT(bad >= off && bad < off + piece);
            break;
        }

        FUZZ_ASSERT(bad >= off + piece);

        pbad = fuzz_ref_check(text, off + piece, &pcomplete);
        FUZZ_ASSERT(pbad == off + piece);
        FUZZ_ASSERT((state == 0) == pcomplete);

        off += piece;

        if (off == len) {
            FUZZ_ASSERT(bad == len && (state == 0) == complete);
            break;
        }
    }

    fuzz_check_close(text, len);

    free(text);

    return 0;
}


static void
fuzz_check_close(const u_char *p, size_t len)
{
    int          complete;
    u_char      *frame;
    ngx_int_t    rc;
    ngx_uint_t   code, code2, got;
    u_char      *end;

    /* NGX_OK and the client's code (0: none), or NGX_ERROR and ours */

    got = 0xdead;
    rc = ngx_http_signaller_close_code((u_char *) p, len, &got);

    if (len == 0) {
        FUZZ_ASSERT(rc == NGX_OK && got == 0);

    } else if (len == 1) {
        FUZZ_ASSERT(rc == NGX_ERROR
                    && got == NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);

    } else {
        code = (p[0] << 8) | p[1];

        if (!((code >= 1000 && code <= 1003)
              || (code >= 1007 && code <= 1014)
              || (code >= 3000 && code <= 4999)))
        {
            FUZZ_ASSERT(rc == NGX_ERROR
                        && got == NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);

        } else if (fuzz_ref_check(p + 2, len - 2, &complete) != len - 2
                   || !complete)
        {
            FUZZ_ASSERT(rc == NGX_ERROR
                        && got == NGX_HTTP_SIGNALLER_INVALID_PAYLOAD);

        } else {
            FUZZ_ASSERT(rc == NGX_OK && got == code);
        }
    }

    /*
     * The session keeps its close frame in 4 + 20 bytes; whatever the code,
     * the frame must fit and be a valid close frame.
     */

    code = (len >= 2) ? (ngx_uint_t) ((p[0] << 8) | p[1]) : 0;

    frame = malloc(4 + 20);
    FUZZ_ASSERT(frame != NULL);

    end = ngx_http_signaller_close_frame(frame, code);

    FUZZ_ASSERT(end >= frame + 2 && end <= frame + 4 + 20);
    FUZZ_ASSERT(frame[0] == 0x88);
    FUZZ_ASSERT(frame[1] == (size_t) (end - frame - 2));

    if (code == 0) {
        FUZZ_ASSERT(frame[1] == 0);

    } else {
        code2 = (frame[2] << 8) | frame[3];
        FUZZ_ASSERT(code2 == code);
        FUZZ_ASSERT(fuzz_ref_check(frame + 4, frame[1] - 2, &complete)
                    == (size_t) frame[1] - 2 && complete);
    }

    free(frame);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: ngx_http_signaller_parse(), fed a client byte stream in
 * reads of fuzzer-chosen sizes, in an input buffer managed the way the
 * session does it (16 KB, 10 bytes of headroom, output rewritten in place
 * from the buffer's start, compaction, blocking when full).  A reference
 * parser reads the whole stream at once; the two must agree on the events
 * (messages, control frames, the close code of an invalid frame), and the
 * server frames written at *out must re-parse as valid unmasked frames
 * whose payload is the client's unmasked payload.
 *
 * Input:
 *   byte 0      flags: 0x01 discard (closing: nothing is written),
 *               0x02 send the output only when the buffer is blocked,
 *               0x04 max_size << 8, 0x08 max_size unlimited,
 *               0x10 read sizes * 64
 *   bytes 1-2   max_size (big endian)
 *   byte 3      number of read sizes (mod 32), followed by them (+1 each)
 *   the rest    the client's byte stream
 */


#include "fuzz_common.h"


#define FUZZ_BUFSIZE   NGX_HTTP_SIGNALLER_BUFSIZE
#define FUZZ_HEADROOM  NGX_HTTP_SIGNALLER_HEADROOM

#define FUZZ_EV_MESSAGE  1
#define FUZZ_EV_CLOSE    8
#define FUZZ_EV_PING     9
#define FUZZ_EV_PONG     10


typedef struct {
    ngx_int_t       kind;     /* FUZZ_EV_*, or a negated close code */
    size_t          len;      /* control frames: their payload */
    u_char          data[125];
} fuzz_event_t;


typedef struct {
    ngx_uint_t      op;
    u_char         *data;
    size_t          len;
    size_t          size;
} fuzz_msg_t;


typedef struct {
    fuzz_event_t   *ev;
    ngx_uint_t      nev;
    ngx_uint_t      ev_size;

    fuzz_msg_t     *msg;      /* data messages, in order */
    ngx_uint_t      nmsg;
    ngx_uint_t      msg_size;

    ngx_uint_t      complete; /* the last message has ended */
    ngx_uint_t      failed;   /* a frame has failed */
    size_t          utf8_bad; /* text: payload offset of the invalid byte */
} fuzz_result_t;


static void fuzz_reference(const u_char *s, size_t len, size_t max_size,
    ngx_uint_t discard, fuzz_result_t *res);
static size_t fuzz_utf8_check(const u_char *p, size_t len, int *complete);
static void fuzz_event(fuzz_result_t *res, ngx_int_t kind, const u_char *data,
    size_t len);
static fuzz_msg_t *fuzz_msg_new(fuzz_result_t *res, ngx_uint_t op);
static void fuzz_msg_add(fuzz_msg_t *m, const u_char *data, size_t len);
static void fuzz_send(fuzz_result_t *out, const u_char *p, size_t len);
static void fuzz_compare(fuzz_result_t *ref, fuzz_result_t *got,
    ngx_uint_t discard);
static void fuzz_free(fuzz_result_t *res);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *buf, *start, *end, *pos, *last, *out_pos,
                                *out_last, *out, *stream, *before, *copy;
    size_t                       max_size, nreads, i, off, n, delta,
                                 reads[32];
    ngx_int_t                    rc;
    ngx_uint_t                   flags, discard, lazy, stop;
    fuzz_result_t                ref, got;
    ngx_http_signaller_parser_t  parser;
    ngx_http_signaller_frame_t   frame;

    if (size < 4) {
        return 0;
    }

    flags = data[0];
    discard = flags & 0x01;
    lazy = flags & 0x02;

    max_size = (data[1] << 8) | data[2];

    if (flags & 0x04) {
        max_size <<= 8;
    }

    if (flags & 0x08) {
        max_size = NGX_MAX_SIZE_T_VALUE;
    }

    nreads = data[3] % 32;
    data += 4;
    size -= 4;

    if (size < nreads) {
        return 0;
    }

    for (i = 0; i < nreads; i++) {
        reads[i] = ((size_t) data[i] + 1) * ((flags & 0x10) ? 64 : 1);
    }

    data += nreads;
    size -= nreads;

    stream = fuzz_dup(data, size);

    ngx_memzero(&ref, sizeof(fuzz_result_t));
    ngx_memzero(&got, sizeof(fuzz_result_t));

    fuzz_reference(stream, size, max_size, discard, &ref);

    got.complete = 1;

    /* the session's buffer: exactly 16 KB, anything beyond is a redzone */

    buf = malloc(FUZZ_BUFSIZE);
    FUZZ_ASSERT(buf != NULL);

    copy = malloc(FUZZ_BUFSIZE);
    FUZZ_ASSERT(copy != NULL);

    start = buf;
    end = buf + FUZZ_BUFSIZE;

    out_pos = start;
    out_last = start;
    pos = start + FUZZ_HEADROOM;
    last = pos;

    ngx_http_signaller_parser_init(&parser);

    off = 0;
    i = 0;
    stop = 0;

    while (!stop) {

        /* parse what has arrived, as ngx_http_signaller_process() does */

        while (pos < last) {
            out = out_last;
            before = pos;
            ngx_memcpy(copy, pos, last - pos);

            rc = ngx_http_signaller_parse(&parser, &pos, last, &out, max_size,
                                          discard, &frame);

            FUZZ_ASSERT(pos >= before && pos <= last);
            FUZZ_ASSERT(out >= out_last && out <= pos);

            /* what is still to be parsed is as it arrived */
            FUZZ_ASSERT(rc < 0
                        || memcmp(pos, copy + (pos - before), last - pos)
                           == 0);

            if (discard) {
                FUZZ_ASSERT(out == out_last);
            }

            out_last = out;

            if (rc == NGX_HTTP_SIGNALLER_FRAME_AGAIN) {
                break;
            }

            if (rc == NGX_HTTP_SIGNALLER_FRAME_MESSAGE) {
                fuzz_event(&got, FUZZ_EV_MESSAGE, NULL, 0);
                continue;
            }

            if (rc == NGX_HTTP_SIGNALLER_FRAME_PING
                || rc == NGX_HTTP_SIGNALLER_FRAME_PONG
                || rc == NGX_HTTP_SIGNALLER_FRAME_CLOSE)
            {
                FUZZ_ASSERT(frame.len <= 125);
                FUZZ_ASSERT(frame.payload >= before
                            && frame.payload + frame.len <= pos);

                fuzz_event(&got, rc == NGX_HTTP_SIGNALLER_FRAME_PING
                                 ? FUZZ_EV_PING
                                 : rc == NGX_HTTP_SIGNALLER_FRAME_PONG
                                   ? FUZZ_EV_PONG : FUZZ_EV_CLOSE,
                           frame.payload, frame.len);

                if (rc == NGX_HTTP_SIGNALLER_FRAME_CLOSE) {
                    /* the session reads nothing after a close frame */
                    stop = 1;
                    break;
                }

                continue;
            }

            FUZZ_ASSERT(rc < 0);
            fuzz_event(&got, rc, NULL, 0);

            /* the session closes and reads on for the close frame */

            if (discard) {
                stop = 1;
                break;
            }

            discard = 1;
        }

        if (!lazy || stop) {
            fuzz_send(&got, out_pos, out_last - out_pos);
            out_pos = out_last;
        }

        if (stop || off == size) {
            break;
        }

        /* make room for a read, as ngx_http_signaller_room() does */

        for ( ;; ) {
            if (out_pos == out_last) {
                n = last - pos;

                if (pos != start + FUZZ_HEADROOM) {
                    ngx_memmove(start + FUZZ_HEADROOM, pos, n);
                }

                out_pos = start;
                out_last = start;
                pos = start + FUZZ_HEADROOM;
                last = pos + n;

            } else if (end - last < 256 && out_pos > start) {
                delta = out_pos - start;
                ngx_memmove(start, out_pos, last - out_pos);
                out_pos -= delta;
                out_last -= delta;
                pos -= delta;
                last -= delta;
            }

            if (pos == last && last < out_last + FUZZ_HEADROOM) {
                pos = out_last + FUZZ_HEADROOM;
                last = pos;
            }

            if (last + 256 > end && out_pos != out_last) {
                /* blocked until the peer has sent the frames out */
                fuzz_send(&got, out_pos, out_last - out_pos);
                out_pos = out_last;
                continue;
            }

            break;
        }

        /* a read */

        n = (i < nreads) ? reads[i++] : size - off;

        if (n > (size_t) (end - last)) {
            n = end - last;
        }

        if (n > size - off) {
            n = size - off;
        }

        FUZZ_ASSERT(n > 0);

        ngx_memcpy(last, stream + off, n);
        last += n;
        off += n;
    }

    fuzz_send(&got, out_pos, out_last - out_pos);

    fuzz_compare(&ref, &got, flags & 0x01);

    fuzz_free(&ref);
    fuzz_free(&got);
    free(buf);
    free(copy);
    free(stream);

    return 0;
}


/*
 * The reference: RFC 6455 section 5 on the whole stream, frame by frame,
 * with the checks in the order the module documents (first the two fixed
 * bytes, then the whole header, then a control frame's whole payload).
 * After a frame that fails, the session goes on reading in discard mode
 * (for the client's close frame) until a close frame or a second failure;
 * a header that failed fails again, the rest of an invalid text frame is
 * skipped.
 */

#define fuzz_fail(code)                                                      \
    fuzz_event(res, -(code), NULL, 0);                                       \
    if (discard) {                                                           \
        return;                                                              \
    }                                                                        \
    discard = 1;                                                             \
    continue

static void
fuzz_reference(const u_char *s, size_t len, size_t max_size,
    ngx_uint_t discard, fuzz_result_t *res)
{
    int                 complete;
    u_char              ctl[125], c;
    size_t              off, hlen, avail, k, bad;
    uint64_t            plen;
    ngx_uint_t          fin, op, in_message;
    fuzz_msg_t         *m;
    unsigned __int128   total;

    res->complete = 1;
    res->utf8_bad = (size_t) -1;

    in_message = 0;
    m = NULL;
    total = 0;
    off = 0;

    while (len - off >= 2) {
        fin = s[off] >> 7;
        op = s[off] & 0x0f;

        if ((s[off] & 0x70) != 0 || (s[off + 1] & 0x80) == 0) {
            fuzz_fail(NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);
        }

        plen = s[off + 1] & 0x7f;

        if (op >= 8) {
            if (op > 10 || !fin || plen > 125) {
                fuzz_fail(NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);
            }

        } else if (op > 2 || (op == 0) != (in_message != 0)) {
            fuzz_fail(NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);
        }

        hlen = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0) + 4;

        if (len - off < hlen) {
            return;
        }

        if (plen == 126) {
            plen = (s[off + 2] << 8) | s[off + 3];

        } else if (plen == 127) {
            plen = 0;

            for (k = 0; k < 8; k++) {
                plen = plen << 8 | s[off + 2 + k];
            }

            if (plen >> 63) {
                fuzz_fail(NGX_HTTP_SIGNALLER_PROTOCOL_ERROR);
            }
        }

        avail = len - off - hlen;

        if (op >= 8) {
            if (avail < plen) {
                return;
            }

            for (k = 0; k < plen; k++) {
                ctl[k] = s[off + hlen + k] ^ s[off + hlen - 4 + k % 4];
            }

            fuzz_event(res, op, ctl, plen);

            if (op == 8) {
                return;
            }

            off += hlen + plen;
            continue;
        }

        if (op != 0) {
            total = 0;
        }

        if (total + plen > max_size) {
            fuzz_fail(NGX_HTTP_SIGNALLER_TOO_BIG);
        }

        total += plen;
        in_message = 1;

        if (op != 0 && !discard) {
            m = fuzz_msg_new(res, op);
            res->complete = 0;
        }

        /* the payload that has arrived */

        if (avail > plen) {
            avail = plen;
        }

        if (!discard) {
            for (k = 0; k < avail; k++) {
                c = s[off + hlen + k] ^ s[off + hlen - 4 + k % 4];
                fuzz_msg_add(m, &c, 1);
            }

            if (m->op == 1) {
                bad = fuzz_utf8_check(m->data, m->len, &complete);

                if (bad < m->len || (avail == plen && fin && !complete)) {
                    res->utf8_bad = bad;
                    fuzz_event(res, -NGX_HTTP_SIGNALLER_INVALID_PAYLOAD,
                               NULL, 0);
                    discard = 1;
                }
            }
        }

        if (avail < plen) {
            return;
        }

        off += hlen + plen;

        if (fin) {
            in_message = 0;

            if (!discard) {
                res->complete = 1;
            }

            fuzz_event(res, FUZZ_EV_MESSAGE, NULL, 0);
        }
    }
}

#undef fuzz_fail


/* UTF-8 the plain way: the offset of the first bad byte, or len */

static size_t
fuzz_utf8_check(const u_char *p, size_t len, int *complete)
{
    size_t    i, n, k, avail;
    uint32_t  cp, min;

    *complete = 0;
    i = 0;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }

        if (p[i] >= 0xc2 && p[i] <= 0xdf) {
            n = 2;
            min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            min = 0x800;

        } else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
            n = 4;
            min = 0x10000;

        } else {
            return i;
        }

        avail = (len - i < n) ? len - i : n;
        cp = p[i] & (0x7f >> n);

        for (k = 1; k < avail; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return i + k;
            }

            cp = cp << 6 | (p[i + k] & 0x3f);

            /* with two bytes, overlong forms, surrogates and the upper
             * limit are known: the rest cannot change them */

            if (k == 1 && n > 2) {
                uint32_t  lo = cp << (6 * (n - 2));
                uint32_t  hi = lo | ((1u << (6 * (n - 2))) - 1);

                if (hi < min || lo > 0x10ffff
                    || (lo >= 0xd800 && hi <= 0xdfff))
                {
                    return i + 1;
                }
            }
        }

        if (avail < n) {
            return len;
        }

        i += n;
    }

    *complete = 1;

    return len;
}


static void
fuzz_event(fuzz_result_t *res, ngx_int_t kind, const u_char *data,
    size_t len)
{
    fuzz_event_t  *ev;

    /*
     * A closing session ignores the ends of messages, and when the end of
     * the frame that failed is reported depends on whether more input
     * arrives to call the parser again: not compared.
     */

    if (kind == FUZZ_EV_MESSAGE && res->failed) {
        return;
    }

    if (kind < 0) {
        res->failed = 1;
    }

    if (res->nev == res->ev_size) {
        res->ev_size = res->ev_size ? res->ev_size * 2 : 16;
        res->ev = realloc(res->ev, res->ev_size * sizeof(fuzz_event_t));
        FUZZ_ASSERT(res->ev != NULL);
    }

    ev = &res->ev[res->nev++];
    ev->kind = kind;
    ev->len = len;

    if (len) {
        memcpy(ev->data, data, len);
    }
}


static fuzz_msg_t *
fuzz_msg_new(fuzz_result_t *res, ngx_uint_t op)
{
    fuzz_msg_t  *m;

    if (res->nmsg == res->msg_size) {
        res->msg_size = res->msg_size ? res->msg_size * 2 : 16;
        res->msg = realloc(res->msg, res->msg_size * sizeof(fuzz_msg_t));
        FUZZ_ASSERT(res->msg != NULL);
    }

    m = &res->msg[res->nmsg++];
    ngx_memzero(m, sizeof(fuzz_msg_t));
    m->op = op;

    return m;
}


static void
fuzz_msg_add(fuzz_msg_t *m, const u_char *data, size_t len)
{
    if (len == 0) {
        return;
    }

    if (m->len + len > m->size) {
        m->size = ngx_max(m->size * 2, m->len + len);
        m->data = realloc(m->data, m->size);
        FUZZ_ASSERT(m->data != NULL);
    }

    memcpy(m->data + m->len, data, len);
    m->len += len;
}


/*
 * What the peer's connection sends: complete, unmasked server frames, data
 * frames only, fragmented properly (the first with the message's opcode,
 * then continuations, FIN on the last), lengths in their shortest form.
 */

static void
fuzz_send(fuzz_result_t *out, const u_char *p, size_t len)
{
    size_t       off, hlen, k;
    uint64_t     plen;
    ngx_uint_t   fin, op;
    fuzz_msg_t  *m;

    off = 0;

    while (off < len) {
        FUZZ_ASSERT(len - off >= 2);

        fin = p[off] >> 7;
        op = p[off] & 0x0f;

        FUZZ_ASSERT((p[off] & 0x70) == 0);
        FUZZ_ASSERT((p[off + 1] & 0x80) == 0);
        FUZZ_ASSERT(op <= 2);

        plen = p[off + 1] & 0x7f;
        hlen = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0);

        FUZZ_ASSERT(len - off >= hlen);

        if (plen == 126) {
            plen = (p[off + 2] << 8) | p[off + 3];
            FUZZ_ASSERT(plen >= 126);

        } else if (plen == 127) {
            plen = 0;

            for (k = 0; k < 8; k++) {
                plen = plen << 8 | p[off + 2 + k];
            }

            FUZZ_ASSERT(plen >= 65536 && (plen >> 63) == 0);
        }

        FUZZ_ASSERT(len - off - hlen >= plen);

        if (out->complete) {
            FUZZ_ASSERT(op == 1 || op == 2);
            m = fuzz_msg_new(out, op);
            out->complete = 0;

        } else {
            FUZZ_ASSERT(op == 0);
            m = &out->msg[out->nmsg - 1];
        }

        /* only the last frame of a message may be empty */
        FUZZ_ASSERT(plen > 0 || fin);

        fuzz_msg_add(m, p + off + hlen, plen);

        if (fin) {
            out->complete = 1;
        }

        off += hlen + plen;
    }
}


static void
fuzz_compare(fuzz_result_t *ref, fuzz_result_t *got, ngx_uint_t discard)
{
    ngx_uint_t     i, nfin;
    fuzz_msg_t    *r, *g;
    fuzz_event_t  *re, *ge;

    FUZZ_ASSERT(ref->nev == got->nev);

    for (i = 0; i < ref->nev; i++) {
        re = &ref->ev[i];
        ge = &got->ev[i];

        FUZZ_ASSERT(re->kind == ge->kind);
        FUZZ_ASSERT(re->len == ge->len);
        FUZZ_ASSERT(re->len == 0 || memcmp(re->data, ge->data, re->len) == 0);
    }

    if (discard) {
        FUZZ_ASSERT(got->nmsg == 0);
        return;
    }

    /* every message reported before a failure ended in a FIN frame */

    nfin = got->nmsg - (got->complete ? 0 : 1);

    for (i = 0; i < ref->nev && ref->ev[i].kind >= 0; i++) {
        if (ref->ev[i].kind == FUZZ_EV_MESSAGE) {
            nfin--;
        }
    }

    FUZZ_ASSERT(nfin == 0);

    /*
     * The messages, the last one possibly unfinished: a message whose
     * first piece has not arrived (or failed) is not in the output.
     */

    FUZZ_ASSERT(got->nmsg <= ref->nmsg && got->nmsg + 1 >= ref->nmsg);

    for (i = 0; i < ref->nmsg; i++) {
        r = &ref->msg[i];

        if (i == got->nmsg) {
            /* nothing of it was sent: nothing had arrived, or it failed */
            FUZZ_ASSERT(!ref->complete);
            FUZZ_ASSERT(r->len == 0 || (r->op == 1 && ref->utf8_bad
                                        != (size_t) -1));
            break;
        }

        g = &got->msg[i];

        FUZZ_ASSERT(g->op == r->op);

        if (i + 1 < ref->nmsg || ref->utf8_bad == (size_t) -1) {
            FUZZ_ASSERT(g->len == r->len);

        } else {
            /* invalid text: what was sent precedes the bad byte */
            FUZZ_ASSERT(g->len <= ref->utf8_bad);
        }

        FUZZ_ASSERT(g->len == 0 || memcmp(g->data, r->data, g->len) == 0);
    }
}


static void
fuzz_free(fuzz_result_t *res)
{
    ngx_uint_t  i;

    for (i = 0; i < res->nmsg; i++) {
        free(res->msg[i].data);
    }

    free(res->msg);
    free(res->ev);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: ngx_http_signaller_parse() (src/ngx_http_signaller_
 * frame.c) and the session's input buffer (src/ngx_http_signaller_buf.c:
 * room(), compaction, blocking, buf_idle(), handover(), the free list),
 * both the module's own code, driving a real ngx_http_signaller_session_t
 * with a client byte stream the way ngx_http_signaller_session_read()
 * does: room(), a read of a fuzzer-chosen size into [last, in->end), the
 * frames parsed from pos with the output written at out_last.  The peer's
 * connection sends from [out_pos, out_last), all of it or a fuzzer-chosen
 * amount, at the end of every read event or only when the buffer is
 * blocked, and then does what ngx_http_signaller_sent() does: unblocks the
 * session (posting its read event) or lets it give its buffer back.
 * Whenever the session closes, the pair breaks as in
 * ngx_http_signaller_close_pair(): handover() gives the frames not sent
 * yet to the peer, which sends them after all.
 *
 * A reference parser reads the whole stream at once; the two must agree
 * on the events (messages, control frames, the close code of a frame that
 * fails), and what the peer sends must be valid unmasked server frames
 * whose payload is the client's unmasked payload.
 *
 * Input:
 *   byte 0      flags: 0x01 the session is closing from the start (its
 *               frames are discarded, without a size limit),
 *               0x02 the peer sends only when the buffer is blocked,
 *               0x04 max_size << 8, 0x08 max_size unlimited,
 *               0x10 read sizes * 64,
 *               0x20 buffers given back stay in the module's free list
 *               (else it is emptied at once, so that ASan sees any use of
 *               a buffer after the session gave it back),
 *               0x40 the pair breaks (the peer leaves) after the chosen
 *               reads, or at the end of the stream,
 *               0x80 signaller_max_messages 2 (else the largest allowed)
 *   bytes 1-2   max_size (big endian)
 *   byte 3      number of read sizes (bits 0-4), followed by them (+1
 *               each); bits 5-7 (n): the peer sends at most 2 << 2n bytes
 *               at a time (8 to 32768), 0: all it has
 *   the rest    the client's byte stream
 *
 * The few symbols of nginx's core that buf.c uses are stand-ins in
 * ngx_stubs.c.
 */


#include "fuzz_common.h"


#define FUZZ_BUFSIZE   NGX_HTTP_SIGNALLER_BUFSIZE
#define FUZZ_HEADROOM  NGX_HTTP_SIGNALLER_HEADROOM

#define FUZZ_EV_MESSAGE  1
#define FUZZ_EV_ERROR    2
#define FUZZ_EV_CLOSE    8
#define FUZZ_EV_PING     9
#define FUZZ_EV_PONG     10

#define FUZZ_NEVER       ((size_t) -1)


typedef struct {
    ngx_uint_t      kind;     /* FUZZ_EV_* */
    ngx_uint_t      code;     /* FUZZ_EV_ERROR: the close code */
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
    ngx_uint_t      nfin;     /* reference: messages ended, not closing */
    size_t          utf8_bad; /* text: payload offset of the invalid byte */

    u_char         *wire;     /* sent: the start of a frame not all sent */
    size_t          wire_len;
    size_t          wire_size;
} fuzz_result_t;


typedef struct {
    ngx_http_signaller_session_t    s;        /* reads the client */
    ngx_http_signaller_session_t    peer;     /* sends s's frames */
    ngx_connection_t                c;
    ngx_connection_t                pc;
    ngx_event_t                     rev;
    ngx_event_t                     wev;
    ngx_event_t                     prev;
    ngx_event_t                     pwev;
    ngx_log_t                       log;
    ngx_http_signaller_loc_conf_t   conf;

    ngx_uint_t                      lazy;
    size_t                          send_max;   /* per send of the peer */
    ngx_uint_t                      keep_free;
    ngx_uint_t                      recording;  /* until the client's close */
    ngx_uint_t                      close_sent; /* s's own close is out */
    ngx_uint_t                      broken;     /* the pair has broken */
    ngx_uint_t                      done;       /* the session has ended */
    ngx_uint_t                      messages;   /* the client's, whole */

    u_char                         *in_copy;    /* FUZZ_BUFSIZE each */
    u_char                         *out_copy;

    fuzz_result_t                   got;
} fuzz_state_t;


static void fuzz_process(fuzz_state_t *st);
static ngx_int_t fuzz_room(fuzz_state_t *st);
static void fuzz_flush(fuzz_state_t *st, ngx_uint_t all);
static void fuzz_idle(fuzz_state_t *st);
static void fuzz_close(fuzz_state_t *st);
static void fuzz_layout(ngx_http_signaller_session_t *s);
static void fuzz_bufs_empty(void);
static void fuzz_record(fuzz_state_t *st, ngx_uint_t kind, ngx_uint_t code,
    const u_char *data, size_t len);
static void fuzz_reference(const u_char *s, size_t len, size_t max_size,
    ngx_uint_t discard, size_t closing_at, ngx_uint_t max_messages,
    fuzz_result_t *res);
static size_t fuzz_utf8_check(const u_char *p, size_t len, int *complete);
static void fuzz_event(fuzz_result_t *res, ngx_uint_t kind, ngx_uint_t code,
    const u_char *data, size_t len);
static fuzz_msg_t *fuzz_msg_new(fuzz_result_t *res, ngx_uint_t op);
static void fuzz_msg_add(fuzz_msg_t *m, const u_char *data, size_t len);
static void fuzz_send(fuzz_result_t *out, const u_char *data, size_t size,
    ngx_uint_t whole);
static void fuzz_compare(fuzz_result_t *ref, fuzz_result_t *got,
    ngx_uint_t discard);
static void fuzz_free(fuzz_result_t *res);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *stream;
    size_t                          max_size, nreads, i, off, n, avail,
                                    closing_at, reads[32];
    ngx_int_t                       rc;
    ngx_uint_t                      flags, ready, send;
    ngx_queue_t                    *q;
    ngx_event_t                    *ev;
    fuzz_state_t                    st;
    fuzz_result_t                   ref;
    ngx_http_signaller_session_t   *s;

    if (size < 4) {
        return 0;
    }

    flags = data[0];

    max_size = (data[1] << 8) | data[2];

    if (flags & 0x04) {
        max_size <<= 8;
    }

    if (flags & 0x08) {
        max_size = NGX_MAX_SIZE_T_VALUE;
    }

    nreads = data[3] % 32;
    send = data[3] >> 5;
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

    /* a session and its peer, with what of nginx buf.c touches */

    ngx_memzero(&st, sizeof(fuzz_state_t));
    s = &st.s;

    st.c.log = &st.log;
    st.c.read = &st.rev;
    st.c.write = &st.wev;
    st.c.data = s;
    st.rev.log = &st.log;
    st.rev.data = &st.c;
    st.wev.log = &st.log;
    st.wev.data = &st.c;

    st.pc.log = &st.log;
    st.pc.read = &st.prev;
    st.pc.write = &st.pwev;
    st.pc.data = &st.peer;
    st.prev.log = &st.log;
    st.prev.data = &st.pc;
    st.pwev.log = &st.log;
    st.pwev.data = &st.pc;

    st.conf.max_message_size = max_size;
    st.conf.max_messages = (flags & 0x80) ? 2 : NGX_MAX_INT32_VALUE;

    s->connection = &st.c;
    s->conf = &st.conf;
    s->peer = &st.peer;
    st.peer.connection = &st.pc;
    st.peer.conf = &st.conf;
    st.peer.peer = s;

    ngx_http_signaller_parser_init(&s->parser);

    st.lazy = flags & 0x02;
    st.send_max = send ? (size_t) 2 << (2 * send) : NGX_MAX_SIZE_T_VALUE;
    st.keep_free = flags & 0x20;
    st.recording = 1;
    st.got.complete = 1;

    st.in_copy = malloc(FUZZ_BUFSIZE);
    st.out_copy = malloc(FUZZ_BUFSIZE);
    FUZZ_ASSERT(st.in_copy != NULL && st.out_copy != NULL);

    if (flags & 0x01) {
        /* closed before anything came: the pair is gone, the close sent */
        s->peer = NULL;
        st.peer.peer = NULL;
        s->closing = 1;
        st.broken = 1;
        st.close_sent = 1;
    }

    closing_at = FUZZ_NEVER;
    off = 0;
    i = 0;

    /* read events, each as ngx_http_signaller_session_read() handles it */

    while (!st.done) {

        if (st.rev.posted) {
            ngx_delete_posted_event(&st.rev);
        }

        /* the peer leaves, between two read events of the session */

        if ((flags & 0x40) && !st.broken && i == nreads) {
            closing_at = off;
            fuzz_close(&st);
        }

        ready = (off < size);

        for ( ;; ) {

            if (s->failed && s->in) {
                s->pos = s->last;
            }

            if (s->in && s->pos < s->last) {
                fuzz_process(&st);

                if (st.done) {
                    break;
                }
            }

            if (!ready || s->blocked) {
                break;
            }

            rc = fuzz_room(&st);

            if (rc != NGX_OK) {
                break;
            }

            /* a read: one that fills the room leaves the socket ready */

            avail = s->in->end - s->last;
            n = (i < nreads) ? reads[i++] : avail;

            if (n > avail) {
                n = avail;
            }

            if (n > size - off) {
                n = size - off;
            }

            FUZZ_ASSERT(n > 0);

            ngx_memcpy(s->last, stream + off, n);
            s->last += n;
            off += n;

            ready = (n == avail && off < size);
        }

        if (st.done) {
            break;
        }

        fuzz_idle(&st);

        /* the peer's connection sends */

        if (!st.lazy || s->blocked) {
            fuzz_flush(&st, 0);
        }

        /* and the session's own: its close frame, which may end it */

        if (s->closing) {
            st.close_sent = 1;

            if (s->close_received) {
                st.done = 1;
            }
        }

        if (off == size && !s->blocked) {
            break;
        }
    }

    if ((flags & 0x40) && !st.broken) {
        closing_at = off;
        fuzz_close(&st);
    }

    /* in the end the peer sends what is left */

    fuzz_flush(&st, 1);

    FUZZ_ASSERT(st.got.wire_len == 0);
    FUZZ_ASSERT(st.peer.orphan == NULL);

    ngx_memzero(&ref, sizeof(fuzz_result_t));

    fuzz_reference(stream, size, max_size, flags & 0x01, closing_at,
                   st.conf.max_messages, &ref);

    fuzz_compare(&ref, &st.got, flags & 0x01);

    /* what detach() gives back; the free list is emptied for the next run */

    if (s->in) {
        ngx_http_signaller_buf_put(s->in);
        s->in = NULL;
    }

    if (st.peer.orphan) {
        ngx_http_signaller_buf_put(st.peer.orphan);
        st.peer.orphan = NULL;
    }

    fuzz_bufs_empty();

    while (!ngx_queue_empty(&ngx_posted_events)) {
        q = ngx_queue_head(&ngx_posted_events);
        ev = ngx_queue_data(q, ngx_event_t, queue);
        ngx_delete_posted_event(ev);
    }

    fuzz_free(&ref);
    fuzz_free(&st.got);
    free(st.in_copy);
    free(st.out_copy);
    free(stream);

    return 0;
}


/*
 * What ngx_http_signaller_process() does with the frames, the pongs sent
 * at once: parses until more input is needed, counts messages, and closes
 * on a frame that fails, on too many messages (as on too many too fast:
 * signaller_message_rate) and on the client's close.
 */

static void
fuzz_process(fuzz_state_t *st)
{
    u_char                        *out, *before;
    ngx_int_t                      rc;
    ngx_uint_t                     code, discard;
    ngx_http_signaller_frame_t     frame;
    ngx_http_signaller_session_t  *s;

    s = &st->s;

    for ( ;; ) {

        fuzz_layout(s);

        out = s->out_last;
        before = s->pos;
        discard = s->closing;

        /*
         * After an invalid close code the loop goes on, though handover()
         * may have taken the buffer: then parse() sees no input (NULL).
         */

        if (s->pos != s->last) {
            ngx_memcpy(st->in_copy, s->pos, s->last - s->pos);
        }

        /* what the parser does not set must not be used */
        ngx_memset(&frame, 0xa5, sizeof(ngx_http_signaller_frame_t));

        rc = ngx_http_signaller_parse(&s->parser, &s->pos, s->last, &out,
                                      discard ? NGX_MAX_SIZE_T_VALUE
                                              : st->conf.max_message_size,
                                      discard, &frame);

        if (s->in == NULL) {
            FUZZ_ASSERT(rc == NGX_HTTP_SIGNALLER_FRAME_AGAIN);
            FUZZ_ASSERT(s->pos == NULL && out == NULL);
            return;
        }

        FUZZ_ASSERT(s->pos >= before && s->pos <= s->last);
        FUZZ_ASSERT(out >= s->out_last && out <= s->pos);

        /* what is still to be parsed is as it arrived */
        FUZZ_ASSERT(rc == NGX_HTTP_SIGNALLER_FRAME_ERROR
                    || memcmp(s->pos, st->in_copy + (s->pos - before),
                              s->last - s->pos)
                       == 0);

        if (discard) {
            FUZZ_ASSERT(out == s->out_last);

        } else {
            s->out_last = out;
        }

        switch (rc) {

        case NGX_HTTP_SIGNALLER_FRAME_AGAIN:
            return;

        case NGX_HTTP_SIGNALLER_FRAME_MESSAGE:

            fuzz_record(st, FUZZ_EV_MESSAGE, 0, NULL, 0);

            if (s->closing) {
                break;
            }

            if (++st->messages >= st->conf.max_messages) {
                /*
                 * The rest of this read is parsed, closing, only after
                 * another read: when is not the reference's to know, so
                 * nothing from here on is compared.
                 */
                st->recording = 0;
                fuzz_close(st);
                return;
            }

            break;

        case NGX_HTTP_SIGNALLER_FRAME_PING:
        case NGX_HTTP_SIGNALLER_FRAME_PONG:
        case NGX_HTTP_SIGNALLER_FRAME_CLOSE:

            FUZZ_ASSERT(frame.len <= 125);
            FUZZ_ASSERT(frame.payload >= before
                        && frame.payload + frame.len <= s->pos);

            fuzz_record(st, rc == NGX_HTTP_SIGNALLER_FRAME_PING
                            ? FUZZ_EV_PING
                            : rc == NGX_HTTP_SIGNALLER_FRAME_PONG
                              ? FUZZ_EV_PONG : FUZZ_EV_CLOSE,
                        0, frame.payload, frame.len);

            if (rc != NGX_HTTP_SIGNALLER_FRAME_CLOSE) {
                break;
            }

            /* ngx_http_signaller_control(); nothing after it is compared */

            st->recording = 0;
            s->close_received = 1;

            if (s->closing) {
                if (st->close_sent) {
                    st->done = 1;
                }

                return;
            }

            if (ngx_http_signaller_close_code(frame.payload, frame.len, &code)
                != NGX_OK)
            {
                s->close_received = 0;
                fuzz_close(st);
                s->failed = 1;
                break;
            }

            fuzz_close(st);
            return;

        case NGX_HTTP_SIGNALLER_FRAME_ERROR:

            FUZZ_ASSERT(frame.code == NGX_HTTP_SIGNALLER_PROTOCOL_ERROR
                        || frame.code == NGX_HTTP_SIGNALLER_TOO_BIG
                        || frame.code == NGX_HTTP_SIGNALLER_INVALID_PAYLOAD);

            fuzz_record(st, FUZZ_EV_ERROR, frame.code, NULL, 0);

            if (!s->closing) {
                fuzz_close(st);
            }

            /* the session drains its input from now on */
            s->failed = 1;
            s->pos = s->last;
            return;

        default:
            FUZZ_ASSERT(0);
        }
    }
}


/*
 * ngx_http_signaller_room() and what it promises: the frames not sent and
 * the input not parsed are kept, byte for byte; NGX_AGAIN only with frames
 * to send, the session marked blocked; else room for a read, and an empty
 * input has room for a frame header before it.
 */

static ngx_int_t
fuzz_room(fuzz_state_t *st)
{
    size_t                         pending, unparsed;
    ngx_int_t                      rc;
    ngx_uint_t                     had;
    ngx_http_signaller_session_t  *s;

    s = &st->s;

    FUZZ_ASSERT(!s->blocked);

    had = (s->in != NULL);
    pending = 0;
    unparsed = 0;

    if (had) {
        fuzz_layout(s);

        pending = s->out_last - s->out_pos;
        unparsed = s->last - s->pos;

        ngx_memcpy(st->out_copy, s->out_pos, pending);
        ngx_memcpy(st->in_copy, s->pos, unparsed);
    }

    rc = ngx_http_signaller_room(s);

    /* the stand-in ngx_alloc() does not fail */
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_AGAIN);
    FUZZ_ASSERT(s->in != NULL);

    fuzz_layout(s);

    if (had) {
        FUZZ_ASSERT((size_t) (s->out_last - s->out_pos) == pending);
        FUZZ_ASSERT((size_t) (s->last - s->pos) == unparsed);
        FUZZ_ASSERT(memcmp(s->out_pos, st->out_copy, pending) == 0);
        FUZZ_ASSERT(memcmp(s->pos, st->in_copy, unparsed) == 0);

    } else {
        FUZZ_ASSERT(rc == NGX_OK);
        FUZZ_ASSERT(s->out_pos == s->in->start && s->out_last == s->out_pos);
        FUZZ_ASSERT(s->pos == s->in->start + FUZZ_HEADROOM
                    && s->last == s->pos);
    }

    /* a read has the headroom before it; a blocked session reads nothing */

    FUZZ_ASSERT(rc == NGX_AGAIN || s->pos < s->last
                || s->pos >= s->out_last + FUZZ_HEADROOM);

    if (rc == NGX_AGAIN) {
        FUZZ_ASSERT(s->blocked);
        FUZZ_ASSERT(s->out_pos < s->out_last);

    } else {
        FUZZ_ASSERT(!s->blocked);
        FUZZ_ASSERT(s->last < s->in->end);

        /*
         * No tiny reads, but for a buffer that holds nothing but input
         * left to parse (after the client's close, or too many messages,
         * the loop reads before it has parsed all), moved to its start.
         */

        FUZZ_ASSERT(s->in->end - s->last >= 256
                    || (s->out_pos == s->in->start
                        && s->out_last == s->out_pos
                        && s->pos == s->in->start + FUZZ_HEADROOM));
    }

    return rc;
}


/*
 * The peer's connection: ngx_http_signaller_flush() sends s's frames while
 * the pair lasts, else the orphan, up to send_max bytes (all: no limit),
 * then ngx_http_signaller_sent() unblocks s (posting its read event) or
 * lets it give its buffer back, and gives back a finished orphan.  "all":
 * the last send, after which nothing more is read.
 */

static void
fuzz_flush(fuzz_state_t *st, ngx_uint_t all)
{
    size_t                         n, limit;
    ngx_http_signaller_session_t  *s, *p;

    s = &st->s;
    p = &st->peer;

    limit = all ? NGX_MAX_SIZE_T_VALUE : st->send_max;

    if (!st->broken) {
        FUZZ_ASSERT(p->orphan == NULL);

        if (s->in && s->out_pos < s->out_last) {
            fuzz_layout(s);

            n = ngx_min((size_t) (s->out_last - s->out_pos), limit);
            fuzz_send(&st->got, s->out_pos, n, s->out_pos + n == s->out_last);
            s->out_pos += n;
        }

    } else if (p->orphan && p->orphan_pos < p->orphan_last) {
        FUZZ_ASSERT(p->orphan->start <= p->orphan_pos
                    && p->orphan_last <= p->orphan->end);

        n = ngx_min((size_t) (p->orphan_last - p->orphan_pos), limit);
        fuzz_send(&st->got, p->orphan_pos, n,
                  p->orphan_pos + n == p->orphan_last);
        p->orphan_pos += n;
    }

    if (!all && !st->broken && s->in && s->out_pos == s->out_last) {
        if (s->blocked) {
            s->blocked = 0;
            ngx_post_event(s->connection->read, &ngx_posted_events);

        } else {
            fuzz_idle(st);
        }
    }

    if (p->orphan && p->orphan_pos == p->orphan_last) {
        ngx_http_signaller_buf_put(p->orphan);
        p->orphan = NULL;

        if (!st->keep_free) {
            fuzz_bufs_empty();
        }
    }
}


/*
 * ngx_http_signaller_buf_idle(): the buffer is given back exactly when all
 * its frames are sent and all its input is parsed.  Without the free list
 * it is freed at once, so that ASan catches any later use of it.
 */

static void
fuzz_idle(fuzz_state_t *st)
{
    ngx_uint_t                     idle;
    ngx_http_signaller_buf_t      *b;
    ngx_http_signaller_session_t  *s;

    s = &st->s;
    b = s->in;

    fuzz_layout(s);

    idle = (b && s->out_pos == s->out_last && s->pos == s->last);

    ngx_http_signaller_buf_idle(s);

    FUZZ_ASSERT(s->in == (idle ? NULL : b));

    if (idle && !st->keep_free) {
        fuzz_bufs_empty();
    }
}


/*
 * What ngx_http_signaller_close_pair() does to the session's input: the
 * pair breaks, unlink() handing the frames not sent yet over to the peer
 * (handover() both ways; the peer has no buffer), and the session is
 * closing: it only parses on for the client's close frame.
 */

static void
fuzz_close(fuzz_state_t *st)
{
    size_t                         pending, unparsed;
    ngx_uint_t                     blocked;
    ngx_http_signaller_session_t  *s, *p;

    s = &st->s;
    p = &st->peer;

    if (s->closing) {
        return;
    }

    s->closing = 1;

    if (st->broken) {
        return;
    }

    st->broken = 1;

    pending = 0;
    unparsed = 0;
    blocked = s->blocked;

    if (s->in) {
        fuzz_layout(s);

        pending = s->out_last - s->out_pos;
        unparsed = s->last - s->pos;

        ngx_memcpy(st->out_copy, s->out_pos, pending);
        ngx_memcpy(st->in_copy, s->pos, unparsed);
    }

    /* only frames to send block a session */
    FUZZ_ASSERT(!blocked || pending);

    s->peer = NULL;
    p->peer = NULL;

    ngx_http_signaller_handover(s, p);
    ngx_http_signaller_handover(p, s);

    FUZZ_ASSERT(p->in == NULL && s->orphan == NULL);
    FUZZ_ASSERT(!s->blocked);

    if (pending == 0) {
        FUZZ_ASSERT(p->orphan == NULL);

    } else {
        /* the stand-in ngx_alloc() does not fail: nothing is lost */
        FUZZ_ASSERT(p->orphan != NULL);
        FUZZ_ASSERT(p->orphan->start <= p->orphan_pos
                    && p->orphan_last <= p->orphan->end);
        FUZZ_ASSERT((size_t) (p->orphan_last - p->orphan_pos) == pending);
        FUZZ_ASSERT(memcmp(p->orphan_pos, st->out_copy, pending) == 0);

        /* a session that was blocked reads on */
        FUZZ_ASSERT(!blocked || st->rev.posted);
    }

    if (s->in) {
        fuzz_layout(s);

        FUZZ_ASSERT(s->out_pos == s->out_last);
        FUZZ_ASSERT((size_t) (s->last - s->pos) == unparsed);
        FUZZ_ASSERT(memcmp(s->pos, st->in_copy, unparsed) == 0);

    } else {
        FUZZ_ASSERT(unparsed == 0);
    }
}


/* the order of the pointers into the buffer, all inside it */

static void
fuzz_layout(ngx_http_signaller_session_t *s)
{
    u_char  *end;

    if (s->in == NULL) {
        return;
    }

    end = s->in->end;

    if (!(s->in->start <= s->out_pos && s->out_pos <= s->out_last
          && s->out_last <= s->pos && s->pos <= s->last && s->last <= end))
    {
        fprintf(stderr, "buffer: out_pos %td, out_last %td, pos %td, "
                "last %td, end %td (from its start), blocked %d\n",
                s->out_pos - s->in->start, s->out_last - s->in->start,
                s->pos - s->in->start, s->last - s->in->start,
                s->in->end - s->in->start, (int) s->blocked);
    }

    FUZZ_ASSERT(s->in->end == s->in->start + FUZZ_BUFSIZE);
    FUZZ_ASSERT(s->in->start <= s->out_pos);
    FUZZ_ASSERT(s->out_pos <= s->out_last);
    FUZZ_ASSERT(s->out_last <= s->pos);
    FUZZ_ASSERT(s->pos <= s->last);
    FUZZ_ASSERT(s->last <= end);
}


/*
 * Empties the module's free list, freeing the buffers so that ASan catches
 * any later use of them.  Through buf_get(), which keeps the list's count:
 * ngx_http_signaller_bufs_exit() frees the buffers but leaves the count
 * (reported), after which, in this process, buf_put() would free every
 * buffer once 64 had been given back, and the list never be used again.
 */

static void
fuzz_bufs_empty(void)
{
    ngx_uint_t                 allocs;
    ngx_http_signaller_buf_t  *b;

    for ( ;; ) {
        allocs = fuzz_stub_allocs;

        b = ngx_http_signaller_buf_get();
        FUZZ_ASSERT(b != NULL);

        ngx_free(b);

        if (fuzz_stub_allocs != allocs) {
            /* the list was empty: this one was new */
            return;
        }
    }
}


static void
fuzz_record(fuzz_state_t *st, ngx_uint_t kind, ngx_uint_t code,
    const u_char *data, size_t len)
{
    if (st->recording) {
        fuzz_event(&st->got, kind, code, data, len);
    }
}


/*
 * The reference: RFC 6455 section 5 on the whole stream, frame by frame,
 * with the checks in the order the module documents (first the two fixed
 * bytes, then the whole header, then a control frame's whole payload),
 * up to the first close frame or failure, or max_messages messages.  The
 * session is closing (its frames discarded, no size limit) from the start
 * with "discard", and from the byte "closing_at" on: a header that is
 * whole only after it is checked as a closing session's, and only the
 * payload before it is the peer's.
 */

#define fuzz_fail(code)                                                      \
    fuzz_event(res, FUZZ_EV_ERROR, code, NULL, 0);                           \
    return

static void
fuzz_reference(const u_char *s, size_t len, size_t max_size,
    ngx_uint_t discard, size_t closing_at, ngx_uint_t max_messages,
    fuzz_result_t *res)
{
    int                 complete;
    u_char              ctl[125], c;
    size_t              off, hlen, avail, k, n, bad;
    uint64_t            plen;
    ngx_uint_t          fin, op, in_message;
    fuzz_msg_t         *m;
    unsigned __int128   total, limit;

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

        if (closing_at != FUZZ_NEVER && off + hlen > closing_at) {
            discard = 1;
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

            fuzz_event(res, op, 0, ctl, plen);

            if (op == 8) {
                return;
            }

            off += hlen + plen;
            continue;
        }

        if (op != 0) {
            total = 0;
        }

        limit = discard ? NGX_MAX_SIZE_T_VALUE : max_size;

        if (total + plen > limit) {
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

            /* up to where the session starts closing */

            n = avail;

            if (closing_at != FUZZ_NEVER && off + hlen + n > closing_at) {
                n = closing_at - (off + hlen);
            }

            for (k = 0; k < n; k++) {
                c = s[off + hlen + k] ^ s[off + hlen - 4 + k % 4];
                fuzz_msg_add(m, &c, 1);
            }

            if (m->op == 1) {
                bad = fuzz_utf8_check(m->data, m->len, &complete);

                if (bad < m->len || (n == plen && fin && !complete)) {
                    res->utf8_bad = bad;
                    fuzz_fail(NGX_HTTP_SIGNALLER_INVALID_PAYLOAD);
                }
            }

            if (n < avail) {
                discard = 1;
            }
        }

        if (avail < plen) {
            return;
        }

        off += hlen + plen;

        if (fin) {
            in_message = 0;

            fuzz_event(res, FUZZ_EV_MESSAGE, 0, NULL, 0);

            if (!discard) {
                res->complete = 1;

                if (++res->nfin >= max_messages) {
                    return;
                }
            }
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
fuzz_event(fuzz_result_t *res, ngx_uint_t kind, ngx_uint_t code,
    const u_char *data, size_t len)
{
    fuzz_event_t  *ev;

    if (res->nev == res->ev_size) {
        res->ev_size = res->ev_size ? res->ev_size * 2 : 16;
        res->ev = realloc(res->ev, res->ev_size * sizeof(fuzz_event_t));
        FUZZ_ASSERT(res->ev != NULL);
    }

    ev = &res->ev[res->nev++];
    ev->kind = kind;
    ev->code = code;
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
 * What the peer's connection sends, after what it sent before: complete,
 * unmasked server frames, data frames only, fragmented properly (the first
 * with the message's opcode, then continuations, FIN on the last), lengths
 * in their shortest form.  A send may end inside a frame; one that empties
 * what was queued ("whole") must end on a frame boundary: the bytes
 * between the output pointers are always whole frames.
 */

static void
fuzz_send(fuzz_result_t *out, const u_char *data, size_t size,
    ngx_uint_t whole)
{
    u_char      *p;
    size_t       off, hlen, k, len;
    uint64_t     plen;
    ngx_uint_t   fin, op;
    fuzz_msg_t  *m;

    if (out->wire_len + size > out->wire_size) {
        out->wire_size = ngx_max(out->wire_size * 2, out->wire_len + size);
        out->wire = realloc(out->wire, out->wire_size);
        FUZZ_ASSERT(out->wire != NULL);
    }

    if (size) {
        memcpy(out->wire + out->wire_len, data, size);
        out->wire_len += size;
    }

    p = out->wire;
    len = out->wire_len;
    off = 0;

    while (len - off >= 2) {
        fin = p[off] >> 7;
        op = p[off] & 0x0f;

        FUZZ_ASSERT((p[off] & 0x70) == 0);
        FUZZ_ASSERT((p[off + 1] & 0x80) == 0);
        FUZZ_ASSERT(op <= 2);

        plen = p[off + 1] & 0x7f;
        hlen = 2 + (plen == 126 ? 2 : plen == 127 ? 8 : 0);

        if (len - off < hlen) {
            break;
        }

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

        if (len - off - hlen < plen) {
            break;
        }

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

    /* the start of a frame the rest of which is still to be sent */

    memmove(p, p + off, len - off);
    out->wire_len = len - off;

    if (whole) {
        FUZZ_ASSERT(out->wire_len == 0);
    }
}


static void
fuzz_compare(fuzz_result_t *ref, fuzz_result_t *got, ngx_uint_t discard)
{
    ngx_uint_t     i, nfin;
    fuzz_msg_t    *r, *g;
    fuzz_event_t  *re, *ge;

    if (ref->nev != got->nev) {
        fprintf(stderr, "events: %u, reference: %u\n", (unsigned) got->nev,
                (unsigned) ref->nev);
    }

    FUZZ_ASSERT(ref->nev == got->nev);

    for (i = 0; i < ref->nev; i++) {
        re = &ref->ev[i];
        ge = &got->ev[i];

        if (re->kind != ge->kind || re->code != ge->code) {
            fprintf(stderr, "event %u: %u/%u, reference: %u/%u\n",
                    (unsigned) i, (unsigned) ge->kind, (unsigned) ge->code,
                    (unsigned) re->kind, (unsigned) re->code);
        }

        FUZZ_ASSERT(re->kind == ge->kind);
        FUZZ_ASSERT(re->code == ge->code);
        FUZZ_ASSERT(re->len == ge->len);
        FUZZ_ASSERT(re->len == 0 || memcmp(re->data, ge->data, re->len) == 0);
    }

    if (discard) {
        FUZZ_ASSERT(got->nmsg == 0);
    }

    /* every message that ended before the session closed ended in a FIN */

    nfin = got->nmsg - (got->complete ? 0 : 1);

    FUZZ_ASSERT(nfin == ref->nfin);

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
    free(res->wire);
}

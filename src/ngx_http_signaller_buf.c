
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * A session's input buffer: frames from its client are parsed in place and
 * rewritten as server frames into [out_pos, out_last), which the peer's
 * connection sends from there, so a message is copied once, by the
 * unmasking.  A session reads only while its buffer has room, which bounds
 * what a slow receiver can make nginx hold to one buffer per direction; a
 * session whose frames are all sent and whose input is all parsed gives
 * its buffer back.  Buffers are kept in a small free list: no malloc() per
 * read.
 */


#include "ngx_http_signaller.h"


static ngx_http_signaller_buf_t *ngx_http_signaller_buf_take(void);
static void ngx_http_signaller_buf_give(ngx_http_signaller_buf_t *b);
static void ngx_http_signaller_buf_start(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_compact(ngx_http_signaller_session_t *s);


#define NGX_HTTP_SIGNALLER_FREE_BUFS  64


static ngx_http_signaller_buf_t  *ngx_http_signaller_free;
static ngx_uint_t                 ngx_http_signaller_nfree;


ngx_http_signaller_buf_t *
ngx_http_signaller_buf_get(void)
{
    return ngx_http_signaller_buf_take();
}


/*
 * The work of buf_get(), buf_put() and buf_reset(), static so that room()
 * and buf_idle(), on every message, have it inlined rather than called
 * through the PLT.
 */

static ngx_http_signaller_buf_t *
ngx_http_signaller_buf_take(void)
{
    ngx_http_signaller_buf_t  *b;

    b = ngx_http_signaller_free;

    if (b) {
        ngx_http_signaller_free = b->next;
        ngx_http_signaller_nfree--;
        return b;
    }

    b = ngx_alloc(sizeof(ngx_http_signaller_buf_t)
                  + NGX_HTTP_SIGNALLER_BUFSIZE, ngx_cycle->log);
    if (b == NULL) {
        return NULL;
    }

    b->start = (u_char *) (b + 1);
    b->end = b->start + NGX_HTTP_SIGNALLER_BUFSIZE;

    return b;
}


void
ngx_http_signaller_buf_put(ngx_http_signaller_buf_t *b)
{
    ngx_http_signaller_buf_give(b);
}


static void
ngx_http_signaller_buf_give(ngx_http_signaller_buf_t *b)
{
    if (ngx_http_signaller_nfree >= NGX_HTTP_SIGNALLER_FREE_BUFS) {
        ngx_free(b);
        return;
    }

    b->next = ngx_http_signaller_free;
    ngx_http_signaller_free = b;
    ngx_http_signaller_nfree++;
}


void
ngx_http_signaller_bufs_exit(void)
{
    ngx_http_signaller_buf_t  *b;

    while (ngx_http_signaller_free) {
        b = ngx_http_signaller_free;
        ngx_http_signaller_free = b->next;
        ngx_free(b);
    }

    ngx_http_signaller_nfree = 0;
}


void
ngx_http_signaller_buf_reset(ngx_http_signaller_session_t *s)
{
    ngx_http_signaller_buf_start(s);
}


static void
ngx_http_signaller_buf_start(ngx_http_signaller_session_t *s)
{
    s->out_pos = s->in->start;
    s->out_last = s->in->start;
    s->pos = s->in->start + NGX_HTTP_SIGNALLER_HEADROOM;
    s->last = s->pos;
}


/*
 * A session whose frames have all been sent and whose input is all parsed
 * needs no buffer: between messages, and while a listener waits, it holds
 * none.
 */

void
ngx_http_signaller_buf_idle(ngx_http_signaller_session_t *s)
{
    if (s->in && s->out_pos == s->out_last && s->pos == s->last) {
        ngx_http_signaller_buf_give(s->in);
        s->in = NULL;
    }
}


/*
 * Makes room in the input buffer for a read: NGX_OK if there is some,
 * NGX_AGAIN if the session must wait until the peer has sent out the
 * frames that fill it, NGX_ERROR if there is no buffer to be had.
 */

ngx_int_t
ngx_http_signaller_room(ngx_http_signaller_session_t *s)
{
    u_char  *start;
    size_t   delta;

    if (s->in == NULL) {
        s->in = ngx_http_signaller_buf_take();
        if (s->in == NULL) {
            return NGX_ERROR;
        }

        ngx_http_signaller_buf_start(s);
        return NGX_OK;
    }

    if (s->out_pos == s->out_last) {
        ngx_http_signaller_compact(s);

    } else if (s->in->end - s->last < 256 && s->out_pos > s->in->start) {
        delta = s->out_pos - s->in->start;
        ngx_memmove(s->in->start, s->out_pos, s->last - s->out_pos);
        s->out_pos -= delta;
        s->out_last -= delta;
        s->pos -= delta;
        s->last -= delta;
    }

    /*
     * A piece of payload needs room before it for its new frame header:
     * reading starts that far past the frames, if nothing is unparsed.
     */

    start = s->last;

    if (s->pos == s->last
        && start < s->out_last + NGX_HTTP_SIGNALLER_HEADROOM)
    {
        start = s->out_last + NGX_HTTP_SIGNALLER_HEADROOM;
    }

    /* tiny reads cost more than waiting for the peer to drain the buffer */

    if (start + 256 > s->in->end && s->out_pos != s->out_last) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller: input blocked");
        s->blocked = 1;
        return NGX_AGAIN;
    }

    if (start != s->last) {
        s->pos = start;
        s->last = start;
    }

    return NGX_OK;
}


/* moves the unparsed input down to the start of an empty buffer */

static void
ngx_http_signaller_compact(ngx_http_signaller_session_t *s)
{
    size_t   n;
    u_char  *start;

    start = s->in->start + NGX_HTTP_SIGNALLER_HEADROOM;

    s->out_pos = s->in->start;
    s->out_last = s->in->start;

    /*
     * Input is only ever moved down: input that begins before the
     * headroom's end (a buffer whose frames were shifted down to its start
     * while it filled) stays where it is, and new frames, never longer
     * than the input they come from, still fit before it.
     */

    if (s->pos <= start) {
        return;
    }

    n = s->last - s->pos;

    ngx_memmove(start, s->pos, n);

    s->pos = start;
    s->last = start + n;
}


/*
 * The frames "from" parsed for "to" go with "to".  With nothing else in
 * it, the buffer itself goes; else "from" keeps it for its unparsed input
 * and the frames are copied into a new one, no larger than where they lay.
 */

void
ngx_http_signaller_handover(ngx_http_signaller_session_t *from,
    ngx_http_signaller_session_t *to)
{
    ngx_http_signaller_buf_t  *b;

    if (from->in == NULL || from->out_pos == from->out_last) {
        return;
    }

    if (from->pos == from->last && !from->blocked) {
        to->orphan = from->in;
        to->orphan_pos = from->out_pos;
        to->orphan_last = from->out_last;

        from->in = NULL;
        from->pos = NULL;
        from->last = NULL;
        from->out_pos = NULL;
        from->out_last = NULL;
        return;
    }

    b = ngx_http_signaller_buf_get();

    if (b != NULL) {
        to->orphan = b;
        to->orphan_pos = b->start;
        to->orphan_last = ngx_cpymem(b->start, from->out_pos,
                                     from->out_last - from->out_pos);
    }

    /* what could not be kept is lost: "to" is being closed anyway */

    from->out_pos = from->out_last;

    if (from->blocked) {
        from->blocked = 0;
        ngx_post_event(from->connection->read, &ngx_posted_events);
    }
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * What a session sends to its client, in this order: the rest of the 101,
 * frames from the peer (or the former peer, after a pair broke), a pong,
 * a ping, the close frame.  Then what went out is given back, the close moves
 * forward, and send_timeout runs while anything is left.
 */


#include "ngx_http_signaller.h"


#define NGX_HTTP_SIGNALLER_QUEUES  4


/*
 * Only the buffers in use are cleared: clearing all four per send cost
 * more than the rest of a relayed message's sending.
 */

#define ngx_http_signaller_queue_buf(b)                                       \
    ngx_memzero(b, sizeof(ngx_buf_t));                                        \
    (b)->memory = 1


static ngx_int_t ngx_http_signaller_send_relayed(
    ngx_http_signaller_session_t *s);
static ngx_int_t ngx_http_signaller_send_response(
    ngx_http_signaller_session_t *s);
static ngx_int_t ngx_http_signaller_send_frames(
    ngx_http_signaller_session_t *s);
static ngx_uint_t ngx_http_signaller_queued(ngx_http_signaller_session_t *s,
    ngx_buf_t *bufs, u_char ***pos, ngx_uint_t *frames);
static void ngx_http_signaller_sent(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_peer_sent(ngx_http_signaller_session_t *p);
static ngx_int_t ngx_http_signaller_close_forward(
    ngx_http_signaller_session_t *s);
static void ngx_http_signaller_wait_write(ngx_http_signaller_session_t *s);


/* event handlers of a connection that is nothing but a session */

void
ngx_http_signaller_session_write_event(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_signaller_session_write(c->data);
}


/* the write event handler */

void
ngx_http_signaller_session_write(ngx_http_signaller_session_t *s)
{
    ngx_connection_t  *c;

    c = s->connection;

    if (s->done || c->close) {
        ngx_http_signaller_finalize(s);
        return;
    }

    if (c->write->timedout) {
        c->write->timedout = 0;
        c->timedout = 1;

        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "signaller: client timed out");

        ngx_http_signaller_gone(s);
        return;
    }

    ngx_http_signaller_flush(s);
}


void
ngx_http_signaller_flush(ngx_http_signaller_session_t *s)
{
    ngx_int_t     rc;
    ngx_event_t  *wev;

    if (s->done) {
        return;
    }

    rc = ngx_http_signaller_send_relayed(s);

    if (rc == NGX_OK) {
        wev = s->connection->write;

        /* with epoll a socket that took everything needs nothing more */

        if ((!(ngx_event_flags & NGX_USE_CLEAR_EVENT) || !wev->ready)
            && ngx_handle_write_event(wev, 0) != NGX_OK)
        {
            ngx_http_signaller_gone(s);
        }

        return;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_signaller_send_response(s);

        if (rc == NGX_OK) {
            rc = ngx_http_signaller_send_frames(s);

            if (rc == NGX_OK) {
                ngx_http_signaller_sent(s);

                if (ngx_http_signaller_close_forward(s) == NGX_DONE) {
                    return;
                }
            }
        }
    }

    if (rc == NGX_ERROR) {
        ngx_http_signaller_gone(s);
        return;
    }

    ngx_http_signaller_wait_write(s);
}


/*
 * The usual case, on every relayed message and twice per message: nothing
 * but the peer's frames to send, or nothing at all, no timer running.
 * NGX_OK: all of it went out, only the write event is left to be looked
 * after; NGX_AGAIN: the socket took what it could, the rest waits for it
 * with send_timeout; NGX_DECLINED for anything else, left to the general
 * way, which, with its buffers for every queue, its closing handshake and
 * its checks, costs several times as much.
 */

static ngx_int_t
ngx_http_signaller_send_relayed(ngx_http_signaller_session_t *s)
{
    ssize_t                        sent;
    ngx_connection_t              *c;
    ngx_http_signaller_session_t  *p;

    c = s->connection;

    if (s->closing || s->orphan || s->pong_pos || s->ping_pos || s->pong_wait
        || c->buffered || c->write->timer_set
        || (s->request && s->request->out))
    {
        return NGX_DECLINED;
    }

    p = s->peer;

    if (p == NULL || p->in == NULL) {
        return NGX_OK;
    }

    if (p->out_pos < p->out_last) {

        if (!c->write->ready) {
            return NGX_AGAIN;
        }

        sent = c->send(c, p->out_pos, p->out_last - p->out_pos);

        if (sent == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (sent > 0) {
            ngx_http_signaller_count(s->zone, bytes, sent);
            s->figures.bytes_out += sent;
            p->out_pos += sent;
        }

        if (p->out_pos < p->out_last) {
            return NGX_AGAIN;
        }
    }

    ngx_http_signaller_peer_sent(p);

    return c->buffered ? NGX_AGAIN : NGX_OK;
}


/* NGX_AGAIN while the 101 has not been sent in full */

static ngx_int_t
ngx_http_signaller_send_response(ngx_http_signaller_session_t *s)
{
    ngx_http_request_t  *r;

    r = s->request;

    if (r == NULL || r->out == NULL) {
        return NGX_OK;
    }

    if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return r->out ? NGX_AGAIN : NGX_OK;
}


/* sends until all is out or the socket would block */

static ngx_int_t
ngx_http_signaller_send_frames(ngx_http_signaller_session_t *s)
{
    u_char            **pos[NGX_HTTP_SIGNALLER_QUEUES];
    ssize_t             sent;
    ngx_buf_t           bufs[NGX_HTTP_SIGNALLER_QUEUES];
    ngx_uint_t          i, n, frames;
    ngx_chain_t        *cl, chain[NGX_HTTP_SIGNALLER_QUEUES];
    ngx_connection_t   *c;

    c = s->connection;

    for ( ;; ) {
        n = ngx_http_signaller_queued(s, bufs, pos, &frames);

        /* TLS may hold bytes of its own, sent by a call without data */

        if ((n == 0 && !c->buffered) || !c->write->ready) {
            return NGX_OK;
        }

        if (n == 1 && !c->buffered) {

            /* the usual case, one run of frames: a plain send() */

            sent = c->send(c, bufs[0].pos, bufs[0].last - bufs[0].pos);

            if (sent == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (sent > 0) {
                bufs[0].pos += sent;
            }

            cl = (bufs[0].pos < bufs[0].last) ? chain : NULL;

        } else {
            for (i = 0; i < n; i++) {
                chain[i].buf = &bufs[i];
                chain[i].next = (i + 1 < n) ? &chain[i + 1] : NULL;
            }

            cl = c->send_chain(c, n ? chain : NULL, 0);

            if (cl == NGX_CHAIN_ERROR) {
                return NGX_ERROR;
            }
        }

        if (frames) {
            ngx_http_signaller_count(s->zone, bytes, bufs[0].pos - *pos[0]);
        }

        for (i = 0; i < n; i++) {
            s->figures.bytes_out += bufs[i].pos - *pos[i];
            *pos[i] = bufs[i].pos;
        }

        /*
         * With all of it sent, only an orphan, left out behind the peer's
         * frames, can still be queued: without one there is no need to ask.
         */

        if (cl != NULL || c->buffered || n == 0 || s->orphan == NULL) {
            return NGX_OK;
        }
    }
}


/*
 * What is queued for the client, as buffers, and in "pos" where each one's
 * sent position goes back to; "frames" if the first holds relayed frames.
 */

static ngx_uint_t
ngx_http_signaller_queued(ngx_http_signaller_session_t *s, ngx_buf_t *bufs,
    u_char ***pos, ngx_uint_t *frames)
{
    ngx_uint_t                     n;
    ngx_http_signaller_session_t  *p;

    n = 0;
    p = s->peer;

    if (p && p->in && p->out_pos < p->out_last) {
        ngx_http_signaller_queue_buf(&bufs[n]);
        bufs[n].pos = p->out_pos;
        bufs[n].last = p->out_last;
        pos[n++] = &p->out_pos;

    } else if (s->orphan && s->orphan_pos < s->orphan_last) {
        ngx_http_signaller_queue_buf(&bufs[n]);
        bufs[n].pos = s->orphan_pos;
        bufs[n].last = s->orphan_last;
        pos[n++] = &s->orphan_pos;
    }

    *frames = n;

    if (s->pong_pos < s->pong_last) {
        ngx_http_signaller_queue_buf(&bufs[n]);
        bufs[n].pos = s->pong_pos;
        bufs[n].last = s->pong_last;
        pos[n++] = &s->pong_pos;
    }

    if (s->ping_pos < s->ping_last) {
        ngx_http_signaller_queue_buf(&bufs[n]);
        bufs[n].pos = s->ping_pos;
        bufs[n].last = s->ping_last;
        pos[n++] = &s->ping_pos;
    }

    if (s->close_pos < s->close_last) {
        ngx_http_signaller_queue_buf(&bufs[n]);
        bufs[n].pos = s->close_pos;
        bufs[n].last = s->close_last;
        pos[n++] = &s->close_pos;
    }

    if (n) {
        bufs[n - 1].flush = 1;
    }

    return n;
}


/* what was sent in full is given back; a blocked peer reads on */

static void
ngx_http_signaller_sent(ngx_http_signaller_session_t *s)
{
    ngx_http_signaller_session_t  *p;

    p = s->peer;

    if (p && p->in && p->out_pos == p->out_last) {
        ngx_http_signaller_peer_sent(p);
    }

    if (s->orphan && s->orphan_pos == s->orphan_last) {
        ngx_http_signaller_buf_put(s->orphan);
        s->orphan = NULL;
    }

    if (s->ping_pos == s->ping_last) {
        s->ping_pos = NULL;
        s->ping_last = NULL;
    }

    if (s->pong_pos == s->pong_last) {
        s->pong_pos = NULL;
        s->pong_last = NULL;

        if (s->pong_wait) {
            s->pong_wait = 0;
            ngx_post_event(s->connection->read, &ngx_posted_events);
        }
    }
}


/* all of the peer's frames are out */

static void
ngx_http_signaller_peer_sent(ngx_http_signaller_session_t *p)
{
    if (p->blocked) {
        p->blocked = 0;
        ngx_post_event(p->connection->read, &ngx_posted_events);

    } else {
        ngx_http_signaller_buf_idle(p);
    }
}


/*
 * Once the close frame is out: the session ends if the client has closed
 * too (NGX_DONE), or asks it to, by the end of its stream, if the input
 * can no longer be parsed.
 */

static ngx_int_t
ngx_http_signaller_close_forward(ngx_http_signaller_session_t *s)
{
    ngx_connection_t  *c;

    c = s->connection;

    if (!s->closing || s->close_pos != s->close_last
        || s->orphan || s->pong_pos || s->ping_pos || c->buffered)
    {
        return NGX_OK;
    }

    if (s->close_received || s->eof) {
        ngx_http_signaller_end(s);
        return NGX_DONE;
    }

    if (s->failed && !s->shut) {
        /*
         * No close frame can be recognised in what follows: the end of
         * our stream asks the client to close, and the input is read
         * until it does, so that unread data cannot turn our close
         * into a reset before the client has seen it.
         */

        s->shut = 1;
        (void) shutdown(c->fd, SHUT_WR);
    }

    return NGX_OK;
}


/* send_timeout runs while anything is left to send */

static void
ngx_http_signaller_wait_write(ngx_http_signaller_session_t *s)
{
    ngx_connection_t              *c;
    ngx_http_signaller_session_t  *p;

    c = s->connection;
    p = s->peer;

    if ((s->request && s->request->out) || c->buffered
        || (p && p->in && p->out_pos < p->out_last)
        || s->orphan || s->pong_pos || s->ping_pos
        || s->close_pos < s->close_last)
    {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, s->conf->send_timeout);
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_signaller_gone(s);
    }
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * What a session reads: frames from its client, parsed into its input
 * buffer for the peer, pings answered in order, and a close taken up.
 * What nginx read behind the upgrade request is read first.
 */


#include "ngx_http_signaller.h"


static ngx_int_t ngx_http_signaller_parse_input(
    ngx_http_signaller_session_t *s);
static ssize_t ngx_http_signaller_recv(ngx_http_signaller_session_t *s,
    u_char *buf, size_t size);
static void ngx_http_signaller_process(ngx_http_signaller_session_t *s);
static ngx_int_t ngx_http_signaller_rate(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_control(ngx_http_signaller_session_t *s,
    ngx_int_t rc, ngx_http_signaller_frame_t *frame);


/* event handlers of a connection that is nothing but a session */

void
ngx_http_signaller_session_read_event(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_signaller_session_read(c->data);
}


/* the read event handler */

void
ngx_http_signaller_session_read(ngx_http_signaller_session_t *s)
{
    ssize_t            n;
    ngx_int_t          rc;
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    c = s->connection;

    if (s->done || c->close) {
        ngx_http_signaller_finalize(s);
        return;
    }

    rev = c->read;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller read: ready:%d", rev->ready);

    for ( ;; ) {

        if (s->failed && s->in) {
            /* the stream cannot be parsed any more: drain it */
            s->pos = s->last;
        }

        if (s->in && s->pos < s->last) {
            rc = ngx_http_signaller_parse_input(s);

            if (rc == NGX_DONE) {
                return;
            }

            if (rc == NGX_AGAIN) {
                continue;
            }
        }

        if ((!rev->ready && s->early == NULL) || s->blocked || s->pong_wait)
        {
            break;
        }

        rc = ngx_http_signaller_room(s);

        if (rc == NGX_ERROR) {
            ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_INTERNAL_ERROR,
                                          NGX_HTTP_SIGNALLER_INTERNAL_ERROR);
            break;
        }

        if (rc != NGX_OK) {
            break;
        }

        n = ngx_http_signaller_recv(s, s->last, s->in->end - s->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_signaller_gone(s);
            return;
        }

        /* anything the client sends answers a ping */

        s->ping_unanswered = 0;
        s->figures.bytes_in += n;
        s->last += n;
    }

    ngx_http_signaller_buf_idle(s);

    if (s->peer) {
        ngx_http_signaller_flush(s->peer);
    }

    if (s->done) {
        return;
    }

    /*
     * What its client sent queues for the client only a pong or a close;
     * the peer's frames are sent as the peer reads them, or when the
     * socket can take them.
     */

    if (s->pong_pos || s->closing) {
        ngx_http_signaller_flush(s);

        if (s->done) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_INTERNAL_ERROR,
                                      NGX_HTTP_SIGNALLER_INTERNAL_ERROR);
    }
}


/*
 * Parses what has been read.  Every ping gets its pong, sent before
 * parsing goes on: NGX_AGAIN when it went out at once, else parsing waits
 * for it ("pong_wait").  NGX_DONE: the session has ended.
 */

static ngx_int_t
ngx_http_signaller_parse_input(ngx_http_signaller_session_t *s)
{
    ngx_http_signaller_process(s);

    if (s->done) {
        return NGX_DONE;
    }

    if (s->pong_pos == NULL) {
        return NGX_OK;
    }

    ngx_http_signaller_flush(s);

    if (s->done) {
        return NGX_DONE;
    }

    if (s->pong_pos == NULL) {
        return NGX_AGAIN;
    }

    s->pong_wait = 1;

    return NGX_OK;
}


/* what the client sent behind its request comes first */

static ssize_t
ngx_http_signaller_recv(ngx_http_signaller_session_t *s, u_char *buf,
    size_t size)
{
    size_t  n;

    if (s->early == NULL) {
        return s->connection->recv(s->connection, buf, size);
    }

    n = ngx_min(size, (size_t) (s->early->end - s->early_pos));

    ngx_memcpy(buf, s->early_pos, n);
    s->early_pos += n;

    if (s->early_pos == s->early->end) {
        ngx_free(s->early);
        s->early = NULL;
    }

    return n;
}


static void
ngx_http_signaller_process(ngx_http_signaller_session_t *s)
{
    u_char                      *out;
    ngx_int_t                    rc;
    ngx_http_signaller_frame_t   frame;

    for ( ;; ) {

        /*
         * Nothing left to parse cannot make a frame: the parser would only
         * return FRAME_AGAIN, and after each message that call is saved.
         */

        if (s->pong_pos || s->pos == s->last) {
            return;
        }

        out = s->out_last;

        rc = ngx_http_signaller_parse(&s->parser, &s->pos, s->last, &out,
                                      s->closing ? NGX_MAX_SIZE_T_VALUE
                                                 : s->conf->max_message_size,
                                      s->closing, &frame);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller frame: %i, %uz bytes left", rc,
                       (size_t) (s->last - s->pos));

        if (!s->closing) {
            s->out_last = out;
        }

        switch (rc) {

        case NGX_HTTP_SIGNALLER_FRAME_AGAIN:
            return;

        case NGX_HTTP_SIGNALLER_FRAME_MESSAGE:

            if (s->closing) {
                break;
            }

            ngx_http_signaller_count(s->zone, messages, 1);

            if (ngx_http_signaller_rate(s) != NGX_OK) {
                ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                              "signaller: client sends messages faster "
                              "than signaller_message_rate");

                ngx_http_signaller_close_pair(s,
                                              NGX_HTTP_SIGNALLER_RATE_LIMITED,
                                              NGX_HTTP_SIGNALLER_PEER_GONE);
                return;
            }

            if (s->peer) {
                s->peer->figures.messages_out++;
            }

            if (++s->figures.messages_in >= s->conf->max_messages) {
                ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_TOO_MANY,
                                              NGX_HTTP_SIGNALLER_TOO_MANY);
                return;
            }

            break;

        case NGX_HTTP_SIGNALLER_FRAME_PING:
        case NGX_HTTP_SIGNALLER_FRAME_PONG:
        case NGX_HTTP_SIGNALLER_FRAME_CLOSE:

            ngx_http_signaller_control(s, rc, &frame);

            if (s->done || s->close_received) {
                return;
            }

            break;

        default: /* NGX_HTTP_SIGNALLER_FRAME_ERROR */

            /* a frame that breaks the protocol */

            if (!s->closing) {
                ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                              "signaller: client sent an invalid frame, "
                              "closing with %ui", frame.code);

                ngx_http_signaller_close_pair(s, frame.code,
                                              NGX_HTTP_SIGNALLER_PEER_GONE);
            }

            s->failed = 1;
            s->pos = s->last;
            return;
        }
    }
}


/*
 * signaller_message_rate: limit_req's leaky bucket, per peer.  The message
 * that goes over it has been relayed already, piece by piece: it is the
 * last one.
 */

static ngx_int_t
ngx_http_signaller_rate(ngx_http_signaller_session_t *s)
{
    ngx_int_t       excess;
    ngx_msec_int_t  ms;

    if (s->conf->rate == 0) {
        return NGX_OK;
    }

    excess = 0;

    if (s->rate_last) {
        ms = (ngx_msec_int_t) (ngx_current_msec - s->rate_last);

        excess = (ngx_int_t) s->rate_excess
                 - (ngx_int_t) (s->conf->rate * ngx_abs(ms) / 1000) + 1000;

        if (excess < 0) {
            excess = 0;
        }

        if ((ngx_uint_t) excess > s->conf->burst) {
            return NGX_BUSY;
        }
    }

    s->rate_excess = excess;
    s->rate_last = ngx_current_msec ? ngx_current_msec : 1;

    return NGX_OK;
}


static void
ngx_http_signaller_control(ngx_http_signaller_session_t *s, ngx_int_t rc,
    ngx_http_signaller_frame_t *frame)
{
    ngx_uint_t  code;

    switch (rc) {

    case NGX_HTTP_SIGNALLER_FRAME_PING:

        if (s->closing) {
            return;
        }

        /*
         * A browser never pings: a waiting listener does not carry a
         * pong's room, the first ping brings it, for the session's life.
         */

        if (s->pong == NULL) {
            s->pong = ngx_alloc(2 + 125, s->connection->log);
            if (s->pong == NULL) {
                ngx_http_signaller_close_pair(s,
                                              NGX_HTTP_SIGNALLER_INTERNAL_ERROR,
                                              NGX_HTTP_SIGNALLER_PEER_GONE);
                return;
            }
        }

        s->pong[0] = 0x8a;
        s->pong[1] = (u_char) frame->len;
        ngx_memcpy(&s->pong[2], frame->payload, frame->len);

        s->pong_pos = s->pong;
        s->pong_last = s->pong + 2 + frame->len;
        return;

    case NGX_HTTP_SIGNALLER_FRAME_PONG:
        return;
    }

    /* a close frame */

    s->close_received = 1;

    if (s->closing) {
        if (s->close_pos == s->close_last) {
            ngx_http_signaller_end(s);
        }

        return;
    }

    if (ngx_http_signaller_close_code(frame->payload, frame->len, &code)
        != NGX_OK)
    {
        s->close_received = 0;
        ngx_http_signaller_close_pair(s, code, NGX_HTTP_SIGNALLER_PEER_GONE);

        /* no second close will come: end as after any broken frame */
        s->failed = 1;
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: client closed with %ui", code);

    ngx_http_signaller_close_pair(s, code,
                                  code == NGX_HTTP_SIGNALLER_NORMAL
                                  ? NGX_HTTP_SIGNALLER_NORMAL
                                  : NGX_HTTP_SIGNALLER_PEER_GONE);
}

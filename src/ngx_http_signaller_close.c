
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * How a session closes and ends.  It closes with the closing handshake:
 * its close frame queued, the client's awaited for a while.  It ends when
 * it is done with its connection: marked "done" and finalized from a
 * posted event, never from inside the handler that is running, so that no
 * caller is left holding a freed session.  Pairs are broken here: what
 * one peer had relayed still reaches the other before its close frame.
 */


#include "ngx_http_signaller.h"


static void ngx_http_signaller_unlink(ngx_http_signaller_session_t *s,
    ngx_uint_t peer_code);


/*
 * Closes a session ("code" 0 echoes a close without a status) and, with
 * "peer_code", its peer.
 */

void
ngx_http_signaller_close_pair(ngx_http_signaller_session_t *s, ngx_uint_t code,
    ngx_uint_t peer_code)
{
    if (s->closing || s->done) {
        return;
    }

    ngx_http_signaller_unlink(s, peer_code);
    ngx_http_signaller_close(s, code);
}


/* starts the closing handshake with the client ("code" 0: no status) */

void
ngx_http_signaller_close(ngx_http_signaller_session_t *s,
    ngx_uint_t code)
{
    if (s->closing || s->done) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: closing with %ui", code);

    s->closing = 1;
    s->figures.close_code = code;
    s->close_pos = s->close;
    s->close_last = ngx_http_signaller_close_frame(s->close, code);

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    ngx_add_timer(&s->timer, NGX_HTTP_SIGNALLER_LINGER);

    ngx_post_event(s->connection->write, &ngx_posted_events);
}


void
ngx_http_signaller_timer_handler(ngx_event_t *ev)
{
    ngx_http_signaller_session_t  *s = ev->data;

    if (s->done) {
        return;
    }

    if (s->closing) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller: no close from client");
        ngx_http_signaller_end(s);
        return;
    }

    if (s->waiting) {
        ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_LISTEN_TIMEOUT, 0);
        return;
    }

    ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_PIPE_TIMEOUT,
                                  NGX_HTTP_SIGNALLER_PIPE_TIMEOUT);
}


/*
 * signaller_ping_interval: a client that has sent nothing since the last
 * ping, one interval ago, is taken for gone (a phone off the network keeps
 * its TCP connection looking open for minutes).
 */

void
ngx_http_signaller_ping_handler(ngx_event_t *ev)
{
    ngx_http_signaller_session_t  *s = ev->data;

    static u_char  ping[] = { 0x89, 0x00 };

    if (s->done || s->closing) {
        return;
    }

    /* a client whose input is not read just now cannot be heard */

    if (s->ping_unanswered && !s->blocked && !s->pong_wait) {
        ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                      "signaller: client did not answer a ping");

        ngx_http_signaller_count(s->zone, dropped, 1);

        ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_GOING_AWAY,
                                      NGX_HTTP_SIGNALLER_PEER_GONE);
        return;
    }

    s->ping_unanswered = 1;
    ngx_http_signaller_count(s->zone, pings, 1);

    if (s->ping_pos == NULL) {
        s->ping_pos = ping;
        s->ping_last = ping + sizeof(ping);
    }

    ngx_add_timer(ev, s->conf->ping_interval);

    ngx_http_signaller_flush(s);
}


/* breaks a pair, or takes a waiting listener out of the table */

static void
ngx_http_signaller_unlink(ngx_http_signaller_session_t *s,
    ngx_uint_t peer_code)
{
    ngx_http_signaller_session_t  *p;

    /*
     * A connector on its way from another worker has its 101: it is told
     * as a peer, and that its listener is gone where a waiting listener
     * has nobody to tell (its listen timeout fired meanwhile).
     */

    if (s->waiting
        && ngx_http_signaller_session_unlist(s) == NGX_BUSY)
    {
        ngx_http_signaller_handoff_left(s, peer_code ? peer_code
                                           : NGX_HTTP_SIGNALLER_PEER_GONE);
    }

    p = s->peer;

    if (p == NULL) {
        return;
    }

    s->peer = NULL;
    p->peer = NULL;

    ngx_http_signaller_zone_pipe(s->zone, s->figures.crossed, -1);

    /* frames already relayed are still delivered, then the close */

    ngx_http_signaller_handover(s, p);
    ngx_http_signaller_handover(p, s);

    ngx_http_signaller_close(p, peer_code);
}


/* the client's connection is lost */

void
ngx_http_signaller_gone(ngx_http_signaller_session_t *s)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: client gone");

    s->eof = 1;
    s->connection->error = 1;

    /*
     * A relayed connector's worker that shuts down closes its stream to
     * us; it is not the client that left.
     */

    ngx_http_signaller_unlink(s, (s->relayed
                                  && ngx_http_signaller_zone_stopped(s->zone,
                                                               s->relay_pid))
                                 ? NGX_HTTP_SIGNALLER_GOING_AWAY
                                 : NGX_HTTP_SIGNALLER_PEER_GONE);
    ngx_http_signaller_end(s);
}


/* the session is over: it is finalized from a posted event */

void
ngx_http_signaller_end(ngx_http_signaller_session_t *s)
{
    if (s->done) {
        return;
    }

    s->done = 1;

    ngx_post_event(s->connection->write, &ngx_posted_events);
}


/* from the posted event: the session lets go of its connection */

void
ngx_http_signaller_finalize(ngx_http_signaller_session_t *s)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = s->connection;

    ngx_http_signaller_detach(s);

    if (s->request) {
        ngx_http_finalize_request(s->request, NGX_HTTP_CLOSE);
        return;
    }

    if (!s->relayed && !s->handed) {
        /* a client connection whose request was released */
        ngx_http_close_connection(c);
        return;
    }

    pool = c->pool;
    ngx_close_connection(c);
    ngx_destroy_pool(pool);
}


/*
 * Releases everything a session holds outside its pool, however it ends:
 * also from the pool cleanup when nginx closes the connection itself, as
 * on worker_shutdown_timeout, where the client and the peer are told 1001.
 */

void
ngx_http_signaller_detach(ngx_http_signaller_session_t *s)
{
    u_char             frame[sizeof(s->close)];
    ngx_uint_t         code;
    ngx_connection_t  *c;

    if (s->queue.next == NULL) {
        return;
    }

    c = s->connection;

    code = (c->close || ngx_terminate) ? NGX_HTTP_SIGNALLER_GOING_AWAY
                                       : NGX_HTTP_SIGNALLER_PEER_GONE;

    if (code == NGX_HTTP_SIGNALLER_GOING_AWAY && !s->eof
        && !(s->request && s->request->out)
        && s->orphan == NULL && s->pong_pos == NULL && s->ping_pos == NULL
        && (s->peer == NULL || s->peer->in == NULL
            || s->peer->out_pos == s->peer->out_last))
    {
        /* nothing is half sent: the client can still be told, if it reads */

        if (!s->closing) {
            (void) c->send(c, frame,
                           ngx_http_signaller_close_frame(frame, code)
                           - frame);

        } else if (s->close_pos == s->close) {
            (void) c->send(c, s->close, s->close_last - s->close);
        }
    }

    s->done = 1;

    ngx_http_signaller_unlink(s, code);

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    if (s->ping.timer_set) {
        ngx_del_timer(&s->ping);
    }

    if (s->in) {
        ngx_http_signaller_buf_put(s->in);
        s->in = NULL;
    }

    if (s->orphan) {
        ngx_http_signaller_buf_put(s->orphan);
        s->orphan = NULL;
    }

    if (s->early) {
        ngx_free(s->early);
        s->early = NULL;
    }

    if (s->pong) {
        ngx_free(s->pong);
        s->pong = NULL;
        s->pong_pos = NULL;
        s->pong_last = NULL;
    }

    ngx_http_signaller_log_end(s);

    if (s->link) {
        ngx_http_signaller_link_report(s->link, s->tag, &s->figures);
        s->link = 0;
    }

    if (!s->refusal) {
        ngx_http_signaller_count_ended(s->zone, s->figures.close_code);
    }

    ngx_queue_remove(&s->queue);
    s->queue.next = NULL;
}


void
ngx_http_signaller_cleanup(void *data)
{
    ngx_http_signaller_session_t  *s = data;

    ngx_http_signaller_detach(s);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers, made pairs in one worker: once the listener's
 * worker ("L") has said yes, the connector's worker ("C") sends the 101
 * and then the client's socket itself (SCM_RIGHTS) over the Unix stream,
 * and L pairs a session on it with the listener, as if the connector had
 * landed there.  From then on no byte crosses workers, and C holds no
 * buffer; with "signaller_log_at end" it keeps the request and the Unix
 * stream, idle, until L reports the session's figures for its access log
 * line.  A socket moves only when nothing of the client's was read behind
 * its request and no TLS state lives in C (splice.c does the rest).
 */


#include "ngx_http_signaller.h"


/* C sends the socket as soon as its 101 is out */
#define NGX_HTTP_SIGNALLER_HANDOFF_TIMEOUT   2000


static void ngx_http_signaller_handoff_flush(ngx_http_request_t *r);
static void ngx_http_signaller_handoff_pass(ngx_http_signaller_relay_t *rl);
static void ngx_http_signaller_handoff_reported(ngx_event_t *ev);
static void ngx_http_signaller_handoff_receive(ngx_event_t *ev);
static void ngx_http_signaller_handoff_swap(ngx_http_signaller_session_t *s,
    ngx_socket_t fd);
static void ngx_http_signaller_handoff_unwatch(ngx_connection_t *c);


/* C: L has said yes; the 101 goes out first */

void
ngx_http_signaller_handoff_start(ngx_http_signaller_relay_t *rl)
{
    ngx_http_request_t             *r;
    ngx_http_signaller_loc_conf_t  *slcf;

    r = rl->request;

    rl->figures.data = rl;
    rl->figures.paired = ngx_current_msec;
    rl->figures.crossed = 1;

    ngx_http_set_ctx(r, &rl->figures, ngx_http_signaller_module);

    /* what the client sends from now on is L's to read */

    if (ngx_http_signaller_upgrade(r, &rl->key, ngx_http_block_reading,
                                   ngx_http_signaller_handoff_flush)
        != NGX_OK)
    {
        ngx_http_signaller_relay_finalize(rl, NGX_ERROR);
        return;
    }

    /* bounds the wait for L's report, as the splice's life */

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    ngx_add_timer(&rl->timer, slcf->pipe_timeout + slcf->send_timeout
                              + 2 * NGX_HTTP_SIGNALLER_LINGER);

    ngx_http_signaller_handoff_flush(r);
}


/* the rest of the 101, if the socket did not take it at once */

static void
ngx_http_signaller_handoff_flush(ngx_http_request_t *r)
{
    ngx_connection_t              *c;
    ngx_http_signaller_relay_t    *rl;
    ngx_http_signaller_figures_t  *f;

    c = r->connection;
    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);
    rl = f->data;

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if ((r->out || c->buffered)
        && ngx_http_output_filter(r, NULL) == NGX_ERROR)
    {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (r->out || c->buffered) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, rl->send_timeout);
        }

        if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
            ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        }

        return;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_signaller_handoff_pass(rl);
}


/* C: the client's socket goes to L, and this worker lets go of it */

static void
ngx_http_signaller_handoff_pass(ngx_http_signaller_relay_t *rl)
{
    u_char               frame[32], *last;
    ngx_connection_t    *c, *pc;
    ngx_http_request_t  *r;

    r = rl->request;
    c = r->connection;
    pc = rl->peer;

    if (ngx_http_signaller_handoff_send(pc->fd, c->fd) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, c->log, ngx_socket_errno,
                      "signaller: the listener's worker %P is gone",
                      rl->worker.pid);

        /* only the 101 went out: a close frame may follow */

        rl->figures.close_code = NGX_HTTP_SIGNALLER_PEER_GONE;
        last = ngx_http_signaller_close_frame(frame,
                                              NGX_HTTP_SIGNALLER_PEER_GONE);
        (void) c->send(c, frame, last - frame);

        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: socket handed to worker %P", rl->worker.pid);

    /* L reads and writes it now; this worker's copy is only closed */

    r->write_event_handler = ngx_http_request_empty_handler;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_http_signaller_handoff_unwatch(c);

    if (!(rl->flags & NGX_HTTP_SIGNALLER_REPORT)) {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    pc->read->handler = ngx_http_signaller_handoff_reported;

    if (ngx_handle_read_event(pc->read, 0) != NGX_OK) {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
    }
}


/*
 * C: the session has ended in L, whose figures make the access log line;
 * an L that went away without them leaves the line what C knows.
 */

static void
ngx_http_signaller_handoff_reported(ngx_event_t *ev)
{
    ssize_t                      n;
    ngx_connection_t            *c, *pc;
    ngx_http_signaller_relay_t  *rl;

    pc = ev->data;
    rl = pc->data;
    c = rl->request->connection;

    for ( ;; ) {
        n = pc->recv(pc, rl->report + rl->reported,
                     NGX_HTTP_SIGNALLER_REPORT_LEN - rl->reported);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                break;
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            break;
        }

        rl->reported += n;

        if (rl->reported < NGX_HTTP_SIGNALLER_REPORT_LEN) {
            continue;
        }

        if (ngx_http_signaller_report_parse(rl->report, &rl->figures)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "signaller: invalid report from worker %P",
                          rl->worker.pid);
        }

        break;
    }

    ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
    ngx_http_run_posted_requests(c);
}


/*
 * L, having said yes to a handover: the connector's session "s" is paired
 * on the Unix stream, but reads and writes nothing until the socket comes
 * over it; then it takes the stream's place.
 */

void
ngx_http_signaller_handoff_wait(ngx_http_signaller_session_t *s,
    ngx_uint_t flags)
{
    ngx_connection_t  *c;

    c = s->connection;

    s->handing = 1;
    s->reporting = (flags & NGX_HTTP_SIGNALLER_REPORT) ? 1 : 0;

    c->read->handler = ngx_http_signaller_handoff_receive;

    ngx_add_timer(c->read, NGX_HTTP_SIGNALLER_HANDOFF_TIMEOUT);

    /* once the pair is made: the stream is watched from its first EAGAIN */

    ngx_post_event(c->read, &ngx_posted_events);
}


/* L: the socket has come, or C has given up */

static void
ngx_http_signaller_handoff_receive(ngx_event_t *ev)
{
    ngx_int_t                      rc;
    ngx_socket_t                   fd;
    ngx_connection_t              *c;
    ngx_http_signaller_session_t  *s;

    c = ev->data;
    s = c->data;

    if (s->done || c->close) {
        ngx_http_signaller_finalize(s);
        return;
    }

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "signaller: no socket from the connector's worker");
        rc = NGX_ERROR;

    } else {
        rc = ngx_http_signaller_handoff_recv(c->fd, &fd);

        if (rc == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) == NGX_OK) {
                return;
            }

            rc = NGX_ERROR;
        }

        ngx_del_timer(ev);
    }

    if (rc != NGX_OK) {
        /* as if the client had left: its peer is told 4003 (or 1001) */
        ngx_http_signaller_gone(s);
        return;
    }

    ngx_http_signaller_handoff_swap(s, fd);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: socket handed over from worker %P",
                   s->relay_pid);

    /* what the peer has queued meanwhile, and what the client has sent */

    ngx_http_signaller_flush(s);
    ngx_http_signaller_session_read(s);
}


/*
 * The client's socket takes the Unix stream's place in the session's
 * connection; the stream is kept only if C wants the figures.
 */

static void
ngx_http_signaller_handoff_swap(ngx_http_signaller_session_t *s,
    ngx_socket_t fd)
{
    ngx_connection_t  *c;

    c = s->connection;

    ngx_http_signaller_handoff_unwatch(c);

    if (s->reporting) {
        s->report = c->fd;

    } else {
        (void) ngx_close_socket(c->fd);
    }

    c->fd = fd;

    /* nothing is known of the new socket: try it */

    c->read->ready = 1;
    c->read->available = 1;
    c->read->eof = 0;
    c->read->pending_eof = 0;
    c->read->error = 0;
    c->write->ready = 1;
    c->write->eof = 0;
    c->write->error = 0;

    c->read->handler = ngx_http_signaller_session_read_event;

    s->handing = 0;
    s->relayed = 0;
    s->handed = 1;
}


/* L: a handed-over session has ended; C logs it from these figures */

void
ngx_http_signaller_handoff_report(ngx_http_signaller_session_t *s)
{
    u_char  buf[NGX_HTTP_SIGNALLER_REPORT_LEN], *last;

    /* nothing else ever went over this stream: its buffer takes it all */

    last = ngx_http_signaller_report_write(buf, &s->figures);
    (void) send(s->report, buf, last - buf, MSG_NOSIGNAL);

    (void) ngx_close_socket(s->report);
    s->report = (ngx_socket_t) -1;
}


/* the connection's socket leaves this worker's event loop, still open */

static void
ngx_http_signaller_handoff_unwatch(ngx_connection_t *c)
{
    if (ngx_del_conn) {
        if (c->read->active || c->write->active) {
            (void) ngx_del_conn(c, 0);
        }

        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}

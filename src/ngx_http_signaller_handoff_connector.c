
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers, made pairs in one worker: the connector's
 * worker ("C").  C takes the listener's table entry, so that no other
 * connector can, sends the 101, and then the client's socket itself
 * (SCM_RIGHTS) over its link to the listener's worker ("L", link.c),
 * which pairs a session on it with the listener as if the connector had
 * landed there (handoff_listener.c).  From then on no byte crosses
 * workers, and C holds no buffer.  With "signaller_log_at end" C keeps the
 * request until L reports the session's figures for its access log line.
 * A socket moves only when nothing of the client's was read behind its
 * request and no TLS state lives in C (splice.c does the rest).
 */


#include "ngx_http_signaller.h"


static void ngx_http_signaller_handoff_flush(ngx_http_request_t *r);
static void ngx_http_signaller_handoff_pass(ngx_http_signaller_handoff_t *h);
static void ngx_http_signaller_handoff_timer(ngx_event_t *ev);
static void ngx_http_signaller_handoff_finalize(
    ngx_http_signaller_handoff_t *h, ngx_int_t rc);
static void ngx_http_signaller_handoff_cleanup(void *data);
static void ngx_http_signaller_handoff_unwatch(ngx_connection_t *c);


/* tags the handoffs of this worker for the reports that come back */
static uint64_t  ngx_http_signaller_handoff_tag;


/*
 * C: the connector's request "r" pairs with the listener "entry" names,
 * which waits in another worker.  The request is kept (NGX_DONE) until
 * its socket has gone, or its report has come.
 */

ngx_int_t
ngx_http_signaller_handoff_start(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *handle, ngx_str_t *key)
{
    ngx_int_t                       rc;
    ngx_uint_t                      flags;
    ngx_connection_t               *c;
    ngx_pool_cleanup_t             *cln;
    ngx_http_signaller_link_t      *link;
    ngx_http_signaller_handoff_t   *h;
    ngx_http_signaller_loc_conf_t  *slcf;

    c = r->connection;
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    link = ngx_http_signaller_link_get(&entry->worker, c->log, &rc);

    if (link == NULL) {
        return (rc == NGX_ERROR)
               ? ngx_http_signaller_relay_unavailable(r)
               : ngx_http_signaller_relay_gone(r, &entry->worker, key);
    }

    /*
     * The request lives until L reports the end, for the access log line,
     * or for a module that counts it meanwhile (limit_conn): asked before
     * a cleanup of ours is added.
     */

    flags = NGX_HTTP_SIGNALLER_HANDOFF;

    if (slcf->log_at == NGX_HTTP_SIGNALLER_LOG_END
        || ngx_http_signaller_request_tied(r))
    {
        flags |= NGX_HTTP_SIGNALLER_REPORT;
    }

    h = ngx_pcalloc(r->pool, sizeof(ngx_http_signaller_handoff_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (h == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_signaller_table_take(slcf->shm_zone, handle, &entry->id)
        != NGX_OK)
    {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, key);
    }

    /* from here on, however the request ends, L hears of it */

    h->node.key = ++ngx_http_signaller_handoff_tag;
    h->request = r;
    h->link = link;
    h->key = *key;
    h->id = entry->id;
    h->send_timeout = slcf->send_timeout;
    h->flags = flags;
    ngx_memcpy(h->handle, handle->data, handle->len);

    h->figures.data = h;
    h->figures.handle = *handle;
    h->figures.opened = ngx_current_msec;
    h->figures.paired = ngx_current_msec;
    h->figures.crossed = 1;

    h->timer.handler = ngx_http_signaller_handoff_timer;
    h->timer.data = h;
    h->timer.log = c->log;

    cln->handler = ngx_http_signaller_handoff_cleanup;
    cln->data = h;

    ngx_http_set_ctx(r, &h->figures, ngx_http_signaller_module);

    /* what the client sends from now on is L's to read */

    if (ngx_http_signaller_upgrade(r, key, ngx_http_block_reading,
                                   ngx_http_signaller_handoff_flush)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->main->count++;

    /*
     * The socket goes right behind the 101, if the client took it whole:
     * a worker that dies between the two strands the client.
     */

    h->handler = 1;
    ngx_http_signaller_handoff_flush(r);
    h->handler = 0;

    return NGX_DONE;
}


/* the rest of the 101, if the socket did not take it at once */

static void
ngx_http_signaller_handoff_flush(ngx_http_request_t *r)
{
    ngx_connection_t              *c;
    ngx_http_signaller_handoff_t  *h;
    ngx_http_signaller_figures_t  *f;

    c = r->connection;
    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);
    h = f->data;

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
        return;
    }

    if ((r->out || c->buffered)
        && ngx_http_output_filter(r, NULL) == NGX_ERROR)
    {
        ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
        return;
    }

    if (r->out || c->buffered) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, h->send_timeout);
        }

        if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
            ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
        }

        return;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_signaller_handoff_pass(h);
}


/* C: the client's socket goes to L, and this worker lets go of it */

static void
ngx_http_signaller_handoff_pass(ngx_http_signaller_handoff_t *h)
{
    u_char      buf[NGX_HTTP_SIGNALLER_HANDOFF_MAX], *p;
    ngx_str_t   handle;
    ngx_int_t   rc;

    handle.data = h->handle;
    handle.len = h->figures.handle.len;

    p = ngx_http_signaller_preamble_write(buf, &h->id, &handle, h->flags);
    p = ngx_http_signaller_tag_write(p, h->node.key);

    rc = ngx_http_signaller_link_send(h->link, buf, p - buf,
                                      h->request->connection->fd, h);

    if (rc == NGX_OK) {
        ngx_http_signaller_handoff_sent(h);

    } else if (rc == NGX_ERROR) {
        ngx_http_signaller_handoff_failed(h);
    }
}


/* C: L has the socket; this worker's copy is only closed */

void
ngx_http_signaller_handoff_sent(ngx_http_signaller_handoff_t *h)
{
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_signaller_loc_conf_t  *slcf;

    r = h->request;
    c = r->connection;

    h->sent = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: socket handed to worker %P",
                   h->link->worker.pid);

    r->write_event_handler = ngx_http_request_empty_handler;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_http_signaller_handoff_unwatch(c);

    if (!(h->flags & NGX_HTTP_SIGNALLER_REPORT)) {
        ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
        return;
    }

    ngx_rbtree_insert(&h->link->reports, &h->node);

    /* bounds the wait for L's report, as a splice's life */

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    ngx_add_timer(&h->timer, slcf->pipe_timeout + slcf->send_timeout
                             + 2 * NGX_HTTP_SIGNALLER_LINGER);
}


/* C: the link broke before the socket went; only the 101 did */

void
ngx_http_signaller_handoff_failed(ngx_http_signaller_handoff_t *h)
{
    u_char             frame[32], *last;
    ngx_connection_t  *c;

    c = h->request->connection;

    ngx_log_error(NGX_LOG_INFO, c->log, ngx_socket_errno,
                  "signaller: the listener's worker %P is gone",
                  h->link->worker.pid);

    /* nothing can reach L any more */
    h->link = NULL;

    h->figures.close_code = NGX_HTTP_SIGNALLER_PEER_GONE;
    last = ngx_http_signaller_close_frame(frame, NGX_HTTP_SIGNALLER_PEER_GONE);
    (void) c->send(c, frame, last - frame);

    ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
}


/*
 * C: the session has ended in L, whose figures "f" make the access log
 * line; an L that went away without them (f NULL) leaves the line what
 * C knows.
 */

void
ngx_http_signaller_handoff_reported(ngx_http_signaller_link_t *link,
    uint64_t tag, ngx_http_signaller_figures_t *f)
{
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_signaller_handoff_t  *h;

    node = link->reports.root;
    sentinel = link->reports.sentinel;

    while (node != sentinel && node->key != tag) {
        node = (tag < node->key) ? node->left : node->right;
    }

    if (node == sentinel) {
        /* its request ended first (its timer) */
        return;
    }

    h = (ngx_http_signaller_handoff_t *) node;

    if (f) {
        h->figures.close_code = f->close_code;
        h->figures.messages_in = f->messages_in;
        h->figures.messages_out = f->messages_out;
        h->figures.bytes_in = f->bytes_in;
        h->figures.bytes_out = f->bytes_out;
    }

    ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
}


static void
ngx_http_signaller_handoff_timer(ngx_event_t *ev)
{
    ngx_http_signaller_handoff_t  *h = ev->data;

    ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                  "signaller: no report from worker %P", h->link->worker.pid);

    ngx_http_signaller_handoff_finalize(h, NGX_HTTP_CLOSE);
}


static void
ngx_http_signaller_handoff_finalize(ngx_http_signaller_handoff_t *h,
    ngx_int_t rc)
{
    ngx_uint_t           handler;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = h->request;
    c = r->connection;
    handler = h->handler;

    ngx_http_signaller_handoff_cleanup(h);
    ngx_http_finalize_request(r, rc);

    /* in the content handler, nginx runs them once it has returned */

    if (!handler) {
        ngx_http_run_posted_requests(c);
    }
}


/*
 * However the request ends: it leaves the link, and a listener it took
 * and never got its socket is let go in L.
 */

static void
ngx_http_signaller_handoff_cleanup(void *data)
{
    ngx_http_signaller_handoff_t  *h = data;

    u_char     buf[NGX_HTTP_SIGNALLER_HANDOFF_MAX], *p;
    ngx_str_t  handle;

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    if (h->link == NULL) {
        return;
    }

    if (h->queued) {
        ngx_http_signaller_link_unqueue(h);
    }

    if (h->sent) {
        if (h->flags & NGX_HTTP_SIGNALLER_REPORT) {
            ngx_rbtree_delete(&h->link->reports, &h->node);
        }

    } else {
        handle.data = h->handle;
        handle.len = h->figures.handle.len;

        p = ngx_http_signaller_preamble_write(buf, &h->id, &handle, 0);
        p = ngx_http_signaller_tag_write(p, h->node.key);

        (void) ngx_http_signaller_link_send(h->link, buf, p - buf,
                                            (ngx_socket_t) -1, NULL);
    }

    h->link = NULL;
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

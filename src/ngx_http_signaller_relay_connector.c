
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers, the connector's worker.  Its listener waits in
 * another worker ("L", ngx_http_signaller_relay_listener.c): this worker
 * connects to L's socket, makes sure through the kernel (SO_PEERCRED) that
 * L is at the other end, not a process that took its pid or its name after
 * it died, sends the preamble and waits for L's answer before its client
 * gets 101 or 404.  A worker that fails on the way takes nothing from the
 * table: the listener stays waiting.  From then on this worker splices
 * bytes (splice.c).  This is for clients whose socket cannot move to L;
 * the others are handed over (handoff_connector.c).
 */


#include "ngx_http_signaller.h"


/* a fellow worker answers at once */
#define NGX_HTTP_SIGNALLER_REPLY_TIMEOUT     2000


static void ngx_http_signaller_relay_reply(ngx_event_t *ev);


/*
 * The connector's worker: the listener waits in the worker "entry" names.
 * The request is kept (NGX_DONE) until that worker answers.
 */

ngx_int_t
ngx_http_signaller_relay_connect(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *handle, ngx_str_t *key)
{
    u_char                          pre[NGX_HTTP_SIGNALLER_PREAMBLE_MAX];
    u_char                         *last;
    ngx_int_t                       rc;
    ngx_socket_t                    fd;
    ngx_connection_t               *c, *pc;
    ngx_http_signaller_relay_t     *rl;

    c = r->connection;

    if (!entry->worker.reachable) {
        return ngx_http_signaller_relay_unavailable(r);
    }

    /*
     * The socket itself moves to L unless TLS state lives here or nginx
     * has read the client's bytes behind its request (then they splice).
     */

    if (
#if (NGX_HTTP_SSL)
        c->ssl == NULL &&
#endif
        r->header_in->pos == r->header_in->last)
    {
        return ngx_http_signaller_handoff_start(r, entry, handle, key);
    }

    fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, c->log, ngx_socket_errno,
                      "signaller: socket() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_signaller_relay_reach(fd, &entry->worker, 0, c->log);

    if (rc != NGX_OK) {
        ngx_close_socket(fd);

        if (rc == NGX_ERROR) {
            return ngx_http_signaller_relay_unavailable(r);
        }

        /* a worker without its socket is stopping or dead */

        return ngx_http_signaller_relay_gone(r, &entry->worker, key);
    }

    /* a new socket's buffer is empty: the preamble goes out whole */

    last = ngx_http_signaller_preamble_write(pre, &entry->id, handle, 0);

    if (send(fd, pre, last - pre, 0) != last - pre) {
        ngx_close_socket(fd);
        return ngx_http_signaller_relay_gone(r, &entry->worker, key);
    }

    pc = ngx_http_signaller_relay_connection(fd, r->pool, c->log);
    if (pc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rl = ngx_http_signaller_relay_create(r, pc, handle, key);
    if (rl == NULL) {
        ngx_close_connection(pc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rl->worker = entry->worker;

    pc->data = rl;
    pc->read->handler = ngx_http_signaller_relay_reply;

    ngx_add_timer(pc->read, NGX_HTTP_SIGNALLER_REPLY_TIMEOUT);

    if (ngx_handle_read_event(pc->read, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * Connects "fd" to the worker "w", to its relay socket or its link
 * socket, and makes sure it is that worker that answers, not a process
 * that took its pid or bound its name after it died.  NGX_DECLINED: it is
 * not there; NGX_ERROR: it is busy.
 */

ngx_int_t
ngx_http_signaller_relay_reach(ngx_socket_t fd, ngx_http_signaller_ident_t *w,
    ngx_uint_t link, ngx_log_t *log)
{
    socklen_t           len;
    ngx_err_t           err;
    struct ucred        cred;
    struct sockaddr_un  sun;

    len = ngx_http_signaller_relay_addr(&sun, &w->name, link);

    if (connect(fd, (struct sockaddr *) &sun, len) == -1) {
        err = ngx_socket_errno;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, err,
                       "signaller: worker %P of the listener is gone",
                       w->pid);

        return (err == NGX_EAGAIN) ? NGX_ERROR : NGX_DECLINED;
    }

    if (ngx_http_signaller_ident_peer(fd, &cred) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "signaller: getsockopt(SO_PEERCRED) failed");
        return NGX_ERROR;
    }

    if (!ngx_http_signaller_ident_match(&cred, w)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "signaller: the relay socket of worker %P is held "
                      "by pid %P, uid %d", w->pid, cred.pid, (int) cred.uid);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_signaller_relay_reply(ngx_event_t *ev)
{
    u_char                          answer;
    ssize_t                         n;
    ngx_connection_t               *pc;
    ngx_http_request_t             *r;
    ngx_http_signaller_relay_t     *rl;
    ngx_http_signaller_loc_conf_t  *slcf;

    pc = ev->data;
    rl = pc->data;
    r = rl->request;

    if (ev->timedout) {
        n = NGX_DONE;

    } else {
        n = pc->recv(pc, &answer, 1);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_signaller_relay_finalize(rl,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
            }

            return;
        }

        ngx_del_timer(ev);
    }

    /*
     * A worker that closes without a word is exiting or dead (a crash
     * takes a moment to show in /proc): its listener is gone.  One that
     * does not answer in time, or is too busy, is not.
     */

    if (n == 0 || n == NGX_ERROR) {
        ngx_http_signaller_relay_finalize(rl,
                            ngx_http_signaller_relay_gone(r, &rl->worker,
                                                          &rl->key));
        return;
    }

    if (n != 1 || answer == NGX_HTTP_SIGNALLER_ANSWER_BUSY) {
        slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

        if (ngx_http_signaller_zone_gone(slcf->shm_zone, &rl->worker)) {
            ngx_http_signaller_relay_finalize(rl,
                            ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND,
                                                      &rl->key));
            return;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log,
                      ev->timedout ? NGX_ETIMEDOUT : 0,
                      "signaller: no answer from the listener's worker %P",
                      rl->worker.pid);
        ngx_http_signaller_relay_finalize(rl,
                                    ngx_http_signaller_relay_unavailable(r));
        return;
    }

    if (answer != NGX_HTTP_SIGNALLER_ANSWER_YES) {
        ngx_http_signaller_relay_finalize(rl,
                            ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND,
                                                      &rl->key));
        return;
    }

    ngx_http_signaller_relay_start(rl);

    ngx_http_run_posted_requests(r->connection);
}


/* the listener's worker cannot be reached, or did not answer: 503 */

ngx_int_t
ngx_http_signaller_relay_unavailable(ngx_http_request_t *r)
{
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    ngx_http_signaller_count_refused(slcf->shm_zone,
                                     NGX_HTTP_SERVICE_UNAVAILABLE);

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* the listener's worker is gone, and its listeners with it: 404 */

ngx_int_t
ngx_http_signaller_relay_gone(ngx_http_request_t *r,
    ngx_http_signaller_ident_t *worker, ngx_str_t *key)
{
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    (void) ngx_http_signaller_zone_gone(slcf->shm_zone, worker);

    return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, key);
}

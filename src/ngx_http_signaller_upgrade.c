
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The answers to a handshake, and taking a connection over from its HTTP
 * request once the handshake has passed every check: the 101 goes out,
 * the request's event handlers become the module's, and for a session
 * (not a splice) the request, its pool and its header buffers are freed,
 * as for an idle keepalive connection, so that a waiting listener costs
 * little.
 */


#include "ngx_http_signaller.h"
#include <ngx_sha1.h>


#define NGX_HTTP_SIGNALLER_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


static ngx_int_t ngx_http_signaller_send_refusal(ngx_http_request_t *r,
    ngx_int_t status);
static ngx_int_t ngx_http_signaller_send_accept(ngx_http_request_t *r,
    ngx_str_t *key);
static void ngx_http_signaller_release(ngx_event_t *wev);
static void ngx_http_signaller_read_handler(ngx_http_request_t *r);
static void ngx_http_signaller_write_handler(ngx_http_request_t *r);


static ngx_event_handler_pt  ngx_http_signaller_request_handler;


/*
 * Refuses a handshake with "status", or, with "signaller_refusal close",
 * a well-formed one ("key" set) refused for a reason the application can
 * act on with 101 and a close frame that says which: a browser reports
 * every refused handshake as 1006, but it reads a close code.
 */

ngx_int_t
ngx_http_signaller_refuse(ngx_http_request_t *r, ngx_int_t status,
    ngx_str_t *key)
{
    ngx_str_t                       handle;
    ngx_uint_t                      code, listen;
    ngx_http_signaller_session_t   *s;
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    code = 0;

    if (slcf->refusal == NGX_HTTP_SIGNALLER_REFUSAL_CLOSE && key->len) {

        switch (status) {

        case NGX_HTTP_FORBIDDEN:
            code = NGX_HTTP_SIGNALLER_FORBIDDEN;
            break;

        case NGX_HTTP_NOT_FOUND:
            code = NGX_HTTP_SIGNALLER_NO_SUCH_HANDLE;
            break;

        case NGX_HTTP_CONFLICT:
            code = NGX_HTTP_SIGNALLER_HANDLE_TAKEN;
            break;

        case NGX_HTTP_SERVICE_UNAVAILABLE:
            code = NGX_HTTP_SIGNALLER_TOO_MANY_REQUESTS;
            break;
        }
    }

    ngx_http_signaller_count_refused(slcf->shm_zone,
                                     code ? code : (ngx_uint_t) status);

    if (code == 0) {
        return ngx_http_signaller_send_refusal(r, status);
    }

    s = ngx_http_signaller_session_create(r->connection->pool,
                                          r->connection, slcf);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s->refusal = 1;

    /* for its log line: a well-formed handshake has its route */

    if (ngx_http_signaller_route(r, &handle, &listen) == NGX_OK) {
        s->handle.data = s->handle_data;
        s->handle.len = handle.len;
        ngx_memcpy(s->handle_data, handle.data, handle.len);

        s->figures.handle = s->handle;
        s->figures.listener = listen;
    }

    /* queued now, sent right behind the 101 */

    ngx_http_signaller_close(s, code);

    return ngx_http_signaller_takeover(r, s, NULL, key);
}


static ngx_int_t
ngx_http_signaller_send_refusal(ngx_http_request_t *r, ngx_int_t status)
{
    ngx_table_elt_t  *h;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET");

        return status;
    }

    if (status != NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED) {
        return status;
    }

    /* nginx has no page for 426, and the client needs the version header */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Version");
    ngx_str_set(&h->value, "13");

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_signaller_send_accept(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char            digest[20];
    ngx_str_t         src;
    ngx_sha1_t        sha1;
    ngx_table_elt_t  *h;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_update(&sha1, NGX_HTTP_SIGNALLER_GUID,
                    sizeof(NGX_HTTP_SIGNALLER_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");

    h->value.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(20));
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    src.data = digest;
    src.len = 20;
    ngx_encode_base64(&h->value, &src);

    /* nginx has no reason phrase of its own for 1xx */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->keepalive = 0;

    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_send_special(r, NGX_HTTP_FLUSH);
}


/* sends the 101 and hands the request's events to "read" and "write" */

ngx_int_t
ngx_http_signaller_upgrade(ngx_http_request_t *r, ngx_str_t *key,
    ngx_http_event_handler_pt read, ngx_http_event_handler_pt write)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_http_signaller_send_accept(r, key) == NGX_ERROR) {
        return NGX_ERROR;
    }

    r->read_event_handler = read;
    r->write_event_handler = write;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(r->connection) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A session on the request's connection: a connector ("l" its listener)
 * is paired at once.  The listener leaves the table only once the 101 is
 * out.
 */

ngx_int_t
ngx_http_signaller_takeover(ngx_http_request_t *r,
    ngx_http_signaller_session_t *s, ngx_http_signaller_session_t *l,
    ngx_str_t *key)
{
    ngx_connection_t  *c;

    c = r->connection;

    s->request = r;
    ngx_http_set_ctx(r, &s->figures, ngx_http_signaller_module);

    if (ngx_http_signaller_upgrade(r, key, ngx_http_signaller_read_handler,
                                   ngx_http_signaller_write_handler)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->main->count++;

    ngx_http_signaller_session_start(s, l, r->header_in);

    /*
     * The request is released once this handler has returned, unless
     * another module tied something to its lifetime (limit_conn counts
     * the connection until its pool goes): then it lives as long as the
     * session.
     */

    if (!ngx_http_signaller_request_tied(r)) {
        ngx_http_signaller_request_handler = c->write->handler;
        c->write->handler = ngx_http_signaller_release;
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_DONE;
}


/*
 * A session needs only its connection: the request, its pool and the
 * header buffers are freed, as for an idle keepalive connection, and the
 * access log gets its line (101) now.  This keeps a waiting listener small.
 */

static void
ngx_http_signaller_release(ngx_event_t *wev)
{
    ngx_chain_t                   *cl, *ln;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_connection_t         *hc;
    ngx_http_signaller_figures_t  *f;
    ngx_http_signaller_session_t  *s;

    c = wev->data;
    r = c->data;
    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);
    s = f->data;

    wev->handler = ngx_http_signaller_request_handler;

    if (s->done || c->close || r->out || c->buffered
        || ngx_http_signaller_request_tied(r))
    {
        wev->handler(wev);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: releasing the request");

    hc = r->http_connection;

    s->request = NULL;
    r->keepalive = 0;

    /* its line is written when the session ends, or now */

    if (s->conf->log_at == NGX_HTTP_SIGNALLER_LOG_END) {
        s->logreq = ngx_http_signaller_log_keep(r);
        r->logged = (s->logreq != NULL);
    }

    ngx_http_free_request(r, 0);

    c->data = s;
    c->destroyed = 0;
    c->log->action = "signalling";

    if (ngx_pfree(c->pool, c->buffer->start) == NGX_OK) {
        c->buffer->pos = NULL;
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->free = NULL;
    hc->busy = NULL;
    hc->nbusy = 0;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        ngx_ssl_free_buffer(c);
    }
#endif

    c->read->handler = ngx_http_signaller_session_read_event;
    c->write->handler = ngx_http_signaller_session_write_event;

    ngx_http_signaller_session_write(s);
}


/*
 * Whether another module has tied something to the request's lifetime.
 * A cleanup whose handler is gone is done with: an upstream finished (an
 * auth_request subrequest, say) leaves its entry with no handler.
 */

ngx_uint_t
ngx_http_signaller_request_tied(ngx_http_request_t *r)
{
    ngx_http_cleanup_t  *hc;
    ngx_pool_cleanup_t  *pc;

    for (pc = r->pool->cleanup; pc; pc = pc->next) {
        if (pc->handler) {
            return 1;
        }
    }

    for (hc = r->cleanup; hc; hc = hc->next) {
        if (hc->handler) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_signaller_read_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    ngx_http_signaller_session_read(f->data);
}


static void
ngx_http_signaller_write_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    ngx_http_signaller_session_write(f->data);
}

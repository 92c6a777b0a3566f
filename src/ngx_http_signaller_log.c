
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * A session's access log line.  nginx logs a request when it is freed; a
 * session frees its request right after the handshake, to keep a waiting
 * listener small, so with "signaller_log_at end" it first keeps what the
 * line needs in one block of its own size (the request line, the headers,
 * a few figures), and when the session ends builds a request from it
 * again, with the headers passed through nginx's own header handlers, for
 * the log phase's handlers to write the line, with $request_time the
 * session's length.
 */


#include "ngx_http_signaller.h"


struct ngx_http_signaller_logreq_s {
    ngx_http_connection_t           *http_connection;
    void                           **main_conf;
    void                           **srv_conf;
    void                           **loc_conf;
    ngx_str_t                        request_line;
    ngx_str_t                        method_name;
    ngx_str_t                        http_protocol;
    ngx_str_t                        uri;
    ngx_str_t                        args;
    ngx_str_t                        exten;
    ngx_str_t                        unparsed_uri;
    ngx_uint_t                       method;
    ngx_uint_t                       http_version;
    ngx_uint_t                       http_major;
    ngx_uint_t                       http_minor;
    time_t                           start_sec;
    ngx_msec_t                       start_msec;
    off_t                            request_length;
    size_t                           header_size;
    ngx_uint_t                       nheaders;
    ngx_str_t                       *headers;   /* key, value, ... */
};


static size_t ngx_http_signaller_logreq_size(ngx_http_request_t *r);
static u_char *ngx_http_signaller_keep(ngx_str_t *dst, ngx_str_t *src,
    u_char *p);
static ngx_http_request_t *ngx_http_signaller_log_request(
    ngx_connection_t *c, ngx_http_signaller_logreq_t *lr);
static ngx_int_t ngx_http_signaller_headers(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr);


/*
 * Keeps what the access log line of "r" needs, in one block of its own
 * size: the request is about to be freed.
 */

ngx_http_signaller_logreq_t *
ngx_http_signaller_log_keep(ngx_http_request_t *r)
{
    u_char                       *p;
    ngx_str_t                    *hs;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    ngx_http_signaller_logreq_t  *lr;

    lr = ngx_alloc(ngx_http_signaller_logreq_size(r), r->connection->log);
    if (lr == NULL) {
        return NULL;
    }

    lr->http_connection = r->http_connection;
    lr->main_conf = r->main_conf;
    lr->srv_conf = r->srv_conf;
    lr->loc_conf = r->loc_conf;
    lr->method = r->method;
    lr->http_version = r->http_version;
    lr->http_major = r->http_major;
    lr->http_minor = r->http_minor;
    lr->start_sec = r->start_sec;
    lr->start_msec = r->start_msec;
    lr->request_length = r->request_length;
    lr->header_size = r->header_size;

    hs = (ngx_str_t *) (lr + 1);
    lr->headers = hs;
    lr->nheaders = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        lr->nheaders++;
    }

    /* the strings follow the headers' descriptions */

    p = (u_char *) (hs + 2 * lr->nheaders);

    p = ngx_http_signaller_keep(&lr->request_line, &r->request_line, p);
    p = ngx_http_signaller_keep(&lr->method_name, &r->method_name, p);
    p = ngx_http_signaller_keep(&lr->http_protocol, &r->http_protocol, p);
    p = ngx_http_signaller_keep(&lr->uri, &r->uri, p);
    p = ngx_http_signaller_keep(&lr->args, &r->args, p);
    p = ngx_http_signaller_keep(&lr->exten, &r->exten, p);
    p = ngx_http_signaller_keep(&lr->unparsed_uri, &r->unparsed_uri, p);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        p = ngx_http_signaller_keep(hs++, &h[i].key, p);
        p = ngx_http_signaller_keep(hs++, &h[i].value, p);
    }

    return lr;
}


/* the size of the block log_keep() fills: every copy is bounded by it */

static size_t
ngx_http_signaller_logreq_size(ngx_http_request_t *r)
{
    size_t            size;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    size = sizeof(ngx_http_signaller_logreq_t)
           + r->request_line.len + r->method_name.len
           + r->http_protocol.len + r->uri.len + r->args.len
           + r->exten.len + r->unparsed_uri.len;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        size += 2 * sizeof(ngx_str_t) + h[i].key.len + h[i].value.len;
    }

    return size;
}


static u_char *
ngx_http_signaller_keep(ngx_str_t *dst, ngx_str_t *src, u_char *p)
{
    dst->data = p;
    dst->len = src->len;

    /* an empty string may have no data at all */

    return src->len ? ngx_cpymem(p, src->data, src->len) : p;
}


/*
 * The session has ended: its request is built again from what was kept,
 * and freed, which writes its access log line.
 */

void
ngx_http_signaller_log_end(ngx_http_signaller_session_t *s)
{
    ngx_http_request_t           *r;
    ngx_http_log_ctx_t           *ctx;
    ngx_http_signaller_logreq_t  *lr;

    lr = s->logreq;

    if (lr == NULL) {
        return;
    }

    s->logreq = NULL;

    r = ngx_http_signaller_log_request(s->connection, lr);

    if (r != NULL) {
        ngx_http_set_ctx(r, &s->figures, ngx_http_signaller_module);

        ctx = s->connection->log->data;
        ctx->request = r;
        ctx->current_request = r;

        /* logs the line, and frees the request's pool */

        ngx_http_free_request(r, 0);
    }

    ngx_free(lr);
}


/* a request on "c" as it was, from what was kept of it ("lr") */

static ngx_http_request_t *
ngx_http_signaller_log_request(ngx_connection_t *c,
    ngx_http_signaller_logreq_t *lr)
{
    ngx_pool_t                 *pool;
    ngx_http_request_t         *r;
    ngx_http_core_srv_conf_t   *cscf;
    ngx_http_core_main_conf_t  *cmcf;

    cscf = lr->srv_conf[ngx_http_core_module.ctx_index];
    cmcf = lr->main_conf[ngx_http_core_module.ctx_index];

    pool = ngx_create_pool(cscf->request_pool_size, c->log);
    if (pool == NULL) {
        return NULL;
    }

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    if (r == NULL) {
        goto failed;
    }

    r->pool = pool;
    r->connection = c;
    r->http_connection = lr->http_connection;
    r->signature = NGX_HTTP_MODULE;
    r->main_conf = lr->main_conf;
    r->main = r;
    r->count = 1;

    r->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    r->variables = ngx_pcalloc(pool, cmcf->variables.nelts
                                     * sizeof(ngx_http_variable_value_t));
    r->header_in = ngx_calloc_buf(pool);

    if (r->ctx == NULL || r->variables == NULL || r->header_in == NULL
        || ngx_list_init(&r->headers_out.headers, pool, 2,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        goto failed;
    }

    r->request_line = lr->request_line;
    r->method_name = lr->method_name;
    r->http_protocol = lr->http_protocol;
    r->uri = lr->uri;
    r->args = lr->args;
    r->exten = lr->exten;
    r->unparsed_uri = lr->unparsed_uri;
    r->method = lr->method;
    r->http_version = lr->http_version;
    r->http_major = lr->http_major;
    r->http_minor = lr->http_minor;
    r->start_sec = lr->start_sec;
    r->start_msec = lr->start_msec;
    r->request_length = lr->request_length;
    r->header_size = lr->header_size;

    r->headers_in.content_length_n = -1;
    r->headers_in.keep_alive_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;

    if (ngx_http_signaller_headers(r, lr) != NGX_OK) {
        goto failed;
    }

    /* the Host header chose the server's configuration: the location's */

    r->srv_conf = lr->srv_conf;
    r->loc_conf = lr->loc_conf;

    return r;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/*
 * The headers as nginx read them: through its own header handlers, which
 * set what variables such as $http_host and $http_user_agent read.
 */

static ngx_int_t
ngx_http_signaller_headers(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr)
{
    ngx_uint_t                  i;
    ngx_table_elt_t            *h;
    ngx_http_header_t          *hh;
    ngx_http_core_main_conf_t  *cmcf;

    if (ngx_list_init(&r->headers_in.headers, r->pool,
                      ngx_max(lr->nheaders, 1), sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);

    for (i = 0; i < lr->nheaders; i++) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->key = lr->headers[2 * i];
        h->value = lr->headers[2 * i + 1];

        h->lowcase_key = ngx_pnalloc(r->pool, h->key.len);
        if (h->lowcase_key == NULL) {
            return NGX_ERROR;
        }

        h->hash = ngx_hash_strlow(h->lowcase_key, h->key.data, h->key.len);

        hh = ngx_hash_find(&cmcf->headers_in_hash, h->hash, h->lowcase_key,
                           h->key.len);

        if (hh && hh->handler(r, h, hh->offset) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}

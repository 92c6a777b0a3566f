
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
    uint32_t                        *lens;      /* key, value, ... */
    u_char                          *headers;   /* their text, each with
                                                   a NUL, in a row */
};


static size_t ngx_http_signaller_logreq_size(ngx_http_request_t *r);
static ngx_uint_t ngx_http_signaller_in_line(ngx_http_request_t *r,
    ngx_str_t *str);
static u_char *ngx_http_signaller_keep(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr, ngx_str_t *dst, ngx_str_t *src,
    u_char *p);
static ngx_http_request_t *ngx_http_signaller_log_request(
    ngx_connection_t *c, ngx_http_signaller_logreq_t *lr);
static ngx_int_t ngx_http_signaller_headers(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr);


/*
 * Keeps what the access log line of "r" needs, in one block of its own
 * size: the request is about to be freed.  A waiting listener holds it, so
 * it is packed: a header's key and value are two lengths and their text,
 * each ended with a NUL as nginx's parser leaves it, and the request
 * line's parts (method, URI, protocol) point into its copy.  NULL: the
 * line is to be written now.
 */

ngx_http_signaller_logreq_t *
ngx_http_signaller_log_keep(ngx_http_request_t *r)
{
    u_char                       *p;
    size_t                        size;
    uint32_t                     *lens;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    ngx_http_signaller_logreq_t  *lr;

    size = ngx_http_signaller_logreq_size(r);

    if (size == 0) {
        return NULL;
    }

    lr = ngx_alloc(size, r->connection->log);
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

    lens = (uint32_t *) (lr + 1);
    lr->lens = lens;
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

    /* the strings follow the headers' lengths, the request line first */

    p = (u_char *) (lens + 2 * lr->nheaders);

    lr->request_line.data = p;
    lr->request_line.len = r->request_line.len;

    if (r->request_line.len) {
        p = ngx_cpymem(p, r->request_line.data, r->request_line.len);
    }

    p = ngx_http_signaller_keep(r, lr, &lr->method_name, &r->method_name, p);
    p = ngx_http_signaller_keep(r, lr, &lr->http_protocol, &r->http_protocol,
                                p);
    p = ngx_http_signaller_keep(r, lr, &lr->uri, &r->uri, p);
    p = ngx_http_signaller_keep(r, lr, &lr->args, &r->args, p);
    p = ngx_http_signaller_keep(r, lr, &lr->exten, &r->exten, p);
    p = ngx_http_signaller_keep(r, lr, &lr->unparsed_uri, &r->unparsed_uri,
                                p);

    lr->headers = p;

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

        *lens++ = (uint32_t) h[i].key.len;
        *lens++ = (uint32_t) h[i].value.len;

        /*
         * nginx's header handlers search values up to their NUL; a header
         * another module added may have no data at all for an empty value
         */

        if (h[i].key.len) {
            p = ngx_cpymem(p, h[i].key.data, h[i].key.len);
        }

        *p++ = '\0';

        if (h[i].value.len) {
            p = ngx_cpymem(p, h[i].value.data, h[i].value.len);
        }

        *p++ = '\0';
    }

    return lr;
}


/*
 * The size of the block log_keep() fills: every copy is bounded by it.
 * 0: a header too long for its length's 32 bits (no buffer nginx reads
 * headers into is that large).
 */

static size_t
ngx_http_signaller_logreq_size(ngx_http_request_t *r)
{
    size_t            size;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    size = sizeof(ngx_http_signaller_logreq_t) + r->request_line.len;

    size += ngx_http_signaller_in_line(r, &r->method_name)
            ? 0 : r->method_name.len;
    size += ngx_http_signaller_in_line(r, &r->http_protocol)
            ? 0 : r->http_protocol.len;
    size += ngx_http_signaller_in_line(r, &r->uri) ? 0 : r->uri.len;
    size += ngx_http_signaller_in_line(r, &r->args) ? 0 : r->args.len;
    size += ngx_http_signaller_in_line(r, &r->exten) ? 0 : r->exten.len;
    size += ngx_http_signaller_in_line(r, &r->unparsed_uri)
            ? 0 : r->unparsed_uri.len;

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

        if (h[i].key.len > NGX_MAX_UINT32_VALUE
            || h[i].value.len > NGX_MAX_UINT32_VALUE)
        {
            return 0;
        }

        size += 2 * sizeof(uint32_t) + h[i].key.len + 1 + h[i].value.len + 1;
    }

    return size;
}


/*
 * Whether "str" lies within the request line, as the parser leaves the
 * method, the URI as sent and the protocol; a URI that had to be decoded,
 * or one a rewrite changed, lies elsewhere.
 */

static ngx_uint_t
ngx_http_signaller_in_line(ngx_http_request_t *r, ngx_str_t *str)
{
    return str->data >= r->request_line.data
           && str->data + str->len
              <= r->request_line.data + r->request_line.len;
}


/* "src" is kept in "dst": in the request line's copy, or copied at "p" */

static u_char *
ngx_http_signaller_keep(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr, ngx_str_t *dst, ngx_str_t *src,
    u_char *p)
{
    dst->len = src->len;

    if (ngx_http_signaller_in_line(r, src)) {
        dst->data = lr->request_line.data
                    + (src->data - r->request_line.data);
        return p;
    }

    dst->data = p;

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
    u_char                     *p;
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

    p = lr->headers;

    for (i = 0; i < lr->nheaders; i++) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->key.data = p;
        h->key.len = lr->lens[2 * i];
        p += h->key.len + 1;

        h->value.data = p;
        h->value.len = lr->lens[2 * i + 1];
        p += h->value.len + 1;

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

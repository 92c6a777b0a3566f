
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * A session's access log line.  The $signaller_* variables report what the
 * peer did (figures_t).  nginx logs a request when it is freed; a session
 * frees its request right after the handshake, to keep a waiting listener
 * small, so with "signaller_log_at end" it first keeps what the line needs
 * in one block of its own size (the request line, the headers, a few
 * figures), and when the session ends builds a request from it again, with
 * the headers passed through nginx's own header handlers, for the log
 * phase's handlers to write the line, with $request_time the session's
 * length.
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


typedef struct {
    ngx_str_t                        name;
    ngx_http_get_variable_pt         handler;
    uintptr_t                        data;
} ngx_http_signaller_var_t;


static ngx_int_t ngx_http_signaller_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_signaller_handle_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_signaller_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_signaller_number_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_signaller_wait_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_signaller_crossed_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_signaller_figures_t *ngx_http_signaller_figures(
    ngx_http_request_t *r, ngx_http_variable_value_t *v);
static size_t ngx_http_signaller_logreq_size(ngx_http_request_t *r);
static u_char *ngx_http_signaller_keep(ngx_str_t *dst, ngx_str_t *src,
    u_char *p);
static ngx_int_t ngx_http_signaller_headers(ngx_http_request_t *r,
    ngx_http_signaller_logreq_t *lr);


#define ngx_http_signaller_figure_offset(field)                              \
    offsetof(ngx_http_signaller_figures_t, field)

#define NGX_HTTP_SIGNALLER_REASON  1


static ngx_http_signaller_var_t  ngx_http_signaller_vars[] = {

    { ngx_string("signaller_role"), ngx_http_signaller_role_variable, 0 },

    { ngx_string("signaller_handle"), ngx_http_signaller_handle_variable,
      0 },

    { ngx_string("signaller_close_code"), ngx_http_signaller_code_variable,
      0 },

    { ngx_string("signaller_close_reason"),
      ngx_http_signaller_code_variable, NGX_HTTP_SIGNALLER_REASON },

    { ngx_string("signaller_messages_in"),
      ngx_http_signaller_number_variable,
      ngx_http_signaller_figure_offset(messages_in) },

    { ngx_string("signaller_messages_out"),
      ngx_http_signaller_number_variable,
      ngx_http_signaller_figure_offset(messages_out) },

    { ngx_string("signaller_bytes_in"), ngx_http_signaller_number_variable,
      ngx_http_signaller_figure_offset(bytes_in) },

    { ngx_string("signaller_bytes_out"), ngx_http_signaller_number_variable,
      ngx_http_signaller_figure_offset(bytes_out) },

    { ngx_string("signaller_wait_time"), ngx_http_signaller_wait_variable,
      0 },

    { ngx_string("signaller_crossed"), ngx_http_signaller_crossed_variable,
      0 },

    { ngx_null_string, NULL, 0 }
};


ngx_int_t
ngx_http_signaller_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t       *var;
    ngx_http_signaller_var_t  *v;

    for (v = ngx_http_signaller_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, NGX_HTTP_VAR_NOCACHEABLE);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* the figures of the request's session, or "not found" */

static ngx_http_signaller_figures_t *
ngx_http_signaller_figures(ngx_http_request_t *r,
    ngx_http_variable_value_t *v)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    if (f == NULL) {
        v->not_found = 1;
    }

    return f;
}


static ngx_int_t
ngx_http_signaller_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);
    if (f == NULL) {
        return NGX_OK;
    }

    if (f->listener) {
        v->data = (u_char *) "listen";
        v->len = sizeof("listen") - 1;

    } else {
        v->data = (u_char *) "connect";
        v->len = sizeof("connect") - 1;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_handle_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);

    if (f == NULL || f->handle.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = f->handle.data;
    v->len = f->handle.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $signaller_close_code, or its reason: what this peer was sent */

static ngx_int_t
ngx_http_signaller_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_str_t                     *reason;
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);

    if (f == NULL || f->close_code == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == NGX_HTTP_SIGNALLER_REASON) {
        reason = ngx_http_signaller_reason(f->close_code);

        if (reason->len == 0) {
            v->not_found = 1;
            return NGX_OK;
        }

        v->data = reason->data;
        v->len = reason->len;

    } else {
        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%ui", f->close_code) - p;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* counts: a ngx_uint_t or an off_t at "data" in the figures */

static ngx_int_t
ngx_http_signaller_number_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    off_t                          n;
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);
    if (f == NULL) {
        return NGX_OK;
    }

    if (data == ngx_http_signaller_figure_offset(bytes_in)
        || data == ngx_http_signaller_figure_offset(bytes_out))
    {
        n = *(off_t *) ((u_char *) f + data);

    } else {
        n = *(ngx_uint_t *) ((u_char *) f + data);
    }

    p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%O", n) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Seconds waited to be paired, with milliseconds, as $request_time: until
 * now for one that is not paired.
 */

static ngx_int_t
ngx_http_signaller_wait_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_msec_int_t                 ms;
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);
    if (f == NULL) {
        return NGX_OK;
    }

    ms = (ngx_msec_int_t) ((f->paired ? f->paired : ngx_current_msec)
                           - f->opened);
    ms = ngx_max(ms, 0);

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_crossed_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_signaller_figures(r, v);
    if (f == NULL) {
        return NGX_OK;
    }

    v->data = (u_char *) (f->crossed ? "1" : "0");
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


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
    ngx_pool_t                   *pool;
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_log_ctx_t           *ctx;
    ngx_http_signaller_logreq_t  *lr;
    ngx_http_core_srv_conf_t     *cscf;
    ngx_http_core_main_conf_t    *cmcf;

    lr = s->logreq;

    if (lr == NULL) {
        return;
    }

    s->logreq = NULL;
    c = s->connection;

    cscf = lr->srv_conf[ngx_http_core_module.ctx_index];

    pool = ngx_create_pool(cscf->request_pool_size, c->log);
    if (pool == NULL) {
        ngx_free(lr);
        return;
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
    r->srv_conf = lr->srv_conf;
    r->loc_conf = lr->loc_conf;
    r->main = r;
    r->count = 1;

    cmcf = lr->main_conf[ngx_http_core_module.ctx_index];

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

    ngx_http_set_ctx(r, &s->figures, ngx_http_signaller_module);

    ctx = c->log->data;
    ctx->request = r;
    ctx->current_request = r;

    /* logs the line and frees what the request holds: lr goes with it */

    r->log_handler = NULL;

    ngx_http_free_request(r, 0);
    ngx_free(lr);

    return;

failed:

    ngx_destroy_pool(pool);
    ngx_free(lr);
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

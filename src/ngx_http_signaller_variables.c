
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The $signaller_* variables, for log_format and map: what the peer of a
 * session did, from its figures (ngx_http_signaller_figures_t), which the
 * request's module context points to.
 */


#include "ngx_http_signaller.h"


typedef struct {
    ngx_str_t                        name;
    ngx_http_get_variable_pt         handler;
    uintptr_t                        data;
} ngx_http_signaller_var_t;


static ngx_int_t ngx_http_signaller_value(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_http_signaller_figures_t *ngx_http_signaller_figures(
    ngx_http_request_t *r, ngx_http_variable_value_t *v);
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


/* a value computed anew each time it is asked for */

static ngx_int_t
ngx_http_signaller_value(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

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
        return ngx_http_signaller_value(v, (u_char *) "listen",
                                        sizeof("listen") - 1);
    }

    return ngx_http_signaller_value(v, (u_char *) "connect",
                                    sizeof("connect") - 1);
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

    return ngx_http_signaller_value(v, f->handle.data, f->handle.len);
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

        return ngx_http_signaller_value(v, reason->data, reason->len);
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_signaller_value(v, p,
                                    ngx_sprintf(p, "%ui", f->close_code) - p);
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

    return ngx_http_signaller_value(v, p, ngx_sprintf(p, "%O", n) - p);
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

    return ngx_http_signaller_value(v, p,
                                    ngx_sprintf(p, "%T.%03M",
                                                (time_t) ms / 1000, ms % 1000)
                                    - p);
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

    return ngx_http_signaller_value(v, (u_char *) (f->crossed ? "1" : "0"),
                                    1);
}

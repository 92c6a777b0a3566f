
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * signaller: a WebRTC signalling relay.  One peer opens a WebSocket to
 * .../listen/<handle>, the other to .../connect/<handle>; the module pairs
 * them and relays their messages.  This file holds the directives, the
 * module definition and the content handler; see src/ for the rest.
 */


#include "ngx_http_signaller.h"


static ngx_int_t ngx_http_signaller_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_signaller_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_signaller_route(ngx_http_request_t *r,
    ngx_str_t *handle, ngx_uint_t *listen);
static ngx_int_t ngx_http_signaller_takeover(ngx_http_request_t *r,
    ngx_http_signaller_session_t *s, ngx_http_signaller_session_t *l,
    ngx_str_t *key);
static void ngx_http_signaller_read_handler(ngx_http_request_t *r);
static void ngx_http_signaller_write_handler(ngx_http_request_t *r);
static void ngx_http_signaller_release(ngx_event_t *wev);
static void ngx_http_signaller_sweep_handler(ngx_event_t *ev);

static void *ngx_http_signaller_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_signaller_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_signaller_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_signaller_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_signaller_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_signaller_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_signaller_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_signaller_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_signaller_init_process(ngx_cycle_t *cycle);
static void ngx_http_signaller_exit_process(ngx_cycle_t *cycle);


#define NGX_HTTP_SIGNALLER_ZONE_SIZE  1048576


static ngx_conf_num_bounds_t  ngx_http_signaller_max_messages_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_MAX_INT32_VALUE
};


static ngx_command_t  ngx_http_signaller_commands[] = {

    { ngx_string("signaller"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, enable),
      NULL },

    { ngx_string("signaller_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_signaller_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_listen_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, listen_timeout),
      NULL },

    { ngx_string("signaller_pipe_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, pipe_timeout),
      NULL },

    { ngx_string("signaller_max_message_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_message_size),
      NULL },

    { ngx_string("signaller_max_messages"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_messages),
      &ngx_http_signaller_max_messages_bounds },

    { ngx_string("signaller_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_signaller_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_signaller_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_signaller_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_signaller_postconfiguration,  /* postconfiguration */

    ngx_http_signaller_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_signaller_create_loc_conf,    /* create location configuration */
    ngx_http_signaller_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_signaller_module = {
    NGX_MODULE_V1,
    &ngx_http_signaller_module_ctx,        /* module context */
    ngx_http_signaller_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_signaller_init_module,        /* init module */
    ngx_http_signaller_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_signaller_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_event_t           ngx_http_signaller_sweep;
static ngx_event_handler_pt  ngx_http_signaller_request_handler;


static ngx_int_t
ngx_http_signaller_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       handle, key;
    ngx_uint_t                      listen;
    ngx_http_signaller_id_t         id;
    ngx_http_signaller_entry_t      entry;
    ngx_http_signaller_session_t   *s, *l;
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_signaller_route(r, &handle, &listen) != NGX_OK) {
        return NGX_HTTP_NOT_FOUND;
    }

    rc = ngx_http_signaller_check_request(r, slcf, &key);
    if (rc != NGX_OK) {
        return ngx_http_signaller_send_refusal(r, rc);
    }

    if (listen) {
        switch (ngx_http_signaller_table_insert(slcf->shm_zone, &handle,
                                                &id))
        {
        case NGX_OK:
            break;
        case NGX_BUSY:
            return NGX_HTTP_CONFLICT;
        case NGX_DECLINED:
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        default:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s = ngx_http_signaller_session_create(r->connection->pool,
                                              r->connection, slcf);
        if (s == NULL) {
            ngx_http_signaller_table_delete(slcf->shm_zone, &handle, &id);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_signaller_session_listen(s, &handle, &id);

        return ngx_http_signaller_takeover(r, s, NULL, &key);
    }

    if (ngx_http_signaller_table_find(slcf->shm_zone, &handle, &entry)
        != NGX_OK)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    if (entry.worker.pid != ngx_pid) {
        return ngx_http_signaller_relay_connect(r, &entry, &handle, &key);
    }

    l = ngx_http_signaller_session_find(&entry.id);
    if (l == NULL || !l->waiting || l->closing) {
        return NGX_HTTP_NOT_FOUND;
    }

    /* a pair keeps the limits of the listener's location */

    s = ngx_http_signaller_session_create(r->connection->pool,
                                          r->connection, l->conf);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_signaller_takeover(r, s, l, &key);
}


/*
 * The last two segments of the path decide: ".../listen/<handle>" or
 * ".../connect/<handle>", the handle as in the original server's code,
 * [a-z](?:_?[a-z0-9]){2,31}.
 */

static ngx_int_t
ngx_http_signaller_route(ngx_http_request_t *r, ngx_str_t *handle,
    ngx_uint_t *listen)
{
    u_char      *p, *start, *end;
    size_t       len;
    ngx_uint_t   units;

    start = r->uri.data;
    end = r->uri.data + r->uri.len;

    for (p = end; p > start && p[-1] != '/'; p--) { /* void */ }

    if (p == start) {
        return NGX_DECLINED;
    }

    handle->data = p;
    handle->len = end - p;

    end = p - 1;

    for (p = end; p > start && p[-1] != '/'; p--) { /* void */ }

    len = end - p;

    if (len == sizeof("listen") - 1
        && ngx_strncmp(p, "listen", len) == 0)
    {
        *listen = 1;

    } else if (len == sizeof("connect") - 1
               && ngx_strncmp(p, "connect", len) == 0)
    {
        *listen = 0;

    } else {
        return NGX_DECLINED;
    }

    p = handle->data;
    end = p + handle->len;

    if (p == end || *p < 'a' || *p > 'z') {
        return NGX_DECLINED;
    }

    p++;

    for (units = 0; p < end; units++) {
        if (*p == '_') {
            p++;
        }

        if (p == end
            || !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
        {
            return NGX_DECLINED;
        }

        p++;
    }

    if (units < 2 || units > 31) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_takeover(ngx_http_request_t *r,
    ngx_http_signaller_session_t *s, ngx_http_signaller_session_t *l,
    ngx_str_t *key)
{
    ngx_connection_t          *c;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;

    s->request = r;
    ngx_http_set_ctx(r, s, ngx_http_signaller_module);

    /* a listener is paired, and leaves the table, only once this is out */

    if (ngx_http_signaller_send_accept(r, key) == NGX_ERROR) {
        return NGX_ERROR;
    }

    r->read_event_handler = ngx_http_signaller_read_handler;
    r->write_event_handler = ngx_http_signaller_write_handler;
    r->main->count++;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_signaller_session_start(s, l, r->header_in);

    /*
     * The request is released once this handler has returned, unless
     * another module tied something to its lifetime (limit_conn counts
     * the connection until its pool goes): then it lives as long as the
     * session.
     */

    if (r->pool->cleanup == NULL && r->cleanup == NULL) {
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
    ngx_http_signaller_session_t  *s;

    c = wev->data;
    r = c->data;
    s = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    wev->handler = ngx_http_signaller_request_handler;

    if (s->done || c->close || r->out || c->buffered
        || r->pool->cleanup || r->cleanup)
    {
        wev->handler(wev);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: releasing the request");

    hc = r->http_connection;

    s->request = NULL;
    r->keepalive = 0;

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


static void
ngx_http_signaller_read_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_session_read(
                         ngx_http_get_module_ctx(r, ngx_http_signaller_module));
}


static void
ngx_http_signaller_write_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_session_write(
                         ngx_http_get_module_ctx(r, ngx_http_signaller_module));
}


/*
 * One line per zone, for monitoring and for the tests' leak checks:
 * "<zone> waiting <n> workers <n> pages <n> free <n>".
 */

static ngx_int_t
ngx_http_signaller_status_handler(ngx_http_request_t *r)
{
    size_t                           len;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_uint_t                       i;
    ngx_chain_t                      out;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_stats_t       stats;
    ngx_http_signaller_main_conf_t  *smcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_signaller_module);
    zones = smcf->zones.elts;

    len = 0;

    for (i = 0; i < smcf->zones.nelts; i++) {
        len += zones[i]->shm.name.len
               + sizeof(" waiting  workers  pages  free \n")
               + 4 * NGX_ATOMIC_T_LEN;
    }

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < smcf->zones.nelts; i++) {
        ngx_http_signaller_zone_stats(zones[i], &stats);

        b->last = ngx_sprintf(b->last, "%V waiting %ui workers %ui "
                              "pages %ui free %ui\n",
                              &zones[i]->shm.name, stats.waiting,
                              stats.workers, stats.pages, stats.free);
    }

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* a worker begins to shut down: sessions end now unless this is a reload */

void
ngx_http_signaller_exiting(void)
{
    ngx_uint_t                       i, reload;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_signaller_module);

    zones = smcf->zones.elts;
    reload = 0;

    for (i = 0; i < smcf->zones.nelts; i++) {
        reload |= ngx_http_signaller_zone_superseded(zones[i]);
    }

    if (reload) {
        return;
    }

    for (i = 0; i < smcf->zones.nelts; i++) {
        ngx_http_signaller_zone_leaving(zones[i]);
    }

    ngx_http_signaller_sessions_going_away();
}


static void *
ngx_http_signaller_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_signaller_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&smcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return smcf;
}


static void *
ngx_http_signaller_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_signaller_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_signaller_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->shm_zone = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->listen_timeout = NGX_CONF_UNSET_MSEC;
    conf->pipe_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_message_size = NGX_CONF_UNSET_SIZE;
    conf->max_messages = NGX_CONF_UNSET_UINT;
    conf->origins = NGX_CONF_UNSET_PTR;
    conf->origin_any = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_signaller_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_signaller_loc_conf_t *prev = parent;
    ngx_http_signaller_loc_conf_t *conf = child;

    ngx_str_t                  name;
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->shm_zone == NULL) {
        conf->shm_zone = prev->shm_zone;
    }

    ngx_conf_merge_msec_value(conf->listen_timeout, prev->listen_timeout,
                              60000);
    ngx_conf_merge_msec_value(conf->pipe_timeout, prev->pipe_timeout, 30000);
    ngx_conf_merge_size_value(conf->max_message_size, prev->max_message_size,
                              65536);
    ngx_conf_merge_uint_value(conf->max_messages, prev->max_messages, 64);

    if (conf->origins == NGX_CONF_UNSET_PTR
        && conf->origin_any == NGX_CONF_UNSET_UINT)
    {
        conf->origins = prev->origins;
        conf->origin_any = prev->origin_any;
    }

    ngx_conf_merge_ptr_value(conf->origins, NULL, NULL);
    ngx_conf_merge_uint_value(conf->origin_any, NGX_CONF_UNSET_UINT, 0);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->shm_zone == NULL) {
        ngx_str_set(&name, "signaller");

        if (ngx_http_signaller_zone_add(cf, &name, NGX_HTTP_SIGNALLER_ZONE_SIZE,
                                        &conf->shm_zone)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_signaller_handler;

    conf->send_timeout = clcf->send_timeout;

    return NGX_CONF_OK;
}


static char *
ngx_http_signaller_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (slcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* without a size, the zone is declared elsewhere or gets the default */

    size = 0;

    if (cf->args->nelts == 3) {
        size = ngx_parse_size(&value[2]);

        if (size == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid zone size \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        if (size < (ssize_t) (8 * ngx_pagesize)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "zone \"%V\" is too small", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    return ngx_http_signaller_zone_add(cf, &value[1], size, &slcf->shm_zone);
}


static char *
ngx_http_signaller_origin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    ngx_str_t            *value;
#if (NGX_PCRE)
    u_char                errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_elt_t      *re;
    ngx_regex_compile_t   rc;
#endif

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "any") == 0) {
        if (slcf->origins != NGX_CONF_UNSET_PTR) {
            return "\"any\" cannot be combined with regular expressions";
        }

        if (slcf->origin_any != NGX_CONF_UNSET_UINT) {
            return "is duplicate";
        }

        slcf->origin_any = 1;
        return NGX_CONF_OK;
    }

    if (slcf->origin_any != NGX_CONF_UNSET_UINT) {
        return "\"any\" cannot be combined with regular expressions";
    }

    if (value[1].len == 0) {
        return "has an empty regular expression";
    }

#if (NGX_PCRE)

    if (slcf->origins == NGX_CONF_UNSET_PTR) {
        slcf->origins = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_regex_elt_t));
        if (slcf->origins == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = value[1];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V", &rc.err);
        return NGX_CONF_ERROR;
    }

    re = ngx_array_push(slcf->origins);
    if (re == NULL) {
        return NGX_CONF_ERROR;
    }

    re->regex = rc.regex;
    re->name = value[1].data;

    return NGX_CONF_OK;

#else

    return "with a regular expression requires PCRE library";

#endif
}


static char *
ngx_http_signaller_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_signaller_status_handler;

    return NGX_CONF_OK;
}


/* zones named without a size anywhere get the default size */

static ngx_int_t
ngx_http_signaller_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_signaller_module);

    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {
        if (zones[i]->shm.size == 0) {
            zones[i]->shm.size = NGX_HTTP_SIGNALLER_ZONE_SIZE;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_init_module(ngx_cycle_t *cycle)
{
    ngx_http_signaller_zone_retire(cycle);

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_signaller_module);

    if (smcf == NULL || smcf->zones.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_signaller_sessions_init();

    /* the record each zone gets holds the relay socket's name */

    ngx_http_signaller_ident_init();
    ngx_http_signaller_relay_init(cycle);

    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {
        if (ngx_http_signaller_zone_register(zones[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_http_signaller_sweep.handler = ngx_http_signaller_sweep_handler;
    ngx_http_signaller_sweep.data = smcf;
    ngx_http_signaller_sweep.log = cycle->log;
    ngx_http_signaller_sweep.cancelable = 1;

    ngx_add_timer(&ngx_http_signaller_sweep, 1000);

    return NGX_OK;
}


static void
ngx_http_signaller_sweep_handler(ngx_event_t *ev)
{
    ngx_uint_t                       i;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ev->data;
    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {
        ngx_http_signaller_zone_sweep(zones[i]);
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, 1000);
    }
}


static void
ngx_http_signaller_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_signaller_module);

    if (smcf == NULL || smcf->zones.nelts == 0) {
        return;
    }

    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {
        ngx_http_signaller_zone_leaving(zones[i]);
    }

    ngx_http_signaller_sessions_exit();
    ngx_http_signaller_relay_exit(cycle);

    for (i = 0; i < smcf->zones.nelts; i++) {
        ngx_http_signaller_zone_unregister(zones[i]);
    }
}

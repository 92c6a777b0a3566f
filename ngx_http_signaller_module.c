
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
static char *ngx_http_signaller_message_rate(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_signaller_postconfiguration(ngx_conf_t *cf);


#define NGX_HTTP_SIGNALLER_ZONE_SIZE  1048576


static ngx_conf_num_bounds_t  ngx_http_signaller_max_messages_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_MAX_INT32_VALUE
};


static ngx_conf_enum_t  ngx_http_signaller_refusals[] = {
    { ngx_string("http"), NGX_HTTP_SIGNALLER_REFUSAL_HTTP },
    { ngx_string("close"), NGX_HTTP_SIGNALLER_REFUSAL_CLOSE },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_signaller_log_ats[] = {
    { ngx_string("end"), NGX_HTTP_SIGNALLER_LOG_END },
    { ngx_string("handshake"), NGX_HTTP_SIGNALLER_LOG_HANDSHAKE },
    { ngx_null_string, 0 }
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

    { ngx_string("signaller_refusal"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, refusal),
      &ngx_http_signaller_refusals },

    { ngx_string("signaller_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, ping_interval),
      NULL },

    { ngx_string("signaller_message_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_signaller_message_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_max_listeners"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_listeners),
      &ngx_http_signaller_max_messages_bounds },

    { ngx_string("signaller_log_at"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, log_at),
      &ngx_http_signaller_log_ats },

    { ngx_string("signaller_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_signaller_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_signaller_module_ctx = {
    ngx_http_signaller_add_variables,      /* preconfiguration */
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

    ngx_str_null(&key);

    if (ngx_http_signaller_route(r, &handle, &listen) != NGX_OK) {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    rc = ngx_http_signaller_check_request(r, slcf, &key);
    if (rc != NGX_OK) {
        return ngx_http_signaller_refuse(r, rc, &key);
    }

    if (listen) {
        switch (ngx_http_signaller_table_insert(slcf->shm_zone, &handle,
                                                slcf->max_listeners, &id))
        {
        case NGX_OK:
            break;
        case NGX_BUSY:
            return ngx_http_signaller_refuse(r, NGX_HTTP_CONFLICT, &key);
        case NGX_DECLINED:
        case NGX_AGAIN:
            return ngx_http_signaller_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             &key);
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
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    if (entry.worker.pid != ngx_pid) {
        return ngx_http_signaller_relay_connect(r, &entry, &handle, &key);
    }

    l = ngx_http_signaller_session_find(&entry.id);
    if (l == NULL || !l->waiting || l->closing) {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    /* a pair keeps the limits of the listener's location */

    s = ngx_http_signaller_session_create(r->connection->pool,
                                          r->connection, l->conf);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_signaller_takeover(r, s, l, &key);
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
    conf->refusal = NGX_CONF_UNSET_UINT;
    conf->ping_interval = NGX_CONF_UNSET_MSEC;
    conf->rate = NGX_CONF_UNSET_UINT;
    conf->burst = NGX_CONF_UNSET_UINT;
    conf->max_listeners = NGX_CONF_UNSET_UINT;
    conf->log_at = NGX_CONF_UNSET_UINT;

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
    ngx_conf_merge_uint_value(conf->refusal, prev->refusal,
                              NGX_HTTP_SIGNALLER_REFUSAL_HTTP);
    ngx_conf_merge_msec_value(conf->ping_interval, prev->ping_interval, 0);
    ngx_conf_merge_uint_value(conf->rate, prev->rate, 0);
    ngx_conf_merge_uint_value(conf->burst, prev->burst, 0);
    ngx_conf_merge_uint_value(conf->max_listeners, prev->max_listeners, 0);
    ngx_conf_merge_uint_value(conf->log_at, prev->log_at,
                              NGX_HTTP_SIGNALLER_LOG_END);

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


/* signaller_message_rate <n>r/s | <n>r/m [burst=<n>], as limit_req */

static char *
ngx_http_signaller_message_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    u_char     *p;
    size_t      len;
    ngx_int_t   rate, scale, burst;
    ngx_str_t  *value;

    if (slcf->rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    len = value[1].len;
    p = value[1].data + len - 3;
    scale = 1;

    if (len > 3 && ngx_strncmp(p, "r/s", 3) == 0) {
        len -= 3;

    } else if (len > 3 && ngx_strncmp(p, "r/m", 3) == 0) {
        scale = 60;
        len -= 3;

    } else {
        len = 0;
    }

    rate = len ? ngx_atoi(value[1].data, len) : NGX_ERROR;

    if (rate <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\", as in \"10r/s\" or "
                           "\"60r/m\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    burst = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "burst=", 6) != 0
            || (burst = ngx_atoi(value[2].data + 6, value[2].len - 6))
               == NGX_ERROR)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", as in "
                               "\"burst=20\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    slcf->rate = rate * 1000 / scale;
    slcf->burst = burst * 1000;

    return NGX_CONF_OK;
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

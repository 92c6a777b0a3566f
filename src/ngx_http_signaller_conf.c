
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Reading the configuration: the directives' own parsers, and each
 * location's settings created, inherited and checked.
 */


#include "ngx_http_signaller.h"


void *
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


void *
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


char *
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


char *
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


char *
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

char *
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


char *
ngx_http_signaller_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_signaller_status_handler;

    return NGX_CONF_OK;
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Reading the configuration: the directives' own parsers, and each
 * location's settings created, inherited and checked.
 */


#include "ngx_http_signaller.h"


/* a secret read from a file: an HMAC key, for which a few dozen will do */
#define NGX_HTTP_SIGNALLER_SECRET_MAX  4096


static char *ngx_http_signaller_read_secret(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *secret);


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
     *     conf->turn_secret = { 0, NULL };
     *     conf->ice_servers = 0;
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
    conf->secrets = NGX_CONF_UNSET_PTR;
    conf->turn_ttl = NGX_CONF_UNSET;
    conf->turn_uris = NGX_CONF_UNSET_PTR;
    conf->stun_uris = NGX_CONF_UNSET_PTR;

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

    ngx_conf_merge_ptr_value(conf->secrets, prev->secrets, NULL);
    ngx_conf_merge_str_value(conf->turn_secret, prev->turn_secret, "");
    ngx_conf_merge_sec_value(conf->turn_ttl, prev->turn_ttl, 3600);
    ngx_conf_merge_ptr_value(conf->turn_uris, prev->turn_uris, NULL);
    ngx_conf_merge_ptr_value(conf->stun_uris, prev->stun_uris, NULL);

    if (conf->ice_servers) {
        if (conf->turn_uris == NULL && conf->stun_uris == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"signaller_ice_servers\" needs "
                               "\"signaller_stun_uris\" or "
                               "\"signaller_turn_uris\"");
            return NGX_CONF_ERROR;
        }

        if (conf->turn_uris && conf->turn_secret.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"signaller_turn_uris\" needs "
                               "\"signaller_turn_secret\"");
            return NGX_CONF_ERROR;
        }

        /* its own handler, though "signaller on" be inherited */
        return NGX_CONF_OK;
    }

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


char *
ngx_http_signaller_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    ngx_str_t  *value, *secret;

    if (slcf->secrets == NGX_CONF_UNSET_PTR) {
        slcf->secrets = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (slcf->secrets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    secret = ngx_array_push(slcf->secrets);
    if (secret == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    return ngx_http_signaller_read_secret(cf, &value[1], secret);
}


char *
ngx_http_signaller_turn_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    ngx_str_t  *value;

    if (slcf->turn_secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_signaller_read_secret(cf, &value[1], &slcf->turn_secret);
}


/*
 * "<secret>" or "file=<path>": a file, read once by the master (so that
 * it may be readable by root only), holds the secret; a line break or
 * blanks at its end are not part of it.
 */

static char *
ngx_http_signaller_read_secret(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *secret)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_str_t        path;
    ngx_file_info_t  fi;

    if (value->len < 5 || ngx_strncmp(value->data, "file=", 5) != 0) {
        *secret = *value;
        goto done;
    }

    path.data = value->data + 5;
    path.len = value->len - 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", path.data);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", path.data);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_SIGNALLER_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is larger than %d bytes",
                           path.data, NGX_HTTP_SIGNALLER_SECRET_MAX);
        goto failed;
    }

    secret->data = ngx_pnalloc(cf->pool, NGX_HTTP_SIGNALLER_SECRET_MAX);
    if (secret->data == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, secret->data, NGX_HTTP_SIGNALLER_SECRET_MAX);
    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%s\" failed", path.data);
        goto failed;
    }

    (void) ngx_close_file(fd);

    while (n && (secret->data[n - 1] == '\n' || secret->data[n - 1] == '\r'
                 || secret->data[n - 1] == ' ' || secret->data[n - 1] == '\t'))
    {
        n--;
    }

    secret->len = n;

done:

    if (secret->len == 0) {
        return "has an empty secret";
    }

    return NGX_CONF_OK;

failed:

    (void) ngx_close_file(fd);

    return NGX_CONF_ERROR;
}


/*
 * A list of ICE server URIs, each with one of the schemes in cmd->post;
 * they go into JSON as they are, so quotes, backslashes, blanks and
 * control characters are refused.
 */

char *
ngx_http_signaller_uris(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char        *c;
    ngx_str_t     *value, *uri, *scheme;
    ngx_uint_t     i;
    ngx_array_t  **uris;

    uris = (ngx_array_t **) (p + cmd->offset);

    if (*uris != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *uris = ngx_array_create(cf->pool, cf->args->nelts - 1,
                             sizeof(ngx_str_t));
    if (*uris == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (scheme = cmd->post; scheme->len; scheme++) {
            if (value[i].len > scheme->len
                && ngx_strncasecmp(value[i].data, scheme->data, scheme->len)
                   == 0)
            {
                break;
            }
        }

        for (c = value[i].data; c < value[i].data + value[i].len; c++) {
            if (*c <= ' ' || *c >= 0x7f || *c == '"' || *c == '\\') {
                break;
            }
        }

        if (scheme->len == 0 || c < value[i].data + value[i].len) {
            scheme = cmd->post;
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid URI \"%V\": it must start with "
                               "\"%V\" or \"%V\", without blanks, quotes "
                               "or backslashes",
                               &value[i], &scheme[0], &scheme[1]);
            return NGX_CONF_ERROR;
        }

        uri = ngx_array_push(*uris);
        if (uri == NULL) {
            return NGX_CONF_ERROR;
        }

        *uri = value[i];
    }

    return NGX_CONF_OK;
}


char *
ngx_http_signaller_ice_servers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_signaller_loc_conf_t *slcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->ice_servers) {
        return "is duplicate";
    }

    slcf->ice_servers = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_signaller_ice_handler;

    return NGX_CONF_OK;
}

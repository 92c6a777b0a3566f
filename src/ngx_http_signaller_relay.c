
/*
 * Copyright (C) The signaller for nginx authors
 */


#include "ngx_http_signaller.h"


ngx_int_t
ngx_http_signaller_relay_init(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


void
ngx_http_signaller_relay_exit(ngx_cycle_t *cycle)
{
}


ngx_int_t
ngx_http_signaller_relay_connect(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *key)
{
    return NGX_HTTP_NOT_FOUND;
}

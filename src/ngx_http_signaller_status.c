
/*
 * Copyright (C) The signaller for nginx authors
 */


/* signaller_status: what the zones hold, for monitoring and for the tests */


#include "ngx_http_signaller.h"


/*
 * One line per zone, for monitoring and for the tests' leak checks:
 * "<zone> waiting <n> workers <n> pages <n> free <n>".
 */

ngx_int_t
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

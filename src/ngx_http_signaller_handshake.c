
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * RFC 6455 section 4.2: the opening handshake, server side.  Every check
 * of the README's refusal table but the table's own (409, 404, 503), in
 * its order; the answers are built in upgrade.c.
 */


#include "ngx_http_signaller.h"


/* the headers a handshake is judged by */
typedef struct {
    ngx_table_elt_t                 *version;
    ngx_table_elt_t                 *key;
    ngx_table_elt_t                 *origin;
    ngx_uint_t                       keys;
    ngx_uint_t                       origins;
    unsigned                         upgrade:1;
    unsigned                         connection:1;
} ngx_http_signaller_headers_t;


static void ngx_http_signaller_scan_headers(ngx_http_request_t *r,
    ngx_http_signaller_headers_t *hs);
static ngx_int_t ngx_http_signaller_check_key(
    ngx_http_signaller_headers_t *hs);
static ngx_uint_t ngx_http_signaller_header_is(ngx_table_elt_t *h,
    char *name);
static ngx_uint_t ngx_http_signaller_has_token(ngx_str_t *list,
    char *token);
static ngx_int_t ngx_http_signaller_check_origin(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_table_elt_t *origin);


/*
 * Returns NGX_OK and the Sec-WebSocket-Key of an acceptable upgrade, or the
 * HTTP status to refuse it with; the key is set as well for a handshake
 * that is well formed.
 */

ngx_int_t
ngx_http_signaller_check_request(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *key)
{
    ngx_http_signaller_headers_t  hs;

    if (r->method != NGX_HTTP_GET) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (r->http_version < NGX_HTTP_VERSION_11 || r != r->main
#if (NGX_HTTP_V2)
        || r->stream
#endif
       )
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    ngx_http_signaller_scan_headers(r, &hs);

    if (!hs.upgrade || !hs.connection) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "signaller: not a websocket upgrade");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (hs.version == NULL
        || hs.version->value.len != 2
        || ngx_strncmp(hs.version->value.data, "13", 2) != 0)
    {
        return NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED;
    }

    if (ngx_http_signaller_check_key(&hs) != NGX_OK) {
        return NGX_HTTP_BAD_REQUEST;
    }

    /* a handshake refused from here on is well formed */

    *key = hs.key->value;

    if (hs.origins > 1
        || ngx_http_signaller_check_origin(r, slcf, hs.origin) != NGX_OK)
    {
        return NGX_HTTP_FORBIDDEN;
    }

    return NGX_OK;
}


static void
ngx_http_signaller_scan_headers(ngx_http_request_t *r,
    ngx_http_signaller_headers_t *hs)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_memzero(hs, sizeof(ngx_http_signaller_headers_t));

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

        /* repeated headers are token lists joined, RFC 9110 5.3 */

        if (ngx_http_signaller_header_is(&h[i], "Upgrade")) {
            hs->upgrade |= ngx_http_signaller_has_token(&h[i].value,
                                                        "websocket");

        } else if (ngx_http_signaller_header_is(&h[i], "Connection")) {
            hs->connection |= ngx_http_signaller_has_token(&h[i].value,
                                                           "upgrade");

        } else if (ngx_http_signaller_header_is(&h[i],
                                                "Sec-WebSocket-Version"))
        {
            if (hs->version == NULL) {
                hs->version = &h[i];
            }

        } else if (ngx_http_signaller_header_is(&h[i], "Sec-WebSocket-Key")) {
            hs->key = &h[i];
            hs->keys++;

        } else if (ngx_http_signaller_header_is(&h[i], "Origin")) {
            hs->origin = &h[i];
            hs->origins++;
        }
    }
}


/* one Sec-WebSocket-Key: 16 bytes in base64, 22 characters and "==" */

static ngx_int_t
ngx_http_signaller_check_key(ngx_http_signaller_headers_t *hs)
{
    u_char      decoded[18];
    ngx_str_t   dst, *key;

    if (hs->keys != 1) {
        return NGX_ERROR;
    }

    key = &hs->key->value;

    if (key->len != 24 || key->data[22] != '=' || key->data[23] != '=') {
        return NGX_ERROR;
    }

    /* 24 characters decode to 18 bytes at the most */

    dst.data = decoded;

    if (ngx_decode_base64(&dst, key) != NGX_OK || dst.len != 16) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_signaller_header_is(ngx_table_elt_t *h, char *name)
{
    size_t  len;

    len = ngx_strlen(name);

    return h->key.len == len
           && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0;
}


static ngx_uint_t
ngx_http_signaller_has_token(ngx_str_t *list, char *token)
{
    u_char  *p, *end, *start, *last;
    size_t   len;

    len = ngx_strlen(token);
    p = list->data;
    end = p + list->len;

    while (p < end) {

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < end && *p != ',') {
            p++;
        }

        last = p;

        while (last > start && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        if ((size_t) (last - start) == len
            && ngx_strncasecmp(start, (u_char *) token, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Without signaller_origin, a browser's Origin must name the host it asked
 * for (scheme and case aside); non-browser clients send none.  With it,
 * one of the expressions must match, so an Origin is required.
 */

static ngx_int_t
ngx_http_signaller_check_origin(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_table_elt_t *origin)
{
    u_char     *p, *end;
    ngx_str_t   host;

    if (slcf->origin_any) {
        return NGX_OK;
    }

#if (NGX_PCRE)

    if (slcf->origins) {
        if (origin == NULL) {
            return NGX_DECLINED;
        }

        return ngx_regex_exec_array(slcf->origins, &origin->value,
                                    r->connection->log);
    }

#endif

    if (origin == NULL) {
        return NGX_OK;
    }

    if (r->headers_in.host == NULL) {
        return NGX_DECLINED;
    }

    p = origin->value.data;
    end = p + origin->value.len;

    p = ngx_strlcasestrn(p, end, (u_char *) "://", 3 - 1);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    host.data = p + 3;
    host.len = end - host.data;

    if (host.len != r->headers_in.host->value.len
        || ngx_strncasecmp(host.data, r->headers_in.host->value.data,
                           host.len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The last two segments of the path decide: ".../listen/<handle>" or
 * ".../connect/<handle>".
 */

ngx_int_t
ngx_http_signaller_route(ngx_http_request_t *r, ngx_str_t *handle,
    ngx_uint_t *listen)
{
    u_char  *p, *start, *end;
    size_t   len;

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

    return ngx_http_signaller_handle_valid(handle);
}


/* the original server's handle grammar, [a-z](?:_?[a-z0-9]){2,31} */

ngx_int_t
ngx_http_signaller_handle_valid(ngx_str_t *handle)
{
    u_char      *p, *end;
    ngx_uint_t   units;

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


/*
 * Copyright (C) The signaller for nginx authors
 */


/* RFC 6455 section 4.2: the opening handshake, server side */


#include "ngx_http_signaller.h"
#include <ngx_sha1.h>


#define NGX_HTTP_SIGNALLER_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


static ngx_uint_t ngx_http_signaller_header_is(ngx_table_elt_t *h,
    char *name);
static ngx_uint_t ngx_http_signaller_has_token(ngx_str_t *list,
    char *token);
static ngx_int_t ngx_http_signaller_check_origin(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_table_elt_t *origin);


/*
 * Returns NGX_OK and the Sec-WebSocket-Key of an acceptable upgrade, or the
 * HTTP status to refuse it with.
 */

ngx_int_t
ngx_http_signaller_check_request(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *key)
{
    u_char            decoded[18];
    ngx_str_t         dst;
    ngx_uint_t        i, upgrade, connection, keys, origins;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *version, *wskey, *origin;

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

    upgrade = 0;
    connection = 0;
    version = NULL;
    wskey = NULL;
    origin = NULL;
    keys = 0;
    origins = 0;

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
            upgrade |= ngx_http_signaller_has_token(&h[i].value, "websocket");

        } else if (ngx_http_signaller_header_is(&h[i], "Connection")) {
            connection |= ngx_http_signaller_has_token(&h[i].value,
                                                       "upgrade");

        } else if (ngx_http_signaller_header_is(&h[i],
                                                "Sec-WebSocket-Version"))
        {
            if (version == NULL) {
                version = &h[i];
            }

        } else if (ngx_http_signaller_header_is(&h[i], "Sec-WebSocket-Key")) {
            wskey = &h[i];
            keys++;

        } else if (ngx_http_signaller_header_is(&h[i], "Origin")) {
            origin = &h[i];
            origins++;
        }
    }

    if (!upgrade || !connection) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "signaller: not a websocket upgrade");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (version == NULL
        || version->value.len != 2
        || ngx_strncmp(version->value.data, "13", 2) != 0)
    {
        return NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED;
    }

    /* 16 bytes in base64 are 22 characters and "==" */

    if (keys != 1
        || wskey->value.len != 24
        || wskey->value.data[22] != '='
        || wskey->value.data[23] != '=')
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    dst.data = decoded;

    if (ngx_decode_base64(&dst, &wskey->value) != NGX_OK || dst.len != 16) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (origins > 1
        || ngx_http_signaller_check_origin(r, slcf, origin) != NGX_OK)
    {
        return NGX_HTTP_FORBIDDEN;
    }

    *key = wskey->value;

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


ngx_int_t
ngx_http_signaller_send_accept(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char            digest[20];
    ngx_str_t         src;
    ngx_sha1_t        sha1;
    ngx_table_elt_t  *h;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_update(&sha1, NGX_HTTP_SIGNALLER_GUID,
                    sizeof(NGX_HTTP_SIGNALLER_GUID) - 1);
    ngx_sha1_final(digest, &sha1);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");

    h->value.data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(20));
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    src.data = digest;
    src.len = 20;
    ngx_encode_base64(&h->value, &src);

    /* nginx has no reason phrase of its own for 1xx */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    r->headers_out.content_length_n = -1;
    r->keepalive = 0;

    if (ngx_http_send_header(r) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return ngx_http_send_special(r, NGX_HTTP_FLUSH);
}


ngx_int_t
ngx_http_signaller_send_refusal(ngx_http_request_t *r, ngx_int_t status)
{
    ngx_table_elt_t  *h;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "GET");

        return status;
    }

    if (status != NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED) {
        return status;
    }

    /* nginx has no page for 426, and the client needs the version header */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Version");
    ngx_str_set(&h->value, "13");

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/*
 * The last two segments of the path decide: ".../listen/<handle>" or
 * ".../connect/<handle>", the handle as in the original server's code,
 * [a-z](?:_?[a-z0-9]){2,31}.
 */

ngx_int_t
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

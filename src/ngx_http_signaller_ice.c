
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * signaller_ice_servers: the "iceServers" of an RTCPeerConnection, with
 * TURN credentials in the REST scheme that coturn checks with
 * "use-auth-secret": the username "<expiry>:<id>", the password the
 * base64 of HMAC-SHA1(secret, username).  They are good until the expiry
 * and need no call to any backend.
 */


#include "ngx_http_signaller.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>


/* the username's id without signed handles: 8 random bytes in hex */
#define NGX_HTTP_SIGNALLER_ICE_ID_LEN  8


static ngx_int_t ngx_http_signaller_ice_send(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *id);
static ngx_int_t ngx_http_signaller_ice_credential(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *id, ngx_str_t *user,
    ngx_str_t *credential);
static size_t ngx_http_signaller_ice_urls_len(ngx_array_t *uris);
static u_char *ngx_http_signaller_ice_urls(u_char *p, ngx_array_t *uris);


ngx_int_t
ngx_http_signaller_ice_handler(ngx_http_request_t *r)
{
    u_char                          hex[NGX_HTTP_SIGNALLER_ICE_ID_LEN * 2];
    u_char                          bytes[NGX_HTTP_SIGNALLER_ICE_ID_LEN];
    ngx_int_t                       rc;
    ngx_str_t                       id;
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    if (slcf->secrets) {
        ngx_http_signaller_hide_token(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* with signed handles, credentials only for a peer of a handle */

    if (slcf->secrets) {
        if (ngx_http_arg(r, (u_char *) "handle", 6, &id) != NGX_OK) {
            ngx_str_null(&id);
        }

        if (ngx_http_signaller_check_token(r, slcf->secrets, &id,
                                           NGX_HTTP_SIGNALLER_ROLE_ANY)
            != NGX_OK)
        {
            return NGX_HTTP_FORBIDDEN;
        }

    } else {
        if (ngx_http_signaller_random(bytes, sizeof(bytes)) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        id.data = hex;
        id.len = ngx_hex_dump(hex, bytes, sizeof(bytes)) - hex;
    }

    return ngx_http_signaller_ice_send(r, slcf, &id);
}


/*
 * {"iceServers":[{"urls":["stun:..."]},
 *                {"urls":["turn:..."],"username":"...","credential":"..."}]}
 */

static ngx_int_t
ngx_http_signaller_ice_send(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *id)
{
    u_char            *p;
    size_t             len;
    ngx_int_t          rc;
    ngx_buf_t         *b;
    ngx_str_t          user, credential;
    ngx_chain_t        out;
    ngx_table_elt_t   *h;

    len = sizeof("{\"iceServers\":[,]}") - 1;

    if (slcf->stun_uris) {
        len += ngx_http_signaller_ice_urls_len(slcf->stun_uris)
               + sizeof("}") - 1;
    }

    if (slcf->turn_uris) {
        if (ngx_http_signaller_ice_credential(r, slcf, id, &user,
                                              &credential)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len += ngx_http_signaller_ice_urls_len(slcf->turn_uris)
               + sizeof(",\"username\":\"\",\"credential\":\"\"}") - 1
               + user.len + credential.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"iceServers\":[",
                   sizeof("{\"iceServers\":[") - 1);

    if (slcf->stun_uris) {
        p = ngx_http_signaller_ice_urls(p, slcf->stun_uris);
        *p++ = '}';

        if (slcf->turn_uris) {
            *p++ = ',';
        }
    }

    if (slcf->turn_uris) {
        p = ngx_http_signaller_ice_urls(p, slcf->turn_uris);
        p = ngx_sprintf(p, ",\"username\":\"%V\",\"credential\":\"%V\"}",
                        &user, &credential);
    }

    b->last = ngx_cpymem(p, "]}", 2);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    /* fresh credentials each time: no cache may keep them */

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* username "<expiry>:<id>", credential base64(HMAC-SHA1(secret, username)) */

static ngx_int_t
ngx_http_signaller_ice_credential(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *id, ngx_str_t *user,
    ngx_str_t *credential)
{
    u_char        md[EVP_MAX_MD_SIZE];
    ngx_str_t     digest;
    unsigned int  len;

    user->data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 1 + id->len);
    if (user->data == NULL) {
        return NGX_ERROR;
    }

    user->len = ngx_sprintf(user->data, "%T:%V",
                            ngx_time() + slcf->turn_ttl, id)
                - user->data;

    if (HMAC(EVP_sha1(), slcf->turn_secret.data, slcf->turn_secret.len,
             user->data, user->len, md, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    digest.data = md;
    digest.len = len;

    credential->data = ngx_pnalloc(r->pool, ngx_base64_encoded_length(len));
    if (credential->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64(credential, &digest);

    return NGX_OK;
}


/* {"urls":["<uri>",...]: the URIs were checked to need no escaping */

static size_t
ngx_http_signaller_ice_urls_len(ngx_array_t *uris)
{
    size_t      len;
    ngx_str_t  *uri;
    ngx_uint_t  i;

    len = sizeof("{\"urls\":[]") - 1;
    uri = uris->elts;

    for (i = 0; i < uris->nelts; i++) {
        len += sizeof("\"\",") - 1 + uri[i].len;
    }

    return len;
}


static u_char *
ngx_http_signaller_ice_urls(u_char *p, ngx_array_t *uris)
{
    ngx_str_t   *uri;
    ngx_uint_t   i;

    p = ngx_cpymem(p, "{\"urls\":[", sizeof("{\"urls\":[") - 1);
    uri = uris->elts;

    for (i = 0; i < uris->nelts; i++) {
        p = ngx_sprintf(p, "%s\"%V\"", i ? "," : "", &uri[i]);
    }

    *p++ = ']';

    return p;
}

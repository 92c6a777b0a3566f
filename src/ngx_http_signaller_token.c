
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Signed handles: "?token=<expiry>.<mac>", the mac the unpadded base64url
 * of HMAC-SHA256(secret, "<role>:<handle>:<expiry>"), so that any backend
 * can mint one with its standard library.  Any of a location's secrets
 * validates, so that a secret can be rotated.
 */


#include "ngx_http_signaller.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>


/* 32 bytes of SHA-256 in unpadded base64url */
#define NGX_HTTP_SIGNALLER_MAC_LEN    43

/* "connect:<handle>:<expiry>", the longest message signed */
#define NGX_HTTP_SIGNALLER_SIGNED_MAX                                       \
    (sizeof("connect::") - 1 + NGX_HTTP_SIGNALLER_HANDLE_MAX                \
     + NGX_TIME_T_LEN)


static ngx_uint_t ngx_http_signaller_token_role(ngx_array_t *secrets,
    ngx_str_t *handle, ngx_str_t *expiry, u_char *mac, ngx_uint_t roles);
static ngx_int_t ngx_http_signaller_token_split(ngx_str_t *token,
    ngx_str_t *expiry, time_t *expires);


static ngx_str_t  ngx_http_signaller_roles[] = {
    ngx_null_string,
    ngx_string("listen"),                /* NGX_HTTP_SIGNALLER_ROLE_LISTEN */
    ngx_string("connect"),               /* NGX_HTTP_SIGNALLER_ROLE_CONNECT */
    ngx_string("ice")                    /* NGX_HTTP_SIGNALLER_ROLE_ANY */
};


/*
 * NGX_OK if the request's token is valid for the handle in one of the
 * roles; else NGX_DECLINED, and the error log says why at "info".  The
 * handle is checked against the grammar here too, which bounds it.
 */

ngx_int_t
ngx_http_signaller_check_token(ngx_http_request_t *r, ngx_array_t *secrets,
    ngx_str_t *handle, ngx_uint_t roles)
{
    char       *why;
    time_t      expires;
    ngx_str_t   token, expiry, shown;

    /* a handle from the query may be anything: it is not echoed */

    shown = *handle;

    if (ngx_http_signaller_handle_valid(handle) != NGX_OK) {
        ngx_str_null(&shown);
    }

    if (ngx_http_arg(r, (u_char *) "token", 5, &token) != NGX_OK) {
        why = "missing";
        goto refused;
    }

    if (shown.len == 0
        || ngx_http_signaller_token_split(&token, &expiry, &expires)
           != NGX_OK)
    {
        why = "malformed";
        goto refused;
    }

    if (ngx_http_signaller_token_role(secrets, handle, &expiry,
                                      expiry.data + expiry.len + 1, roles)
        == 0)
    {
        why = ngx_http_signaller_token_role(secrets, handle, &expiry,
                                            expiry.data + expiry.len + 1,
                                            ~roles
                                            & NGX_HTTP_SIGNALLER_ROLE_ANY)
              ? "wrong role" : "bad signature";
        goto refused;
    }

    if (expires <= ngx_time()) {
        why = "expired";
        goto refused;
    }

    return NGX_OK;

refused:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "signaller: token refused for %V \"%V\": %s",
                  &ngx_http_signaller_roles[roles], &shown, why);

    return NGX_DECLINED;
}


/* the first of the roles whose mac, with any of the secrets, is this one */

static ngx_uint_t
ngx_http_signaller_token_role(ngx_array_t *secrets, ngx_str_t *handle,
    ngx_str_t *expiry, u_char *mac, ngx_uint_t roles)
{
    u_char        text[NGX_HTTP_SIGNALLER_SIGNED_MAX];
    u_char        md[EVP_MAX_MD_SIZE];
    u_char        encoded[ngx_base64_encoded_length(EVP_MAX_MD_SIZE)];
    ngx_str_t    *secret, msg, digest, b64;
    ngx_uint_t    i, role;
    unsigned int  len;

    secret = secrets->elts;
    msg.data = text;
    b64.data = encoded;

    for (role = NGX_HTTP_SIGNALLER_ROLE_LISTEN;
         role <= NGX_HTTP_SIGNALLER_ROLE_CONNECT;
         role <<= 1)
    {
        if (!(roles & role)) {
            continue;
        }

        msg.len = ngx_snprintf(text, sizeof(text), "%V:%V:%V",
                               &ngx_http_signaller_roles[role], handle,
                               expiry)
                  - text;

        for (i = 0; i < secrets->nelts; i++) {

            if (HMAC(EVP_sha256(), secret[i].data, secret[i].len,
                     msg.data, msg.len, md, &len)
                == NULL)
            {
                return 0;
            }

            digest.data = md;
            digest.len = len;

            ngx_encode_base64url(&b64, &digest);

            if (b64.len == NGX_HTTP_SIGNALLER_MAC_LEN
                && CRYPTO_memcmp(encoded, mac, NGX_HTTP_SIGNALLER_MAC_LEN)
                   == 0)
            {
                return role;
            }
        }
    }

    return 0;
}


/* "<expiry>.<mac>": 1 to 19 digits, a dot, 43 base64url characters */

static ngx_int_t
ngx_http_signaller_token_split(ngx_str_t *token, ngx_str_t *expiry,
    time_t *expires)
{
    u_char  *p, *end;

    p = token->data;
    end = p + token->len;

    expiry->data = p;

    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }

    expiry->len = p - expiry->data;

    if (expiry->len == 0 || expiry->len > NGX_TIME_T_LEN - 1
        || p == end || *p != '.'
        || (size_t) (end - p - 1) != NGX_HTTP_SIGNALLER_MAC_LEN)
    {
        return NGX_ERROR;
    }

    for (p++; p < end; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_ERROR;
        }
    }

    *expires = ngx_atotm(expiry->data, expiry->len);

    return *expires == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/*
 * The request line, which nginx writes into the access log ($request) and
 * behind every error log line, shows "token=..." from the content handler
 * on, whatever the answer: a token is a credential until it expires.  A
 * token that is not in the request line (set by a rewrite) is left alone.
 */

void
ngx_http_signaller_hide_token(ngx_http_request_t *r)
{
    u_char     *p, *line, *end;
    size_t      len;
    ngx_str_t   token;

    if (ngx_http_arg(r, (u_char *) "token", 5, &token) != NGX_OK) {
        return;
    }

    line = r->request_line.data;
    end = line + r->request_line.len;

    if (token.data < line || token.data + token.len > end) {
        return;
    }

    len = r->request_line.len - token.len + sizeof("...") - 1;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return;
    }

    r->request_line.data = p;
    r->request_line.len = len;

    p = ngx_cpymem(p, line, token.data - line);
    p = ngx_cpymem(p, "...", sizeof("...") - 1);
    ngx_memcpy(p, token.data + token.len, end - token.data - token.len);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * What workers say to each other (see the header): where a worker's relay
 * socket is, and the preamble, which a connector's worker sends first on a
 * Unix stream to the worker that holds the listener, naming it by its
 * random id and its handle.  Nothing else is in it: the listener's worker
 * applies its own configuration to the pair and learns who connected from
 * the kernel.
 *
 *     "SGNL"  version (1)  handle length  id (16 bytes)  handle
 *
 * The peer is another worker of this nginx, proven by its credentials
 * before a byte is read, but its bytes are still parsed as strictly as a
 * client's.
 */


#include "ngx_http_signaller.h"


#define NGX_HTTP_SIGNALLER_PREAMBLE_VERSION  1
#define NGX_HTTP_SIGNALLER_PREAMBLE_HEADER                                  \
    (NGX_HTTP_SIGNALLER_PREAMBLE_MAX - NGX_HTTP_SIGNALLER_HANDLE_MAX)


static u_char  ngx_http_signaller_preamble_magic[] = "SGNL";


socklen_t
ngx_http_signaller_relay_addr(struct sockaddr_un *sun,
    ngx_http_signaller_id_t *name)
{
    u_char  *p;

    ngx_memzero(sun, sizeof(struct sockaddr_un));
    sun->sun_family = AF_UNIX;

    /*
     * sun_path[0] is 0: the abstract namespace, gone with the socket.
     * 19 + 32 bytes of the 108 there are.
     */

    p = ngx_cpymem(sun->sun_path + 1, NGX_HTTP_SIGNALLER_RELAY_NAME,
                   sizeof(NGX_HTTP_SIGNALLER_RELAY_NAME) - 1);
    p = ngx_hex_dump(p, name->data, NGX_HTTP_SIGNALLER_ID_LEN);

    return offsetof(struct sockaddr_un, sun_path) + (p - (u_char *)
                                                     sun->sun_path);
}


u_char *
ngx_http_signaller_preamble_write(u_char *p, ngx_http_signaller_id_t *id,
    ngx_str_t *handle)
{
    p = ngx_cpymem(p, ngx_http_signaller_preamble_magic, 4);
    *p++ = NGX_HTTP_SIGNALLER_PREAMBLE_VERSION;
    *p++ = (u_char) handle->len;
    p = ngx_cpymem(p, id->data, NGX_HTTP_SIGNALLER_ID_LEN);

    return ngx_cpymem(p, handle->data, handle->len);
}


/*
 * NGX_OK: "len" bytes are exactly one valid preamble, described in "pre",
 * whose handle points into "buf".  NGX_AGAIN: they begin one.  NGX_ERROR:
 * they cannot, or go on past its end (nothing may follow it before the
 * answer).
 */

ngx_int_t
ngx_http_signaller_preamble_parse(u_char *buf, size_t len,
    ngx_http_signaller_preamble_t *pre)
{
    size_t  n, hlen;

    n = ngx_min(len, 4);

    if (ngx_memcmp(buf, ngx_http_signaller_preamble_magic, n) != 0) {
        return NGX_ERROR;
    }

    if (len < 5) {
        return NGX_AGAIN;
    }

    if (buf[4] != NGX_HTTP_SIGNALLER_PREAMBLE_VERSION) {
        return NGX_ERROR;
    }

    if (len < 6) {
        return NGX_AGAIN;
    }

    hlen = buf[5];

    if (hlen < NGX_HTTP_SIGNALLER_HANDLE_MIN
        || hlen > NGX_HTTP_SIGNALLER_HANDLE_MAX)
    {
        return NGX_ERROR;
    }

    if (len < NGX_HTTP_SIGNALLER_PREAMBLE_HEADER + hlen) {
        return NGX_AGAIN;
    }

    if (len > NGX_HTTP_SIGNALLER_PREAMBLE_HEADER + hlen) {
        return NGX_ERROR;
    }

    ngx_memcpy(pre->id.data, buf + 6, NGX_HTTP_SIGNALLER_ID_LEN);

    pre->handle.data = buf + NGX_HTTP_SIGNALLER_PREAMBLE_HEADER;
    pre->handle.len = hlen;

    return NGX_OK;
}

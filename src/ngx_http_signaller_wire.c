
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * What workers say to each other (see the header): where a worker's relay
 * and link sockets are, and the preamble, which names a listener by its
 * random id and its handle.  A connector's worker sends it first on a
 * Unix stream to splice, or on a link with a tag (8 bytes) behind it and
 * the client's socket attached, to hand the socket over.  Nothing else is
 * in it: the listener's worker applies its own configuration to the pair
 * and learns who connected from the kernel.
 *
 *     "SGNL"  version (2)  flags  handle length  id (16 bytes)  handle
 *
 * With NGX_HTTP_SIGNALLER_REPORT the listener's worker sends back the
 * session's figures when it ends, and the tag, for the connector's access
 * log line:
 *
 *     'r'  close code (2)  messages in, out, bytes in, out (8 each)
 *
 * in network order.  The peer is another worker of this nginx, proven by
 * its credentials before a byte is read, but its bytes are still parsed
 * as strictly as a client's, and a descriptor it sends is checked to be a
 * stream socket before it is used.
 */


#include "ngx_http_signaller.h"


#define NGX_HTTP_SIGNALLER_PREAMBLE_VERSION  2
#define NGX_HTTP_SIGNALLER_PREAMBLE_FLAGS                                   \
    (NGX_HTTP_SIGNALLER_HANDOFF|NGX_HTTP_SIGNALLER_REPORT)
#define NGX_HTTP_SIGNALLER_PREAMBLE_HEADER                                  \
    (NGX_HTTP_SIGNALLER_PREAMBLE_MAX - NGX_HTTP_SIGNALLER_HANDLE_MAX)


static u_char *ngx_http_signaller_wire_number(u_char *p, uint64_t n);
static uint64_t ngx_http_signaller_wire_value(u_char *p);


static u_char  ngx_http_signaller_preamble_magic[] = "SGNL";


socklen_t
ngx_http_signaller_relay_addr(struct sockaddr_un *sun,
    ngx_http_signaller_id_t *name, ngx_uint_t link)
{
    u_char  *p;

    ngx_memzero(sun, sizeof(struct sockaddr_un));
    sun->sun_family = AF_UNIX;

    /*
     * sun_path[0] is 0: the abstract namespace, gone with the socket.
     * 19 + 32 + 5 bytes of the 108 there are.
     */

    p = ngx_cpymem(sun->sun_path + 1, NGX_HTTP_SIGNALLER_RELAY_NAME,
                   sizeof(NGX_HTTP_SIGNALLER_RELAY_NAME) - 1);
    p = ngx_hex_dump(p, name->data, NGX_HTTP_SIGNALLER_ID_LEN);

    if (link) {
        p = ngx_cpymem(p, NGX_HTTP_SIGNALLER_LINK_NAME,
                       sizeof(NGX_HTTP_SIGNALLER_LINK_NAME) - 1);
    }

    return offsetof(struct sockaddr_un, sun_path) + (p - (u_char *)
                                                     sun->sun_path);
}


u_char *
ngx_http_signaller_preamble_write(u_char *p, ngx_http_signaller_id_t *id,
    ngx_str_t *handle, ngx_uint_t flags)
{
    p = ngx_cpymem(p, ngx_http_signaller_preamble_magic, 4);
    *p++ = NGX_HTTP_SIGNALLER_PREAMBLE_VERSION;
    *p++ = (u_char) flags;
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

    /* REPORT only with HANDOFF */

    if ((buf[5] & ~NGX_HTTP_SIGNALLER_PREAMBLE_FLAGS)
        || buf[5] == NGX_HTTP_SIGNALLER_REPORT)
    {
        return NGX_ERROR;
    }

    if (len < 7) {
        return NGX_AGAIN;
    }

    hlen = buf[6];

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

    ngx_memcpy(pre->id.data, buf + 7, NGX_HTTP_SIGNALLER_ID_LEN);

    pre->handle.data = buf + NGX_HTTP_SIGNALLER_PREAMBLE_HEADER;
    pre->handle.len = hlen;
    pre->flags = buf[5];

    return NGX_OK;
}


/*
 * One message on a link, with the client's socket attached unless
 * "client" is -1.  A seqpacket socket takes a message whole or not at
 * all: NGX_AGAIN leaves nothing half sent.
 */

ngx_int_t
ngx_http_signaller_wire_send(ngx_socket_t fd, u_char *buf, size_t len,
    ngx_socket_t client)
{
    ssize_t           n;
    struct iovec      iov;
    struct msghdr     msg;
    struct cmsghdr   *cmsg;
    union {
        struct cmsghdr  cm;
        char            space[CMSG_SPACE(sizeof(int))];
    } control;

    iov.iov_base = buf;
    iov.iov_len = len;

    ngx_memzero(&msg, sizeof(struct msghdr));

    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;

    if (client != (ngx_socket_t) -1) {
        ngx_memzero(&control, sizeof(control));

        msg.msg_control = &control;
        msg.msg_controllen = sizeof(control);

        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        ngx_memcpy(CMSG_DATA(cmsg), &client, sizeof(int));
    }

    n = sendmsg(fd, &msg, MSG_NOSIGNAL);

    if (n == (ssize_t) len) {
        return NGX_OK;
    }

    return (n == -1 && ngx_socket_errno == NGX_EAGAIN) ? NGX_AGAIN
                                                       : NGX_ERROR;
}


/*
 * One message from a link, into "buf" of "size" bytes: its length, 0 if
 * the other worker has closed the link, NGX_AGAIN, NGX_ERROR, or
 * NGX_DECLINED for a message cut short, more than one descriptor, or one
 * that is not a stream socket (any descriptor that came is closed then).
 * "*client" is the socket that came with it, or -1; "*lost" is set when
 * one was sent but this process had no descriptor free for it.
 */

ssize_t
ngx_http_signaller_wire_recv(ngx_socket_t fd, u_char *buf, size_t size,
    ngx_socket_t *client, ngx_uint_t *lost)
{
    int               type, got;
    ssize_t           n;
    socklen_t         len;
    ngx_uint_t        i, fds;
    struct iovec      iov;
    struct msghdr     msg;
    struct cmsghdr   *cmsg;
    union {
        struct cmsghdr  cm;
        char            space[CMSG_SPACE(2 * sizeof(int))];
    } control;

    iov.iov_base = buf;
    iov.iov_len = size;

    ngx_memzero(&msg, sizeof(struct msghdr));

    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = &control;
    msg.msg_controllen = sizeof(control);

    *client = (ngx_socket_t) -1;
    *lost = 0;

    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

    if (n == -1) {
        return (ngx_socket_errno == NGX_EAGAIN) ? NGX_AGAIN : NGX_ERROR;
    }

    fds = 0;

    /* every descriptor that came is ours to close, whatever else is wrong */

    for (cmsg = CMSG_FIRSTHDR(&msg);
         cmsg != NULL;
         cmsg = CMSG_NXTHDR(&msg, cmsg))
    {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            continue;
        }

        for (i = 0; i < (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            ngx_memcpy(&got, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));

            if (fds++ == 0) {
                *client = got;

            } else {
                (void) close(got);
            }
        }
    }

    if (fds > 1 || (msg.msg_flags & MSG_TRUNC)) {
        goto failed;
    }

    /*
     * The kernel closes a descriptor it cannot install here (EMFILE):
     * the message came whole, its socket did not.
     */

    if (msg.msg_flags & MSG_CTRUNC) {
        if (fds) {
            goto failed;
        }

        *lost = 1;
        return n;
    }

    if (fds == 0) {
        return n;
    }

    /*
     * The link is proven to come from a worker of this nginx, so this
     * guards against a mistake, not an outsider, and costs one system
     * call: a listening socket would only fail its first read.
     */

    len = sizeof(int);

    if (getsockopt(*client, SOL_SOCKET, SO_TYPE, &type, &len) == -1
        || type != SOCK_STREAM)
    {
        goto failed;
    }

    return n;

failed:

    if (*client != (ngx_socket_t) -1) {
        (void) close(*client);
        *client = (ngx_socket_t) -1;
    }

    return NGX_DECLINED;
}


u_char *
ngx_http_signaller_tag_write(u_char *p, uint64_t tag)
{
    return ngx_http_signaller_wire_number(p, tag);
}


uint64_t
ngx_http_signaller_tag_parse(u_char *p)
{
    return ngx_http_signaller_wire_value(p);
}


u_char *
ngx_http_signaller_report_write(u_char *p, ngx_http_signaller_figures_t *f)
{
    *p++ = 'r';
    *p++ = (u_char) (f->close_code >> 8);
    *p++ = (u_char) f->close_code;

    p = ngx_http_signaller_wire_number(p, f->messages_in);
    p = ngx_http_signaller_wire_number(p, f->messages_out);
    p = ngx_http_signaller_wire_number(p, f->bytes_in);

    return ngx_http_signaller_wire_number(p, f->bytes_out);
}


/* NGX_HTTP_SIGNALLER_REPORT_LEN bytes, as a report_write() would write */

ngx_int_t
ngx_http_signaller_report_parse(u_char *buf, ngx_http_signaller_figures_t *f)
{
    ngx_uint_t  code;

    code = (buf[1] << 8) | buf[2];

    /* 0: none was sent; else a code a close frame may carry */

    if (buf[0] != 'r' || (code != 0 && (code < 1000 || code > 4999))) {
        return NGX_ERROR;
    }

    f->close_code = code;
    f->messages_in = ngx_http_signaller_wire_value(buf + 3);
    f->messages_out = ngx_http_signaller_wire_value(buf + 11);
    f->bytes_in = ngx_http_signaller_wire_value(buf + 19)
                  & NGX_MAX_OFF_T_VALUE;
    f->bytes_out = ngx_http_signaller_wire_value(buf + 27)
                   & NGX_MAX_OFF_T_VALUE;

    return NGX_OK;
}


static u_char *
ngx_http_signaller_wire_number(u_char *p, uint64_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < 8; i++) {
        *p++ = (u_char) (n >> (56 - 8 * i));
    }

    return p;
}


static uint64_t
ngx_http_signaller_wire_value(u_char *p)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < 8; i++) {
        n = (n << 8) | p[i];
    }

    return n;
}

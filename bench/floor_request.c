/*
 * floor: the handshake (request line, handle, Sec-WebSocket-Accept) and
 * the pairing of a connector with its listener.
 */

#include "floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]);
static void base64(const unsigned char *in, size_t len, char *out);


void
respond(conn_t *c, const char *status)
{
    char  r[128];
    int   n;

    n = snprintf(r, sizeof(r), "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n", status);
    (void) write(c->fd, r, n);
    conn_close(c);
}


void
on_request(conn_t *c, char *end)
{
    char           *p, *q, *path, *seg, *key, *kend, acc[64], resp[256];
    unsigned char   digest[20];
    conn_t        **pp, *l;
    size_t          extra, len;
    int             listen_, n, owner;

    *end = '\0';
    extra = c->req_len - (end + 4 - c->req);

    if (strncmp(c->req, "GET ", 4) != 0) {
        respond(c, "405 Not Allowed");
        return;
    }

    path = c->req + 4;
    p = strchr(path, ' ');
    if (p == NULL) {
        respond(c, "400 Bad Request");
        return;
    }
    *p = '\0';

    q = strchr(path, '?');
    if (q) {
        *q = '\0';
    }

    /* the last two segments: listen|connect and the handle */

    seg = strrchr(path, '/');
    if (seg == NULL || seg == path) {
        respond(c, "404 Not Found");
        return;
    }

    *seg = '\0';
    q = strrchr(path, '/');
    if (q == NULL || strlen(seg + 1) < 3 || strlen(seg + 1) > 32) {
        respond(c, "404 Not Found");
        return;
    }

    if (strcmp(q + 1, "listen") == 0) {
        listen_ = 1;
    } else if (strcmp(q + 1, "connect") == 0) {
        listen_ = 0;
    } else {
        respond(c, "404 Not Found");
        return;
    }

    strcpy(c->handle, seg + 1);

    key = strcasestr(p + 1, "\nSec-WebSocket-Key:");
    if (key == NULL) {
        respond(c, "400 Bad Request");
        return;
    }

    key += 19;
    while (*key == ' ') {
        key++;
    }
    kend = key;
    while (*kend && *kend != '\r' && *kend != ' ') {
        kend++;
    }

    len = kend - key;
    if (len != 24) {
        respond(c, "400 Bad Request");
        return;
    }

    memcpy(acc, key, 24);
    memcpy(acc + 24, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    sha1((unsigned char *) acc, 60, digest);
    base64(digest, 20, acc);

    pp = lookup(c->handle);
    owner = -1;

    if (listen_) {
        /* taken here or, crossing, in another process */
        if (*pp || cross_publish(c->handle) == -1) {
            respond(c, "409 Conflict");
            return;
        }

        c->state = ST_WAIT;
        c->next = NULL;
        *pp = c;

        if (extra) {
            /* held for the connector; kept in the listener's req buffer */
            memmove(c->req, end + 4, extra);
            c->req_len = extra;
        } else {
            free(c->req);
            c->req = NULL;
            c->req_len = 0;
        }

    } else if (*pp == NULL) {
        owner = cross_owner(c->handle);
        if (owner == -1) {
            respond(c, "404 Not Found");
            return;
        }
    }

    n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\nConnection: upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", acc);

    if (write(c->fd, resp, n) != n) {
        conn_close(c);
        return;
    }

    if (listen_) {
        return;
    }

    if (owner != -1) {
        cross_send(c, owner, end + 4, extra);
        return;
    }

    l = *pp;
    *pp = l->next;
    cross_withdraw(l->handle);

    pair(l, c, end + 4, extra);
}


/* extra: what came after the connector's request, for the listener */

void
pair(conn_t *l, conn_t *c, const char *extra, size_t len)
{
    l->state = ST_PIPE;
    c->state = ST_PIPE;
    l->peer = c;
    c->peer = l;

    if (l->req_len) {
        if (relay_write(c, l->req, l->req_len) == -1) {
            conn_close(c);
            return;
        }
    }

    if (len) {
        if (relay_write(l, extra, len) == -1) {
            conn_close(c);
            return;
        }
    }

    free(l->req);
    l->req = NULL;
    free(c->req);
    c->req = NULL;
}


/* SHA-1 (RFC 3174), only for Sec-WebSocket-Accept */

#define ROL(x, n)  (((x) << (n)) | ((x) >> (32 - (n))))

static void
sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t       h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                            0xc3d2e1f0 };
    uint32_t       w[80], a, b, c, d, e, f, k, t;
    unsigned char  blk[64];
    size_t         i, off, total;
    int            j;

    total = ((len + 8) / 64 + 1) * 64;

    for (off = 0; off < total; off += 64) {
        for (j = 0; j < 64; j++) {
            i = off + j;
            if (i < len) {
                blk[j] = msg[i];
            } else if (i == len) {
                blk[j] = 0x80;
            } else if (i >= total - 8) {
                blk[j] = (unsigned char) (((uint64_t) len * 8)
                                          >> (8 * (total - 1 - i)));
            } else {
                blk[j] = 0;
            }
        }

        for (j = 0; j < 16; j++) {
            w[j] = (uint32_t) blk[4 * j] << 24 | (uint32_t) blk[4 * j + 1] << 16
                   | (uint32_t) blk[4 * j + 2] << 8 | blk[4 * j + 3];
        }
        for (j = 16; j < 80; j++) {
            w[j] = ROL(w[j - 3] ^ w[j - 8] ^ w[j - 14] ^ w[j - 16], 1);
        }

        a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];

        for (j = 0; j < 80; j++) {
            if (j < 20) {
                f = (b & c) | (~b & d);
                k = 0x5a827999;
            } else if (j < 40) {
                f = b ^ c ^ d;
                k = 0x6ed9eba1;
            } else if (j < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d;
                k = 0xca62c1d6;
            }

            t = ROL(a, 5) + f + e + k + w[j];
            e = d; d = c; c = ROL(b, 30); b = a; a = t;
        }

        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }

    for (j = 0; j < 20; j++) {
        out[j] = (unsigned char) (h[j / 4] >> (24 - 8 * (j % 4)));
    }
}


static void
base64(const unsigned char *in, size_t len, char *out)
{
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t             i;
    uint32_t           v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        *out++ = tab[v >> 18];
        *out++ = tab[(v >> 12) & 63];
        *out++ = tab[(v >> 6) & 63];
        *out++ = tab[v & 63];
    }

    if (i < len) {
        v = (uint32_t) in[i] << 16 | (i + 1 < len ? (uint32_t) in[i + 1] << 8
                                                   : 0);
        *out++ = tab[v >> 18];
        *out++ = tab[(v >> 12) & 63];
        *out++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *out++ = '=';
    }

    *out = '\0';
}

/*
 * floor: the least a signalling relay can do, for comparison.
 *
 * Accepts the same two kinds of WebSocket connections as the module
 * (GET .../listen/<handle> and GET .../connect/<handle>), answers the
 * handshake with 101 and a correct Sec-WebSocket-Accept, pairs a connector
 * with the listener waiting on the same handle, then copies bytes between
 * the two sockets verbatim: one read and one write per chunk, no WebSocket
 * parsing, so the clients see each other's masked frames.  When either
 * side reaches EOF or an error, both sockets are closed.
 *
 * Bytes a waiting listener sends are held and written to the connector on
 * pairing.  A second listener on a waiting handle gets 409, a connector
 * without a listener 404, anything else 404 or 400.
 *
 * One process, one epoll loop, level-triggered.  With -j N it forks N
 * independent processes on SO_REUSEPORT sockets: handles are then paired
 * only within a process, which is only good for holding idle listeners.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>


#define REQ_MAX     2048
#define HBUCKETS    65536

enum { ST_REQ, ST_WAIT, ST_PIPE, ST_DEAD };


typedef struct conn_s  conn_t;

struct conn_s {
    int         fd;
    int         state;
    conn_t     *peer;
    conn_t     *next;           /* hash chain, free list */
    char       *pend;           /* bytes for this socket not yet written */
    size_t      pend_len;
    size_t      pend_cap;
    size_t      req_len;
    char        handle[33];
    char       *req;
};


static int      ep;
static conn_t  *table[HBUCKETS];
static conn_t  *dead;
static char     buf[65536];
static pid_t    kids[64];
static volatile sig_atomic_t  term;


static void
on_term(int sig)
{
    (void) sig;
    term = 1;
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


static unsigned
hash(const char *s)
{
    unsigned  h;

    for (h = 5381; *s; s++) {
        h = h * 33 + (unsigned char) *s;
    }

    return h % HBUCKETS;
}


static conn_t **
lookup(const char *handle)
{
    conn_t  **pp;

    for (pp = &table[hash(handle)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->handle, handle) == 0) {
            break;
        }
    }

    return pp;
}


static void
set_events(conn_t *c, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}


static void
conn_free(conn_t *c)
{
    conn_t  **pp;

    if (c == NULL || c->state == ST_DEAD) {
        return;
    }

    if (c->state == ST_WAIT) {
        pp = lookup(c->handle);
        if (*pp == c) {
            *pp = c->next;
        }
    }

    close(c->fd);
    c->state = ST_DEAD;
    c->next = dead;
    dead = c;
}


static void
conn_close(conn_t *c)
{
    conn_t  *peer;

    peer = c->peer;
    conn_free(c);

    if (peer) {
        /* last try to hand over what is pending */
        if (peer->pend_len) {
            (void) write(peer->fd, peer->pend, peer->pend_len);
        }
        conn_free(peer);
    }
}


static void
queue(conn_t *c, const char *data, size_t len)
{
    size_t  cap;

    if (c->pend_len + len > c->pend_cap) {
        cap = c->pend_cap ? c->pend_cap : 4096;
        while (cap < c->pend_len + len) {
            cap *= 2;
        }
        c->pend = realloc(c->pend, cap);
        if (c->pend == NULL) {
            fprintf(stderr, "floor: no memory\n");
            exit(1);
        }
        c->pend_cap = cap;
    }

    memcpy(c->pend + c->pend_len, data, len);
    c->pend_len += len;
}


/* writes to c; what does not fit waits, and c's peer stops being read */

static int
relay_write(conn_t *c, const char *data, size_t len)
{
    ssize_t  n;

    if (c->pend_len == 0) {
        n = write(c->fd, data, len);

        if (n == (ssize_t) len) {
            return 0;
        }

        if (n == -1) {
            if (errno != EAGAIN) {
                return -1;
            }
            n = 0;
        }

        data += n;
        len -= n;
    }

    queue(c, data, len);
    set_events(c, EPOLLIN | EPOLLOUT);

    if (c->peer) {
        set_events(c->peer, 0);
    }

    return 0;
}


static void
respond(conn_t *c, const char *status)
{
    char  r[128];
    int   n;

    n = snprintf(r, sizeof(r), "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n", status);
    (void) write(c->fd, r, n);
    conn_close(c);
}


static void
on_request(conn_t *c, char *end)
{
    char           *p, *q, *path, *seg, *key, *kend, acc[64], resp[256];
    unsigned char   digest[20];
    conn_t        **pp, *l;
    size_t          extra, len;
    int             listen_, n;

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

    if (listen_ && *pp) {
        respond(c, "409 Conflict");
        return;
    }

    if (!listen_ && *pp == NULL) {
        respond(c, "404 Not Found");
        return;
    }

    n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\nConnection: upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", acc);

    if (write(c->fd, resp, n) != n) {
        conn_close(c);
        return;
    }

    if (listen_) {
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

        return;
    }

    l = *pp;
    *pp = l->next;

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

    if (extra) {
        if (relay_write(l, end + 4, extra) == -1) {
            conn_close(c);
            return;
        }
    }

    free(l->req);
    l->req = NULL;
    free(c->req);
    c->req = NULL;
}


static void
on_event(conn_t *c, uint32_t events)
{
    ssize_t  n;
    char    *end;

    if (c->state == ST_DEAD) {
        return;
    }

    if (events & EPOLLOUT) {
        while (c->pend_len) {
            n = write(c->fd, c->pend, c->pend_len);
            if (n == -1) {
                if (errno == EAGAIN) {
                    return;
                }
                conn_close(c);
                return;
            }
            memmove(c->pend, c->pend + n, c->pend_len - n);
            c->pend_len -= n;
        }

        set_events(c, EPOLLIN);
        if (c->peer) {
            set_events(c->peer, EPOLLIN);
        }
    }

    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        return;
    }

    switch (c->state) {

    case ST_PIPE:
        n = read(c->fd, buf, sizeof(buf));

        if (n > 0) {
            if (relay_write(c->peer, buf, n) == -1) {
                conn_close(c);
            }
            return;
        }

        if (n == -1 && errno == EAGAIN) {
            return;
        }

        conn_close(c);
        return;

    case ST_REQ:
        if (c->req == NULL) {
            c->req = malloc(REQ_MAX + 1);
            if (c->req == NULL) {
                conn_close(c);
                return;
            }
        }

        n = read(c->fd, c->req + c->req_len, REQ_MAX - c->req_len);

        if (n <= 0) {
            if (n == -1 && errno == EAGAIN) {
                return;
            }
            conn_close(c);
            return;
        }

        c->req_len += n;
        c->req[c->req_len] = '\0';

        end = strstr(c->req, "\r\n\r\n");
        if (end) {
            on_request(c, end);
        } else if (c->req_len == REQ_MAX) {
            respond(c, "400 Bad Request");
        }
        return;

    case ST_WAIT:
        n = read(c->fd, buf, sizeof(buf));

        if (n > 0) {
            if (c->req == NULL) {
                c->req = malloc(REQ_MAX + 1);
                c->req_len = 0;
            }
            if (c->req == NULL || c->req_len + n > REQ_MAX) {
                conn_close(c);
                return;
            }
            memcpy(c->req + c->req_len, buf, n);
            c->req_len += n;
            return;
        }

        if (n == -1 && errno == EAGAIN) {
            return;
        }

        conn_close(c);
        return;
    }
}


static int
run(int port)
{
    int                  ls, fd, one, n, i;
    conn_t              *c;
    struct sockaddr_in   sa;
    struct epoll_event   ev, evs[512];

    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(ls, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(ls, (struct sockaddr *) &sa, sizeof(sa)) == -1
        || listen(ls, 4096) == -1)
    {
        perror("floor: bind/listen");
        return 1;
    }

    ep = epoll_create1(0);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);

    for ( ;; ) {
        n = epoll_wait(ep, evs, 512, -1);

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr != NULL) {
                on_event(evs[i].data.ptr, evs[i].events);
                continue;
            }

            for ( ;; ) {
                fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                if (fd == -1) {
                    break;
                }

                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

                c = calloc(1, sizeof(conn_t));
                if (c == NULL) {
                    close(fd);
                    break;
                }

                c->fd = fd;
                c->state = ST_REQ;

                ev.events = EPOLLIN;
                ev.data.ptr = c;
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }

        while (dead) {
            c = dead;
            dead = c->next;
            free(c->pend);
            free(c->req);
            free(c);
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int               opt, port, procs, i;
    struct rlimit     rl;
    struct sigaction  sa;

    port = 8090;
    procs = 1;

    while ((opt = getopt(argc, argv, "p:j:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'j':
            procs = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: floor [-p port] [-j processes]\n");
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (procs <= 1) {
        return run(port);
    }

    for (i = 0; i < procs && i < 64; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            return run(port);
        }
    }

    /* the parent passes SIGTERM and SIGINT on to its processes */

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    while (wait(NULL) > 0 || errno == EINTR) {
        if (term) {
            term = 0;
            for (i = 0; i < procs && i < 64; i++) {
                kill(kids[i], SIGTERM);
            }
        }
    }

    return 0;
}

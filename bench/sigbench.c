/*
 * sigbench: load generator for the signaller WebSocket relay.
 *
 * Modes:
 *   pair  repeated listen + connect + one message + close, at a given
 *         concurrency: pairings per second, pairing latency.
 *   msg   N established pairs; the connector sends, the listener echoes,
 *         so a round trip crosses the relay twice.  Closed loop with a
 *         window of messages in flight per pair, or open loop at a fixed
 *         rate (-r) with latency measured from the intended send time.
 *   idle  N listeners waiting on distinct handles; reports when all are
 *         established, then holds them until a signal or -d seconds.
 *   steer attach a classic BPF program to the SO_REUSEPORT group of the
 *         server's listening port that picks the socket (nginx worker) by
 *         the parity of the last octet of the client address.
 *
 * Client frames are masked; the frame reader accepts masked and unmasked
 * frames, so it works against nginx and against bench/floor.c, which
 * forwards the bytes verbatim.
 *
 * -T picks the protocol of the server, for the servers a user would pick
 * instead (bench/run.sh runs them side by side):
 *   sig     (default) /listen/<h> and /connect/<h>, paired by the server,
 *           which relays frames and the listener's close
 *   peerjs  the PeerJS server: /peerjs?key=peerjs&id=<h>l|<h>c&token=..,
 *           open once {"type":"OPEN"} arrives; the connector sends
 *           {"type":"OFFER","dst":"<h>l","payload":"<msg>"}, the listener
 *           answers {"type":"ANSWER","dst":"<h>c",...}; the server adds
 *           "src"; the message (-s) is the payload, the envelope comes on
 *           top.  Nothing ties the two peers: both close.
 *   nchan   nginx + nchan: /pair/<h>/a (listener) and /pair/<h>/b, each
 *           side publishing to one channel and subscribing to the other
 *           (nchan_pubsub websocket); raw frames; both close.
 *
 * The parent forks -j children (by default one per 18000 descriptors),
 * each running one epoll loop; results go through a shared mapping.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>


#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT  24
#endif
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF  51
#endif

#define MAX_PROCS       64
#define FDS_PER_PROC    18000
#define HB_N            3840
#define RING            1024        /* outstanding messages per pair */
#define CYCLE_TIMEOUT   10000000000ULL
#define WS_KEY          "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT       "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum { MODE_PAIR, MODE_MSG, MODE_IDLE };
enum { ROLE_L, ROLE_C };
enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSED };
enum { PROTO_SIG, PROTO_PEERJS, PROTO_NCHAN };


typedef struct {
    uint64_t    ops;            /* operations completed in the window */
    uint64_t    errors;
    uint64_t    err_connect;
    uint64_t    err_handshake;
    uint64_t    err_close;
    uint64_t    err_proto;
    uint64_t    err_timeout;
    uint64_t    err_overrun;
    uint64_t    established;
    uint64_t    sent;
    uint64_t    lat_n;
    uint64_t    lat_max;
    uint64_t    lat_sum;
    uint64_t    hist[HB_N];
    char        first_error[160];
} stats_t;


typedef struct {
    int         ready;          /* child: setup finished */
    int         done;
    stats_t     st;
} slot_t;


typedef struct {
    int         go;             /* parent: times below are valid */
    int         stop;           /* parent: stop now */
    uint64_t    t0;             /* start sending */
    uint64_t    t_meas;         /* start of the measured window */
    uint64_t    t_end;          /* end of the measured window */
    slot_t      slot[MAX_PROCS];
} shm_t;


typedef struct pair_s  pair_t;

typedef struct {
    int         fd;
    uint8_t     role;
    uint8_t     state;
    uint8_t     want_out;
    uint8_t     sent_close;
    uint8_t     hdr_len;
    uint8_t     hdr_need;
    uint8_t     opcode;         /* opcode of the current frame */
    uint8_t     masked;
    uint8_t     msg_op;         /* opcode of the message being assembled */
    uint8_t     ctl_len;
    uint8_t     proto_open;     /* peerjs: {"type":"OPEN"} received */
    uint16_t    hs_len;
    uint16_t    mb_len;         /* peerjs: message bytes in mb */
    uint8_t     mask[4];
    uint64_t    rem;            /* payload bytes left in the frame */
    uint64_t    msg_len;
    uint64_t    ctl_pos;
    pair_t     *pair;
    char       *out;
    size_t      out_len;
    size_t      out_cap;
    char       *frame;          /* peerjs: this side's message frame */
    size_t      frame_len;
    char       *mb;             /* peerjs: the message being received */
    uint8_t     hdr[14];
    uint8_t     ctl[126];
    char        handle[16];
    char        hs[512];
} conn_t;


struct pair_s {
    conn_t     *l;
    conn_t     *c;
    uint64_t    t_start;
    uint32_t    head;
    uint32_t    count;
    uint32_t    index;
    int         dead;
    int         ready;
    uint64_t    ts[];           /* ring of send times, RING or window */
};


/* options */
static int          mode;
static const char  *host = "127.0.0.1";
static int          port = 8080;
static const char  *prefix = "";
static long         nconns = 100;
static double       duration = 5;
static double       warmup = 1;
static size_t       msg_size = 64;
static int          window = 1;
static double       rate;
static long         count_limit;
static int          naddrs = 32;
static int          cross;
static int          nprocs;
static int          binary;
static int          setup_conc = 256;
static const char  *pids_arg;
static const char  *hook_start;
static const char  *hook_end;
static const char  *label = "";
static int          proto;

static struct sockaddr_in  server;
static shm_t       *shm;
static int          proc_id;
static int          ep;
static stats_t     *st;

static char        *msg_frame;
static size_t       msg_frame_len;
static char        *payload;        /* the message, unmasked */
static char         close_frame[8];

static pair_t     **pairs;
static long         npairs;
static conn_t      *grave[4096];
static int          ngrave;
static long         handle_seq;
static long         inflight;
static int          closing;
static unsigned     run_id;
static volatile sig_atomic_t  got_signal;


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static void
die(const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    fprintf(stderr, "sigbench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}


static void
count_error(uint64_t *counter, const char *fmt, ...)
{
    va_list  ap;

    st->errors++;
    (*counter)++;

    if (st->first_error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(st->first_error, sizeof(st->first_error), fmt, ap);
        va_end(ap);
    }
}


/* log-linear histogram: exact below 128 ns, then 64 buckets per octave */

static int
hbucket(uint64_t v)
{
    int  msb;

    if (v < 128) {
        return (int) v;
    }

    msb = 63 - __builtin_clzll(v);

    return 128 + (msb - 7) * 64 + (int) ((v >> (msb - 6)) - 64);
}


static uint64_t
hvalue(int b)
{
    int       msb;
    uint64_t  top;

    if (b < 128) {
        return b;
    }

    msb = (b - 128) / 64 + 7;
    top = (b - 128) % 64 + 64;

    return (top << (msb - 6)) + ((1ULL << (msb - 6)) >> 1);
}


static void
record(uint64_t lat)
{
    st->hist[hbucket(lat)]++;
    st->lat_n++;
    st->lat_sum += lat;

    if (lat > st->lat_max) {
        st->lat_max = lat;
    }
}


static void
make_handle(char *buf)
{
    static const char  digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint64_t           v;
    int                i;

    /* "b" + 4 chars run id + 2 chars process + 8 chars counter */

    buf[0] = 'b';
    v = run_id;
    for (i = 4; i >= 1; i--) {
        buf[i] = digits[v % 36];
        v /= 36;
    }
    v = proc_id;
    for (i = 6; i >= 5; i--) {
        buf[i] = digits[v % 36];
        v /= 36;
    }
    v = handle_seq++;
    for (i = 14; i >= 7; i--) {
        buf[i] = digits[v % 36];
        v /= 36;
    }
    buf[15] = '\0';
}


static const uint8_t  mask_key[4] = { 0x12, 0x34, 0x56, 0x78 };


/* a masked data frame carrying data: malloc()ed, its length in *len */

static char *
make_frame(const char *data, size_t n, int op, size_t *len)
{
    const uint8_t  *key = mask_key;
    size_t          i;
    char           *f, *p;

    f = malloc(n + 14);
    if (f == NULL) {
        die("no memory");
    }

    p = f;
    *p++ = (char) (0x80 | op);

    if (n < 126) {
        *p++ = (char) (0x80 | n);
    } else if (n < 65536) {
        *p++ = (char) (0x80 | 126);
        *p++ = (char) (n >> 8);
        *p++ = (char) n;
    } else {
        *p++ = (char) (0x80 | 127);
        for (i = 0; i < 8; i++) {
            *p++ = (char) (n >> (56 - 8 * i));
        }
    }

    memcpy(p, key, 4);
    p += 4;

    for (i = 0; i < n; i++) {
        p[i] = (char) (data[i] ^ key[i % 4]);
    }

    *len = (p - f) + n;

    return f;
}


static void
build_frames(void)
{
    const uint8_t  *key = mask_key;
    size_t          i;

    payload = malloc(msg_size + 1);
    if (payload == NULL) {
        die("no memory");
    }

    for (i = 0; i < msg_size; i++) {
        /* printable ASCII, valid UTF-8 and valid inside a JSON string */
        payload[i] = (char) ('a' + i % 26);
    }
    payload[msg_size] = '\0';

    msg_frame = make_frame(payload, msg_size, binary ? 2 : 1, &msg_frame_len);

    /* close 1000, masked, no reason */

    close_frame[0] = (char) 0x88;
    close_frame[1] = (char) (0x80 | 2);
    memcpy(close_frame + 2, key, 4);
    close_frame[6] = (char) (0x03 ^ key[0]);
    close_frame[7] = (char) (0xe8 ^ key[1]);
}


/* connections */

static void
conn_events(conn_t *c, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = c;

    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
        die("epoll_ctl: %s", strerror(errno));
    }
}


static conn_t *
conn_open(int role, long index, pair_t *p)
{
    int                 fd, one, octet;
    conn_t             *c;
    struct sockaddr_in  sa;
    struct epoll_event  ev;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        count_error(&st->err_connect, "socket: %s", strerror(errno));
        return NULL;
    }

    one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (server.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && naddrs > 1) {
        if (cross) {
            /* listeners on even octets, connectors on odd ones */
            octet = (int) (index % (naddrs / 2)) * 2 + 2 - role;
        } else {
            octet = (int) (index % naddrs) + 1;
        }

        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one));

        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(0x7f000000 | octet);

        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == -1) {
            count_error(&st->err_connect, "bind: %s", strerror(errno));
            close(fd);
            return NULL;
        }
    }

    if (connect(fd, (struct sockaddr *) &server, sizeof(server)) == -1
        && errno != EINPROGRESS)
    {
        count_error(&st->err_connect, "connect: %s", strerror(errno));
        close(fd);
        return NULL;
    }

    c = calloc(1, sizeof(conn_t));
    if (c == NULL) {
        die("no memory");
    }

    c->fd = fd;
    c->role = (uint8_t) role;
    c->state = ST_CONNECTING;
    c->pair = p;
    c->hdr_need = 2;

    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
        die("epoll_ctl: %s", strerror(errno));
    }

    c->want_out = 1;

    return c;
}


static void
conn_close(conn_t *c)
{
    if (c->state == ST_CLOSED) {
        return;
    }

    close(c->fd);
    c->state = ST_CLOSED;

    if (ngrave == (int) (sizeof(grave) / sizeof(grave[0]))) {
        die("too many closes in one batch");
    }

    grave[ngrave++] = c;
}


static void
bury(void)
{
    int  i;

    for (i = 0; i < ngrave; i++) {
        free(grave[i]->out);
        free(grave[i]->frame);
        free(grave[i]->mb);
        free(grave[i]);
    }

    ngrave = 0;
}


static void
out_append(conn_t *c, const char *data, size_t len)
{
    size_t  cap;

    if (c->out_len + len > c->out_cap) {
        cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len) {
            cap *= 2;
        }

        c->out = realloc(c->out, cap);
        if (c->out == NULL) {
            die("no memory");
        }

        c->out_cap = cap;
    }

    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}


static int
out_flush(conn_t *c)
{
    ssize_t  n;

    while (c->out_len) {
        n = write(c->fd, c->out, c->out_len);

        if (n == -1) {
            if (errno == EAGAIN) {
                if (!c->want_out) {
                    c->want_out = 1;
                    conn_events(c, EPOLLIN | EPOLLOUT);
                }
                return 0;
            }

            if (errno == EINTR) {
                continue;
            }

            return -1;
        }

        if ((size_t) n < c->out_len) {
            memmove(c->out, c->out + n, c->out_len - n);
        }

        c->out_len -= n;
    }

    if (c->want_out && c->state != ST_CONNECTING) {
        c->want_out = 0;
        conn_events(c, EPOLLIN);
    }

    return 0;
}


/* sends a frame: directly when nothing is queued, else through the queue */

static int
send_frame(conn_t *c, const char *data, size_t len)
{
    ssize_t  n;

    if (c->out_len == 0 && c->state == ST_OPEN) {
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

    out_append(c, data, len);

    return out_flush(c);
}


/* the data frame this side sends: shared, or its own under peerjs */

static const char *
data_frame(conn_t *c, size_t *len)
{
    if (c->frame) {
        *len = c->frame_len;
        return c->frame;
    }

    *len = msg_frame_len;
    return msg_frame;
}


/* peerjs: this side's frame, addressed to the other side */

static void
peerjs_frame(conn_t *c)
{
    char    *json;
    size_t   n;

    json = malloc(msg_size + 128);
    if (json == NULL) {
        die("no memory");
    }

    n = (size_t) sprintf(json, "{\"type\":\"%s\",\"dst\":\"%s%c\","
                         "\"payload\":\"%s\"}",
                         c->role == ROLE_L ? "ANSWER" : "OFFER", c->handle,
                         c->role == ROLE_L ? 'c' : 'l', payload);

    c->frame = make_frame(json, n, 1, &c->frame_len);
    free(json);
}


/*
 * peerjs: a whole message is in mb.  0: a relayed message, checked (its
 * payload is the message, msg_len set to its length); 1: consumed (OPEN);
 * -1: an error, counted.
 */

static int
peerjs_message(conn_t *c)
{
    char  *m, *v, want[48];

    m = c->mb;
    m[c->mb_len] = '\0';

    if (!c->proto_open) {
        if (strstr(m, "\"type\":\"OPEN\"") == NULL) {
            count_error(&st->err_handshake, "peerjs: expected OPEN, got %.80s",
                        m);
            return -1;
        }
        c->proto_open = 1;
        return 1;
    }

    snprintf(want, sizeof(want), "\"src\":\"%s%c\"", c->handle,
             c->role == ROLE_L ? 'c' : 'l');

    if (strstr(m, want) == NULL
        || strstr(m, c->role == ROLE_L ? "\"type\":\"OFFER\""
                                       : "\"type\":\"ANSWER\"") == NULL
        || (v = strstr(m, "\"payload\":\"")) == NULL)
    {
        count_error(&st->err_proto, "peerjs: unexpected message %.80s", m);
        return -1;
    }

    v += 11;

    if (strncmp(v, payload, msg_size) != 0 || v[msg_size] != '"') {
        count_error(&st->err_proto, "peerjs: payload corrupted: %.80s", m);
        return -1;
    }

    c->msg_len = msg_size;

    return 0;
}


/* mode logic */

static void pair_start(pair_t *p);
static void msg_send(pair_t *p, uint64_t t);


static void
pair_fail(pair_t *p)
{
    if (p->l) {
        conn_close(p->l);
        p->l = NULL;
    }

    if (p->c) {
        conn_close(p->c);
        p->c = NULL;
    }

    if (mode == MODE_PAIR) {
        if (!shm->stop && now_ns() < shm->t_end) {
            pair_start(p);
        }

    } else {
        if (!p->ready && !p->dead) {
            inflight--;
        }
        p->dead = 1;
    }
}


static void
conn_fail(conn_t *c)
{
    if (c->pair) {
        pair_fail(c->pair);

    } else {
        conn_close(c);
    }
}


static void
pair_start(pair_t *p)
{
    p->t_start = now_ns();
    p->c = NULL;
    p->l = conn_open(ROLE_L, p->index, p);

    if (p->l == NULL) {
        p->dead = 1;
    }
}


static void
send_request(conn_t *c)
{
    char  handle[16], req[512];
    int   n;

    char  uri[128];

    if (c->role == ROLE_L) {
        make_handle(handle);
    } else {
        memcpy(handle, c->pair->l->handle, 16);
    }

    switch (proto) {
    case PROTO_PEERJS:
        snprintf(uri, sizeof(uri), "%s/peerjs?key=peerjs&id=%s%c&token=t%s",
                 prefix, handle, c->role == ROLE_L ? 'l' : 'c', handle);
        break;
    case PROTO_NCHAN:
        snprintf(uri, sizeof(uri), "%s/pair/%s/%c",
                 prefix, handle, c->role == ROLE_L ? 'a' : 'b');
        break;
    default:
        snprintf(uri, sizeof(uri), "%s/%s/%s",
                 prefix, c->role == ROLE_L ? "listen" : "connect", handle);
    }

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s:%d\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " WS_KEY "\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 uri, host, port);

    memcpy(c->handle, handle, 16);

    c->state = ST_HANDSHAKE;
    c->hs_len = 0;

    out_append(c, req, n);
}


static void
on_open(conn_t *c)
{
    pair_t      *p;
    const char  *f;
    size_t       fl;

    p = c->pair;
    st->established++;

    if (proto == PROTO_PEERJS && mode != MODE_IDLE) {
        peerjs_frame(c);
    }

    if (mode == MODE_IDLE) {
        p->ready = 1;
        inflight--;
        return;
    }

    if (c->role == ROLE_L) {
        p->c = conn_open(ROLE_C, p->index, p);
        if (p->c == NULL) {
            pair_fail(p);
        }
        return;
    }

    if (mode == MODE_PAIR) {
        f = data_frame(c, &fl);
        if (send_frame(c, f, fl) == -1) {
            count_error(&st->err_proto, "write: %s", strerror(errno));
            pair_fail(p);
        }
        return;
    }

    /* MODE_MSG: the pair is ready; sending starts at t0 */

    p->ready = 1;
    inflight--;
}


static void
on_message(conn_t *c)
{
    pair_t      *p;
    uint64_t     now, t;
    const char  *f;
    size_t       fl;
    int          rc;

    p = c->pair;

    if (proto == PROTO_PEERJS) {
        rc = peerjs_message(c);

        if (rc == 1) {
            on_open(c);
            return;
        }

        if (rc == -1) {
            conn_fail(c);
            return;
        }
    }

    if (c->msg_len != msg_size) {
        count_error(&st->err_proto, "message of %llu bytes, expected %zu",
              (unsigned long long) c->msg_len, msg_size);
        pair_fail(p);
        return;
    }

    if (mode == MODE_IDLE) {
        count_error(&st->err_proto, "message to an idle listener");
        return;
    }

    if (mode == MODE_PAIR) {
        if (c->role != ROLE_L) {
            count_error(&st->err_proto, "unexpected message to the connector");
            pair_fail(p);
            return;
        }

        c->sent_close = 1;
        if (send_frame(c, close_frame, sizeof(close_frame)) == -1) {
            count_error(&st->err_proto, "write: %s", strerror(errno));
            pair_fail(p);
            return;
        }

        /* nothing ties the peers under peerjs and nchan: both close */
        if (proto != PROTO_SIG && p->c && !p->c->sent_close) {
            p->c->sent_close = 1;
            if (send_frame(p->c, close_frame, sizeof(close_frame)) == -1) {
                count_error(&st->err_proto, "write: %s", strerror(errno));
                pair_fail(p);
            }
        }
        return;
    }

    /* MODE_MSG */

    if (closing) {
        return;
    }

    if (c->role == ROLE_L) {
        /* echo; flushed once per read by the caller */
        f = data_frame(c, &fl);
        out_append(c, f, fl);
        return;
    }

    if (p->count == 0) {
        count_error(&st->err_proto, "unsolicited echo");
        return;
    }

    t = p->ts[p->head];
    p->head = (p->head + 1) % (rate > 0 ? RING : (uint32_t) window);
    p->count--;

    now = now_ns();

    if (now >= shm->t_meas && now < shm->t_end) {
        record(now - t);
        st->ops += 2;
    }

    if (rate == 0 && !shm->stop) {
        if (count_limit) {
            if ((long) st->sent < count_limit) {
                msg_send(p, now);
            }

        } else if (now < shm->t_end) {
            msg_send(p, now);
        }
    }
}


static void
on_close_frame(conn_t *c, int code)
{
    pair_t    *p;
    uint64_t   now;

    p = c->pair;

    if (mode != MODE_PAIR && !closing) {
        count_error(&st->err_close, "%s got close %d",
              c->role == ROLE_L ? "listener" : "connector", code);
        conn_fail(c);
        return;
    }

    if (code != 1000) {
        count_error(&st->err_close, "%s got close %d",
              c->role == ROLE_L ? "listener" : "connector", code);
        pair_fail(p);
        return;
    }

    if (!c->sent_close) {
        c->sent_close = 1;
        send_frame(c, close_frame, sizeof(close_frame));
    }

    conn_close(c);

    if (c == p->l) {
        p->l = NULL;
    } else {
        p->c = NULL;
    }

    if (p->l == NULL && p->c == NULL && mode == MODE_PAIR) {
        now = now_ns();

        if (now >= shm->t_meas && now < shm->t_end) {
            record(now - p->t_start);
            st->ops++;
        }

        if (!shm->stop && now < shm->t_end) {
            pair_start(p);
        }
    }
}


static void
msg_send(pair_t *p, uint64_t t)
{
    uint32_t     cap;
    const char  *f;
    size_t       fl;

    cap = rate > 0 ? RING : (uint32_t) window;

    if (p->count == cap) {
        st->errors++;
        st->err_overrun++;
        return;
    }

    p->ts[(p->head + p->count) % cap] = t;
    p->count++;
    st->sent++;

    f = data_frame(p->c, &fl);
    if (send_frame(p->c, f, fl) == -1) {
        count_error(&st->err_proto, "write: %s", strerror(errno));
        pair_fail(p);
    }
}


/* frame reader: masked or not */

static int
ws_feed(conn_t *c, const uint8_t *data, size_t n)
{
    size_t    k, i;
    uint64_t  len;
    int       code;

    while (n) {
        if (c->state != ST_OPEN) {
            return 0;
        }

        if (c->hdr_len < c->hdr_need) {
            k = c->hdr_need - c->hdr_len;
            if (k > n) {
                k = n;
            }

            memcpy(c->hdr + c->hdr_len, data, k);
            c->hdr_len += k;
            data += k;
            n -= k;

            if (c->hdr_len < c->hdr_need) {
                return 0;
            }

            if (c->hdr_need == 2) {
                len = c->hdr[1] & 0x7f;
                c->hdr_need = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0)
                              + ((c->hdr[1] & 0x80) ? 4 : 0);
                if (c->hdr_len < c->hdr_need) {
                    continue;
                }
            }

            /* complete header */

            c->opcode = c->hdr[0] & 0x0f;
            c->masked = (c->hdr[1] & 0x80) != 0;
            len = c->hdr[1] & 0x7f;
            i = 2;

            if (len == 126) {
                len = ((uint64_t) c->hdr[2] << 8) | c->hdr[3];
                i = 4;

            } else if (len == 127) {
                len = 0;
                for (i = 2; i < 10; i++) {
                    len = (len << 8) | c->hdr[i];
                }
            }

            if (c->masked) {
                memcpy(c->mask, c->hdr + i, 4);
            }

            if (c->hdr[0] & 0x70) {
                count_error(&st->err_proto, "RSV bits set by the server");
                return -1;
            }

            if (c->opcode >= 8) {
                if (len > 125 || !(c->hdr[0] & 0x80)) {
                    count_error(&st->err_proto, "bad control frame");
                    return -1;
                }

            } else if (c->opcode == 0) {
                if (c->msg_op == 0) {
                    count_error(&st->err_proto, "continuation without start");
                    return -1;
                }

            } else if (c->opcode <= 2) {
                if (c->msg_op != 0) {
                    count_error(&st->err_proto, "new message inside a message");
                    return -1;
                }
                c->msg_op = c->opcode;
                c->msg_len = 0;
                c->mb_len = 0;

            } else {
                count_error(&st->err_proto, "opcode %d from the server",
                            c->opcode);
                return -1;
            }

            c->rem = len;
            c->ctl_pos = 0;

        } else if (c->rem) {
            k = c->rem < n ? c->rem : n;

            if (c->opcode >= 8) {
                for (i = 0; i < k; i++) {
                    c->ctl[c->ctl_pos + i] = data[i]
                        ^ (c->masked ? c->mask[(c->ctl_pos + i) & 3] : 0);
                }
                c->ctl_pos += k;

            } else if (proto == PROTO_PEERJS) {
                /* JSON: kept whole, checked by peerjs_message() */
                if (c->mb_len + k > msg_size + 255) {
                    count_error(&st->err_proto, "peerjs: message too long");
                    return -1;
                }
                for (i = 0; i < k; i++) {
                    c->mb[c->mb_len + i] = (char) (data[i]
                        ^ (c->masked ? c->mask[(c->ctl_pos + i) & 3] : 0));
                }
                c->mb_len += k;
                c->ctl_pos += k;

            } else {
                /* the payload is 'a'..'z' repeated: check it */
                for (i = 0; i < k; i++) {
                    if ((uint8_t) (data[i]
                                   ^ (c->masked
                                      ? c->mask[(c->ctl_pos + i) & 3] : 0))
                        != 'a' + (c->msg_len + i) % 26)
                    {
                        count_error(&st->err_proto,
                                    "payload corrupted at byte %llu",
                                    (unsigned long long) (c->msg_len + i));
                        return -1;
                    }
                }
                c->ctl_pos += k;
                c->msg_len += k;
            }

            c->rem -= k;
            data += k;
            n -= k;
        }

        if (c->hdr_len == c->hdr_need && c->rem == 0) {
            /* frame complete */

            c->hdr_len = 0;
            c->hdr_need = 2;

            switch (c->opcode) {

            case 8:
                code = c->ctl_pos >= 2 ? (c->ctl[0] << 8) | c->ctl[1] : 1005;
                on_close_frame(c, code);
                return 0;

            case 9:
                /* ping: pong with the same payload, masked with a zero key */
                {
                    char  f[6 + 125];

                    f[0] = (char) 0x8a;
                    f[1] = (char) (0x80 | c->ctl_pos);
                    memset(f + 2, 0, 4);
                    memcpy(f + 6, c->ctl, c->ctl_pos);
                    out_append(c, f, 6 + c->ctl_pos);
                }
                break;

            case 10:
                break;

            default:
                if (c->hdr[0] & 0x80) {
                    c->msg_op = 0;
                    on_message(c);
                }
            }
        }
    }

    return 0;
}


static int
handshake_feed(conn_t *c, uint8_t *data, size_t n, size_t *used)
{
    size_t  k, start;
    char   *end;

    k = sizeof(c->hs) - 1 - c->hs_len;
    if (k > n) {
        k = n;
    }

    start = c->hs_len >= 3 ? c->hs_len - 3 : 0;
    memcpy(c->hs + c->hs_len, data, k);
    c->hs_len += k;
    c->hs[c->hs_len] = '\0';

    end = strstr(c->hs + start, "\r\n\r\n");

    if (end == NULL) {
        if (c->hs_len == sizeof(c->hs) - 1) {
            count_error(&st->err_handshake, "response header too long");
            return -1;
        }

        *used = k;
        return 0;
    }

    *used = k - (c->hs_len - (end + 4 - c->hs));

    if (strncmp(c->hs, "HTTP/1.1 101 ", 13) != 0) {
        *strchr(c->hs, '\r') = '\0';
        count_error(&st->err_handshake, "%s %s: \"%s\"",
              c->role == ROLE_L ? "listen" : "connect", c->handle, c->hs);
        return -1;
    }

    if (strstr(c->hs, WS_ACCEPT) == NULL) {
        count_error(&st->err_handshake, "no or bad Sec-WebSocket-Accept");
        return -1;
    }

    c->state = ST_OPEN;

    if (proto == PROTO_PEERJS) {
        /* open when {"type":"OPEN"} arrives */
        c->mb = malloc(msg_size + 256);
        if (c->mb == NULL) {
            die("no memory");
        }
        return 1;
    }

    on_open(c);

    return 1;
}


static uint8_t  rbuf[262144];

static void
on_readable(conn_t *c)
{
    ssize_t  n;
    size_t   used;
    int      rc;

    n = read(c->fd, rbuf, sizeof(rbuf));

    if (n == -1) {
        if (errno == EAGAIN || errno == EINTR) {
            return;
        }

        count_error(&st->err_proto, "read: %s", strerror(errno));
        conn_fail(c);
        return;
    }

    if (n == 0) {
        if (c->state == ST_HANDSHAKE) {
            count_error(&st->err_handshake, "EOF during the handshake");
        } else {
            count_error(&st->err_close, "EOF without a close frame");
        }
        conn_fail(c);
        return;
    }

    used = 0;

    if (c->state == ST_HANDSHAKE) {
        rc = handshake_feed(c, rbuf, n, &used);
        if (rc == -1) {
            conn_fail(c);
            return;
        }
    }

    if (c->state == ST_OPEN && (size_t) n > used) {
        if (ws_feed(c, rbuf + used, n - used) == -1) {
            conn_fail(c);
            return;
        }
    }

    if (c->state == ST_OPEN && c->out_len) {
        if (out_flush(c) == -1) {
            count_error(&st->err_proto, "write: %s", strerror(errno));
            conn_fail(c);
        }
    }
}


static void
on_event(conn_t *c, uint32_t events)
{
    int        err;
    socklen_t  len;

    if (c->state == ST_CLOSED) {
        return;
    }

    if (c->state == ST_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }

        err = 0;
        len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);

        if (err) {
            count_error(&st->err_connect, "connect: %s", strerror(err));
            conn_fail(c);
            return;
        }

        send_request(c);
    }

    if (events & EPOLLOUT) {
        if (out_flush(c) == -1) {
            count_error(&st->err_proto, "write: %s", strerror(errno));
            conn_fail(c);
            return;
        }
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(c);
    }
}


/* msg: the listeners close with 1000, the connectors answer (sig) or
   close too (peerjs, nchan) */

static void
close_all(void)
{
    int                  n, k;
    long                 i, left;
    pair_t              *p;
    uint64_t             deadline;
    struct epoll_event   evs[512];

    closing = 1;

    for (i = 0; i < npairs; i++) {
        p = pairs[i];

        if (p->dead || p->l == NULL || p->l->state != ST_OPEN) {
            continue;
        }

        p->l->sent_close = 1;

        if (send_frame(p->l, close_frame, sizeof(close_frame)) == -1) {
            pair_fail(p);
            continue;
        }

        /* nothing ties the peers under peerjs and nchan: both close */
        if (proto != PROTO_SIG && p->c && p->c->state == ST_OPEN) {
            p->c->sent_close = 1;
            if (send_frame(p->c, close_frame, sizeof(close_frame)) == -1) {
                pair_fail(p);
            }
        }
    }

    bury();
    deadline = now_ns() + 2000000000ULL;

    while (now_ns() < deadline) {
        left = 0;
        for (i = 0; i < npairs; i++) {
            if (pairs[i]->l || pairs[i]->c) {
                left++;
            }
        }

        if (left == 0) {
            break;
        }

        n = epoll_wait(ep, evs, 512, 10);

        for (k = 0; k < n; k++) {
            on_event(evs[k].data.ptr, evs[k].events);
        }

        bury();
    }
}


/* child */

static void
child_run(long share, double my_rate, long my_count)
{
    long                 i, started;
    int                  n, k, ready;
    pair_t              *p;
    uint64_t             now, next_check, seq, interval, t;
    struct timespec      ts;
    struct epoll_event   evs[512];

    st = &shm->slot[proc_id].st;
    count_limit = my_count;

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        die("epoll_create1: %s", strerror(errno));
    }

    npairs = share;
    pairs = calloc(npairs ? npairs : 1, sizeof(pair_t *));
    if (pairs == NULL) {
        die("no memory");
    }

    for (i = 0; i < npairs; i++) {
        pairs[i] = calloc(1, sizeof(pair_t) + sizeof(uint64_t)
                             * (rate > 0 ? RING : (mode == MODE_MSG
                                                    ? window : 1)));
        if (pairs[i] == NULL) {
            die("no memory");
        }

        /* spread source addresses over all processes */
        pairs[i]->index = (uint32_t) (i * nprocs + proc_id);
    }

    started = 0;
    ready = 0;
    seq = 0;
    interval = my_rate > 0 ? (uint64_t) (1e9 / my_rate) : 0;
    next_check = now_ns() + 100000000;

    if (mode == MODE_PAIR) {
        /* cycles start at t0; nothing to set up */
        shm->slot[proc_id].ready = 1;
        ready = 1;
    }

    for ( ;; ) {
        now = now_ns();

        if (shm->stop) {
            break;
        }

        if (!ready) {
            /* setup: keep at most setup_conc handshakes in flight */
            while (started < npairs && inflight < setup_conc) {
                inflight++;
                pair_start(pairs[started++]);
            }

            if (started == npairs && inflight == 0) {
                ready = 1;
                __atomic_store_n(&shm->slot[proc_id].ready, 1,
                                 __ATOMIC_RELEASE);
            }
        }

        if (ready && __atomic_load_n(&shm->go, __ATOMIC_ACQUIRE)
            && now >= shm->t0)
        {
            if (mode == MODE_PAIR && started == 0) {
                for (i = 0; i < npairs; i++) {
                    pair_start(pairs[i]);
                }
                started = npairs;
            }

            if (mode == MODE_MSG && rate == 0 && seq == 0) {
                seq = 1;
                for (i = 0; i < npairs; i++) {
                    if (pairs[i]->dead) {
                        continue;
                    }
                    for (k = 0; k < window && !pairs[i]->dead; k++) {
                        if (count_limit && (long) st->sent >= count_limit) {
                            break;
                        }
                        msg_send(pairs[i], now_ns());
                    }
                }
            }

            if (mode == MODE_MSG && rate > 0 && npairs) {
                /* open loop: message seq goes to pair seq % npairs */
                for ( ;; ) {
                    t = shm->t0 + seq * interval;
                    if (t > now || t >= shm->t_end) {
                        break;
                    }
                    p = pairs[seq % npairs];
                    seq++;
                    if (!p->dead) {
                        msg_send(p, t);
                    }
                }
            }

            /* finished? */

            if (mode == MODE_MSG) {
                if (count_limit && now > shm->t0 + 120000000000ULL) {
                    count_error(&st->err_timeout,
                                "%ld messages not echoed within 120 s",
                                (long) st->sent - (long) st->lat_n);
                    break;
                }

                if (count_limit && (long) st->sent >= count_limit) {
                    for (i = 0; i < npairs; i++) {
                        if (!pairs[i]->dead && pairs[i]->count) {
                            break;
                        }
                    }
                    if (i == npairs) {
                        break;
                    }
                }

                if (!count_limit && now >= shm->t_end) {
                    for (i = 0; i < npairs; i++) {
                        if (!pairs[i]->dead && pairs[i]->count) {
                            break;
                        }
                    }
                    if (i == npairs || now >= shm->t_end + 2000000000ULL) {
                        break;
                    }
                }
            }

            if (mode == MODE_PAIR && now >= shm->t_end) {
                for (i = 0; i < npairs; i++) {
                    if (pairs[i]->l || pairs[i]->c) {
                        break;
                    }
                }
                if (i == npairs || now >= shm->t_end + 2000000000ULL) {
                    break;
                }
            }
        }

        if (now >= next_check) {
            next_check = now + 100000000;

            if (mode == MODE_PAIR) {
                for (i = 0; i < npairs; i++) {
                    p = pairs[i];
                    if ((p->l || p->c) && now - p->t_start > CYCLE_TIMEOUT) {
                        count_error(&st->err_timeout,
                                    "pairing cycle timed out");
                        pair_fail(p);
                    }
                }
            }
        }

        /* wait */

        if (mode == MODE_MSG && rate > 0 && ready && shm->go) {
            t = shm->t0 + seq * interval;
            t = t > now ? t - now : 0;
            if (t > 10000000) {
                t = 10000000;
            }
        } else {
            t = 10000000;
        }

        ts.tv_sec = 0;
        ts.tv_nsec = (long) t;

        n = epoll_pwait2(ep, evs, 512, &ts, NULL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait: %s", strerror(errno));
        }

        for (k = 0; k < n; k++) {
            on_event(evs[k].data.ptr, evs[k].events);
        }

        bury();
    }

    if (mode == MODE_MSG) {
        close_all();
    }

    __atomic_store_n(&shm->slot[proc_id].done, 1, __ATOMIC_RELEASE);
    _exit(0);
}


/* server process statistics */

static int     server_pids[64];
static int     nserver_pids;


static uint64_t
server_cpu_ns(uint64_t *ticks_ns)
{
    int                 i;
    char                path[64], buf[1024], *p;
    FILE               *f;
    uint64_t            sum, run;
    unsigned long long  ut, stt;
    long                hz;
    DIR                *d;
    struct dirent      *de;

    sum = 0;
    *ticks_ns = 0;
    hz = sysconf(_SC_CLK_TCK);

    for (i = 0; i < nserver_pids; i++) {
        /* every thread's (node has a few besides the event loop) */
        snprintf(path, sizeof(path), "/proc/%d/task", server_pids[i]);
        d = opendir(path);

        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }

            snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat",
                     server_pids[i], de->d_name);
            f = fopen(path, "r");
            if (f) {
                if (fscanf(f, "%lu", &run) == 1) {
                    sum += run;
                }
                fclose(f);
            }
        }

        if (d) {
            closedir(d);
        }

        snprintf(path, sizeof(path), "/proc/%d/stat", server_pids[i]);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }

        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL
            && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%llu %llu", &ut, &stt) == 2)
        {
            *ticks_ns += (ut + stt) * (1000000000ULL / hz);
        }

        fclose(f);
    }

    return sum;
}


static long
server_pss_kb(void)
{
    int    i;
    long   sum, v;
    char   path[64], line[256];
    FILE  *f;

    sum = 0;

    for (i = 0; i < nserver_pids; i++) {
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", server_pids[i]);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }

        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Pss: %ld", &v) == 1) {
                sum += v;
                break;
            }
        }

        fclose(f);
    }

    return sum;
}


/*
 * The kernel's share: slab (/proc/meminfo) and TCP sockets and the pages
 * charged to their buffers (/proc/net/sockstat), machine-wide.
 */

typedef struct {
    long    slab_kb;
    long    sunreclaim_kb;
    long    tcp_inuse;
    long    tcp_tw;
    long    tcp_mem_pages;
} kmem_t;


static void
kernel_mem(kmem_t *k)
{
    char   line[256];
    long   v;
    FILE  *f;

    memset(k, 0, sizeof(*k));

    f = fopen("/proc/meminfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Slab: %ld", &v) == 1) {
                k->slab_kb = v;
            } else if (sscanf(line, "SUnreclaim: %ld", &v) == 1) {
                k->sunreclaim_kb = v;
            }
        }
        fclose(f);
    }

    f = fopen("/proc/net/sockstat", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "TCP: inuse %ld orphan %*d tw %ld alloc %*d "
                       "mem %ld", &k->tcp_inuse, &k->tcp_tw,
                       &k->tcp_mem_pages) == 3)
            {
                break;
            }
        }
        fclose(f);
    }
}


static void
on_signal(int sig)
{
    (void) sig;
    got_signal = 1;
    if (shm) {
        shm->stop = 1;
    }
}


static void
sleep_until(uint64_t t)
{
    uint64_t         now, d;
    struct timespec  ts;

    for ( ;; ) {
        now = now_ns();
        if (now >= t || got_signal) {
            return;
        }
        d = t - now;
        if (d > 50000000) {
            d = 50000000;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (long) d;
        nanosleep(&ts, NULL);
    }
}


static int
wait_all(const char *what, uint64_t deadline)
{
    int  i;

    for ( ;; ) {
        for (i = 0; i < nprocs; i++) {
            if (!__atomic_load_n(what[0] == 'r' ? &shm->slot[i].ready
                                                 : &shm->slot[i].done,
                                 __ATOMIC_ACQUIRE))
            {
                break;
            }
        }

        if (i == nprocs) {
            return 0;
        }

        if (got_signal || (deadline && now_ns() > deadline)) {
            return -1;
        }

        usleep(2000);
    }
}


static uint64_t
percentile(stats_t *s, double q)
{
    uint64_t  want, acc;
    int       b;

    if (s->lat_n == 0) {
        return 0;
    }

    want = (uint64_t) (q * s->lat_n);
    if (want >= s->lat_n) {
        want = s->lat_n - 1;
    }

    acc = 0;
    for (b = 0; b < HB_N; b++) {
        acc += s->hist[b];
        if (acc > want) {
            return hvalue(b) < s->lat_max ? hvalue(b) : s->lat_max;
        }
    }

    return s->lat_max;
}


static int
steer(void)
{
    int                  fd, one;
    struct sock_filter   code[] = {
        /* A = last octet of the IPv4 source address */
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF + 15),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 1),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_fprog    prog = { 3, code };

    /*
     * Joins the server's SO_REUSEPORT group (same address, port and user)
     * and attaches a program to the group: the connection goes to group
     * socket 0 or 1 (the first two nginx workers, in the order the master
     * created their sockets) by the parity of the client address.  Our own
     * socket is last in the group and is never chosen; the program stays
     * with the group after it leaves.
     */

    fd = socket(AF_INET, SOCK_STREAM, 0);
    one = 1;

    if (fd == -1
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1
        || bind(fd, (struct sockaddr *) &server, sizeof(server)) == -1
        || listen(fd, 1) == -1)
    {
        die("steer: cannot join the reuseport group of %s:%d: %s",
            host, port, strerror(errno));
    }

    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof(prog)) == -1)
    {
        die("steer: SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
    }

    close(fd);
    printf("steer: %s:%d: workers chosen by client address parity\n",
           host, port);

    return 0;
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: sigbench pair|msg|idle|steer [options]\n"
        "  -H host        server address (127.0.0.1)\n"
        "  -p port        server port (8080)\n"
        "  -u prefix      URI prefix before /listen/<h> (\"\")\n"
        "  -n N           pairs (msg), concurrency (pair), listeners (idle)\n"
        "  -d sec         measured duration (5); idle: hold time, 0 = until "
        "a signal\n"
        "  -w sec         warm-up before measuring (1)\n"
        "  -s bytes       message size (64)\n"
        "  -W window      messages in flight per pair, closed loop (1)\n"
        "  -r rate        open loop: round trips per second in total\n"
        "  -m count       msg: stop after count round trips (no window)\n"
        "  -a N           source addresses 127.0.0.1..N (32)\n"
        "  -x             cross: listeners on even, connectors on odd "
        "addresses\n"
        "  -j procs       generator processes (1 per 18000 sockets)\n"
        "  -b             binary messages (default text)\n"
        "  -c N           handshakes in flight per process during setup "
        "(256)\n"
        "  -P pid,...     server processes: CPU time and Pss\n"
        "  -S cmd         run cmd when the measured window starts\n"
        "  -E cmd         run cmd when the measured window ends\n"
        "  -l label       label for the RESULT line\n"
        "  -T proto       sig (default), peerjs or nchan: the server's "
        "protocol\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int              opt, i, status;
    long             share, fds, pss0, pss1, cnt, dsock;
    kmem_t           k0, k1;
    double           kslab, kunrec, kbuf;
    char            *s, *e;
    pid_t            pid, kids[MAX_PROCS];
    stats_t          tot;
    uint64_t         cpu0, cpu1, tk0, tk1, t_a, t_b, ops;
    double           secs, cpu_op, tk_op;
    struct rlimit    rl;
    struct sigaction sa;

    cpu0 = cpu1 = tk0 = tk1 = t_b = 0;

    if (argc < 2) {
        usage();
    }

    if (strcmp(argv[1], "pair") == 0) {
        mode = MODE_PAIR;
    } else if (strcmp(argv[1], "msg") == 0) {
        mode = MODE_MSG;
    } else if (strcmp(argv[1], "idle") == 0) {
        mode = MODE_IDLE;
    } else if (strcmp(argv[1], "steer") != 0) {
        usage();
    } else {
        mode = -1;
    }

    optind = 2;

    while ((opt = getopt(argc, argv, "H:p:u:n:d:w:s:W:r:m:a:xj:bc:P:S:E:l:T:"))
           != -1)
    {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': prefix = optarg; break;
        case 'n': nconns = atol(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': msg_size = (size_t) atol(optarg); break;
        case 'W': window = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'm': count_limit = atol(optarg); break;
        case 'a': naddrs = atoi(optarg); break;
        case 'x': cross = 1; break;
        case 'j': nprocs = atoi(optarg); break;
        case 'b': binary = 1; break;
        case 'c': setup_conc = atoi(optarg); break;
        case 'P': pids_arg = optarg; break;
        case 'S': hook_start = optarg; break;
        case 'E': hook_end = optarg; break;
        case 'l': label = optarg; break;
        case 'T':
            if (strcmp(optarg, "sig") == 0) {
                proto = PROTO_SIG;
            } else if (strcmp(optarg, "peerjs") == 0) {
                proto = PROTO_PEERJS;
            } else if (strcmp(optarg, "nchan") == 0) {
                proto = PROTO_NCHAN;
            } else {
                usage();
            }
            break;
        default: usage();
        }
    }

    memset(&server, 0, sizeof(server));
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
        die("bad host \"%s\" (an IPv4 address is expected)", host);
    }

    if (mode == -1) {
        return steer();
    }

    if (window < 1 || window > RING || nconns < 1 || naddrs < 1
        || naddrs > 254 || (cross && naddrs < 2))
    {
        usage();
    }

    if (pids_arg) {
        for (s = (char *) pids_arg; *s && nserver_pids < 64; s = e) {
            server_pids[nserver_pids++] = (int) strtol(s, &e, 10);
            if (*e == ',') {
                e++;
            } else if (*e) {
                usage();
            }
        }
    }

    /* descriptors: raise the soft limit to the hard one */

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    fds = (long) rl.rlim_cur - 100;
    if (fds > FDS_PER_PROC) {
        fds = FDS_PER_PROC;
    }

    cnt = mode == MODE_IDLE ? nconns : nconns * 2;

    if (nprocs == 0) {
        nprocs = (int) ((cnt + fds - 1) / fds);
    }

    if (nprocs > MAX_PROCS || nprocs > nconns) {
        die("too many processes (%d)", nprocs);
    }

    if ((cnt + nprocs - 1) / nprocs > fds) {
        die("%ld sockets in %d processes: over %ld per process",
            cnt, nprocs, fds);
    }

    shm = mmap(NULL, sizeof(shm_t), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        die("mmap: %s", strerror(errno));
    }

    run_id = (unsigned) (now_ns() / 1000 ^ getpid() * 7919u) % 1679616;
    build_frames();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mode == MODE_IDLE) {
        /*
         * The sockets of an earlier run may still be going away: wait (up
         * to 10 s) until the kernel's counters are still for 250 ms.
         */
        kernel_mem(&k0);
        for (i = 0; i < 40; i++) {
            usleep(250000);
            kernel_mem(&k1);
            if (k1.tcp_inuse == k0.tcp_inuse
                && labs(k1.slab_kb - k0.slab_kb) < 512)
            {
                break;
            }
            k0 = k1;
        }
    }

    pss0 = nserver_pids ? server_pss_kb() : 0;
    kernel_mem(&k0);

    fflush(stdout);

    for (i = 0; i < nprocs; i++) {
        share = nconns / nprocs + (i < nconns % nprocs);

        pid = fork();
        if (pid == -1) {
            die("fork: %s", strerror(errno));
        }

        if (pid == 0) {
            signal(SIGINT, SIG_IGN);
            proc_id = i;
            child_run(share, rate / nprocs,
                      count_limit ? count_limit / nprocs
                                    + (i < count_limit % nprocs) : 0);
        }

        kids[i] = pid;
    }

    /* setup */

    t_a = now_ns();

    if (wait_all("ready", now_ns() + 120000000000ULL) == -1) {
        fprintf(stderr, "sigbench: setup did not finish in 120 s\n");
        shm->stop = 1;
        goto finish;
    }

    t_b = now_ns();

    if (mode == MODE_IDLE) {
        pss1 = nserver_pids ? server_pss_kb() : 0;
        kernel_mem(&k1);

        /*
         * Both ends of every connection are sockets of this kernel, of the
         * same kind (a TCP socket, its file and inode, an epoll entry):
         * the growth over the TCP sockets it added (about 2 per listener)
         * is the cost of one, i.e. of one server-side socket.
         */
        dsock = k1.tcp_inuse - k0.tcp_inuse;
        kslab = dsock > 0 ? (k1.slab_kb - k0.slab_kb) * 1024.0 / dsock : 0;
        kunrec = dsock > 0
                 ? (k1.sunreclaim_kb - k0.sunreclaim_kb) * 1024.0 / dsock : 0;
        kbuf = dsock > 0
               ? (k1.tcp_mem_pages - k0.tcp_mem_pages) * 4096.0 / dsock : 0;

        memset(&tot, 0, sizeof(tot));
        for (i = 0; i < nprocs; i++) {
            tot.errors += shm->slot[i].st.errors;
            tot.established += shm->slot[i].st.established;
        }

        printf("idle: %llu of %ld listeners established in %.2f s, "
               "%llu errors\n",
               (unsigned long long) tot.established, nconns,
               (t_b - t_a) / 1e9, (unsigned long long) tot.errors);
        if (nserver_pids) {
            printf("idle: server Pss %ld kB -> %ld kB: %.0f bytes per "
                   "listener\n", pss0, pss1,
                   (pss1 - pss0) * 1024.0 / nconns);
        }
        printf("idle: kernel: Slab %ld -> %ld kB (SUnreclaim %ld -> %ld), "
               "TCP sockets %ld -> %ld, TCP mem %ld -> %ld pages, "
               "time-wait %ld -> %ld: per TCP socket %.0f B slab "
               "(%.0f unreclaimable) + %.0f B buffers\n",
               k0.slab_kb, k1.slab_kb, k0.sunreclaim_kb, k1.sunreclaim_kb,
               k0.tcp_inuse, k1.tcp_inuse, k0.tcp_mem_pages,
               k1.tcp_mem_pages, k0.tcp_tw, k1.tcp_tw, kslab, kunrec, kbuf);
        printf("RESULT label=%s mode=idle n=%ld established=%llu "
               "errors=%llu setup_s=%.3f pss0_kb=%ld pss1_kb=%ld "
               "pss_per_conn_b=%.0f slab0_kb=%ld slab1_kb=%ld "
               "sunreclaim0_kb=%ld sunreclaim1_kb=%ld tcp_inuse0=%ld "
               "tcp_inuse1=%ld tcp_mem0=%ld tcp_mem1=%ld tcp_tw0=%ld "
               "tcp_tw1=%ld slab_per_sock_b=%.0f sunreclaim_per_sock_b=%.0f "
               "tcpmem_per_sock_b=%.0f kern_per_sock_b=%.0f\n",
               *label ? label : "-", nconns,
               (unsigned long long) tot.established,
               (unsigned long long) tot.errors,
               (t_b - t_a) / 1e9, pss0, pss1,
               (pss1 - pss0) * 1024.0 / nconns,
               k0.slab_kb, k1.slab_kb, k0.sunreclaim_kb, k1.sunreclaim_kb,
               k0.tcp_inuse, k1.tcp_inuse, k0.tcp_mem_pages,
               k1.tcp_mem_pages, k0.tcp_tw, k1.tcp_tw, kslab, kunrec, kbuf,
               kslab + (kbuf > 0 ? kbuf : 0));
        fflush(stdout);

        if (duration > 0) {
            sleep_until(now_ns() + (uint64_t) (duration * 1e9));
        } else {
            while (!got_signal) {
                pause();
            }
        }

        shm->stop = 1;
        goto finish;
    }

    if (hook_start && system(hook_start) != 0) {
        fprintf(stderr, "sigbench: hook \"%s\" failed\n", hook_start);
    }

    shm->t0 = now_ns() + 20000000;
    shm->t_meas = shm->t0 + (count_limit ? 0 : (uint64_t) (warmup * 1e9));
    shm->t_end = count_limit ? UINT64_MAX
                             : shm->t_meas + (uint64_t) (duration * 1e9);
    __atomic_store_n(&shm->go, 1, __ATOMIC_RELEASE);

    sleep_until(shm->t_meas);
    cpu0 = server_cpu_ns(&tk0);
    t_a = now_ns();

    if (count_limit) {
        wait_all("done", 0);
    } else {
        sleep_until(shm->t_end);
    }

    cpu1 = server_cpu_ns(&tk1);
    t_b = now_ns();

    if (hook_end && system(hook_end) != 0) {
        fprintf(stderr, "sigbench: hook \"%s\" failed\n", hook_end);
    }

finish:

    if (wait_all("done", now_ns() + 5000000000ULL) == -1) {
        shm->stop = 1;
        wait_all("done", now_ns() + 3000000000ULL);
    }

    for (i = 0; i < nprocs; i++) {
        if (!shm->slot[i].done) {
            kill(kids[i], SIGKILL);
        }
        waitpid(kids[i], &status, 0);
    }

    memset(&tot, 0, sizeof(tot));

    for (i = 0; i < nprocs; i++) {
        stats_t  *x = &shm->slot[i].st;
        int       b;

        tot.ops += x->ops;
        tot.errors += x->errors;
        tot.err_connect += x->err_connect;
        tot.err_handshake += x->err_handshake;
        tot.err_close += x->err_close;
        tot.err_proto += x->err_proto;
        tot.err_timeout += x->err_timeout;
        tot.err_overrun += x->err_overrun;
        tot.established += x->established;
        tot.sent += x->sent;
        tot.lat_n += x->lat_n;
        tot.lat_sum += x->lat_sum;
        if (x->lat_max > tot.lat_max) {
            tot.lat_max = x->lat_max;
        }
        for (b = 0; b < HB_N; b++) {
            tot.hist[b] += x->hist[b];
        }
        if (tot.first_error[0] == '\0' && x->first_error[0]) {
            memcpy(tot.first_error, x->first_error, sizeof(x->first_error));
        }
    }

    if (mode == MODE_IDLE) {
        printf("idle: %llu errors in total\n",
               (unsigned long long) tot.errors);
        if (tot.first_error[0]) {
            printf("idle: first error: %s\n", tot.first_error);
        }
        return tot.errors ? 1 : 0;
    }

    if (!shm->go) {
        fprintf(stderr, "sigbench: setup did not finish; first error: %s\n",
                tot.first_error[0] ? tot.first_error : "none");
        return 1;
    }

    /*
     * Operations are counted by the children over exactly [t_meas, t_end);
     * the parent samples the server's CPU time as close to those instants
     * as it is scheduled, over [t_a, t_b): CPU per operation is the ratio
     * of the two rates.
     */

    secs = count_limit ? (t_b - t_a) / 1e9 : (shm->t_end - shm->t_meas) / 1e9;
    ops = tot.ops;

    if (count_limit) {
        ops = 2 * tot.lat_n;
    }

    cpu_op = ops ? (cpu1 - cpu0) / (double) ops * secs * 1e9 / (t_b - t_a)
                 : 0;
    tk_op = ops ? (tk1 - tk0) / (double) ops * secs * 1e9 / (t_b - t_a) : 0;

    printf("%s: %s n=%ld size=%zu window=%d: %.0f %s/s over %.2f s",
           mode == MODE_MSG ? "msg" : "pair", *label ? label : "",
           nconns, msg_size, window, ops / secs,
           mode == MODE_MSG ? "relayed msgs" : "pairings",
           secs);
    if (mode == MODE_MSG && rate > 0) {
        printf(" (open loop at %.0f round trips/s)", rate);
    }
    printf("\n  latency (%s) us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f"
           "  max %.1f\n",
           mode == MODE_MSG ? "round trip" : "pairing cycle",
           percentile(&tot, 0.5) / 1e3, percentile(&tot, 0.9) / 1e3,
           percentile(&tot, 0.99) / 1e3, percentile(&tot, 0.999) / 1e3,
           tot.lat_max / 1e3);
    if (nserver_pids) {
        printf("  server CPU: %.2f us per %s (%.0f%% of a core)\n",
               cpu_op / 1e3, mode == MODE_MSG ? "relayed message" : "pairing",
               (cpu1 - cpu0) * 100.0 / (t_b - t_a));
    }
    printf("  errors: %llu (connect %llu, handshake %llu, close %llu, "
           "protocol %llu, timeout %llu, overrun %llu)\n",
           (unsigned long long) tot.errors,
           (unsigned long long) tot.err_connect,
           (unsigned long long) tot.err_handshake,
           (unsigned long long) tot.err_close,
           (unsigned long long) tot.err_proto,
           (unsigned long long) tot.err_timeout,
           (unsigned long long) tot.err_overrun);
    if (tot.first_error[0]) {
        printf("  first error: %s\n", tot.first_error);
    }

    printf("RESULT label=%s mode=%s n=%ld size=%zu window=%d rate=%.0f "
           "ops=%llu secs=%.3f ops_s=%.0f cpu_ns_op=%.0f tick_ns_op=%.0f "
           "cpu_pct=%.1f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
           "max_us=%.1f errors=%llu\n",
           *label ? label : "-", mode == MODE_MSG ? "msg" : "pair", nconns,
           msg_size, window, rate, (unsigned long long) ops, secs,
           ops / secs, cpu_op, tk_op,
           (cpu1 - cpu0) * 100.0 / (t_b - t_a),
           percentile(&tot, 0.5) / 1e3, percentile(&tot, 0.9) / 1e3,
           percentile(&tot, 0.99) / 1e3, percentile(&tot, 0.999) / 1e3,
           tot.lat_max / 1e3, (unsigned long long) tot.errors);

    return tot.errors ? 1 : 0;
}

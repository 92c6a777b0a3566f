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
 * processes on SO_REUSEPORT sockets.  Alone, they pair handles only within
 * a process, which is only good for holding idle listeners.  With -x as
 * well, a connector whose listener waits in another process is handed to
 * that process, socket and all (floor_cross.c): the least that crossing
 * workers the module's way can cost.
 */

#include "floor.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>


int             ep;
int             crossing;

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


unsigned
hash(const char *s)
{
    unsigned  h;

    for (h = 5381; *s; s++) {
        h = h * 33 + (unsigned char) *s;
    }

    return h % HBUCKETS;
}


conn_t **
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
            cross_withdraw(c->handle);
        }
    }

    close(c->fd);
    c->state = ST_DEAD;
    c->next = dead;
    dead = c;
}


void
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

int
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


/* a connection of this process, read when its request comes */

conn_t *
conn_new(int fd)
{
    conn_t              *c;
    struct epoll_event   ev;

    c = calloc(1, sizeof(conn_t));
    if (c == NULL) {
        close(fd);
        return NULL;
    }

    c->fd = fd;
    c->state = ST_REQ;

    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

    return c;
}


/* me: this process's place among the -j processes, 0 if alone */

static int
run(int port, int me)
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

    if (crossing) {
        cross_start(me);
    }

    while (!term) {
        n = epoll_wait(ep, evs, 512, -1);

        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == &cross_mailbox) {
                cross_receive();
                continue;
            }

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

                if (conn_new(fd) == NULL) {
                    break;
                }
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

    /* shows that steering made the pairs cross, or kept them apart */
    if (crossing) {
        fprintf(stderr, "floor: process %d: %lu connectors handed over\n",
                me, cross_handoffs());
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

    while ((opt = getopt(argc, argv, "p:j:x")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'j':
            procs = atoi(optarg);
            break;
        case 'x':
            crossing = 1;
            break;
        default:
            fprintf(stderr, "usage: floor [-p port] [-j processes [-x]]\n");
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (procs <= 1) {
        crossing = 0;
        return run(port, 0);
    }

    procs = procs < 64 ? procs : 64;

    if (crossing && cross_init(procs) == -1) {
        return 1;
    }

    /* without SA_RESTART, so that a signal ends the epoll_wait() */

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    for (i = 0; i < procs; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            return run(port, i);
        }
    }

    /* the parent passes SIGTERM and SIGINT on to its processes */

    while (wait(NULL) > 0 || errno == EINTR) {
        if (term) {
            term = 0;
            for (i = 0; i < procs; i++) {
                kill(kids[i], SIGTERM);
            }
        }
    }

    return 0;
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers, the listener's worker ("L").  Every worker
 * listens on a Unix stream socket of its own in the abstract namespace,
 * under a random name it publishes in its zone record, opened in
 * init_process: nothing is inherited at fork, so old and new workers reach
 * each other across reloads.  A connector's worker whose client cannot
 * be handed over (handoff_connector.c) connects and sends a preamble naming a
 * listener waiting here; L answers one byte, yes if it could take the
 * listener's table entry.  The stream then carries the connector's frames
 * as they are (splice.c), and L treats it exactly like a client
 * connection, so all protocol rules, limits and timeouts are applied in
 * one place, L, from L's own configuration.  Next to it, the worker's
 * link socket takes handoffs (link.c).
 *
 * Anyone in the network namespace can reach an abstract socket, so L asks
 * the kernel who connected (SO_PEERCRED) before a byte is read or anything
 * allocated: only a worker recorded in one of this nginx's zones is
 * admitted.  The other side is ngx_http_signaller_relay_connector.c.
 */


#include "ngx_http_signaller.h"


/* a fellow worker sends its preamble at once */
#define NGX_HTTP_SIGNALLER_PREAMBLE_TIMEOUT  1000

/* relay connections admitted whose preamble has not come yet */
#define NGX_HTTP_SIGNALLER_PREAMBLES_MAX     64

/* names tried before a worker gives up being reachable */
#define NGX_HTTP_SIGNALLER_BIND_TRIES        8


typedef struct {
    u_char                           buf[NGX_HTTP_SIGNALLER_PREAMBLE_MAX];
    size_t                           received;
    ngx_pid_t                        pid;     /* the connector's worker */
} ngx_http_signaller_accept_t;


static ngx_int_t ngx_http_signaller_relay_bind(ngx_socket_t fd,
    ngx_log_t *log);
static void ngx_http_signaller_relay_accept(ngx_event_t *ev);
static ngx_int_t ngx_http_signaller_relay_admit(ngx_socket_t fd,
    ngx_pid_t *pid, ngx_log_t *log);
static void ngx_http_signaller_relay_preamble(ngx_event_t *ev);
static void ngx_http_signaller_relay_answer(ngx_connection_t *c,
    ngx_http_signaller_preamble_t *pre, ngx_pid_t pid);
static void ngx_http_signaller_relay_drop(ngx_connection_t *c);
static void ngx_http_signaller_relay_empty_handler(ngx_event_t *ev);


static ngx_connection_t  *ngx_http_signaller_relay_listener;
static ngx_uint_t         ngx_http_signaller_relay_preambles;


/*
 * Opens this worker's relay socket.  Without one the worker still serves
 * its own clients, but its listeners cannot be reached from other workers.
 */

void
ngx_http_signaller_relay_init(ngx_cycle_t *cycle)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_socket_errno,
                      "signaller: socket() failed, this worker's "
                      "listeners cannot pair with other workers' connectors");
        return;
    }

    if (ngx_http_signaller_relay_bind(fd, cycle->log) != NGX_OK
        || ngx_http_signaller_link_init(cycle) != NGX_OK)
    {
        ngx_close_socket(fd);
        return;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        ngx_close_socket(fd);
        return;
    }

    /*
     * Not a client: graceful shutdown must neither wait for it nor close
     * it.  Being "idle" gets it called with c->close when nginx begins to
     * shut the worker down, the one notice a module can have of that.
     */

    c->read->channel = 1;
    c->write->channel = 1;
    c->idle = 1;

    c->read->handler = ngx_http_signaller_relay_accept;
    c->read->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        return;
    }

    ngx_http_signaller_relay_listener = c;
    ngx_http_signaller_self.reachable = 1;
}


/*
 * A random name nobody can have taken in advance; one that is taken all
 * the same (a collision, or a name bound before ours was published) is
 * given up for another.
 */

static ngx_int_t
ngx_http_signaller_relay_bind(ngx_socket_t fd, ngx_log_t *log)
{
    socklen_t                 len;
    ngx_err_t                 err;
    ngx_uint_t                i;
    struct sockaddr_un        sun;
    ngx_http_signaller_id_t  *name;

    name = &ngx_http_signaller_self.name;

    for (i = 0; i < NGX_HTTP_SIGNALLER_BIND_TRIES; i++) {

        if (ngx_http_signaller_random(name, sizeof(ngx_http_signaller_id_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        len = ngx_http_signaller_relay_addr(&sun, name, 0);

        if (bind(fd, (struct sockaddr *) &sun, len) == 0) {

            if (listen(fd, NGX_LISTEN_BACKLOG) == -1) {
                break;
            }

            return NGX_OK;
        }

        err = ngx_socket_errno;

        if (err != NGX_EADDRINUSE) {
            break;
        }

        ngx_log_error(NGX_LOG_WARN, log, err,
                      "signaller: bind() to \"@%*s\" failed, "
                      "trying another name",
                      (size_t) (len - offsetof(struct sockaddr_un, sun_path)
                                - 1),
                      sun.sun_path + 1);
    }

    ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                  "signaller: no relay socket, this worker's listeners "
                  "cannot pair with other workers' connectors");

    return NGX_ERROR;
}


void
ngx_http_signaller_relay_exit(ngx_cycle_t *cycle)
{
    if (ngx_http_signaller_relay_listener) {
        ngx_close_connection(ngx_http_signaller_relay_listener);
        ngx_http_signaller_relay_listener = NULL;
    }
}


/* L: another worker's connector arrives */

static void
ngx_http_signaller_relay_accept(ngx_event_t *ev)
{
    ngx_pid_t                     pid;
    ngx_log_t                    *log;
    ngx_pool_t                   *pool;
    ngx_socket_t                  fd;
    ngx_connection_t             *lc, *c;
    ngx_http_signaller_accept_t  *a;

    lc = ev->data;

    if (lc->close) {
        /* kept open: listeners here stay pairable from the new workers */
        lc->close = 0;
        ngx_http_signaller_worker_shutdown();
    }

    for ( ;; ) {
        fd = ngx_http_signaller_relay_next(lc, &pid);

        if (fd == (ngx_socket_t) -1) {
            return;
        }

        if (ngx_http_signaller_relay_preambles
            >= NGX_HTTP_SIGNALLER_PREAMBLES_MAX)
        {
            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "signaller: too many relay connections at once, "
                          "refused one from worker %P", pid);

            /* a worker that closes without a word is taken for gone */

            (void) send(fd, "b", 1, 0);
            ngx_close_socket(fd);
            continue;
        }

        pool = ngx_create_pool(1024, ev->log);
        if (pool == NULL) {
            ngx_close_socket(fd);
            continue;
        }

        log = ngx_palloc(pool, sizeof(ngx_log_t));
        a = ngx_palloc(pool, sizeof(ngx_http_signaller_accept_t));

        if (log == NULL || a == NULL) {
            ngx_close_socket(fd);
            ngx_destroy_pool(pool);
            continue;
        }

        *log = *ev->log;
        a->received = 0;
        a->pid = pid;

        c = ngx_http_signaller_relay_connection(fd, pool, log);
        if (c == NULL) {
            ngx_destroy_pool(pool);
            continue;
        }

        c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
        c->data = a;
        c->read->handler = ngx_http_signaller_relay_preamble;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "signaller: relay connection *%uA from worker %P",
                       c->number, pid);

        ngx_http_signaller_relay_preambles++;
        ngx_add_timer(c->read, NGX_HTTP_SIGNALLER_PREAMBLE_TIMEOUT);

        /*
         * The connector's worker sent its preamble right after connect():
         * it is read now, not after a round of the event loop (with epoll,
         * recv() believes a socket empty until told it is not).
         */

        c->read->ready = 1;
        c->read->available = 1;
        ngx_http_signaller_relay_preamble(c->read);
    }
}


/*
 * The next connection on the listening socket "lc" that a worker of this
 * nginx made, any other closed: -1 when none is left.
 */

ngx_socket_t
ngx_http_signaller_relay_next(ngx_connection_t *lc, ngx_pid_t *pid)
{
    ngx_socket_t  fd;

    for ( ;; ) {
        fd = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK|SOCK_CLOEXEC);

        if (fd == (ngx_socket_t) -1) {
            if (ngx_socket_errno != NGX_EAGAIN) {
                ngx_log_error(NGX_LOG_ALERT, lc->read->log, ngx_socket_errno,
                              "signaller: accept4() failed");
            }

            return fd;
        }

        if (ngx_http_signaller_relay_admit(fd, pid, lc->read->log) == NGX_OK) {
            return fd;
        }

        ngx_close_socket(fd);
    }
}


/*
 * Before anything is allocated or read: the process that connected must be
 * a live worker of one of this nginx's zones (any generation still
 * running), not one that has its pid now.
 */

static ngx_int_t
ngx_http_signaller_relay_admit(ngx_socket_t fd, ngx_pid_t *pid,
    ngx_log_t *log)
{
    ngx_uint_t                    i, n;
    struct ucred                  cred;
    ngx_shm_zone_t              **zones;
    ngx_http_signaller_ident_t    w;

    if (ngx_http_signaller_ident_peer(fd, &cred) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "signaller: getsockopt(SO_PEERCRED) failed");
        return NGX_ERROR;
    }

    zones = ngx_http_signaller_zones((ngx_cycle_t *) ngx_cycle, &n);

    for (i = 0; i < n; i++) {

        if (cred.pid != ngx_pid
            && ngx_http_signaller_zone_worker(zones[i], cred.pid, &w)
               == NGX_OK
            && ngx_http_signaller_ident_match(&cred, &w))
        {
            break;
        }
    }

    if (i == n) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "signaller: refused a relay connection from pid %P, "
                      "uid %d: not a worker of this nginx",
                      cred.pid, (int) cred.uid);
        return NGX_DECLINED;
    }

    *pid = cred.pid;

    return NGX_OK;
}


/* a Unix stream between two workers, as nginx sets up a client's */

ngx_connection_t *
ngx_http_signaller_relay_connection(ngx_socket_t fd, ngx_pool_t *pool,
    ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        ngx_close_socket(fd);
        return NULL;
    }

    c->pool = pool;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->log_error = NGX_ERROR_INFO;

    c->recv = ngx_recv;
    c->send = ngx_send;
    c->recv_chain = ngx_recv_chain;
    c->send_chain = ngx_send_chain;

    c->write->handler = ngx_http_signaller_relay_empty_handler;
    c->write->ready = 1;

    return c;
}


static void
ngx_http_signaller_relay_preamble(ngx_event_t *ev)
{
    ssize_t                         n;
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_signaller_accept_t    *a;
    ngx_http_signaller_preamble_t   pre;

    c = ev->data;
    a = c->data;

    if (ev->timedout || c->close) {
        ngx_log_error(NGX_LOG_INFO, c->log, ev->timedout ? NGX_ETIMEDOUT : 0,
                      "signaller: no preamble from worker %P", a->pid);
        ngx_http_signaller_relay_drop(c);
        return;
    }

    for ( ;; ) {

        /* the buffer is as long as the longest preamble: never full here */

        n = c->recv(c, a->buf + a->received,
                    NGX_HTTP_SIGNALLER_PREAMBLE_MAX - a->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_signaller_relay_drop(c);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_signaller_relay_drop(c);
            return;
        }

        a->received += n;

        rc = ngx_http_signaller_preamble_parse(a->buf, a->received, &pre);

        if (rc == NGX_OK) {
            break;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "signaller: invalid preamble from worker %P",
                          a->pid);
            ngx_http_signaller_relay_drop(c);
            return;
        }
    }

    ngx_del_timer(ev);
    ngx_http_signaller_relay_preambles--;
    c->data = NULL;

    ngx_http_signaller_relay_answer(c, &pre, a->pid);
}


/*
 * 'y' if the listener still waits here and no other connector has taken
 * it: it is then paired with a session on this connection, under the
 * listener's own location's limits.
 */

static void
ngx_http_signaller_relay_answer(ngx_connection_t *c,
    ngx_http_signaller_preamble_t *pre, ngx_pid_t pid)
{
    u_char                         answer;
    ngx_http_signaller_session_t  *s, *l;

    answer = NGX_HTTP_SIGNALLER_ANSWER_NO;
    s = NULL;

    l = ngx_http_signaller_session_find(&pre->id);

    if (pre->flags == 0
        && l && l->waiting && !l->closing
        && l->handle.len == pre->handle.len
        && ngx_memcmp(l->handle.data, pre->handle.data, l->handle.len) == 0
        && ngx_http_signaller_table_take(l->zone, &l->handle, &l->id)
           == NGX_OK)
    {
        s = ngx_http_signaller_session_create(c->pool, c, l->conf);

        if (s) {
            answer = NGX_HTTP_SIGNALLER_ANSWER_YES;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: relay for \"%V\": %c", &pre->handle, answer);

    /* a connector's worker that has given up is no longer there to read */

    if (s == NULL) {
        (void) c->send(c, &answer, 1);
        ngx_http_signaller_relay_drop(c);
        return;
    }

    if (c->send(c, &answer, 1) != 1) {
        /* the listener is taken: it is told, as when a connector leaves */
        ngx_http_signaller_close_pair(l, NGX_HTTP_SIGNALLER_PEER_GONE, 0);
        ngx_http_signaller_relay_drop(c);
        return;
    }

    s->relayed = 1;
    s->relay_pid = pid;
    s->figures.crossed = 1;

    c->data = s;
    c->read->handler = ngx_http_signaller_session_read_event;
    c->write->handler = ngx_http_signaller_session_write_event;

    ngx_http_signaller_session_start(s, l, NULL);
}


static void
ngx_http_signaller_relay_drop(ngx_connection_t *c)
{
    ngx_pool_t  *pool;

    if (c->data) {
        /* still waiting for its preamble */
        ngx_http_signaller_relay_preambles--;
    }

    pool = c->pool;
    ngx_close_connection(c);
    ngx_destroy_pool(pool);
}


static void
ngx_http_signaller_relay_empty_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "signaller relay empty handler");
}

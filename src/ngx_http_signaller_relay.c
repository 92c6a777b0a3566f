
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers.  Every worker listens on a Unix stream socket
 * of its own in the abstract namespace, under a random name it publishes
 * in its zone record, opened in init_process: nothing is inherited at
 * fork, so old and new workers reach each other across reloads.  A
 * connector whose listener lives in another worker ("L") connects there
 * and sends a preamble naming the listener; L answers one byte, 'y' or
 * 'n', before the connector is sent 101 or 404, and takes the listener out
 * of the table only when it has said yes.  From then on the connector's
 * worker only splices bytes: the client's masked frames go to L as they
 * are, and L treats the stream exactly like a client connection, so all
 * protocol rules, limits and timeouts are applied in one place, L, from
 * L's own configuration.  The socket buffers give flow control in both
 * directions, and no message is ever copied into shared memory.
 *
 * Anyone in the network namespace can reach an abstract socket, so both
 * ends ask the kernel who is at the other one (SO_PEERCRED) before a byte
 * is read or sent: only a worker recorded in one of this nginx's zones is
 * admitted, and a connector talks only to the worker the table names.
 *
 * The splicing side follows the server frames it forwards, so that when
 * L goes away without a close frame (a crash), the client can still be
 * told 4003 at a frame boundary.
 */


#include "ngx_http_signaller.h"

#include <sys/un.h>


/* a fellow worker sends its preamble at once, and answers at once */
#define NGX_HTTP_SIGNALLER_PREAMBLE_TIMEOUT  1000
#define NGX_HTTP_SIGNALLER_REPLY_TIMEOUT     2000

/* relay connections admitted whose preamble has not come yet */
#define NGX_HTTP_SIGNALLER_PREAMBLES_MAX     64

/* names tried before a worker gives up being reachable */
#define NGX_HTTP_SIGNALLER_BIND_TRIES        8


typedef struct {
    u_char                           buf[NGX_HTTP_SIGNALLER_PREAMBLE_MAX];
    size_t                           received;
    ngx_pid_t                        pid;     /* the connector's worker */
} ngx_http_signaller_accept_t;


typedef struct {
    ngx_queue_t                      queue;   /* splices of this worker */
    ngx_http_request_t              *request;
    ngx_connection_t                *peer;
    ngx_http_signaller_ident_t       worker;  /* L */
    ngx_str_t                        key;
    ngx_buf_t                       *up;      /* client to L */
    ngx_buf_t                       *down;    /* L to client */
    ngx_event_t                      timer;
    ngx_msec_t                       send_timeout;

    /* the server frame being forwarded to the client */
    u_char                           header[10];
    size_t                           header_len;
    uint64_t                         remaining;

    unsigned                         close_seen:1;
    unsigned                         close_sent:1;
    unsigned                         client_eof:1;
    unsigned                         peer_eof:1;
} ngx_http_signaller_relay_t;


static socklen_t ngx_http_signaller_relay_addr(struct sockaddr_un *sun,
    ngx_http_signaller_id_t *name);
static ngx_int_t ngx_http_signaller_relay_bind(ngx_socket_t fd,
    ngx_log_t *log);
static void ngx_http_signaller_relay_accept(ngx_event_t *ev);
static ngx_int_t ngx_http_signaller_relay_admit(ngx_socket_t fd,
    ngx_pid_t *pid, ngx_log_t *log);
static ngx_connection_t *ngx_http_signaller_relay_connection(
    ngx_socket_t fd, ngx_pool_t *pool, ngx_log_t *log);
static void ngx_http_signaller_relay_preamble(ngx_event_t *ev);
static void ngx_http_signaller_relay_answer(ngx_connection_t *c,
    ngx_http_signaller_preamble_t *pre, ngx_pid_t pid);
static void ngx_http_signaller_relay_close(ngx_connection_t *c);
static ngx_int_t ngx_http_signaller_relay_reach(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_socket_t fd);
static void ngx_http_signaller_relay_reply(ngx_event_t *ev);
static void ngx_http_signaller_relay_start(ngx_http_signaller_relay_t *rl);
static void ngx_http_signaller_relay_peer_handler(ngx_event_t *ev);
static void ngx_http_signaller_relay_read_handler(ngx_http_request_t *r);
static void ngx_http_signaller_relay_write_handler(ngx_http_request_t *r);
static void ngx_http_signaller_relay_timer(ngx_event_t *ev);
static void ngx_http_signaller_relay_process(ngx_http_signaller_relay_t *rl);
static ngx_int_t ngx_http_signaller_relay_pass(ngx_http_signaller_relay_t *rl,
    ngx_connection_t *src, ngx_connection_t *dst, ngx_buf_t *b,
    ngx_uint_t down);
static ssize_t ngx_http_signaller_relay_recv(ngx_http_signaller_relay_t *rl,
    u_char *buf, size_t size);
static void ngx_http_signaller_relay_track(ngx_http_signaller_relay_t *rl,
    u_char *p, size_t n);
static void ngx_http_signaller_relay_tell(ngx_http_signaller_relay_t *rl,
    ngx_uint_t code);
static void ngx_http_signaller_relay_finalize(ngx_http_signaller_relay_t *rl,
    ngx_int_t rc);
static void ngx_http_signaller_relay_cleanup(void *data);
static void ngx_http_signaller_relay_leave(ngx_http_signaller_relay_t *rl);
static void ngx_http_signaller_relay_empty_handler(ngx_event_t *ev);


static ngx_connection_t  *ngx_http_signaller_relay_listener;
static ngx_queue_t        ngx_http_signaller_relays;
static ngx_uint_t         ngx_http_signaller_relay_preambles;


static socklen_t
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

    p = ngx_cpymem(sun->sun_path + 1, "ngx_http_signaller/",
                   sizeof("ngx_http_signaller/") - 1);
    p = ngx_hex_dump(p, name->data, NGX_HTTP_SIGNALLER_ID_LEN);

    return offsetof(struct sockaddr_un, sun_path) + (p - (u_char *)
                                                     sun->sun_path);
}


/*
 * Opens this worker's relay socket.  Without one the worker still serves
 * its own clients, but its listeners cannot be reached from other workers.
 */

void
ngx_http_signaller_relay_init(ngx_cycle_t *cycle)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    ngx_queue_init(&ngx_http_signaller_relays);

    fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_socket_errno,
                      "signaller: socket() failed, this worker's "
                      "listeners cannot pair with other workers' connectors");
        return;
    }

    if (ngx_http_signaller_relay_bind(fd, cycle->log) != NGX_OK) {
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

        len = ngx_http_signaller_relay_addr(&sun, name);

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
    ngx_queue_t                 *q;
    ngx_http_signaller_relay_t  *rl;

    if (ngx_http_signaller_relays.next == NULL) {
        return;
    }

    /* as with sessions: 1001 to the clients, and their sockets closed */

    while (!ngx_queue_empty(&ngx_http_signaller_relays)) {
        q = ngx_queue_head(&ngx_http_signaller_relays);
        rl = ngx_queue_data(q, ngx_http_signaller_relay_t, queue);

        ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_GOING_AWAY);
        ngx_http_signaller_relay_cleanup(rl);
        ngx_close_connection(rl->request->connection);
    }

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
        ngx_http_signaller_exiting();
    }

    for ( ;; ) {
        fd = accept4(lc->fd, NULL, NULL, SOCK_NONBLOCK|SOCK_CLOEXEC);

        if (fd == (ngx_socket_t) -1) {
            if (ngx_socket_errno != NGX_EAGAIN) {
                ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_socket_errno,
                              "signaller: accept4() failed");
            }

            return;
        }

        if (ngx_http_signaller_relay_admit(fd, &pid, ev->log) != NGX_OK) {
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

        c->read->ready = 1;
        ngx_http_signaller_relay_preamble(c->read);
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
    ngx_uint_t                       i;
    struct ucred                     cred;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_ident_t       w;
    ngx_http_signaller_main_conf_t  *smcf;

    if (ngx_http_signaller_ident_peer(fd, &cred) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "signaller: getsockopt(SO_PEERCRED) failed");
        return NGX_ERROR;
    }

    if (ngx_http_signaller_relay_preambles
        >= NGX_HTTP_SIGNALLER_PREAMBLES_MAX)
    {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "signaller: too many relay connections at once, "
                      "refused one from pid %P", cred.pid);
        return NGX_DECLINED;
    }

    smcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_signaller_module);
    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {

        if (cred.pid != ngx_pid
            && ngx_http_signaller_zone_worker(zones[i], cred.pid, &w)
               == NGX_OK
            && ngx_http_signaller_ident_match(&cred, &w))
        {
            *pid = cred.pid;
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "signaller: refused a relay connection from pid %P, "
                  "uid %d: not a worker of this nginx",
                  cred.pid, (int) cred.uid);

    return NGX_DECLINED;
}


/* a Unix stream between two workers, as nginx sets up a client's */

static ngx_connection_t *
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
        ngx_http_signaller_relay_close(c);
        return;
    }

    for ( ;; ) {

        /* the buffer is as long as the longest preamble: never full here */

        n = c->recv(c, a->buf + a->received,
                    NGX_HTTP_SIGNALLER_PREAMBLE_MAX - a->received);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_signaller_relay_close(c);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_signaller_relay_close(c);
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
            ngx_http_signaller_relay_close(c);
            return;
        }
    }

    ngx_del_timer(ev);
    ngx_http_signaller_relay_preambles--;
    c->data = NULL;

    ngx_http_signaller_relay_answer(c, &pre, a->pid);
}


/*
 * 'y' if the listener still waits here: it is then paired with a session
 * on this connection, under the listener's own location's limits.
 */

static void
ngx_http_signaller_relay_answer(ngx_connection_t *c,
    ngx_http_signaller_preamble_t *pre, ngx_pid_t pid)
{
    u_char                         answer;
    ngx_http_signaller_session_t  *s, *l;

    answer = 'n';
    s = NULL;

    l = ngx_http_signaller_session_find(&pre->id);

    if (l && l->waiting && !l->closing
        && l->handle.len == pre->handle.len
        && ngx_memcmp(l->handle.data, pre->handle.data, l->handle.len) == 0)
    {
        s = ngx_http_signaller_session_create(c->pool, c, l->conf);

        if (s) {
            answer = 'y';
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller: relay for \"%V\": %c", &pre->handle, answer);

    /* a connector's worker that has given up is no longer there to read */

    if (c->send(c, &answer, 1) != 1 || s == NULL) {
        ngx_http_signaller_relay_close(c);
        return;
    }

    s->relayed = 1;
    s->relay_pid = pid;

    c->data = s;
    c->read->handler = ngx_http_signaller_session_read_event;
    c->write->handler = ngx_http_signaller_session_write_event;

    ngx_http_signaller_session_start(s, l, NULL);
}


static void
ngx_http_signaller_relay_close(ngx_connection_t *c)
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


/*
 * The connector's worker: the listener waits in the worker "entry" names.
 * The request is kept (NGX_DONE) until that worker answers.
 */

ngx_int_t
ngx_http_signaller_relay_connect(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *handle, ngx_str_t *key)
{
    u_char                          pre[NGX_HTTP_SIGNALLER_PREAMBLE_MAX];
    u_char                         *last;
    ngx_int_t                       rc;
    ngx_socket_t                    fd;
    ngx_connection_t               *c, *pc;
    ngx_pool_cleanup_t             *cln;
    ngx_http_signaller_relay_t     *rl;
    ngx_http_signaller_loc_conf_t  *slcf;

    c = r->connection;
    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    rl = ngx_pcalloc(r->pool, sizeof(ngx_http_signaller_relay_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (rl == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!entry->worker.reachable) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    fd = socket(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, c->log, ngx_socket_errno,
                      "signaller: socket() failed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_signaller_relay_reach(r, entry, fd);

    if (rc != NGX_OK) {
        ngx_close_socket(fd);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

        /* a worker without its socket is exiting or dead */

        (void) ngx_http_signaller_zone_gone(slcf->shm_zone, &entry->worker);

        return NGX_HTTP_NOT_FOUND;
    }

    /* a new socket's buffer is empty: the preamble goes out whole */

    last = ngx_http_signaller_preamble_write(pre, &entry->id, handle);

    if (send(fd, pre, last - pre, 0) != last - pre) {
        ngx_close_socket(fd);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    pc = ngx_http_signaller_relay_connection(fd, r->pool, c->log);
    if (pc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pc->data = rl;
    pc->read->handler = ngx_http_signaller_relay_reply;

    rl->request = r;
    rl->peer = pc;
    rl->worker = entry->worker;
    rl->key = *key;
    rl->send_timeout = slcf->send_timeout;

    rl->timer.handler = ngx_http_signaller_relay_timer;
    rl->timer.data = rl;
    rl->timer.log = c->log;

    cln->handler = ngx_http_signaller_relay_cleanup;
    cln->data = rl;

    ngx_queue_insert_tail(&ngx_http_signaller_relays, &rl->queue);

    ngx_add_timer(pc->read, NGX_HTTP_SIGNALLER_REPLY_TIMEOUT);

    if (ngx_handle_read_event(pc->read, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * Connects "fd" to the worker "entry" names, and makes sure it is that
 * worker that answers, not a process that took its pid or bound its name
 * after it died.  NGX_DECLINED: it is not there; NGX_ERROR: it is busy.
 */

static ngx_int_t
ngx_http_signaller_relay_reach(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_socket_t fd)
{
    socklen_t           len;
    ngx_err_t           err;
    struct ucred        cred;
    struct sockaddr_un  sun;

    len = ngx_http_signaller_relay_addr(&sun, &entry->worker.name);

    if (connect(fd, (struct sockaddr *) &sun, len) == -1) {
        err = ngx_socket_errno;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, err,
                       "signaller: worker %P of the listener is gone",
                       entry->worker.pid);

        return (err == NGX_EAGAIN) ? NGX_ERROR : NGX_DECLINED;
    }

    if (ngx_http_signaller_ident_peer(fd, &cred) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_socket_errno,
                      "signaller: getsockopt(SO_PEERCRED) failed");
        return NGX_ERROR;
    }

    if (!ngx_http_signaller_ident_match(&cred, &entry->worker)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "signaller: the relay socket of worker %P is held "
                      "by pid %P, uid %d", entry->worker.pid, cred.pid,
                      (int) cred.uid);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_signaller_relay_reply(ngx_event_t *ev)
{
    u_char                          answer;
    ssize_t                         n;
    ngx_connection_t               *pc;
    ngx_http_request_t             *r;
    ngx_http_signaller_relay_t     *rl;
    ngx_http_signaller_loc_conf_t  *slcf;

    pc = ev->data;
    rl = pc->data;
    r = rl->request;

    if (ev->timedout) {
        n = NGX_ERROR;

    } else {
        n = pc->recv(pc, &answer, 1);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(ev, 0) != NGX_OK) {
                ngx_http_signaller_relay_finalize(rl,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR);
            }

            return;
        }

        ngx_del_timer(ev);
    }

    if (n != 1) {
        /* a listener of a worker that has just died is gone too */

        slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

        if (ngx_http_signaller_zone_gone(slcf->shm_zone, &rl->worker)) {
            ngx_http_signaller_relay_finalize(rl, NGX_HTTP_NOT_FOUND);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log,
                      ev->timedout ? NGX_ETIMEDOUT : 0,
                      "signaller: no answer from the listener's worker %P",
                      rl->worker.pid);
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    if (answer != 'y') {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_NOT_FOUND);
        return;
    }

    if (ngx_http_signaller_send_accept(r, &rl->key) == NGX_ERROR) {
        ngx_http_signaller_relay_finalize(rl, NGX_ERROR);
        return;
    }

    ngx_http_signaller_relay_start(rl);

    ngx_http_run_posted_requests(r->connection);
}


static void
ngx_http_signaller_relay_start(ngx_http_signaller_relay_t *rl)
{
    ngx_connection_t               *c, *pc;
    ngx_http_request_t             *r;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_signaller_loc_conf_t  *slcf;

    r = rl->request;
    c = r->connection;
    pc = rl->peer;

    rl->up = ngx_create_temp_buf(r->pool, NGX_HTTP_SIGNALLER_BUFSIZE);
    rl->down = ngx_create_temp_buf(r->pool, NGX_HTTP_SIGNALLER_BUFSIZE);

    if (rl->up == NULL || rl->down == NULL) {
        ngx_http_signaller_relay_finalize(rl, NGX_ERROR);
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->tcp_nodelay && ngx_tcp_nodelay(c) != NGX_OK) {
        ngx_http_signaller_relay_finalize(rl, NGX_ERROR);
        return;
    }

    ngx_http_set_ctx(r, rl, ngx_http_signaller_module);

    r->read_event_handler = ngx_http_signaller_relay_read_handler;
    r->write_event_handler = ngx_http_signaller_relay_write_handler;

    pc->read->handler = ngx_http_signaller_relay_peer_handler;
    pc->write->handler = ngx_http_signaller_relay_peer_handler;

    /*
     * L ends the pipe within its timeouts; this only keeps a worker that
     * shuts down alive until then, and bounds the splice if L hangs.
     */

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    ngx_add_timer(&rl->timer, slcf->pipe_timeout + slcf->send_timeout
                              + 2 * NGX_HTTP_SIGNALLER_LINGER);

    pc->read->ready = 1;
    c->read->ready = 1;

    ngx_http_signaller_relay_process(rl);
}


static void
ngx_http_signaller_relay_peer_handler(ngx_event_t *ev)
{
    ngx_connection_t            *pc;
    ngx_http_signaller_relay_t  *rl;

    pc = ev->data;
    rl = pc->data;

    ngx_http_signaller_relay_process(rl);

    ngx_http_run_posted_requests(rl->request->connection);
}


static void
ngx_http_signaller_relay_read_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_relay_process(
                         ngx_http_get_module_ctx(r, ngx_http_signaller_module));
}


static void
ngx_http_signaller_relay_write_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_relay_process(
                         ngx_http_get_module_ctx(r, ngx_http_signaller_module));
}


static void
ngx_http_signaller_relay_timer(ngx_event_t *ev)
{
    ngx_http_signaller_relay_t  *rl = ev->data;

    ngx_log_error(NGX_LOG_INFO, rl->request->connection->log, NGX_ETIMEDOUT,
                  "signaller: relayed pipe outlived its timeouts");

    ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_PIPE_TIMEOUT);
    ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);

    ngx_http_run_posted_requests(rl->request->connection);
}


static void
ngx_http_signaller_relay_process(ngx_http_signaller_relay_t *rl)
{
    ngx_connection_t    *c, *pc;
    ngx_http_request_t  *r;

    r = rl->request;
    c = r->connection;
    pc = rl->peer;

    if (pc == NULL) {
        return;
    }

    if (pc->close) {
        /* worker_shutdown_timeout */
        ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_GOING_AWAY);
        ngx_http_signaller_relay_leave(rl);
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (c->write->timedout) {
        c->timedout = 1;
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "signaller: client timed out");
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (ngx_http_signaller_relay_pass(rl, c, pc, rl->up, 0) != NGX_OK
        || ngx_http_signaller_relay_pass(rl, pc, c, rl->down, 1) != NGX_OK)
    {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (rl->client_eof) {
        /* L sees the end of the stream as the client's */
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (rl->peer_eof && rl->down->pos == rl->down->last) {

        if (!rl->close_seen && !rl->close_sent) {
            /* L is gone without a word: a crash */
            ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_PEER_GONE);
        }

        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
        return;
    }

    if (rl->down->pos < rl->down->last) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, rl->send_timeout);
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK
        || ngx_handle_write_event(c->write, 0) != NGX_OK
        || ngx_handle_read_event(pc->read, 0) != NGX_OK
        || ngx_handle_write_event(pc->write, 0) != NGX_OK)
    {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_CLOSE);
    }
}


/* moves bytes one way until either side would block */

static ngx_int_t
ngx_http_signaller_relay_pass(ngx_http_signaller_relay_t *rl,
    ngx_connection_t *src, ngx_connection_t *dst, ngx_buf_t *b,
    ngx_uint_t down)
{
    ssize_t  n;

    for ( ;; ) {

        if (b->pos < b->last && dst->write->ready) {
            n = dst->send(dst, b->pos, b->last - b->pos);

            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (n > 0) {
                b->pos += n;

                if (b->pos == b->last) {
                    b->pos = b->start;
                    b->last = b->start;
                }
            }
        }

        if (b->last < b->end
            && (src->read->ready
                || (!down && rl->request->header_in->pos
                             < rl->request->header_in->last))
            && !(down ? rl->peer_eof : rl->client_eof))
        {
            n = down ? src->recv(src, b->last, b->end - b->last)
                     : ngx_http_signaller_relay_recv(rl, b->last,
                                                     b->end - b->last);

            if (n == NGX_AGAIN) {
                break;
            }

            if (n == NGX_ERROR || n == 0) {
                if (down) {
                    rl->peer_eof = 1;

                } else {
                    rl->client_eof = 1;
                }

                break;
            }

            if (down) {
                ngx_http_signaller_relay_track(rl, b->last, n);
            }

            b->last += n;
            continue;
        }

        break;
    }

    return NGX_OK;
}


/*
 * The client's bytes: first those nginx read behind its request, kept in
 * its header buffers for as long as the request lives, which is as long as
 * the splice.
 */

static ssize_t
ngx_http_signaller_relay_recv(ngx_http_signaller_relay_t *rl, u_char *buf,
    size_t size)
{
    size_t      n;
    ngx_buf_t  *b;

    b = rl->request->header_in;

    if (b->pos == b->last) {
        return rl->request->connection->recv(rl->request->connection, buf,
                                              size);
    }

    n = ngx_min(size, (size_t) (b->last - b->pos));

    ngx_memcpy(buf, b->pos, n);
    b->pos += n;

    return n;
}


static void
ngx_http_signaller_relay_track(ngx_http_signaller_relay_t *rl, u_char *p,
    size_t n)
{
    size_t      k, need;
    uint64_t    len;
    ngx_uint_t  i;

    while (n) {

        if (rl->remaining) {
            k = (rl->remaining < n) ? rl->remaining : n;
            rl->remaining -= k;
            p += k;
            n -= k;
            continue;
        }

        rl->header[rl->header_len++] = *p++;
        n--;

        if (rl->header_len < 2) {
            continue;
        }

        len = rl->header[1] & 0x7f;
        need = (len == 126) ? 4 : (len == 127) ? 10 : 2;

        if (rl->header_len < need) {
            continue;
        }

        if (len == 126 || len == 127) {
            len = 0;
            for (i = 2; i < need; i++) {
                len = (len << 8) | rl->header[i];
            }
        }

        if ((rl->header[0] & 0x0f) == 0x08) {
            rl->close_seen = 1;
        }

        rl->remaining = len;
        rl->header_len = 0;
    }
}


/*
 * Tells the client why the pipe ends when L cannot: only between two
 * frames, and only once.
 */

static void
ngx_http_signaller_relay_tell(ngx_http_signaller_relay_t *rl,
    ngx_uint_t code)
{
    u_char             frame[32], *last;
    ngx_connection_t  *c;

    c = rl->request->connection;

    if (rl->close_seen || rl->close_sent || rl->remaining
        || rl->header_len || rl->down == NULL
        || rl->down->pos != rl->down->last)
    {
        return;
    }

    rl->close_sent = 1;

    last = ngx_http_signaller_write_close(frame, code);
    (void) c->send(c, frame, last - frame);
}


static void
ngx_http_signaller_relay_finalize(ngx_http_signaller_relay_t *rl,
    ngx_int_t rc)
{
    ngx_http_signaller_relay_cleanup(rl);
    ngx_http_finalize_request(rl->request, rc);
}


/* whatever ends the request also ends the splice, 1001 on shutdown */

static void
ngx_http_signaller_relay_cleanup(void *data)
{
    ngx_http_signaller_relay_t  *rl = data;

    if (rl->peer == NULL) {
        return;
    }

    if (rl->request->connection->close) {
        ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_GOING_AWAY);
        ngx_http_signaller_relay_leave(rl);
    }

    ngx_close_connection(rl->peer);
    rl->peer = NULL;

    ngx_queue_remove(&rl->queue);

    if (rl->timer.timer_set) {
        ngx_del_timer(&rl->timer);
    }
}


/* the listener's worker must tell its client 1001, not 4003 */

static void
ngx_http_signaller_relay_leave(ngx_http_signaller_relay_t *rl)
{
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(rl->request,
                                        ngx_http_signaller_module);

    ngx_http_signaller_zone_leaving(slcf->shm_zone);
}


static void
ngx_http_signaller_relay_empty_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "signaller relay empty handler");
}

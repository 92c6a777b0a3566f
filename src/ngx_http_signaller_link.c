
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Links between workers: one Unix seqpacket connection from each worker
 * that hands sockets over ("C") to each worker that takes them ("L"),
 * made at the first handoff and kept for the life of either.  The kernel
 * vouches for the other end once, when the link is made (SO_PEERCRED, as
 * for a relay stream), so that a handoff costs one message each way, not
 * a connection.  C sends handoffs with the client's socket attached and
 * reads reports; L reads handoffs and sends reports (handoff_*.c), those
 * of one round of the event loop in one message: C need not be woken for
 * each.  A message is taken whole or not at all; the ones the kernel
 * cannot take yet wait in order in "out".  A link that breaks or says
 * anything out of turn is closed: C tells 4003 to the clients whose
 * socket had not gone yet and logs the others with what it knows; L
 * keeps its sessions and drops their reports.
 */


#include "ngx_http_signaller.h"


typedef struct {
    ngx_queue_t                      queue;     /* in the link's "out" */
    ngx_http_signaller_handoff_t    *handoff;   /* NULL: a report */
    ngx_socket_t                     fd;        /* attached, or -1 */
    size_t                           len;
    u_char                           buf[1];    /* len bytes */
} ngx_http_signaller_link_msg_t;


static ngx_http_signaller_link_t *ngx_http_signaller_link_open(
    ngx_socket_t fd, ngx_log_t *log);
static void ngx_http_signaller_link_accept(ngx_event_t *ev);
static void ngx_http_signaller_link_read(ngx_event_t *ev);
static ngx_int_t ngx_http_signaller_link_message(
    ngx_http_signaller_link_t *link, u_char *buf, ssize_t n,
    ngx_socket_t fd, ngx_uint_t lost);
static void ngx_http_signaller_link_write(ngx_event_t *ev);
static void ngx_http_signaller_link_flush(ngx_event_t *ev);
static void ngx_http_signaller_link_close(ngx_http_signaller_link_t *link);


static ngx_connection_t  *ngx_http_signaller_link_listener;
static ngx_queue_t        ngx_http_signaller_links;
static ngx_uint_t         ngx_http_signaller_link_serial;


void
ngx_http_signaller_links_init(void)
{
    ngx_queue_init(&ngx_http_signaller_links);
}


/*
 * The link socket, under the relay socket's name, which relay_init() has
 * just taken: nobody could bind this one before.
 */

ngx_int_t
ngx_http_signaller_link_init(ngx_cycle_t *cycle)
{
    socklen_t           len;
    ngx_socket_t        fd;
    ngx_connection_t   *c;
    struct sockaddr_un  sun;

    fd = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_socket_errno,
                      "signaller: socket() failed");
        return NGX_ERROR;
    }

    len = ngx_http_signaller_relay_addr(&sun, &ngx_http_signaller_self.name,
                                        1);

    if (bind(fd, (struct sockaddr *) &sun, len) == -1
        || listen(fd, NGX_LISTEN_BACKLOG) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_socket_errno,
                      "signaller: no link socket, this worker's listeners "
                      "cannot pair with other workers' connectors");
        ngx_close_socket(fd);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        ngx_close_socket(fd);
        return NGX_ERROR;
    }

    /* not a client: graceful shutdown neither waits for it nor closes it */

    c->read->channel = 1;
    c->write->channel = 1;

    c->read->handler = ngx_http_signaller_link_accept;
    c->read->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_http_signaller_link_listener = c;

    return NGX_OK;
}


void
ngx_http_signaller_link_exit(void)
{
    ngx_queue_t                *q;
    ngx_http_signaller_link_t  *link;

    if (ngx_http_signaller_link_listener) {
        ngx_close_connection(ngx_http_signaller_link_listener);
        ngx_http_signaller_link_listener = NULL;
    }

    if (ngx_http_signaller_links.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_signaller_links)) {
        q = ngx_queue_head(&ngx_http_signaller_links);
        link = ngx_queue_data(q, ngx_http_signaller_link_t, queue);

        /* the last reports, of the sessions that ended at exit too */

        ngx_http_signaller_link_flush(&link->flush);
        ngx_http_signaller_link_close(link);
    }
}


/*
 * C: the link to the worker "w", made now if there is none.  NULL, and
 * "rc" NGX_DECLINED if the worker is gone, NGX_ERROR if it cannot be
 * reached now.  A link is not probed before it is used: its read event
 * closes it when the other worker dies, and that event comes before the
 * request of any connector that arrives after the death.  One already
 * read when the worker died gets its 101, then 4003 from
 * handoff_failed().
 */

ngx_http_signaller_link_t *
ngx_http_signaller_link_get(ngx_http_signaller_ident_t *w, ngx_log_t *log,
    ngx_int_t *rc)
{
    ngx_queue_t                *q;
    ngx_socket_t                fd;
    ngx_http_signaller_link_t  *link;

    for (q = ngx_queue_head(&ngx_http_signaller_links);
         q != ngx_queue_sentinel(&ngx_http_signaller_links);
         q = ngx_queue_next(q))
    {
        link = ngx_queue_data(q, ngx_http_signaller_link_t, queue);

        if (link->to && ngx_http_signaller_ident_same(&link->worker, w)) {
            return link;
        }
    }

    fd = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC, 0);
    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      "signaller: socket() failed");
        *rc = NGX_ERROR;
        return NULL;
    }

    *rc = ngx_http_signaller_relay_reach(fd, w, 1, log);

    if (*rc != NGX_OK) {
        ngx_close_socket(fd);
        return NULL;
    }

    link = ngx_http_signaller_link_open(fd, log);
    if (link == NULL) {
        *rc = NGX_ERROR;
        return NULL;
    }

    link->to = 1;
    link->worker = *w;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "signaller: link to worker %P", w->pid);

    return link;
}


static ngx_http_signaller_link_t *
ngx_http_signaller_link_open(ngx_socket_t fd, ngx_log_t *log)
{
    ngx_connection_t           *c;
    ngx_http_signaller_link_t  *link;

    link = ngx_calloc(sizeof(ngx_http_signaller_link_t), log);
    if (link == NULL) {
        ngx_close_socket(fd);
        return NULL;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        ngx_close_socket(fd);
        ngx_free(link);
        return NULL;
    }

    c->read->channel = 1;
    c->write->channel = 1;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->read->handler = ngx_http_signaller_link_read;
    c->write->handler = ngx_http_signaller_link_write;
    c->data = link;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_close_connection(c);
        ngx_free(link);
        return NULL;
    }

    link->connection = c;
    link->serial = ++ngx_http_signaller_link_serial;

    link->flush.handler = ngx_http_signaller_link_flush;
    link->flush.data = c;
    link->flush.log = ngx_cycle->log;

    ngx_queue_init(&link->out);
    ngx_rbtree_init(&link->reports, &link->sentinel, ngx_rbtree_insert_value);
    ngx_queue_insert_tail(&ngx_http_signaller_links, &link->queue);

    return link;
}


/* L: another worker links to this one; admitted as a relay stream is */

static void
ngx_http_signaller_link_accept(ngx_event_t *ev)
{
    ngx_pid_t                   pid;
    ngx_socket_t                fd;
    ngx_connection_t           *lc;
    ngx_http_signaller_link_t  *link;

    lc = ev->data;

    for ( ;; ) {
        fd = ngx_http_signaller_relay_next(lc, &pid);

        if (fd == (ngx_socket_t) -1) {
            return;
        }

        link = ngx_http_signaller_link_open(fd, ev->log);
        if (link == NULL) {
            continue;
        }

        link->worker.pid = pid;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "signaller: link from worker %P", pid);

        /* its first handoff was sent right after connect() */

        ngx_http_signaller_link_read(link->connection->read);
    }
}


static void
ngx_http_signaller_link_read(ngx_event_t *ev)
{
    u_char                      buf[NGX_HTTP_SIGNALLER_LINK_MAX + 1];
    ssize_t                     n;
    ngx_uint_t                  lost;
    ngx_socket_t                fd;
    ngx_connection_t           *c;
    ngx_http_signaller_link_t  *link;

    c = ev->data;
    link = c->data;

    for ( ;; ) {

        /* one more byte than any message: a longer one is cut, and seen */

        n = ngx_http_signaller_wire_recv(c->fd, buf, sizeof(buf), &fd,
                                         &lost);

        if (n == NGX_AGAIN) {
            return;
        }

        if (n > 0) {
            if (ngx_http_signaller_link_message(link, buf, n, fd, lost)
                == NGX_OK)
            {
                continue;
            }

            n = NGX_DECLINED;
        }

        if (n == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                          "signaller: invalid message from worker %P",
                          link->worker.pid);
        }

        /* 0 or NGX_ERROR: the other worker has gone */

        ngx_http_signaller_link_close(link);
        return;
    }
}


/*
 * A message as the link's direction allows: a handoff to L, a report to C.
 * "lost": a socket came with it that this process had no room for.
 */

static ngx_int_t
ngx_http_signaller_link_message(ngx_http_signaller_link_t *link, u_char *buf,
    ssize_t n, ngx_socket_t fd, ngx_uint_t lost)
{
    u_char                        *p;
    uint64_t                       tag;
    ngx_http_signaller_figures_t   f;
    ngx_http_signaller_preamble_t  pre;

    if (link->to) {
        if (fd != (ngx_socket_t) -1 || lost
            || n % NGX_HTTP_SIGNALLER_RECORD_LEN != 0)
        {
            goto invalid;
        }

        for (p = buf; p < buf + n; p += NGX_HTTP_SIGNALLER_RECORD_LEN) {

            if (ngx_http_signaller_report_parse(p, &f) != NGX_OK) {
                goto invalid;
            }

            tag = ngx_http_signaller_tag_parse(p
                                               + NGX_HTTP_SIGNALLER_REPORT_LEN);
            ngx_http_signaller_handoff_reported(link, tag, &f);
        }

        return NGX_OK;
    }

    /* the socket comes with HANDOFF, and only then */

    if (n < NGX_HTTP_SIGNALLER_TAG_LEN
        || ngx_http_signaller_preamble_parse(buf,
                                       n - NGX_HTTP_SIGNALLER_TAG_LEN, &pre)
           != NGX_OK
        || ((pre.flags & NGX_HTTP_SIGNALLER_HANDOFF) != 0)
           != (fd != (ngx_socket_t) -1 || lost))
    {
        goto invalid;
    }

    if (lost) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "signaller: no descriptor free for a socket from "
                      "worker %P (too many open files)", link->worker.pid);
    }

    tag = ngx_http_signaller_tag_parse(buf + n - NGX_HTTP_SIGNALLER_TAG_LEN);
    ngx_http_signaller_handoff_receive(link, &pre, tag, fd);

    return NGX_OK;

invalid:

    if (fd != (ngx_socket_t) -1) {
        (void) close(fd);
    }

    return NGX_ERROR;
}


/*
 * Sends a message, or queues it behind those the kernel has not taken
 * yet: NGX_AGAIN then, and "h" learns from handoff_sent() or
 * handoff_failed() how it went.  NGX_ERROR: the link is broken; its read
 * event closes it.
 */

ngx_int_t
ngx_http_signaller_link_send(ngx_http_signaller_link_t *link, u_char *buf,
    size_t len, ngx_socket_t fd, ngx_http_signaller_handoff_t *h)
{
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_signaller_link_msg_t  *m;

    c = link->connection;

    if (ngx_queue_empty(&link->out)) {
        rc = ngx_http_signaller_wire_send(c->fd, buf, len, fd);

        if (rc != NGX_AGAIN) {
            return rc;
        }
    }

    /* no message is longer: a batch of reports at most */

    if (len > NGX_HTTP_SIGNALLER_LINK_MAX) {
        return NGX_ERROR;
    }

    m = ngx_alloc(offsetof(ngx_http_signaller_link_msg_t, buf) + len, c->log);
    if (m == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(m->buf, buf, len);
    m->len = len;
    m->fd = fd;
    m->handoff = h;

    if (h) {
        h->queued = m;
    }

    ngx_queue_insert_tail(&link->out, &m->queue);

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


static void
ngx_http_signaller_link_write(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_queue_t                    *q;
    ngx_connection_t               *c;
    ngx_http_signaller_handoff_t   *h;
    ngx_http_signaller_link_t      *link;
    ngx_http_signaller_link_msg_t  *m;

    c = ev->data;
    link = c->data;

    while (!ngx_queue_empty(&link->out)) {
        q = ngx_queue_head(&link->out);
        m = ngx_queue_data(q, ngx_http_signaller_link_msg_t, queue);

        rc = ngx_http_signaller_wire_send(c->fd, m->buf, m->len, m->fd);

        if (rc == NGX_AGAIN) {
            return;
        }

        h = m->handoff;

        ngx_queue_remove(q);
        ngx_free(m);

        if (h == NULL) {
            continue;
        }

        h->queued = NULL;

        if (rc == NGX_OK) {
            ngx_http_signaller_handoff_sent(h);

        } else {
            ngx_http_signaller_handoff_failed(h);
        }
    }
}


/* a handoff whose request ends before its message could go */

void
ngx_http_signaller_link_unqueue(ngx_http_signaller_handoff_t *h)
{
    ngx_http_signaller_link_msg_t  *m;

    m = h->queued;

    ngx_queue_remove(&m->queue);
    ngx_free(m);

    h->queued = NULL;
}


/*
 * L: a handed-over session has ended; its worker logs it from these
 * figures, which go on the link "serial" with the next batch.
 */

void
ngx_http_signaller_link_report(ngx_uint_t serial, uint64_t tag,
    ngx_http_signaller_figures_t *f)
{
    u_char                     *p;
    ngx_queue_t                *q;
    ngx_http_signaller_link_t  *link;

    for (q = ngx_queue_head(&ngx_http_signaller_links);
         q != ngx_queue_sentinel(&ngx_http_signaller_links);
         q = ngx_queue_next(q))
    {
        link = ngx_queue_data(q, ngx_http_signaller_link_t, queue);

        if (link->serial == serial) {
            break;
        }
    }

    if (q == ngx_queue_sentinel(&ngx_http_signaller_links)) {
        /* the connector's worker has gone */
        return;
    }

    if (link->batch == NULL) {
        link->batch = ngx_alloc(NGX_HTTP_SIGNALLER_LINK_MAX,
                                link->connection->log);
        if (link->batch == NULL) {
            return;
        }
    }

    /* the batch is sent when full: there is always room for one more */

    p = ngx_http_signaller_report_write(link->batch + link->batched, f);
    (void) ngx_http_signaller_tag_write(p, tag);

    link->batched += NGX_HTTP_SIGNALLER_RECORD_LEN;

    if (link->batched == NGX_HTTP_SIGNALLER_LINK_MAX) {
        ngx_http_signaller_link_flush(&link->flush);
        return;
    }

    /* sent once this round of the event loop has ended its sessions */

    if (!link->flush.posted) {
        ngx_post_event(&link->flush, &ngx_posted_events);
    }
}


static void
ngx_http_signaller_link_flush(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_signaller_link_t  *link;

    c = ev->data;
    link = c->data;

    if (ev->posted) {
        ngx_delete_posted_event(ev);
    }

    if (link->batched) {
        (void) ngx_http_signaller_link_send(link, link->batch, link->batched,
                                            (ngx_socket_t) -1, NULL);
        link->batched = 0;
    }
}


static void
ngx_http_signaller_link_close(ngx_http_signaller_link_t *link)
{
    ngx_queue_t                    *q;
    ngx_http_signaller_handoff_t   *h;
    ngx_http_signaller_link_msg_t  *m;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "signaller: link with worker %P closed", link->worker.pid);

    ngx_queue_remove(&link->queue);

    while (!ngx_queue_empty(&link->out)) {
        q = ngx_queue_head(&link->out);
        m = ngx_queue_data(q, ngx_http_signaller_link_msg_t, queue);
        h = m->handoff;

        ngx_queue_remove(q);
        ngx_free(m);

        if (h) {
            h->queued = NULL;
            ngx_http_signaller_handoff_failed(h);
        }
    }

    /* each one leaves the tree as its request is finalized */

    while (link->reports.root != link->reports.sentinel) {
        h = (ngx_http_signaller_handoff_t *) link->reports.root;
        ngx_http_signaller_handoff_reported(link, h->node.key, NULL);
    }

    if (link->flush.posted) {
        ngx_delete_posted_event(&link->flush);
    }

    if (link->batch) {
        ngx_free(link->batch);
    }

    ngx_close_connection(link->connection);
    ngx_free(link);
}

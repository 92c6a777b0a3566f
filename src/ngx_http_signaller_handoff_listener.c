
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs that cross workers, made pairs in one worker: the listener's
 * worker ("L").  A connector's socket comes over a link (link.c) for a
 * listener that its worker ("C", handoff_connector.c) has taken in the
 * table, so nobody else pairs it meanwhile: L pairs a session on the
 * socket with the listener, as if the connector had landed here.  A
 * listener that leaves while the socket is on its way is kept as a peer
 * that left at once after pairing: the connector gets what it had sent,
 * then its close.  Word that the connector left first closes the listener
 * as if it had come and gone.
 */


#include "ngx_http_signaller.h"


/*
 * L: a listener that left while a connector's socket was on its way,
 * kept for that connector as a peer that left at once after pairing:
 * what it had sent, and its close.
 */
typedef struct {
    ngx_queue_t                      queue;
    ngx_event_t                      timer;
    ngx_http_signaller_id_t          id;
    ngx_http_signaller_loc_conf_t   *conf;
    ngx_uint_t                       code;
    ngx_uint_t                       messages;
    ngx_http_signaller_buf_t        *orphan;
    u_char                          *orphan_pos;
    u_char                          *orphan_last;
} ngx_http_signaller_left_t;


static ngx_http_signaller_session_t *ngx_http_signaller_handoff_session(
    ngx_http_signaller_link_t *link, ngx_socket_t *fd,
    ngx_http_signaller_loc_conf_t *conf);
static ngx_http_signaller_left_t *ngx_http_signaller_handoff_find_left(
    ngx_http_signaller_id_t *id);
static void ngx_http_signaller_handoff_inherit(ngx_http_signaller_session_t *s,
    ngx_http_signaller_left_t *lf);
static void ngx_http_signaller_handoff_forget(ngx_event_t *ev);
static void ngx_http_signaller_handoff_refuse(ngx_http_signaller_link_t *link,
    ngx_socket_t fd, ngx_uint_t flags, uint64_t tag);


static ngx_queue_t  ngx_http_signaller_lefts;


void
ngx_http_signaller_handoffs_init(void)
{
    ngx_queue_init(&ngx_http_signaller_lefts);
}


void
ngx_http_signaller_handoffs_exit(void)
{
    ngx_queue_t                *q;
    ngx_http_signaller_left_t  *lf;

    if (ngx_http_signaller_lefts.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_signaller_lefts)) {
        q = ngx_queue_head(&ngx_http_signaller_lefts);
        lf = ngx_queue_data(q, ngx_http_signaller_left_t, queue);
        ngx_http_signaller_handoff_forget(&lf->timer);
    }
}


/*
 * L: a socket has come for the listener "pre" names, or word that its
 * connector left before it could.  Its worker has taken the listener:
 * nobody else pairs it meanwhile, and if it leaves first, it is kept as
 * a peer that has just left (handoff_left()).
 */

void
ngx_http_signaller_handoff_receive(ngx_http_signaller_link_t *link,
    ngx_http_signaller_preamble_t *pre, uint64_t tag, ngx_socket_t fd)
{
    ngx_http_signaller_left_t     *lf;
    ngx_http_signaller_session_t  *s, *l;

    l = ngx_http_signaller_session_find(&pre->id);

    if (l && (!l->waiting || l->closing
              || l->handle.len != pre->handle.len
              || ngx_memcmp(l->handle.data, pre->handle.data,
                            l->handle.len) != 0))
    {
        l = NULL;
    }

    lf = (l == NULL) ? ngx_http_signaller_handoff_find_left(&pre->id) : NULL;

    s = NULL;

    if (fd != (ngx_socket_t) -1 && (l || lf)) {
        s = ngx_http_signaller_handoff_session(link, &fd,
                                               l ? l->conf : lf->conf);
    }

    if (s == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "signaller: no pair on \"%V\" from the handoff",
                       &pre->handle);

        if (l) {
            /* as if its connector had come and gone */
            ngx_http_signaller_close_pair(l, NGX_HTTP_SIGNALLER_PEER_GONE, 0);
        }

        if (lf) {
            ngx_http_signaller_handoff_forget(&lf->timer);
        }

        if (pre->flags & NGX_HTTP_SIGNALLER_HANDOFF) {
            ngx_http_signaller_handoff_refuse(link, fd, pre->flags, tag);
        }

        return;
    }

    if (pre->flags & NGX_HTTP_SIGNALLER_REPORT) {
        s->link = link->serial;
        s->tag = tag;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: socket handed over from worker %P",
                   link->worker.pid);

    if (lf) {
        ngx_http_signaller_handoff_inherit(s, lf);
        return;
    }

    ngx_http_signaller_session_start(s, l, NULL);
}


/*
 * A session on the handed-over socket "*fd", under the listener's
 * location's limits.  NULL: "*fd" is left as it was, or closed (-1).
 */

static ngx_http_signaller_session_t *
ngx_http_signaller_handoff_session(ngx_http_signaller_link_t *link,
    ngx_socket_t *fd, ngx_http_signaller_loc_conf_t *conf)
{
    ngx_log_t                     *log;
    ngx_pool_t                    *pool;
    ngx_connection_t              *c;
    ngx_http_signaller_session_t  *s;

    pool = ngx_create_pool(1024, link->connection->log);
    if (pool == NULL) {
        return NULL;
    }

    log = ngx_palloc(pool, sizeof(ngx_log_t));
    if (log == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    *log = *link->connection->log;

    c = ngx_http_signaller_relay_connection(*fd, pool, log);
    if (c == NULL) {
        *fd = (ngx_socket_t) -1;
        ngx_destroy_pool(pool);
        return NULL;
    }

    *fd = (ngx_socket_t) -1;

    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    s = ngx_http_signaller_session_create(pool, c, conf);
    if (s == NULL) {
        ngx_close_connection(c);
        ngx_destroy_pool(pool);
        return NULL;
    }

    s->handed = 1;
    s->relay_pid = link->worker.pid;
    s->figures.crossed = 1;

    c->data = s;
    c->read->handler = ngx_http_signaller_session_read_event;
    c->write->handler = ngx_http_signaller_session_write_event;

    /* the client may have written already: nothing is known of the socket */

    c->read->ready = 1;

    return s;
}


/*
 * L: the listener "l", taken by another worker's connector, leaves before
 * that connector's socket has come; "code" is for the connector.
 */

void
ngx_http_signaller_handoff_left(ngx_http_signaller_session_t *l,
    ngx_uint_t code)
{
    ngx_http_signaller_left_t     *lf;
    ngx_http_signaller_session_t   heir;

    lf = ngx_calloc(sizeof(ngx_http_signaller_left_t), l->connection->log);
    if (lf == NULL) {
        return;
    }

    /* what it sent while it waited, as a peer's frames are handed over */

    ngx_memzero(&heir, sizeof(ngx_http_signaller_session_t));
    ngx_http_signaller_handover(l, &heir);

    lf->orphan = heir.orphan;
    lf->orphan_pos = heir.orphan_pos;
    lf->orphan_last = heir.orphan_last;

    lf->id = l->id;
    lf->conf = l->conf;
    lf->code = code;
    lf->messages = l->figures.messages_in;

    /* the connector's worker sends the socket once its 101 is out */

    lf->timer.handler = ngx_http_signaller_handoff_forget;
    lf->timer.data = lf;
    lf->timer.log = ngx_cycle->log;
    lf->timer.cancelable = 1;

    ngx_add_timer(&lf->timer, l->conf->send_timeout
                              + NGX_HTTP_SIGNALLER_LINGER);

    ngx_queue_insert_tail(&ngx_http_signaller_lefts, &lf->queue);
}


static ngx_http_signaller_left_t *
ngx_http_signaller_handoff_find_left(ngx_http_signaller_id_t *id)
{
    ngx_queue_t                *q;
    ngx_http_signaller_left_t  *lf;

    for (q = ngx_queue_head(&ngx_http_signaller_lefts);
         q != ngx_queue_sentinel(&ngx_http_signaller_lefts);
         q = ngx_queue_next(q))
    {
        lf = ngx_queue_data(q, ngx_http_signaller_left_t, queue);

        if (ngx_memcmp(&lf->id, id, sizeof(ngx_http_signaller_id_t)) == 0) {
            return lf;
        }
    }

    return NULL;
}


/* the connector "s" gets what its listener left, then its close */

static void
ngx_http_signaller_handoff_inherit(ngx_http_signaller_session_t *s,
    ngx_http_signaller_left_t *lf)
{
    ngx_uint_t  code;

    s->orphan = lf->orphan;
    s->orphan_pos = lf->orphan_pos;
    s->orphan_last = lf->orphan_last;
    s->figures.messages_out = lf->messages;
    s->figures.paired = ngx_current_msec;

    code = lf->code;

    lf->orphan = NULL;
    ngx_http_signaller_handoff_forget(&lf->timer);

    ngx_http_signaller_count(s->zone, pairings, 1);

    ngx_http_signaller_session_start(s, NULL, NULL);
    ngx_http_signaller_close(s, code);
}


static void
ngx_http_signaller_handoff_forget(ngx_event_t *ev)
{
    ngx_http_signaller_left_t  *lf = ev->data;

    if (lf->timer.timer_set) {
        ngx_del_timer(&lf->timer);
    }

    if (lf->orphan) {
        ngx_http_signaller_buf_put(lf->orphan);
    }

    ngx_queue_remove(&lf->queue);
    ngx_free(lf);
}


/*
 * L: the listener is gone, or the socket did not come (fd -1): the
 * connector, which has its 101, is told 4003 on a socket whose buffer is
 * empty, and C that it was.
 */

static void
ngx_http_signaller_handoff_refuse(ngx_http_signaller_link_t *link,
    ngx_socket_t fd, ngx_uint_t flags, uint64_t tag)
{
    u_char                        frame[32], *p;
    ngx_http_signaller_figures_t  f;

    if (fd != (ngx_socket_t) -1) {
        p = ngx_http_signaller_close_frame(frame,
                                           NGX_HTTP_SIGNALLER_PEER_GONE);
        (void) send(fd, frame, p - frame, MSG_NOSIGNAL);
        (void) close(fd);
    }

    if (!(flags & NGX_HTTP_SIGNALLER_REPORT)) {
        return;
    }

    ngx_memzero(&f, sizeof(ngx_http_signaller_figures_t));
    f.close_code = NGX_HTTP_SIGNALLER_PEER_GONE;

    ngx_http_signaller_link_report(link->serial, tag, &f);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * A worker's sessions: one per WebSocket client connection, a listener or
 * a connector, or a connector relayed from another worker.  A session
 * opens once its 101 is out (upgrade.c); a listener waits in the table
 * and in this worker's tree of waiting listeners until a connector pairs
 * with it.  What a session reads is in read.c, what it sends in write.c,
 * its input buffers in buf.c, and how it closes and ends in close.c.
 */


#include "ngx_http_signaller.h"


static void ngx_http_signaller_id_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_signaller_id_cmp(ngx_http_signaller_id_t *id,
    ngx_rbtree_node_t *node);
static void ngx_http_signaller_pair(ngx_http_signaller_session_t *s,
    ngx_http_signaller_session_t *l);


static ngx_rbtree_t       ngx_http_signaller_waiting;
static ngx_rbtree_node_t  ngx_http_signaller_sentinel;
static ngx_queue_t        ngx_http_signaller_sessions;


void
ngx_http_signaller_sessions_init(void)
{
    ngx_rbtree_init(&ngx_http_signaller_waiting, &ngx_http_signaller_sentinel,
                    ngx_http_signaller_id_insert);
    ngx_queue_init(&ngx_http_signaller_sessions);
}


ngx_http_signaller_session_t *
ngx_http_signaller_session_create(ngx_pool_t *pool, ngx_connection_t *c,
    ngx_http_signaller_loc_conf_t *slcf)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_signaller_session_t  *s;

    s = ngx_pcalloc(pool, sizeof(ngx_http_signaller_session_t));
    if (s == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_signaller_cleanup;
    cln->data = s;

    s->connection = c;
    s->conf = slcf;
    s->zone = slcf->shm_zone;

    s->figures.data = s;
    s->figures.opened = ngx_current_msec;

    s->timer.handler = ngx_http_signaller_timer_handler;
    s->timer.data = s;
    s->timer.log = c->log;

    /* pings alone do not keep a worker that shuts down alive */

    s->ping.handler = ngx_http_signaller_ping_handler;
    s->ping.data = s;
    s->ping.log = c->log;
    s->ping.cancelable = 1;

    ngx_queue_insert_tail(&ngx_http_signaller_sessions, &s->queue);

    return s;
}


/* a listener the pairing table has taken in under "id" */

void
ngx_http_signaller_session_listen(ngx_http_signaller_session_t *s,
    ngx_str_t *handle, ngx_http_signaller_id_t *id)
{
    s->id = *id;
    s->handle.data = s->handle_data;
    s->handle.len = handle->len;
    ngx_memcpy(s->handle_data, handle->data, handle->len);

    s->waiting = 1;
    s->figures.listener = 1;
    s->figures.handle = s->handle;

    ngx_memcpy(&s->node.key, id->data, sizeof(ngx_rbtree_key_t));
    ngx_rbtree_insert(&ngx_http_signaller_waiting, &s->node);
}


ngx_http_signaller_session_t *
ngx_http_signaller_session_find(ngx_http_signaller_id_t *id)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = ngx_http_signaller_waiting.root;
    sentinel = ngx_http_signaller_waiting.sentinel;

    while (node != sentinel) {
        rc = ngx_http_signaller_id_cmp(id, node);

        if (rc == 0) {
            return (ngx_http_signaller_session_t *) node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* waiting listeners by id: the key holds its first bytes */

static void
ngx_http_signaller_id_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_signaller_session_t   *s;

    s = (ngx_http_signaller_session_t *) node;

    for ( ;; ) {
        p = (ngx_http_signaller_id_cmp(&s->id, temp) < 0) ? &temp->left
                                                          : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_signaller_id_cmp(ngx_http_signaller_id_t *id,
    ngx_rbtree_node_t *node)
{
    ngx_rbtree_key_t               key;
    ngx_http_signaller_session_t  *s;

    ngx_memcpy(&key, id->data, sizeof(ngx_rbtree_key_t));

    if (key != node->key) {
        return (key < node->key) ? -1 : 1;
    }

    s = (ngx_http_signaller_session_t *) node;

    return ngx_memcmp(id->data, s->id.data, NGX_HTTP_SIGNALLER_ID_LEN);
}


/*
 * Starts a session on a connection whose handshake is done; "early" holds
 * what the client sent right behind its request, as much as nginx's header
 * buffers could take.  It is kept in a buffer of its own size, read before
 * the socket, so that the request's buffers can go at once.  A connector
 * is paired with its listener at once.
 */

void
ngx_http_signaller_session_start(ngx_http_signaller_session_t *s,
    ngx_http_signaller_session_t *listener, ngx_buf_t *early)
{
    size_t  n;

    n = early ? (size_t) (early->last - early->pos) : 0;

    if (n) {
        s->early = ngx_alloc(sizeof(ngx_http_signaller_buf_t) + n,
                             s->connection->log);
        if (s->early == NULL) {
            ngx_http_signaller_close_pair(s,
                                          NGX_HTTP_SIGNALLER_INTERNAL_ERROR, 0);
            return;
        }

        s->early->start = (u_char *) (s->early + 1);
        s->early->end = ngx_cpymem(s->early->start, early->pos, n);
        s->early_pos = s->early->start;

        early->pos = early->last;
    }

    if (listener) {
        ngx_http_signaller_pair(s, listener);

    } else if (s->waiting) {
        ngx_add_timer(&s->timer, s->conf->listen_timeout);
    }

    if (s->conf->ping_interval && !s->closing) {
        ngx_add_timer(&s->ping, s->conf->ping_interval);
    }

    ngx_http_signaller_session_read(s);
}


static void
ngx_http_signaller_pair(ngx_http_signaller_session_t *s,
    ngx_http_signaller_session_t *l)
{
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: paired with listener *%uA on \"%V\"",
                   l->connection->number, &l->handle);

    (void) ngx_http_signaller_session_unlist(l);

    s->peer = l;
    l->peer = s;

    s->handle.data = s->handle_data;
    s->handle.len = l->handle.len;
    ngx_memcpy(s->handle_data, l->handle.data, l->handle.len);

    s->figures.handle = s->handle;
    s->figures.paired = ngx_current_msec;
    l->figures.paired = s->figures.paired;
    l->figures.crossed = s->figures.crossed;

    /* what the listener sent while it waited is the connector's too */
    s->figures.messages_out = l->figures.messages_in;

    ngx_http_signaller_count(s->zone, pairings, 1);
    ngx_http_signaller_zone_pipe(s->zone, s->figures.crossed, 1);

    ngx_add_timer(&s->timer, s->conf->pipe_timeout);
    ngx_add_timer(&l->timer, s->conf->pipe_timeout);

    /* what the listener sent while it waited */
    ngx_http_signaller_flush(s);
}


/*
 * A waiting listener leaves the table: it pairs, or it ends.  NGX_BUSY:
 * another worker's connector had taken it (table_delete()).
 */

ngx_int_t
ngx_http_signaller_session_unlist(ngx_http_signaller_session_t *s)
{
    s->waiting = 0;
    ngx_rbtree_delete(&ngx_http_signaller_waiting, &s->node);

    return ngx_http_signaller_table_delete(s->zone, &s->handle, &s->id);
}


/*
 * On worker exit: the clients that are left are told 1001, if they can be,
 * and their connections closed, as nginx expects of a module that owns
 * them.
 */

void
ngx_http_signaller_sessions_exit(void)
{
    ngx_queue_t                   *q;
    ngx_connection_t              *c;
    ngx_http_signaller_session_t  *s;

    if (ngx_http_signaller_sessions.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_signaller_sessions)) {
        q = ngx_queue_head(&ngx_http_signaller_sessions);
        s = ngx_queue_data(q, ngx_http_signaller_session_t, queue);
        c = s->connection;

        c->close = 1;
        ngx_http_signaller_detach(s);

        if (c->fd != (ngx_socket_t) -1) {
            ngx_close_connection(c);
        }
    }

    ngx_http_signaller_bufs_exit();
}


/* nginx stops (not a reload): every client is told 1001 now */

void
ngx_http_signaller_sessions_stop(void)
{
    ngx_queue_t                   *q, *next;
    ngx_http_signaller_session_t  *s;

    for (q = ngx_queue_head(&ngx_http_signaller_sessions);
         q != ngx_queue_sentinel(&ngx_http_signaller_sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_signaller_session_t, queue);

        ngx_http_signaller_close_pair(s, NGX_HTTP_SIGNALLER_GOING_AWAY,
                                      NGX_HTTP_SIGNALLER_GOING_AWAY);
    }
}

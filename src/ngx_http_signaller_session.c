
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Sessions: one per WebSocket client connection, a listener or a
 * connector.  Two paired sessions relay to each other directly: what one
 * reads is parsed into server frames in its own input buffer, and the
 * other's connection sends them from there, so a message is copied once,
 * by the unmasking.  A session reads only while its buffer has room, which
 * bounds what a slow receiver can make nginx hold to one buffer per
 * direction.
 *
 * A session that must end is marked "done" and finished from a posted
 * event, never from inside the handler that is running, so no caller is
 * left holding a freed session.
 */


#include "ngx_http_signaller.h"


static void ngx_http_signaller_id_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_signaller_id_cmp(ngx_http_signaller_id_t *id,
    ngx_rbtree_node_t *node);
static ssize_t ngx_http_signaller_recv(ngx_http_signaller_session_t *s,
    u_char *buf, size_t size);
static void ngx_http_signaller_process(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_control(ngx_http_signaller_session_t *s,
    ngx_int_t rc, ngx_http_signaller_frame_t *frame);
static ngx_int_t ngx_http_signaller_room(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_compact(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_flush(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_pair(ngx_http_signaller_session_t *s,
    ngx_http_signaller_session_t *l);
static void ngx_http_signaller_close(ngx_http_signaller_session_t *s,
    ngx_uint_t code, ngx_uint_t peer_code);
static void ngx_http_signaller_unlink(ngx_http_signaller_session_t *s,
    ngx_uint_t peer_code);
static void ngx_http_signaller_handover(ngx_http_signaller_session_t *from,
    ngx_http_signaller_session_t *to);
static void ngx_http_signaller_send_close(ngx_http_signaller_session_t *s,
    ngx_uint_t code);
static void ngx_http_signaller_gone(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_finalize(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_end(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_detach(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_cleanup(void *data);
static void ngx_http_signaller_timer_handler(ngx_event_t *ev);
static ngx_http_signaller_buf_t *ngx_http_signaller_buf_get(void);
static void ngx_http_signaller_buf_put(ngx_http_signaller_buf_t *b);
static void ngx_http_signaller_buf_reset(ngx_http_signaller_session_t *s);
static void ngx_http_signaller_buf_idle(ngx_http_signaller_session_t *s);


#define NGX_HTTP_SIGNALLER_FREE_BUFS  64


static ngx_rbtree_t               ngx_http_signaller_waiting;
static ngx_rbtree_node_t          ngx_http_signaller_sentinel;
static ngx_queue_t                ngx_http_signaller_sessions;
static ngx_http_signaller_buf_t  *ngx_http_signaller_free;
static ngx_uint_t                 ngx_http_signaller_nfree;


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

    s->timer.handler = ngx_http_signaller_timer_handler;
    s->timer.data = s;
    s->timer.log = c->log;

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
            ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_INTERNAL_ERROR, 0);
            return;
        }

        s->early->start = (u_char *) (s->early + 1);
        s->early->end = ngx_cpymem(s->early->start, early->pos, n);
        s->early_pos = s->early->start;

        early->pos = early->last;
    }

    if (listener) {
        ngx_http_signaller_pair(s, listener);

    } else {
        ngx_add_timer(&s->timer, s->conf->listen_timeout);
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

    ngx_rbtree_delete(&ngx_http_signaller_waiting, &l->node);
    ngx_http_signaller_table_delete(l->zone, &l->handle, &l->id);
    l->waiting = 0;

    s->peer = l;
    l->peer = s;

    ngx_add_timer(&s->timer, s->conf->pipe_timeout);
    ngx_add_timer(&l->timer, s->conf->pipe_timeout);

    /* what the listener sent while it waited */
    ngx_http_signaller_flush(s);
}


/* the read event handler */

void
ngx_http_signaller_session_read(ngx_http_signaller_session_t *s)
{
    ssize_t            n;
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    c = s->connection;

    if (s->done || c->close) {
        ngx_http_signaller_end(s);
        return;
    }

    rev = c->read;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "signaller read: ready:%d", rev->ready);

    for ( ;; ) {

        if (s->failed && s->in) {
            /* the stream cannot be parsed any more: drain it */
            s->pos = s->last;
        }

        if (s->in && s->pos < s->last) {
            ngx_http_signaller_process(s);

            if (s->done) {
                return;
            }

            if (s->pong_pos) {
                /* every ping gets its pong: send it before parsing on */

                ngx_http_signaller_flush(s);

                if (s->done) {
                    return;
                }

                if (s->pong_pos == NULL) {
                    continue;
                }

                s->pong_wait = 1;
            }
        }

        if ((!rev->ready && s->early == NULL) || s->blocked || s->pong_wait)
        {
            break;
        }

        if (ngx_http_signaller_room(s) != NGX_OK) {
            break;
        }

        n = ngx_http_signaller_recv(s, s->last, s->in->end - s->last);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_signaller_gone(s);
            return;
        }

        s->last += n;
    }

    ngx_http_signaller_buf_idle(s);

    if (s->peer) {
        ngx_http_signaller_flush(s->peer);
    }

    if (s->done) {
        return;
    }

    ngx_http_signaller_flush(s);

    if (s->done) {
        return;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_INTERNAL_ERROR,
                                 NGX_HTTP_SIGNALLER_INTERNAL_ERROR);
    }
}


/* what the client sent behind its request comes first */

static ssize_t
ngx_http_signaller_recv(ngx_http_signaller_session_t *s, u_char *buf,
    size_t size)
{
    size_t  n;

    if (s->early == NULL) {
        return s->connection->recv(s->connection, buf, size);
    }

    n = ngx_min(size, (size_t) (s->early->end - s->early_pos));

    ngx_memcpy(buf, s->early_pos, n);
    s->early_pos += n;

    if (s->early_pos == s->early->end) {
        ngx_free(s->early);
        s->early = NULL;
    }

    return n;
}


static void
ngx_http_signaller_process(ngx_http_signaller_session_t *s)
{
    u_char                      *out;
    ngx_int_t                    rc;
    ngx_http_signaller_frame_t   frame;

    for ( ;; ) {

        if (s->pong_pos) {
            return;
        }

        out = s->out_last;

        rc = ngx_http_signaller_parse(&s->parser, &s->pos, s->last, &out,
                                      s->closing ? NGX_MAX_SIZE_T_VALUE
                                                 : s->conf->max_message_size,
                                      s->closing, &frame);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller frame: %i, %uz bytes left", rc,
                       (size_t) (s->last - s->pos));

        if (!s->closing) {
            s->out_last = out;
        }

        switch (rc) {

        case NGX_HTTP_SIGNALLER_FRAME_AGAIN:
            return;

        case NGX_HTTP_SIGNALLER_FRAME_MESSAGE:

            if (s->closing) {
                break;
            }

            if (++s->messages >= s->conf->max_messages) {
                ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_TOO_MANY,
                                         NGX_HTTP_SIGNALLER_TOO_MANY);
                return;
            }

            break;

        case NGX_HTTP_SIGNALLER_FRAME_PING:
        case NGX_HTTP_SIGNALLER_FRAME_PONG:
        case NGX_HTTP_SIGNALLER_FRAME_CLOSE:

            ngx_http_signaller_control(s, rc, &frame);

            if (s->done || s->close_received) {
                return;
            }

            break;

        default:

            /* a frame that breaks the protocol */

            if (!s->closing) {
                ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                              "signaller: client sent an invalid frame, "
                              "closing with %i", -rc);

                ngx_http_signaller_close(s, -rc,
                                         NGX_HTTP_SIGNALLER_PEER_GONE);
            }

            s->failed = 1;
            s->pos = s->last;
            return;
        }
    }
}


static void
ngx_http_signaller_control(ngx_http_signaller_session_t *s, ngx_int_t rc,
    ngx_http_signaller_frame_t *frame)
{
    ngx_int_t  code;

    switch (rc) {

    case NGX_HTTP_SIGNALLER_FRAME_PING:

        if (s->closing) {
            return;
        }

        s->pong[0] = 0x8a;
        s->pong[1] = (u_char) frame->len;
        ngx_memcpy(&s->pong[2], frame->payload, frame->len);

        s->pong_pos = s->pong;
        s->pong_last = s->pong + 2 + frame->len;
        return;

    case NGX_HTTP_SIGNALLER_FRAME_PONG:
        return;
    }

    /* a close frame */

    s->close_received = 1;

    if (s->closing) {
        if (s->close_pos == s->close_last) {
            ngx_http_signaller_finalize(s);
        }

        return;
    }

    code = ngx_http_signaller_close_valid(frame->payload, frame->len);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: client closed with %i", code);

    if (code < 0) {
        s->close_received = 0;
        ngx_http_signaller_close(s, -code, NGX_HTTP_SIGNALLER_PEER_GONE);

        /* no second close will come: end as after any broken frame */
        s->failed = 1;
        return;
    }

    ngx_http_signaller_close(s, code,
                             code == NGX_HTTP_SIGNALLER_NORMAL
                             ? NGX_HTTP_SIGNALLER_NORMAL
                             : NGX_HTTP_SIGNALLER_PEER_GONE);
}


/*
 * Makes room in the input buffer for a read: NGX_OK if there is some,
 * NGX_AGAIN if the session must wait until the peer has sent out the
 * frames that fill it.
 */

static ngx_int_t
ngx_http_signaller_room(ngx_http_signaller_session_t *s)
{
    size_t  delta;

    if (s->in == NULL) {
        s->in = ngx_http_signaller_buf_get();
        if (s->in == NULL) {
            ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_INTERNAL_ERROR,
                                     NGX_HTTP_SIGNALLER_INTERNAL_ERROR);
            return NGX_ERROR;
        }

        ngx_http_signaller_buf_reset(s);
        return NGX_OK;
    }

    if (s->out_pos == s->out_last) {
        ngx_http_signaller_compact(s);

    } else if (s->in->end - s->last < 256 && s->out_pos > s->in->start) {
        delta = s->out_pos - s->in->start;
        ngx_memmove(s->in->start, s->out_pos, s->last - s->out_pos);
        s->out_pos -= delta;
        s->out_last -= delta;
        s->pos -= delta;
        s->last -= delta;
    }

    /* a piece of payload needs room before it for its new frame header */

    if (s->pos == s->last
        && s->last < s->out_last + NGX_HTTP_SIGNALLER_HEADROOM)
    {
        s->pos = s->out_last + NGX_HTTP_SIGNALLER_HEADROOM;
        s->last = s->pos;
    }

    /* tiny reads cost more than waiting for the peer to drain the buffer */

    if (s->last + 256 > s->in->end && s->out_pos != s->out_last) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller: input blocked");
        s->blocked = 1;
        return NGX_AGAIN;
    }

    return NGX_OK;
}


/* moves the unparsed input back to the start of an empty buffer */

static void
ngx_http_signaller_compact(ngx_http_signaller_session_t *s)
{
    size_t   n;
    u_char  *start;

    start = s->in->start + NGX_HTTP_SIGNALLER_HEADROOM;

    if (s->pos == start) {
        s->out_pos = s->in->start;
        s->out_last = s->in->start;
        return;
    }

    n = s->last - s->pos;

    ngx_memmove(start, s->pos, n);

    s->out_pos = s->in->start;
    s->out_last = s->in->start;
    s->pos = start;
    s->last = start + n;
}


static void
ngx_http_signaller_buf_reset(ngx_http_signaller_session_t *s)
{
    s->out_pos = s->in->start;
    s->out_last = s->in->start;
    s->pos = s->in->start + NGX_HTTP_SIGNALLER_HEADROOM;
    s->last = s->pos;
}


/*
 * A session whose frames have all been sent and whose input is all parsed
 * needs no buffer: between messages, and while a listener waits, it holds
 * none.
 */

static void
ngx_http_signaller_buf_idle(ngx_http_signaller_session_t *s)
{
    if (s->in && s->out_pos == s->out_last && s->pos == s->last) {
        ngx_http_signaller_buf_put(s->in);
        s->in = NULL;
    }
}


/*
 * Sends to the client what is queued for it, in this order: frames from
 * the peer (or the former peer), a pong, the close frame.
 */

static void
ngx_http_signaller_flush(ngx_http_signaller_session_t *s)
{
    ssize_t                        sent;
    ngx_buf_t                     *b, bufs[3];
    ngx_uint_t                     i, n;
    ngx_chain_t                   *cl, chain[3];
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_signaller_session_t  *p;

    if (s->done) {
        return;
    }

    c = s->connection;
    r = s->request;
    p = s->peer;

    if (r && r->out) {

        /* the 101 response has not been sent in full yet */

        if (ngx_http_output_filter(r, NULL) == NGX_ERROR) {
            ngx_http_signaller_gone(s);
            return;
        }

        if (r->out) {
            goto pending;
        }
    }

    for ( ;; ) {
        n = 0;
        ngx_memzero(bufs, sizeof(bufs));

        b = &bufs[n];

        if (p && p->in && p->out_pos < p->out_last) {
            b->pos = p->out_pos;
            b->last = p->out_last;
            n++;

        } else if (s->orphan && s->orphan_pos < s->orphan_last) {
            b->pos = s->orphan_pos;
            b->last = s->orphan_last;
            n++;
        }

        if (s->pong_pos < s->pong_last) {
            b = &bufs[n++];
            b->pos = s->pong_pos;
            b->last = s->pong_last;
        }

        if (s->close_pos < s->close_last) {
            b = &bufs[n++];
            b->pos = s->close_pos;
            b->last = s->close_last;
        }

        /* TLS may hold bytes of its own, sent by a call without data */

        if ((n == 0 && !c->buffered) || !c->write->ready) {
            break;
        }

        for (i = 0; i < n; i++) {
            bufs[i].memory = 1;
            chain[i].buf = &bufs[i];
            chain[i].next = (i + 1 < n) ? &chain[i + 1] : NULL;
        }

        if (n) {
            bufs[n - 1].flush = 1;
        }

        if (n == 1 && !c->buffered) {

            /* the usual case, one run of frames: a plain send() */

            sent = c->send(c, bufs[0].pos, bufs[0].last - bufs[0].pos);

            if (sent == NGX_ERROR) {
                ngx_http_signaller_gone(s);
                return;
            }

            if (sent > 0) {
                bufs[0].pos += sent;
            }

            cl = (bufs[0].pos < bufs[0].last) ? chain : NULL;

        } else {
            cl = c->send_chain(c, n ? chain : NULL, 0);

            if (cl == NGX_CHAIN_ERROR) {
                ngx_http_signaller_gone(s);
                return;
            }
        }

        i = 0;

        if (p && p->in && p->out_pos < p->out_last) {
            p->out_pos = bufs[i++].pos;

        } else if (s->orphan && s->orphan_pos < s->orphan_last) {
            s->orphan_pos = bufs[i++].pos;
        }

        if (s->pong_pos < s->pong_last) {
            s->pong_pos = bufs[i++].pos;
        }

        if (s->close_pos < s->close_last) {
            s->close_pos = bufs[i++].pos;
        }

        if (cl != NULL || c->buffered || n == 0) {
            break;
        }
    }

    /* what was sent in full is released */

    if (p && p->in && p->out_pos == p->out_last) {
        if (p->blocked) {
            p->blocked = 0;
            ngx_post_event(p->connection->read, &ngx_posted_events);

        } else {
            ngx_http_signaller_buf_idle(p);
        }
    }

    if (s->orphan && s->orphan_pos == s->orphan_last) {
        ngx_http_signaller_buf_put(s->orphan);
        s->orphan = NULL;
    }

    if (s->pong_pos == s->pong_last) {
        s->pong_pos = NULL;
        s->pong_last = NULL;

        if (s->pong_wait) {
            s->pong_wait = 0;
            ngx_post_event(c->read, &ngx_posted_events);
        }
    }

    if (s->closing && s->close_pos == s->close_last
        && s->orphan == NULL && s->pong_pos == NULL && !c->buffered)
    {
        if (s->close_received || s->eof) {
            ngx_http_signaller_finalize(s);
            return;
        }

        if (s->failed && !s->shut) {
            /*
             * No close frame can be recognised in what follows: the end of
             * our stream asks the client to close, and the input is read
             * until it does, so that unread data cannot turn our close
             * into a reset before the client has seen it.
             */

            s->shut = 1;
            (void) shutdown(c->fd, SHUT_WR);
        }
    }

pending:

    if ((r && r->out) || c->buffered
        || (p && p->in && p->out_pos < p->out_last)
        || s->orphan || s->pong_pos || s->close_pos < s->close_last)
    {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, s->conf->send_timeout);
        }

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        ngx_http_signaller_gone(s);
    }
}


/* event handlers of a connection that is nothing but a session */

void
ngx_http_signaller_session_read_event(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_signaller_session_read(c->data);
}


void
ngx_http_signaller_session_write_event(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_signaller_session_write(c->data);
}


/* the write event handler */

void
ngx_http_signaller_session_write(ngx_http_signaller_session_t *s)
{
    ngx_connection_t  *c;

    c = s->connection;

    if (s->done || c->close) {
        ngx_http_signaller_end(s);
        return;
    }

    if (c->write->timedout) {
        c->write->timedout = 0;
        c->timedout = 1;

        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "signaller: client timed out");

        ngx_http_signaller_gone(s);
        return;
    }

    ngx_http_signaller_flush(s);
}


static void
ngx_http_signaller_timer_handler(ngx_event_t *ev)
{
    ngx_http_signaller_session_t  *s = ev->data;

    if (s->done) {
        return;
    }

    if (s->closing) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                       "signaller: no close from client");
        ngx_http_signaller_finalize(s);
        return;
    }

    if (s->waiting) {
        ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_LISTEN_TIMEOUT, 0);
        return;
    }

    ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_PIPE_TIMEOUT,
                             NGX_HTTP_SIGNALLER_PIPE_TIMEOUT);
}


/*
 * Starts the closing handshake with the client ("code" 0 echoes a close
 * without a status) and, with "peer_code", with the peer.
 */

static void
ngx_http_signaller_close(ngx_http_signaller_session_t *s, ngx_uint_t code,
    ngx_uint_t peer_code)
{
    if (s->closing || s->done) {
        return;
    }

    ngx_http_signaller_unlink(s, peer_code);
    ngx_http_signaller_send_close(s, code);
}


/* breaks a pair, or takes a waiting listener out of the table */

static void
ngx_http_signaller_unlink(ngx_http_signaller_session_t *s,
    ngx_uint_t peer_code)
{
    ngx_http_signaller_session_t  *p;

    if (s->waiting) {
        s->waiting = 0;
        ngx_rbtree_delete(&ngx_http_signaller_waiting, &s->node);
        ngx_http_signaller_table_delete(s->zone, &s->handle, &s->id);
    }

    p = s->peer;

    if (p == NULL) {
        return;
    }

    s->peer = NULL;
    p->peer = NULL;

    /* frames already relayed are still delivered, then the close */

    ngx_http_signaller_handover(s, p);
    ngx_http_signaller_handover(p, s);

    ngx_http_signaller_send_close(p, peer_code);
}


/*
 * The frames "from" parsed for "to" go with "to".  With nothing else in
 * it, the buffer itself goes; else "from" keeps it for its unparsed input
 * and the frames are copied into a new one, no larger than where they lay.
 */

static void
ngx_http_signaller_handover(ngx_http_signaller_session_t *from,
    ngx_http_signaller_session_t *to)
{
    ngx_http_signaller_buf_t  *b;

    if (from->in == NULL || from->out_pos == from->out_last) {
        return;
    }

    if (from->pos == from->last && !from->blocked) {
        to->orphan = from->in;
        to->orphan_pos = from->out_pos;
        to->orphan_last = from->out_last;

        from->in = NULL;
        from->pos = NULL;
        from->last = NULL;
        from->out_pos = NULL;
        from->out_last = NULL;
        return;
    }

    b = ngx_http_signaller_buf_get();

    if (b != NULL) {
        to->orphan = b;
        to->orphan_pos = b->start;
        to->orphan_last = ngx_cpymem(b->start, from->out_pos,
                                     from->out_last - from->out_pos);
    }

    /* what could not be kept is lost: "to" is being closed anyway */

    from->out_pos = from->out_last;

    if (from->blocked) {
        from->blocked = 0;
        ngx_post_event(from->connection->read, &ngx_posted_events);
    }
}


static void
ngx_http_signaller_send_close(ngx_http_signaller_session_t *s,
    ngx_uint_t code)
{
    if (s->closing || s->done) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: closing with %ui", code);

    s->closing = 1;
    s->close_pos = s->close;
    s->close_last = ngx_http_signaller_write_close(s->close, code);

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    ngx_add_timer(&s->timer, NGX_HTTP_SIGNALLER_LINGER);

    ngx_post_event(s->connection->write, &ngx_posted_events);
}


/* the client's connection is lost */

static void
ngx_http_signaller_gone(ngx_http_signaller_session_t *s)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, s->connection->log, 0,
                   "signaller: client gone");

    s->eof = 1;
    s->connection->error = 1;

    /*
     * A relayed connector's worker that shuts down closes its stream to
     * us; it is not the client that left.
     */

    ngx_http_signaller_unlink(s, (s->relayed
                                  && ngx_http_signaller_zone_left(s->zone,
                                                               s->relay_pid))
                                 ? NGX_HTTP_SIGNALLER_GOING_AWAY
                                 : NGX_HTTP_SIGNALLER_PEER_GONE);
    ngx_http_signaller_finalize(s);
}


/* the session ends from a posted event, see the comment on top */

static void
ngx_http_signaller_finalize(ngx_http_signaller_session_t *s)
{
    if (s->done) {
        return;
    }

    s->done = 1;

    ngx_post_event(s->connection->write, &ngx_posted_events);
}


static void
ngx_http_signaller_end(ngx_http_signaller_session_t *s)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = s->connection;

    ngx_http_signaller_detach(s);

    if (s->request) {
        ngx_http_finalize_request(s->request, NGX_HTTP_CLOSE);
        return;
    }

    if (!s->relayed) {
        /* a client connection whose request was released */
        ngx_http_close_connection(c);
        return;
    }

    pool = c->pool;
    ngx_close_connection(c);
    ngx_destroy_pool(pool);
}


/*
 * Releases everything a session holds outside its pool, however it ends:
 * also from the pool cleanup when nginx closes the connection itself, as
 * on worker_shutdown_timeout, where the client and the peer are told 1001.
 */

static void
ngx_http_signaller_detach(ngx_http_signaller_session_t *s)
{
    u_char             frame[sizeof(s->close)];
    ngx_uint_t         code;
    ngx_connection_t  *c;

    if (s->queue.next == NULL) {
        return;
    }

    c = s->connection;

    code = (c->close || ngx_terminate) ? NGX_HTTP_SIGNALLER_GOING_AWAY
                                       : NGX_HTTP_SIGNALLER_PEER_GONE;

    if (code == NGX_HTTP_SIGNALLER_GOING_AWAY && !s->eof
        && !(s->request && s->request->out)
        && s->orphan == NULL && s->pong_pos == NULL
        && (s->peer == NULL || s->peer->in == NULL
            || s->peer->out_pos == s->peer->out_last))
    {
        /* nothing is half sent: the client can still be told, if it reads */

        if (!s->closing) {
            (void) c->send(c, frame,
                           ngx_http_signaller_write_close(frame, code)
                           - frame);

        } else if (s->close_pos == s->close) {
            (void) c->send(c, s->close, s->close_last - s->close);
        }
    }

    s->done = 1;

    ngx_http_signaller_unlink(s, code);

    if (s->timer.timer_set) {
        ngx_del_timer(&s->timer);
    }

    if (s->in) {
        ngx_http_signaller_buf_put(s->in);
        s->in = NULL;
    }

    if (s->orphan) {
        ngx_http_signaller_buf_put(s->orphan);
        s->orphan = NULL;
    }

    if (s->early) {
        ngx_free(s->early);
        s->early = NULL;
    }

    ngx_queue_remove(&s->queue);
    s->queue.next = NULL;
}


static void
ngx_http_signaller_cleanup(void *data)
{
    ngx_http_signaller_session_t  *s = data;

    ngx_http_signaller_detach(s);
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
    ngx_http_signaller_buf_t      *b;
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

    while (ngx_http_signaller_free) {
        b = ngx_http_signaller_free;
        ngx_http_signaller_free = b->next;
        ngx_free(b);
    }
}


/* nginx stops (not a reload): every client is told 1001 now */

void
ngx_http_signaller_sessions_going_away(void)
{
    ngx_queue_t                   *q, *next;
    ngx_http_signaller_session_t  *s;

    for (q = ngx_queue_head(&ngx_http_signaller_sessions);
         q != ngx_queue_sentinel(&ngx_http_signaller_sessions);
         q = next)
    {
        next = ngx_queue_next(q);
        s = ngx_queue_data(q, ngx_http_signaller_session_t, queue);

        ngx_http_signaller_close(s, NGX_HTTP_SIGNALLER_GOING_AWAY,
                                 NGX_HTTP_SIGNALLER_GOING_AWAY);
    }
}


/* input buffers are kept in a small free list: no malloc() per read */

static ngx_http_signaller_buf_t *
ngx_http_signaller_buf_get(void)
{
    ngx_http_signaller_buf_t  *b;

    b = ngx_http_signaller_free;

    if (b) {
        ngx_http_signaller_free = b->next;
        ngx_http_signaller_nfree--;
        return b;
    }

    b = ngx_alloc(sizeof(ngx_http_signaller_buf_t)
                  + NGX_HTTP_SIGNALLER_BUFSIZE, ngx_cycle->log);
    if (b == NULL) {
        return NULL;
    }

    b->start = (u_char *) (b + 1);
    b->end = b->start + NGX_HTTP_SIGNALLER_BUFSIZE;

    return b;
}


static void
ngx_http_signaller_buf_put(ngx_http_signaller_buf_t *b)
{
    if (ngx_http_signaller_nfree >= NGX_HTTP_SIGNALLER_FREE_BUFS) {
        ngx_free(b);
        return;
    }

    b->next = ngx_http_signaller_free;
    ngx_http_signaller_free = b;
    ngx_http_signaller_nfree++;
}

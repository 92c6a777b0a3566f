
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The connector's worker of a pair that crosses workers, once the
 * listener's worker ("L") has said yes, when the client's socket cannot
 * be handed over (TLS, or bytes read behind the request): it only splices
 * bytes.  The
 * client's masked frames go to L as they are (first those nginx read
 * behind the request), and L's server frames come back.  The socket
 * buffers give flow control in both directions, and no message is ever
 * copied into shared memory.  The splice follows the server frames it
 * forwards, so that when L goes away without a close frame (a crash), the
 * client can still be told 4003 at a frame boundary.
 */


#include "ngx_http_signaller.h"


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
static void ngx_http_signaller_relay_track(ngx_http_signaller_tracker_t *t,
    u_char *p, size_t n, ngx_uint_t *messages);
static void ngx_http_signaller_relay_tell(ngx_http_signaller_relay_t *rl,
    ngx_uint_t code);
static void ngx_http_signaller_relay_cleanup(void *data);
static void ngx_http_signaller_relay_stop(ngx_http_signaller_relay_t *rl);


static ngx_queue_t  ngx_http_signaller_relays;


/* a splice for the request "r" to the listener's worker on "pc" */

ngx_http_signaller_relay_t *
ngx_http_signaller_relay_create(ngx_http_request_t *r, ngx_connection_t *pc,
    ngx_str_t *handle, ngx_str_t *key)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_signaller_relay_t     *rl;
    ngx_http_signaller_loc_conf_t  *slcf;

    rl = ngx_pcalloc(r->pool, sizeof(ngx_http_signaller_relay_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (rl == NULL || cln == NULL) {
        return NULL;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    rl->request = r;
    rl->peer = pc;
    rl->key = *key;
    rl->figures.handle = *handle;
    rl->figures.opened = ngx_current_msec;
    rl->send_timeout = slcf->send_timeout;

    rl->timer.handler = ngx_http_signaller_relay_timer;
    rl->timer.data = rl;
    rl->timer.log = r->connection->log;

    cln->handler = ngx_http_signaller_relay_cleanup;
    cln->data = rl;

    ngx_queue_insert_tail(&ngx_http_signaller_relays, &rl->queue);

    return rl;
}


void
ngx_http_signaller_relays_init(void)
{
    ngx_queue_init(&ngx_http_signaller_relays);
}


/* as with sessions: 1001 to the clients, and their sockets closed */

void
ngx_http_signaller_relays_exit(void)
{
    ngx_queue_t                 *q;
    ngx_http_signaller_relay_t  *rl;

    if (ngx_http_signaller_relays.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_signaller_relays)) {
        q = ngx_queue_head(&ngx_http_signaller_relays);
        rl = ngx_queue_data(q, ngx_http_signaller_relay_t, queue);

        ngx_http_signaller_relay_tell(rl, NGX_HTTP_SIGNALLER_GOING_AWAY);
        ngx_http_signaller_relay_cleanup(rl);
        ngx_close_connection(rl->request->connection);
    }
}


void
ngx_http_signaller_relay_start(ngx_http_signaller_relay_t *rl)
{
    ngx_connection_t               *c, *pc;
    ngx_http_request_t             *r;
    ngx_http_signaller_loc_conf_t  *slcf;

    r = rl->request;
    c = r->connection;
    pc = rl->peer;

    rl->up = ngx_create_temp_buf(r->pool, NGX_HTTP_SIGNALLER_BUFSIZE);
    rl->down = ngx_create_temp_buf(r->pool, NGX_HTTP_SIGNALLER_BUFSIZE);

    if (rl->up == NULL || rl->down == NULL) {
        ngx_http_signaller_relay_finalize(rl, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rl->figures.data = rl;
    rl->figures.paired = ngx_current_msec;
    rl->figures.crossed = 1;

    ngx_http_set_ctx(r, &rl->figures, ngx_http_signaller_module);

    if (ngx_http_signaller_upgrade(r, &rl->key,
                                   ngx_http_signaller_relay_read_handler,
                                   ngx_http_signaller_relay_write_handler)
        != NGX_OK)
    {
        ngx_http_signaller_relay_finalize(rl, NGX_ERROR);
        return;
    }

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
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    ngx_http_signaller_relay_process(f->data);
}


static void
ngx_http_signaller_relay_write_handler(ngx_http_request_t *r)
{
    ngx_http_signaller_figures_t  *f;

    f = ngx_http_get_module_ctx(r, ngx_http_signaller_module);

    ngx_http_signaller_relay_process(f->data);
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
        ngx_http_signaller_relay_stop(rl);
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

        if (!rl->down_frames.seen_close && !rl->close_sent) {
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
                ngx_http_signaller_relay_track(&rl->down_frames, b->last, n,
                                               &rl->figures.messages_out);
                rl->figures.bytes_out += n;

                if (rl->down_frames.code_bytes == 2) {
                    rl->figures.close_code = rl->down_frames.close_code;
                }

            } else {
                ngx_http_signaller_relay_track(&rl->up_frames, b->last, n,
                                               &rl->figures.messages_in);
                rl->figures.bytes_in += n;
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


/*
 * Follows the frames passing one way by their headers: where each ends,
 * how many messages end, and the status code of a close frame (server
 * frames, which are not masked).
 */

static void
ngx_http_signaller_relay_track(ngx_http_signaller_tracker_t *t, u_char *p,
    size_t n, ngx_uint_t *messages)
{
    size_t      k, need;
    uint64_t    len;
    ngx_uint_t  i, op, mask;

    while (n) {

        if (t->remaining) {

            if (t->close && t->code_bytes < 2) {
                t->close_code = (t->close_code << 8) | *p++;
                t->code_bytes++;
                t->remaining--;
                n--;
                continue;
            }

            k = (t->remaining < n) ? t->remaining : n;
            t->remaining -= k;
            p += k;
            n -= k;
            continue;
        }

        /* at most 14 bytes: a 64-bit length and a mask */

        t->header[t->header_len++] = *p++;
        n--;

        if (t->header_len < 2) {
            continue;
        }

        len = t->header[1] & 0x7f;
        mask = (t->header[1] & 0x80) ? 4 : 0;
        need = ((len == 126) ? 4 : (len == 127) ? 10 : 2) + mask;

        if (t->header_len < need) {
            continue;
        }

        if (len == 126 || len == 127) {
            len = 0;
            for (i = 2; i < need - mask; i++) {
                len = (len << 8) | t->header[i];
            }
        }

        op = t->header[0] & 0x0f;

        if ((t->header[0] & 0x80) && op < 0x08) {
            (*messages)++;
        }

        if (op == 0x08) {
            t->seen_close = 1;
            t->close = !mask;
        }

        t->remaining = len;
        t->header_len = 0;
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

    if (rl->down_frames.seen_close || rl->close_sent
        || rl->down_frames.remaining || rl->down_frames.header_len
        || rl->down == NULL || rl->down->pos != rl->down->last)
    {
        return;
    }

    rl->close_sent = 1;
    rl->figures.close_code = code;

    last = ngx_http_signaller_close_frame(frame, code);
    (void) c->send(c, frame, last - frame);
}


void
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
        ngx_http_signaller_relay_stop(rl);
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
ngx_http_signaller_relay_stop(ngx_http_signaller_relay_t *rl)
{
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(rl->request,
                                        ngx_http_signaller_module);

    ngx_http_signaller_zone_stopping(slcf->shm_zone);
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Pairs whose peers landed on different workers: what the workers say to
 * each other (wire.c), the splice of a connector whose socket stays
 * (relay_connector.c, relay_listener.c, splice.c), and the handoff of
 * one whose socket moves, over links kept between workers (link.c,
 * handoff_connector.c, handoff_listener.c).
 */


#ifndef _NGX_HTTP_SIGNALLER_CROSS_H_INCLUDED_
#define _NGX_HTTP_SIGNALLER_CROSS_H_INCLUDED_


#include <sys/un.h>


/*
 * Between workers (ngx_http_signaller_wire.c): a worker's relay socket is
 * "@ngx_http_signaller/<its name in hex>" in the abstract namespace, a
 * Unix stream per spliced pair; a connector's worker sends a preamble
 * (magic, version, flags, handle length, listener id, handle) and the
 * listener's worker answers one byte.  Its link socket, the same name and
 * "/link", takes one Unix seqpacket connection from each other worker,
 * kept for the worker's life: a handoff is a preamble with HANDOFF and a
 * tag, the client's socket attached (SCM_RIGHTS), or without HANDOFF and
 * without a socket when the connector left first; with REPORT the
 * listener's worker sends back the session's figures and the tag when it
 * ends, several sessions' in one message.
 */
#define NGX_HTTP_SIGNALLER_RELAY_NAME      "ngx_http_signaller/"
#define NGX_HTTP_SIGNALLER_LINK_NAME       "/link"
#define NGX_HTTP_SIGNALLER_PREAMBLE_MAX                                     \
    (4 + 1 + 1 + 1 + NGX_HTTP_SIGNALLER_ID_LEN                              \
     + NGX_HTTP_SIGNALLER_HANDLE_MAX)
#define NGX_HTTP_SIGNALLER_HANDOFF         0x01
#define NGX_HTTP_SIGNALLER_REPORT          0x02
#define NGX_HTTP_SIGNALLER_ANSWER_YES      'y'
#define NGX_HTTP_SIGNALLER_ANSWER_NO       'n'
#define NGX_HTTP_SIGNALLER_ANSWER_BUSY     'b'
#define NGX_HTTP_SIGNALLER_TAG_LEN         8
#define NGX_HTTP_SIGNALLER_HANDOFF_MAX                                      \
    (NGX_HTTP_SIGNALLER_PREAMBLE_MAX + NGX_HTTP_SIGNALLER_TAG_LEN)
/* 'r', the close code (2 bytes), messages in and out, bytes in and out */
#define NGX_HTTP_SIGNALLER_REPORT_LEN      (1 + 2 + 4 * 8)
/* reports go back in batches: up to 64 in one message */
#define NGX_HTTP_SIGNALLER_REPORTS         64
#define NGX_HTTP_SIGNALLER_RECORD_LEN                                       \
    (NGX_HTTP_SIGNALLER_REPORT_LEN + NGX_HTTP_SIGNALLER_TAG_LEN)
#define NGX_HTTP_SIGNALLER_LINK_MAX                                         \
    (NGX_HTTP_SIGNALLER_REPORTS * NGX_HTTP_SIGNALLER_RECORD_LEN)


typedef struct {
    ngx_http_signaller_id_t          id;
    ngx_str_t                        handle;  /* points into the input */
    ngx_uint_t                       flags;
} ngx_http_signaller_preamble_t;


/* follows the frames a splice forwards one way, by their headers */
typedef struct {
    u_char                           header[14];
    size_t                           header_len;
    uint64_t                         remaining;
    ngx_uint_t                       close_code;  /* of a close seen */
    unsigned                         code_bytes:2;
    unsigned                         close:1;     /* in a close frame */
    unsigned                         seen_close:1;
} ngx_http_signaller_tracker_t;


/* the connector's worker of a pair that crosses workers */
typedef struct {
    ngx_queue_t                      queue;   /* splices of this worker */
    ngx_http_signaller_figures_t     figures;
    ngx_http_request_t              *request;
    ngx_connection_t                *peer;
    ngx_http_signaller_ident_t       worker;  /* L */
    ngx_str_t                        key;
    ngx_buf_t                       *up;      /* client to L */
    ngx_buf_t                       *down;    /* L to client */
    ngx_event_t                      timer;
    ngx_msec_t                       send_timeout;

    /* the frames being forwarded, each way */
    ngx_http_signaller_tracker_t     up_frames;
    ngx_http_signaller_tracker_t     down_frames;

    unsigned                         close_sent:1;  /* we told the client */
    unsigned                         client_eof:1;
    unsigned                         peer_eof:1;    /* L's stream ended */
} ngx_http_signaller_relay_t;


/* a link to or from another worker (ngx_http_signaller_link.c) */
typedef struct {
    ngx_queue_t                      queue;    /* all links of a worker */
    ngx_connection_t                *connection;
    ngx_http_signaller_ident_t       worker;   /* at the other end */
    ngx_uint_t                       serial;
    ngx_queue_t                      out;      /* messages not sent yet */
    ngx_rbtree_t                     reports;  /* handoffs, by tag */
    ngx_rbtree_node_t                sentinel;
    u_char                          *batch;    /* reports not sent yet */
    size_t                           batched;
    ngx_event_t                      flush;    /* sends them */
    unsigned                         to:1;     /* we connected */
} ngx_http_signaller_link_t;


/* the connector's worker of a pair it hands over (handoff_connector.c) */
typedef struct {
    ngx_rbtree_node_t                node;     /* key: the tag */
    ngx_http_signaller_figures_t     figures;
    ngx_http_request_t              *request;
    ngx_http_signaller_link_t       *link;
    void                            *queued;   /* in the link's "out" */
    ngx_str_t                        key;
    ngx_event_t                      timer;
    ngx_msec_t                       send_timeout;
    ngx_uint_t                       flags;
    ngx_http_signaller_id_t          id;
    u_char                           handle[NGX_HTTP_SIGNALLER_HANDLE_MAX];
    unsigned                         sent:1;   /* L has the socket */
    unsigned                         handler:1; /* in the content handler */
} ngx_http_signaller_handoff_t;


/* ngx_http_signaller_wire.c */

socklen_t ngx_http_signaller_relay_addr(struct sockaddr_un *sun,
    ngx_http_signaller_id_t *name, ngx_uint_t link);
u_char *ngx_http_signaller_preamble_write(u_char *p,
    ngx_http_signaller_id_t *id, ngx_str_t *handle, ngx_uint_t flags);
ngx_int_t ngx_http_signaller_preamble_parse(u_char *buf, size_t len,
    ngx_http_signaller_preamble_t *pre);
ngx_int_t ngx_http_signaller_wire_send(ngx_socket_t fd, u_char *buf,
    size_t len, ngx_socket_t client);
ssize_t ngx_http_signaller_wire_recv(ngx_socket_t fd, u_char *buf,
    size_t size, ngx_socket_t *client, ngx_uint_t *lost);
u_char *ngx_http_signaller_tag_write(u_char *p, uint64_t tag);
uint64_t ngx_http_signaller_tag_parse(u_char *p);
u_char *ngx_http_signaller_report_write(u_char *p,
    ngx_http_signaller_figures_t *f);
ngx_int_t ngx_http_signaller_report_parse(u_char *buf,
    ngx_http_signaller_figures_t *f);


/* ngx_http_signaller_relay_listener.c */

void ngx_http_signaller_relay_init(ngx_cycle_t *cycle);
void ngx_http_signaller_relay_exit(ngx_cycle_t *cycle);
ngx_socket_t ngx_http_signaller_relay_next(ngx_connection_t *lc,
    ngx_pid_t *pid);
ngx_connection_t *ngx_http_signaller_relay_connection(ngx_socket_t fd,
    ngx_pool_t *pool, ngx_log_t *log);


/* ngx_http_signaller_relay_connector.c */

ngx_int_t ngx_http_signaller_relay_connect(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *handle, ngx_str_t *key);
ngx_int_t ngx_http_signaller_relay_reach(ngx_socket_t fd,
    ngx_http_signaller_ident_t *w, ngx_uint_t link, ngx_log_t *log);
ngx_int_t ngx_http_signaller_relay_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_signaller_relay_gone(ngx_http_request_t *r,
    ngx_http_signaller_ident_t *worker, ngx_str_t *key);


/* ngx_http_signaller_handoff_connector.c */

ngx_int_t ngx_http_signaller_handoff_start(ngx_http_request_t *r,
    ngx_http_signaller_entry_t *entry, ngx_str_t *handle, ngx_str_t *key);
void ngx_http_signaller_handoff_sent(ngx_http_signaller_handoff_t *h);
void ngx_http_signaller_handoff_failed(ngx_http_signaller_handoff_t *h);
void ngx_http_signaller_handoff_reported(ngx_http_signaller_link_t *link,
    uint64_t tag, ngx_http_signaller_figures_t *f);


/* ngx_http_signaller_handoff_listener.c */

void ngx_http_signaller_handoffs_init(void);
void ngx_http_signaller_handoffs_exit(void);
void ngx_http_signaller_handoff_receive(ngx_http_signaller_link_t *link,
    ngx_http_signaller_preamble_t *pre, uint64_t tag, ngx_socket_t fd);
void ngx_http_signaller_handoff_left(ngx_http_signaller_session_t *l,
    ngx_uint_t code);


/* ngx_http_signaller_link.c */

void ngx_http_signaller_links_init(void);
ngx_int_t ngx_http_signaller_link_init(ngx_cycle_t *cycle);
void ngx_http_signaller_link_exit(void);
ngx_http_signaller_link_t *ngx_http_signaller_link_get(
    ngx_http_signaller_ident_t *w, ngx_log_t *log, ngx_int_t *rc);
ngx_int_t ngx_http_signaller_link_send(ngx_http_signaller_link_t *link,
    u_char *buf, size_t len, ngx_socket_t fd,
    ngx_http_signaller_handoff_t *h);
void ngx_http_signaller_link_unqueue(ngx_http_signaller_handoff_t *h);
void ngx_http_signaller_link_report(ngx_uint_t serial, uint64_t tag,
    ngx_http_signaller_figures_t *f);


/* ngx_http_signaller_splice.c */

void ngx_http_signaller_relays_init(void);
void ngx_http_signaller_relays_exit(void);
ngx_http_signaller_relay_t *ngx_http_signaller_relay_create(
    ngx_http_request_t *r, ngx_connection_t *pc, ngx_str_t *handle,
    ngx_str_t *key);
void ngx_http_signaller_relay_start(ngx_http_signaller_relay_t *rl);
void ngx_http_signaller_relay_finalize(ngx_http_signaller_relay_t *rl,
    ngx_int_t rc);


#endif /* _NGX_HTTP_SIGNALLER_CROSS_H_INCLUDED_ */

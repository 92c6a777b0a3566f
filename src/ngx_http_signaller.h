
/*
 * Copyright (C) The signaller for nginx authors
 */


#ifndef _NGX_HTTP_SIGNALLER_H_INCLUDED_
#define _NGX_HTTP_SIGNALLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_SIGNALLER_HANDLE_MIN      3
#define NGX_HTTP_SIGNALLER_HANDLE_MAX      63

/* random identifiers: relay socket names, listener ids */
#define NGX_HTTP_SIGNALLER_ID_LEN          16

#define NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED  426

/* close codes of the protocol */
#define NGX_HTTP_SIGNALLER_NORMAL          1000
#define NGX_HTTP_SIGNALLER_GOING_AWAY      1001
#define NGX_HTTP_SIGNALLER_PROTOCOL_ERROR  1002
#define NGX_HTTP_SIGNALLER_INVALID_PAYLOAD 1007
#define NGX_HTTP_SIGNALLER_TOO_BIG         1009
#define NGX_HTTP_SIGNALLER_INTERNAL_ERROR  1011
#define NGX_HTTP_SIGNALLER_LISTEN_TIMEOUT  4000
#define NGX_HTTP_SIGNALLER_PIPE_TIMEOUT    4001
#define NGX_HTTP_SIGNALLER_TOO_MANY        4002
#define NGX_HTTP_SIGNALLER_PEER_GONE       4003
#define NGX_HTTP_SIGNALLER_NO_SUCH_HANDLE  4004
#define NGX_HTTP_SIGNALLER_RATE_LIMITED    4008
#define NGX_HTTP_SIGNALLER_HANDLE_TAKEN    4009
#define NGX_HTTP_SIGNALLER_TOO_MANY_REQUESTS  4029
#define NGX_HTTP_SIGNALLER_FORBIDDEN       4030

/* signaller_log_at */
#define NGX_HTTP_SIGNALLER_LOG_END         0
#define NGX_HTTP_SIGNALLER_LOG_HANDSHAKE   1

/* signaller_refusal */
#define NGX_HTTP_SIGNALLER_REFUSAL_HTTP    0
#define NGX_HTTP_SIGNALLER_REFUSAL_CLOSE   1

/*
 * A session's input buffer: frames from its client are parsed in place and
 * rewritten as server frames into [out_pos, out_last), which is what the
 * peer's connection sends.  Big enough for any control frame and several
 * small messages; messages larger than this are relayed in pieces.
 */
#define NGX_HTTP_SIGNALLER_BUFSIZE         16384

/* room for the largest server frame header before a payload piece */
#define NGX_HTTP_SIGNALLER_HEADROOM        10

/* how long the server waits for the client's close frame after its own */
#define NGX_HTTP_SIGNALLER_LINGER          2000


/* the close codes a session ends with, by index (status.c), and others */
#define NGX_HTTP_SIGNALLER_CODES           17

/* the statuses and close codes a handshake is refused with, and others */
#define NGX_HTTP_SIGNALLER_REFUSALS        13


/*
 * What a zone counts, for signaller_status: every worker adds to these,
 * on the relay path too, with atomic additions and no lock.
 */
typedef struct {
    ngx_atomic_t                     pairings;
    ngx_atomic_t                     messages;
    ngx_atomic_t                     bytes;    /* of the frames relayed */
    ngx_atomic_t                     pings;
    ngx_atomic_t                     dropped;  /* for not answering */
    ngx_atomic_t                     ended[NGX_HTTP_SIGNALLER_CODES];
    ngx_atomic_t                     refused[NGX_HTTP_SIGNALLER_REFUSALS];
} ngx_http_signaller_counters_t;


typedef struct {
    ngx_rbtree_t                     rbtree;
    ngx_rbtree_node_t                sentinel;
    ngx_queue_t                      workers;
    ngx_uint_t                       entries;
    ngx_uint_t                       taken;    /* of them, being paired */
    ngx_uint_t                       generation;  /* configuration loads */
    ngx_http_signaller_counters_t    counters;
} ngx_http_signaller_shctx_t;


#define ngx_http_signaller_counters(zone)                                     \
    (&((ngx_http_signaller_zone_ctx_t *) (zone)->data)->sh->counters)

#define ngx_http_signaller_count(zone, counter, n)                            \
    (void) ngx_atomic_fetch_add(&ngx_http_signaller_counters(zone)->counter, n)


/* a worker's record in a zone */
typedef struct ngx_http_signaller_worker_s  ngx_http_signaller_worker_t;


typedef struct {
    ngx_http_signaller_shctx_t      *sh;
    ngx_slab_pool_t                 *shpool;
    ngx_queue_t                     *self;    /* this worker's record */
} ngx_http_signaller_zone_ctx_t;


typedef struct {
    ngx_uint_t                       waiting;
    ngx_uint_t                       workers;
    ngx_uint_t                       pipes;      /* in one worker */
    ngx_uint_t                       crossing;   /* across workers */
    ngx_uint_t                       pages;
    ngx_uint_t                       free;
    ngx_http_signaller_counters_t    counters;
} ngx_http_signaller_stats_t;


typedef struct {
    ngx_flag_t                       enable;
    ngx_shm_zone_t                  *shm_zone;
    ngx_msec_t                       listen_timeout;
    ngx_msec_t                       pipe_timeout;
    size_t                           max_message_size;
    ngx_uint_t                       max_messages;
    ngx_array_t                     *origins; /* ngx_regex_elt_t */
    ngx_uint_t                       origin_any;
    ngx_msec_t                       send_timeout;
    ngx_uint_t                       refusal;
    ngx_msec_t                       ping_interval;
    ngx_uint_t                       rate;     /* messages per 1000 s */
    ngx_uint_t                       burst;    /* in 1/1000 messages */
    ngx_uint_t                       max_listeners;
    ngx_uint_t                       log_at;
    ngx_array_t                     *secrets;    /* ngx_str_t */
    ngx_str_t                        turn_secret;
    time_t                           turn_ttl;
    ngx_array_t                     *turn_uris;  /* ngx_str_t */
    ngx_array_t                     *stun_uris;  /* ngx_str_t */
    ngx_flag_t                       ice_servers;
} ngx_http_signaller_loc_conf_t;


typedef struct {
    ngx_array_t                      zones;   /* ngx_shm_zone_t * */
} ngx_http_signaller_main_conf_t;


typedef struct {
    u_char                           data[NGX_HTTP_SIGNALLER_ID_LEN];
} ngx_http_signaller_id_t;


/*
 * A worker as the zone records it: what tells it from any other process,
 * a later one with the same pid included, and where it can be reached.
 */
typedef struct {
    ngx_pid_t                        pid;       /* in our pid namespace */
    ngx_pid_t                        proc_pid;  /* in /proc's; 0: unknown */
    uid_t                            uid;
    uint64_t                         start;     /* since boot; 0: unknown */
    ngx_http_signaller_id_t          name;      /* of its relay socket */
    ngx_uint_t                       reachable; /* it has one */
} ngx_http_signaller_ident_t;


/* what a lookup in the pairing table found */
typedef struct {
    ngx_http_signaller_ident_t       worker;
    ngx_http_signaller_id_t          id;
} ngx_http_signaller_entry_t;


/* in the zone */

struct ngx_http_signaller_worker_s {
    ngx_queue_t                      queue;   /* in shctx->workers */
    ngx_queue_t                      entries;
    ngx_queue_t                      taken;   /* entries it is pairing */
    ngx_http_signaller_ident_t       ident;
    ngx_uint_t                       generation;
    ngx_uint_t                       stopping; /* stops or exited, on purpose */
    ngx_atomic_t                     pipes;    /* open in this worker */
    ngx_atomic_t                     crossing; /* ... relayed from another */
};


typedef struct {
    ngx_str_node_t                   sn;      /* key: crc32 of the handle */
    ngx_queue_t                      queue;   /* in its worker's entries */
    ngx_queue_t                      taken;   /* in its taker's */
    ngx_http_signaller_worker_t     *worker;
    ngx_http_signaller_worker_t     *taker;   /* pairs it; NULL: none yet */
    ngx_http_signaller_id_t          id;
    u_char                           data[1];
} ngx_http_signaller_node_t;


typedef struct ngx_http_signaller_buf_s  ngx_http_signaller_buf_t;

struct ngx_http_signaller_buf_s {
    ngx_http_signaller_buf_t        *next;    /* in the free list */
    u_char                          *start;
    u_char                          *end;
};


/* incremental parser of client (masked) frames */
typedef struct {
    ngx_uint_t                       state;
    uint64_t                         remaining;
    uint64_t                         msg_size;
    uint32_t                         utf8;
    u_char                           mask[4];
    ngx_uint_t                       mask_off;
    unsigned                         msg_opcode:4;
    unsigned                         fin:1;
    unsigned                         in_message:1;
    unsigned                         first_piece:1;
} ngx_http_signaller_parser_t;


/*
 * What a peer's access log line reports ($signaller_*), kept by its
 * session, or by the splice of a connector relayed to another worker.
 * The request's module context points here; "data" is the owner.
 */
typedef struct {
    void                            *data;
    ngx_str_t                        handle;
    ngx_uint_t                       close_code;  /* 0: none sent */
    ngx_uint_t                       messages_in;
    ngx_uint_t                       messages_out;
    off_t                            bytes_in;
    off_t                            bytes_out;
    ngx_msec_t                       opened;
    ngx_msec_t                       paired;      /* 0: never */
    unsigned                         listener:1;
    unsigned                         crossed:1;
} ngx_http_signaller_figures_t;


/* what a released request's access log line needs (log.c) */
typedef struct ngx_http_signaller_logreq_s  ngx_http_signaller_logreq_t;


typedef struct ngx_http_signaller_session_s  ngx_http_signaller_session_t;

struct ngx_http_signaller_session_s {
    ngx_rbtree_node_t                node;    /* by id, while waiting */
    ngx_queue_t                      queue;   /* all sessions of a worker */

    ngx_connection_t                *connection;
    ngx_http_request_t              *request; /* until released */
    ngx_http_signaller_loc_conf_t   *conf;
    ngx_http_signaller_session_t    *peer;
    ngx_shm_zone_t                  *zone;

    ngx_str_t                        handle;
    u_char                           handle_data[
                                         NGX_HTTP_SIGNALLER_HANDLE_MAX];
    ngx_http_signaller_id_t          id;
    ngx_pid_t                        relay_pid;   /* the connector's worker */

    ngx_http_signaller_figures_t     figures;
    ngx_http_signaller_logreq_t     *logreq;  /* signaller_log_at end */

    /* a handed-over connector's worker logs it from our figures */
    ngx_uint_t                       link;    /* its serial; 0: none */
    uint64_t                         tag;

    ngx_event_t                      timer;
    ngx_event_t                      ping;    /* signaller_ping_interval */

    /* what the client sent behind its request, read before the socket */
    ngx_http_signaller_buf_t        *early;
    u_char                          *early_pos;

    /* input from the client and its rewritten frames for the peer */
    ngx_http_signaller_buf_t        *in;
    u_char                          *pos;
    u_char                          *last;
    u_char                          *out_pos;
    u_char                          *out_last;

    /* frames of the former peer still to be sent to this client */
    ngx_http_signaller_buf_t        *orphan;
    u_char                          *orphan_pos;
    u_char                          *orphan_last;

    ngx_http_signaller_parser_t      parser;

    /* signaller_message_rate, as limit_req's leaky bucket */
    ngx_msec_t                       rate_last;
    ngx_uint_t                       rate_excess;

    /* 2 + 125: allocated at the first ping, most clients never send one */
    u_char                          *pong;
    u_char                           close[4 + 20];
    u_char                          *pong_pos;
    u_char                          *pong_last;
    u_char                          *ping_pos;
    u_char                          *ping_last;
    u_char                          *close_pos;
    u_char                          *close_last;

    /* a connector relayed from another worker, on a Unix stream */
    unsigned                         relayed:1;
    /* a connector whose socket another worker handed over */
    unsigned                         handed:1;
    /* a listener in the table, not paired yet */
    unsigned                         waiting:1;
    /* its close frame is queued: the closing handshake has begun */
    unsigned                         closing:1;
    /* its client broke the protocol: the input is only drained */
    unsigned                         failed:1;
    /* after "failed", our end of the stream is shut to ask for a close */
    unsigned                         shut:1;
    /* the client's close frame has come */
    unsigned                         close_received:1;
    /* its buffer is full of frames the peer has not sent yet */
    unsigned                         blocked:1;
    /* a pong is queued: no input is parsed until it is sent */
    unsigned                         pong_wait:1;
    /* the client's connection is lost */
    unsigned                         eof:1;
    /* the session has ended: it is finalized from a posted event */
    unsigned                         done:1;
    /* a ping went out, and nothing has been read since */
    unsigned                         ping_unanswered:1;
    /* a handshake refused with a close code (signaller_refusal close) */
    unsigned                         refusal:1;
};


/* ngx_http_signaller_frame.c */

typedef struct {
    ngx_uint_t                       code;
    ngx_str_t                        reason;
} ngx_http_signaller_reason_t;

/* every close code the server sends, with its reason */
extern ngx_http_signaller_reason_t  ngx_http_signaller_reasons[];

#define NGX_HTTP_SIGNALLER_FRAME_AGAIN   0
#define NGX_HTTP_SIGNALLER_FRAME_MESSAGE 1
#define NGX_HTTP_SIGNALLER_FRAME_PING    2
#define NGX_HTTP_SIGNALLER_FRAME_PONG    3
#define NGX_HTTP_SIGNALLER_FRAME_CLOSE   4
#define NGX_HTTP_SIGNALLER_FRAME_ERROR   5

/* a control frame's payload, or the close code to fail the stream with */
typedef struct {
    u_char                          *payload;
    size_t                           len;
    ngx_uint_t                       code;    /* FRAME_ERROR */
} ngx_http_signaller_frame_t;

void ngx_http_signaller_parser_init(ngx_http_signaller_parser_t *p);
ngx_int_t ngx_http_signaller_parse(ngx_http_signaller_parser_t *p,
    u_char **pos, u_char *last, u_char **out, size_t max_size,
    ngx_uint_t discard, ngx_http_signaller_frame_t *frame);
ngx_int_t ngx_http_signaller_close_code(u_char *p, size_t len,
    ngx_uint_t *code);
u_char *ngx_http_signaller_close_frame(u_char *p, ngx_uint_t code);
ngx_str_t *ngx_http_signaller_reason(ngx_uint_t code);
ngx_int_t ngx_http_signaller_utf8(uint32_t *state, u_char *p, size_t len);


/* ngx_http_signaller_ident.c */

ngx_int_t ngx_http_signaller_random(void *buf, size_t len);
void ngx_http_signaller_ident_init(void);
ngx_uint_t ngx_http_signaller_ident_same(ngx_http_signaller_ident_t *a,
    ngx_http_signaller_ident_t *b);
ngx_uint_t ngx_http_signaller_ident_alive(ngx_http_signaller_ident_t *w);
ngx_int_t ngx_http_signaller_ident_peer(ngx_socket_t fd, struct ucred *cred);
ngx_uint_t ngx_http_signaller_ident_match(struct ucred *cred,
    ngx_http_signaller_ident_t *w);

extern ngx_http_signaller_ident_t  ngx_http_signaller_self;


/* ngx_http_signaller_handshake.c */

ngx_int_t ngx_http_signaller_route(ngx_http_request_t *r, ngx_str_t *handle,
    ngx_uint_t *listen);
ngx_int_t ngx_http_signaller_handle_valid(ngx_str_t *handle);
ngx_int_t ngx_http_signaller_check_request(ngx_http_request_t *r,
    ngx_http_signaller_loc_conf_t *slcf, ngx_str_t *key);


/* ngx_http_signaller_module.c */

ngx_int_t ngx_http_signaller_handler(ngx_http_request_t *r);


/* ngx_http_signaller_conf.c */

#define NGX_HTTP_SIGNALLER_ZONE_SIZE       1048576

void *ngx_http_signaller_create_main_conf(ngx_conf_t *cf);
void *ngx_http_signaller_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_signaller_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
char *ngx_http_signaller_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_origin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_message_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_turn_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_uris(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_ice_servers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_signaller_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_signaller_token.c */

/* who a token is for: a bit each, so that a check can accept either */
#define NGX_HTTP_SIGNALLER_ROLE_LISTEN     0x1
#define NGX_HTTP_SIGNALLER_ROLE_CONNECT    0x2
#define NGX_HTTP_SIGNALLER_ROLE_ANY        0x3

ngx_int_t ngx_http_signaller_check_token(ngx_http_request_t *r,
    ngx_array_t *secrets, ngx_str_t *handle, ngx_uint_t roles);
void ngx_http_signaller_hide_token(ngx_http_request_t *r);


/* ngx_http_signaller_ice.c */

ngx_int_t ngx_http_signaller_ice_handler(ngx_http_request_t *r);


/* ngx_http_signaller_zone.c */

char *ngx_http_signaller_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_shm_zone_t **zone);
ngx_int_t ngx_http_signaller_zone_register(ngx_shm_zone_t *zone);
void ngx_http_signaller_zone_unregister(ngx_shm_zone_t *zone);
void ngx_http_signaller_zone_sweep(ngx_shm_zone_t *zone);
void ngx_http_signaller_purge(ngx_shm_zone_t *zone,
    ngx_http_signaller_ident_t *ident);
ngx_uint_t ngx_http_signaller_zone_gone(ngx_shm_zone_t *zone,
    ngx_http_signaller_ident_t *w);
ngx_int_t ngx_http_signaller_zone_worker(ngx_shm_zone_t *zone,
    ngx_pid_t pid, ngx_http_signaller_ident_t *ident);
ngx_uint_t ngx_http_signaller_zone_reloaded(ngx_shm_zone_t *zone);
void ngx_http_signaller_zone_reload(ngx_cycle_t *cycle);
void ngx_http_signaller_zone_stopping(ngx_shm_zone_t *zone);
ngx_uint_t ngx_http_signaller_zone_stopped(ngx_shm_zone_t *zone,
    ngx_pid_t pid);
void ngx_http_signaller_zone_stats(ngx_shm_zone_t *zone,
    ngx_http_signaller_stats_t *stats);
void ngx_http_signaller_zone_pipe(ngx_shm_zone_t *zone, ngx_uint_t crossing,
    ngx_atomic_int_t n);


/* ngx_http_signaller_table.c */

ngx_int_t ngx_http_signaller_table_insert(ngx_shm_zone_t *zone,
    ngx_str_t *handle, ngx_uint_t max, ngx_http_signaller_id_t *id);
ngx_int_t ngx_http_signaller_table_find(ngx_shm_zone_t *zone,
    ngx_str_t *handle, ngx_http_signaller_entry_t *entry);
ngx_int_t ngx_http_signaller_table_take(ngx_shm_zone_t *zone,
    ngx_str_t *handle, ngx_http_signaller_id_t *id);
ngx_int_t ngx_http_signaller_table_delete(ngx_shm_zone_t *zone,
    ngx_str_t *handle, ngx_http_signaller_id_t *id);
void ngx_http_signaller_free_node(ngx_http_signaller_zone_ctx_t *ctx,
    ngx_http_signaller_node_t *node);


/* ngx_http_signaller_session.c */

void ngx_http_signaller_sessions_init(void);
void ngx_http_signaller_sessions_exit(void);
void ngx_http_signaller_sessions_stop(void);
ngx_http_signaller_session_t *ngx_http_signaller_session_create(
    ngx_pool_t *pool, ngx_connection_t *c,
    ngx_http_signaller_loc_conf_t *slcf);
void ngx_http_signaller_session_listen(ngx_http_signaller_session_t *s,
    ngx_str_t *handle, ngx_http_signaller_id_t *id);
ngx_http_signaller_session_t *ngx_http_signaller_session_find(
    ngx_http_signaller_id_t *id);
void ngx_http_signaller_session_start(ngx_http_signaller_session_t *s,
    ngx_http_signaller_session_t *listener, ngx_buf_t *early);
ngx_int_t ngx_http_signaller_session_unlist(ngx_http_signaller_session_t *s);


/* ngx_http_signaller_buf.c */

ngx_http_signaller_buf_t *ngx_http_signaller_buf_get(void);
void ngx_http_signaller_buf_put(ngx_http_signaller_buf_t *b);
void ngx_http_signaller_bufs_exit(void);
void ngx_http_signaller_buf_reset(ngx_http_signaller_session_t *s);
void ngx_http_signaller_buf_idle(ngx_http_signaller_session_t *s);
ngx_int_t ngx_http_signaller_room(ngx_http_signaller_session_t *s);
void ngx_http_signaller_handover(ngx_http_signaller_session_t *from,
    ngx_http_signaller_session_t *to);


/* ngx_http_signaller_read.c */

void ngx_http_signaller_session_read_event(ngx_event_t *ev);
void ngx_http_signaller_session_read(ngx_http_signaller_session_t *s);


/* ngx_http_signaller_write.c */

void ngx_http_signaller_session_write_event(ngx_event_t *ev);
void ngx_http_signaller_session_write(ngx_http_signaller_session_t *s);
void ngx_http_signaller_flush(ngx_http_signaller_session_t *s);


/* ngx_http_signaller_close.c */

void ngx_http_signaller_close_pair(ngx_http_signaller_session_t *s,
    ngx_uint_t code, ngx_uint_t peer_code);
void ngx_http_signaller_close(ngx_http_signaller_session_t *s,
    ngx_uint_t code);
void ngx_http_signaller_timer_handler(ngx_event_t *ev);
void ngx_http_signaller_ping_handler(ngx_event_t *ev);
void ngx_http_signaller_gone(ngx_http_signaller_session_t *s);
void ngx_http_signaller_end(ngx_http_signaller_session_t *s);
void ngx_http_signaller_finalize(ngx_http_signaller_session_t *s);
void ngx_http_signaller_detach(ngx_http_signaller_session_t *s);
void ngx_http_signaller_cleanup(void *data);


/* ngx_http_signaller_upgrade.c */

ngx_int_t ngx_http_signaller_refuse(ngx_http_request_t *r, ngx_int_t status,
    ngx_str_t *key);
ngx_int_t ngx_http_signaller_upgrade(ngx_http_request_t *r, ngx_str_t *key,
    ngx_http_event_handler_pt read, ngx_http_event_handler_pt write);
ngx_uint_t ngx_http_signaller_request_tied(ngx_http_request_t *r);
ngx_int_t ngx_http_signaller_takeover(ngx_http_request_t *r,
    ngx_http_signaller_session_t *s, ngx_http_signaller_session_t *l,
    ngx_str_t *key);


/* ngx_http_signaller_variables.c */

ngx_int_t ngx_http_signaller_add_variables(ngx_conf_t *cf);


/* ngx_http_signaller_log.c */

ngx_http_signaller_logreq_t *ngx_http_signaller_log_keep(
    ngx_http_request_t *r);
void ngx_http_signaller_log_end(ngx_http_signaller_session_t *s);


/* ngx_http_signaller_status.c */

ngx_int_t ngx_http_signaller_status_handler(ngx_http_request_t *r);
void ngx_http_signaller_count_ended(ngx_shm_zone_t *zone, ngx_uint_t code);
void ngx_http_signaller_count_refused(ngx_shm_zone_t *zone, ngx_uint_t code);


/* ngx_http_signaller_worker.c */

ngx_shm_zone_t **ngx_http_signaller_zones(ngx_cycle_t *cycle, ngx_uint_t *n);
ngx_int_t ngx_http_signaller_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_signaller_init_process(ngx_cycle_t *cycle);
void ngx_http_signaller_exit_process(ngx_cycle_t *cycle);
void ngx_http_signaller_worker_shutdown(void);


extern ngx_module_t  ngx_http_signaller_module;


#include "ngx_http_signaller_cross.h"


#endif /* _NGX_HTTP_SIGNALLER_H_INCLUDED_ */

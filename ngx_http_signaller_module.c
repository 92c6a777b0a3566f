
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * signaller: a WebRTC signalling relay.  One peer opens a WebSocket to
 * .../listen/<handle>, the other to .../connect/<handle>; the module pairs
 * them and relays their messages.  This file holds the list of directives
 * (read in src/ngx_http_signaller_conf.c), the module definition and the
 * content handler; see src/ for the rest.
 */


#include "ngx_http_signaller.h"


static ngx_int_t ngx_http_signaller_postconfiguration(ngx_conf_t *cf);


static ngx_conf_num_bounds_t  ngx_http_signaller_max_messages_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_MAX_INT32_VALUE
};


static ngx_conf_enum_t  ngx_http_signaller_refusals[] = {
    { ngx_string("http"), NGX_HTTP_SIGNALLER_REFUSAL_HTTP },
    { ngx_string("close"), NGX_HTTP_SIGNALLER_REFUSAL_CLOSE },
    { ngx_null_string, 0 }
};


/* what a browser's RTCPeerConnection accepts in each list */
static ngx_str_t  ngx_http_signaller_turn_schemes[] = {
    ngx_string("turn:"),
    ngx_string("turns:"),
    ngx_null_string
};


static ngx_str_t  ngx_http_signaller_stun_schemes[] = {
    ngx_string("stun:"),
    ngx_string("stuns:"),
    ngx_null_string
};


static ngx_conf_enum_t  ngx_http_signaller_log_ats[] = {
    { ngx_string("end"), NGX_HTTP_SIGNALLER_LOG_END },
    { ngx_string("handshake"), NGX_HTTP_SIGNALLER_LOG_HANDSHAKE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_signaller_commands[] = {

    { ngx_string("signaller"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, enable),
      NULL },

    { ngx_string("signaller_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_signaller_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_listen_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, listen_timeout),
      NULL },

    { ngx_string("signaller_pipe_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, pipe_timeout),
      NULL },

    { ngx_string("signaller_max_message_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_message_size),
      NULL },

    { ngx_string("signaller_max_messages"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_messages),
      &ngx_http_signaller_max_messages_bounds },

    { ngx_string("signaller_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_signaller_origin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_refusal"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, refusal),
      &ngx_http_signaller_refusals },

    { ngx_string("signaller_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, ping_interval),
      NULL },

    { ngx_string("signaller_message_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_signaller_message_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_max_listeners"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, max_listeners),
      &ngx_http_signaller_max_messages_bounds },

    { ngx_string("signaller_log_at"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, log_at),
      &ngx_http_signaller_log_ats },

    { ngx_string("signaller_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_signaller_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_ice_servers"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_signaller_ice_servers,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_turn_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_signaller_turn_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("signaller_turn_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, turn_ttl),
      NULL },

    { ngx_string("signaller_turn_uris"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_signaller_uris,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, turn_uris),
      &ngx_http_signaller_turn_schemes },

    { ngx_string("signaller_stun_uris"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_signaller_uris,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_signaller_loc_conf_t, stun_uris),
      &ngx_http_signaller_stun_schemes },

    { ngx_string("signaller_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_signaller_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_signaller_module_ctx = {
    ngx_http_signaller_add_variables,      /* preconfiguration */
    ngx_http_signaller_postconfiguration,  /* postconfiguration */

    ngx_http_signaller_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_signaller_create_loc_conf,    /* create location configuration */
    ngx_http_signaller_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_signaller_module = {
    NGX_MODULE_V1,
    &ngx_http_signaller_module_ctx,        /* module context */
    ngx_http_signaller_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_signaller_init_module,        /* init module */
    ngx_http_signaller_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_signaller_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_int_t
ngx_http_signaller_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       handle, key;
    ngx_uint_t                      listen;
    ngx_http_signaller_id_t         id;
    ngx_http_signaller_entry_t      entry;
    ngx_http_signaller_session_t   *s, *l;
    ngx_http_signaller_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_signaller_module);

    if (slcf->secrets) {
        ngx_http_signaller_hide_token(r);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_null(&key);

    if (ngx_http_signaller_route(r, &handle, &listen) != NGX_OK) {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    rc = ngx_http_signaller_check_request(r, slcf, &key);
    if (rc != NGX_OK) {
        return ngx_http_signaller_refuse(r, rc, &key);
    }

    if (slcf->secrets
        && ngx_http_signaller_check_token(r, slcf->secrets, &handle,
                                          listen
                                          ? NGX_HTTP_SIGNALLER_ROLE_LISTEN
                                          : NGX_HTTP_SIGNALLER_ROLE_CONNECT)
           != NGX_OK)
    {
        return ngx_http_signaller_refuse(r, NGX_HTTP_FORBIDDEN, &key);
    }

    if (listen) {
        switch (ngx_http_signaller_table_insert(slcf->shm_zone, &handle,
                                                slcf->max_listeners, &id))
        {
        case NGX_OK:
            break;
        case NGX_BUSY:
            return ngx_http_signaller_refuse(r, NGX_HTTP_CONFLICT, &key);
        case NGX_DECLINED:
        case NGX_AGAIN:
            return ngx_http_signaller_refuse(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                             &key);
        default:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s = ngx_http_signaller_session_create(r->connection->pool,
                                              r->connection, slcf);
        if (s == NULL) {
            (void) ngx_http_signaller_table_delete(slcf->shm_zone, &handle,
                                                   &id);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_signaller_session_listen(s, &handle, &id);

        return ngx_http_signaller_takeover(r, s, NULL, &key);
    }

    if (ngx_http_signaller_table_find(slcf->shm_zone, &handle, &entry)
        != NGX_OK)
    {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    if (!ngx_http_signaller_ident_same(&entry.worker,
                                       &ngx_http_signaller_self))
    {
        return ngx_http_signaller_relay_connect(r, &entry, &handle, &key);
    }

    l = ngx_http_signaller_session_find(&entry.id);
    if (l == NULL || !l->waiting || l->closing
        || ngx_http_signaller_table_take(slcf->shm_zone, &handle, &entry.id)
           != NGX_OK)
    {
        return ngx_http_signaller_refuse(r, NGX_HTTP_NOT_FOUND, &key);
    }

    /* a pair keeps the limits of the listener's location */

    s = ngx_http_signaller_session_create(r->connection->pool,
                                          r->connection, l->conf);

    rc = s ? ngx_http_signaller_takeover(r, s, l, &key)
           : NGX_HTTP_INTERNAL_SERVER_ERROR;

    if (rc != NGX_DONE) {
        /* taken and never paired: as if its connector had come and gone */
        ngx_http_signaller_close_pair(l, NGX_HTTP_SIGNALLER_PEER_GONE, 0);
    }

    return rc;
}


/* zones named without a size anywhere get the default size */

static ngx_int_t
ngx_http_signaller_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_shm_zone_t                 **zones;
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_signaller_module);

    zones = smcf->zones.elts;

    for (i = 0; i < smcf->zones.nelts; i++) {
        if (zones[i]->shm.size == 0) {
            zones[i]->shm.size = NGX_HTTP_SIGNALLER_ZONE_SIZE;
        }
    }

    return NGX_OK;
}

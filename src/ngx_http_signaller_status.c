
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * What the zones count, and signaller_status, which shows it: a line of
 * text per zone (the first format, kept for scripts), JSON, or the
 * Prometheus text exposition format.  Every figure is the zone's, summed
 * over all the workers that use it, old generations still running
 * included; counters live in the zone and survive a reload that keeps it.
 */


#include "ngx_http_signaller.h"


#define NGX_HTTP_SIGNALLER_TEXT        0
#define NGX_HTTP_SIGNALLER_JSON        1
#define NGX_HTTP_SIGNALLER_PROMETHEUS  2

/* room for the text that does not depend on the zones */
#define NGX_HTTP_SIGNALLER_STATUS_TEXT  4096


typedef struct {
    ngx_str_t                        name;
    ngx_str_t                        help;
    ngx_uint_t                       counter;  /* else a gauge */
    size_t                           offset;   /* in stats_t */
} ngx_http_signaller_figure_t;


static ngx_uint_t ngx_http_signaller_format(ngx_http_request_t *r);
static u_char *ngx_http_signaller_status_body(u_char *p, ngx_uint_t format,
    ngx_shm_zone_t **zones, ngx_uint_t n, ngx_http_signaller_stats_t *stats,
    ngx_str_t *type);
static ngx_uint_t ngx_http_signaller_code_index(ngx_uint_t code);
static u_char *ngx_http_signaller_code_label(u_char *p, ngx_uint_t *codes,
    ngx_uint_t n, ngx_uint_t i);
static u_char *ngx_http_signaller_text(u_char *p, ngx_str_t *zone,
    ngx_http_signaller_stats_t *st);
static u_char *ngx_http_signaller_json(u_char *p, ngx_str_t *zone,
    ngx_http_signaller_stats_t *st);
static u_char *ngx_http_signaller_json_codes(u_char *p, char *name,
    ngx_atomic_t *counts, ngx_uint_t *codes, ngx_uint_t n);
static u_char *ngx_http_signaller_prometheus(u_char *p, ngx_uint_t i,
    ngx_shm_zone_t **zones, ngx_uint_t nzones,
    ngx_http_signaller_stats_t *stats);
static u_char *ngx_http_signaller_prometheus_codes(u_char *p, char *name,
    char *help, ngx_shm_zone_t **zones, ngx_uint_t nzones,
    ngx_http_signaller_stats_t *stats, ngx_uint_t refused);


/* the statuses and close codes refusals are counted by; 0: any other */
static ngx_uint_t  ngx_http_signaller_refusal_codes[] = {
    400, 403, 404, 405, 409, 426, 500, 503,
    NGX_HTTP_SIGNALLER_NO_SUCH_HANDLE,
    NGX_HTTP_SIGNALLER_HANDLE_TAKEN,
    NGX_HTTP_SIGNALLER_TOO_MANY_REQUESTS,
    NGX_HTTP_SIGNALLER_FORBIDDEN,
    0
};

/* the close codes sessions end with, filled from the reasons: 0 none */
static ngx_uint_t  ngx_http_signaller_end_codes[NGX_HTTP_SIGNALLER_CODES];


#define ngx_http_signaller_figure(name, help, counter, field)                 \
    { ngx_string(name), ngx_string(help), counter,                            \
      offsetof(ngx_http_signaller_stats_t, field) }

static ngx_http_signaller_figure_t  ngx_http_signaller_figures[] = {
    ngx_http_signaller_figure("waiting_listeners",
        "Listeners waiting for a connector.", 0, waiting),
    ngx_http_signaller_figure("pipes",
        "Open pipes whose peers are in one worker.", 0, pipes),
    ngx_http_signaller_figure("crossing_pipes",
        "Open pipes whose peers are in two workers.", 0, crossing),
    ngx_http_signaller_figure("workers",
        "Workers using the zone, not those shutting down.", 0, workers),
    ngx_http_signaller_figure("pairings_total",
        "Listeners and connectors paired.", 1, counters.pairings),
    ngx_http_signaller_figure("messages_total",
        "Messages relayed.", 1, counters.messages),
    ngx_http_signaller_figure("relayed_bytes_total",
        "Bytes of frames relayed.", 1, counters.bytes),
    ngx_http_signaller_figure("pings_total",
        "Pings sent (signaller_ping_interval).", 1, counters.pings),
    ngx_http_signaller_figure("dropped_peers_total",
        "Peers closed for not answering a ping.", 1, counters.dropped),
    { ngx_null_string, ngx_null_string, 0, 0 }
};


/* counted where a session ends: by the close code it was sent */

void
ngx_http_signaller_count_ended(ngx_shm_zone_t *zone, ngx_uint_t code)
{
    ngx_http_signaller_count(zone, ended[ngx_http_signaller_code_index(code)],
                             1);
}


void
ngx_http_signaller_count_refused(ngx_shm_zone_t *zone, ngx_uint_t code)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_signaller_refusal_codes[i]; i++) {
        if (ngx_http_signaller_refusal_codes[i] == code) {
            break;
        }
    }

    ngx_http_signaller_count(zone, refused[i], 1);
}


/* the reasons' codes, then 0 for none, then the slot for any other */

static ngx_uint_t
ngx_http_signaller_code_index(ngx_uint_t code)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_signaller_reasons[i].code; i++) {
        if (ngx_http_signaller_reasons[i].code == code) {
            return i;
        }
    }

    return (code == 0) ? i : i + 1;
}


ngx_int_t
ngx_http_signaller_status_handler(ngx_http_request_t *r)
{
    size_t                        len;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_uint_t                    i, n, format;
    ngx_chain_t                   out;
    ngx_shm_zone_t              **zones;
    ngx_http_signaller_stats_t   *stats;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    format = ngx_http_signaller_format(r);
    zones = ngx_http_signaller_zones((ngx_cycle_t *) ngx_cycle, &n);

    for (i = 0; i + 2 < NGX_HTTP_SIGNALLER_CODES; i++) {
        ngx_http_signaller_end_codes[i] = ngx_http_signaller_reasons[i].code;
    }

    stats = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_http_signaller_stats_t));
    if (stats == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The HELP and TYPE lines, under 2 KB, are written even without a
     * zone; then each zone has a line, or a JSON member, per figure and
     * per code, none of them longer than 64 bytes besides its zone's name
     * and its number.
     */

    len = NGX_HTTP_SIGNALLER_STATUS_TEXT;

    for (i = 0; i < n; i++) {
        ngx_http_signaller_zone_stats(zones[i], &stats[i]);
        len += (NGX_HTTP_SIGNALLER_CODES + NGX_HTTP_SIGNALLER_REFUSALS + 16)
               * (zones[i]->shm.name.len + NGX_ATOMIC_T_LEN + 64);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_signaller_status_body(b->last, format, zones, n, stats,
                                             &r->headers_out.content_type);

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    /* no zone, no line: an empty buffer is no body */

    if (b->last == b->pos) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the body in "format", and its content type */

static u_char *
ngx_http_signaller_status_body(u_char *p, ngx_uint_t format,
    ngx_shm_zone_t **zones, ngx_uint_t n, ngx_http_signaller_stats_t *stats,
    ngx_str_t *type)
{
    ngx_uint_t  i;

    switch (format) {

    case NGX_HTTP_SIGNALLER_JSON:
        p = ngx_cpymem(p, "{\"zones\":{", 10);

        for (i = 0; i < n; i++) {
            if (i) {
                *p++ = ',';
            }

            p = ngx_http_signaller_json(p, &zones[i]->shm.name, &stats[i]);
        }

        ngx_str_set(type, "application/json");

        return ngx_cpymem(p, "}}\n", 3);

    case NGX_HTTP_SIGNALLER_PROMETHEUS:
        for (i = 0; ngx_http_signaller_figures[i].name.len; i++) {
            p = ngx_http_signaller_prometheus(p, i, zones, n, stats);
        }

        p = ngx_http_signaller_prometheus_codes(p, "sessions_ended_total",
                              "Sessions ended, by the close code they were "
                              "sent (none: no close frame).",
                              zones, n, stats, 0);

        p = ngx_http_signaller_prometheus_codes(p, "handshakes_refused_total",
                              "Handshakes refused, by HTTP status or, with "
                              "signaller_refusal close, close code.",
                              zones, n, stats, 1);

        ngx_str_set(type, "text/plain; version=0.0.4; charset=utf-8");

        return p;

    default:
        for (i = 0; i < n; i++) {
            p = ngx_http_signaller_text(p, &zones[i]->shm.name, &stats[i]);
        }

        ngx_str_set(type, "text/plain");

        return p;
    }
}


/* ?format=json or =prometheus, or Accept: application/json */

static ngx_uint_t
ngx_http_signaller_format(ngx_http_request_t *r)
{
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK) {

        if (value.len == 4 && ngx_strncmp(value.data, "json", 4) == 0) {
            return NGX_HTTP_SIGNALLER_JSON;
        }

        if (value.len == 10
            && ngx_strncmp(value.data, "prometheus", 10) == 0)
        {
            return NGX_HTTP_SIGNALLER_PROMETHEUS;
        }

        return NGX_HTTP_SIGNALLER_TEXT;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_HTTP_SIGNALLER_TEXT;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept", 6) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "application/json", 16 - 1)
               != NULL)
        {
            return NGX_HTTP_SIGNALLER_JSON;
        }
    }
}


/* "<zone> waiting <n> workers <n> pages <n> free <n>", as before */

static u_char *
ngx_http_signaller_text(u_char *p, ngx_str_t *zone,
    ngx_http_signaller_stats_t *st)
{
    return ngx_sprintf(p, "%V waiting %ui workers %ui pages %ui free %ui\n",
                       zone, st->waiting, st->workers, st->pages, st->free);
}


static u_char *
ngx_http_signaller_json(u_char *p, ngx_str_t *zone,
    ngx_http_signaller_stats_t *st)
{
    u_char                       *base;
    ngx_http_signaller_figure_t  *f;

    base = (u_char *) st;

    p = ngx_sprintf(p, "\"%V\":{", zone);

    for (f = ngx_http_signaller_figures; f->name.len; f++) {
        p = ngx_sprintf(p, "\"%V\":%uA,", &f->name, f->counter
                           ? *(ngx_atomic_t *) (base + f->offset)
                           : (ngx_atomic_uint_t)
                             *(ngx_uint_t *) (base + f->offset));
    }

    p = ngx_sprintf(p, "\"zone_used_bytes\":%ui,\"zone_free_bytes\":%ui,",
                    (st->pages - st->free) * ngx_pagesize,
                    st->free * ngx_pagesize);

    p = ngx_http_signaller_json_codes(p, "sessions_ended_total",
                                      st->counters.ended,
                                      ngx_http_signaller_end_codes,
                                      NGX_HTTP_SIGNALLER_CODES);
    *p++ = ',';

    p = ngx_http_signaller_json_codes(p, "handshakes_refused_total",
                                      st->counters.refused,
                                      ngx_http_signaller_refusal_codes,
                                      NGX_HTTP_SIGNALLER_REFUSALS);
    *p++ = '}';

    return p;
}


/* an object of the codes that were counted: {"1000":3,"none":1} */

static u_char *
ngx_http_signaller_json_codes(u_char *p, char *name, ngx_atomic_t *counts,
    ngx_uint_t *codes, ngx_uint_t n)
{
    ngx_uint_t  i, first;

    p = ngx_sprintf(p, "\"%s\":{", name);
    first = 1;

    for (i = 0; i < n; i++) {
        if (counts[i] == 0) {
            continue;
        }

        if (!first) {
            *p++ = ',';
        }

        first = 0;

        *p++ = '"';
        p = ngx_http_signaller_code_label(p, codes, n, i);
        p = ngx_sprintf(p, "\":%uA", counts[i]);
    }

    *p++ = '}';

    return p;
}


/*
 * The label of slot "i" of a table of "n" codes whose last slot counts any
 * other; a 0 before it is "none".
 */

static u_char *
ngx_http_signaller_code_label(u_char *p, ngx_uint_t *codes, ngx_uint_t n,
    ngx_uint_t i)
{
    if (i == n - 1) {
        return ngx_cpymem(p, "other", 5);
    }

    if (codes[i] == 0) {
        return ngx_cpymem(p, "none", 4);
    }

    return ngx_sprintf(p, "%ui", codes[i]);
}


/* one figure of every zone, with its HELP and TYPE */

static u_char *
ngx_http_signaller_prometheus(u_char *p, ngx_uint_t i, ngx_shm_zone_t **zones,
    ngx_uint_t nzones, ngx_http_signaller_stats_t *stats)
{
    u_char                       *base;
    ngx_uint_t                    z;
    ngx_atomic_uint_t             v;
    ngx_http_signaller_figure_t  *f;

    f = &ngx_http_signaller_figures[i];

    p = ngx_sprintf(p, "# HELP signaller_%V %V\n# TYPE signaller_%V %s\n",
                    &f->name, &f->help, &f->name,
                    f->counter ? "counter" : "gauge");

    for (z = 0; z < nzones; z++) {
        base = (u_char *) &stats[z];

        v = f->counter ? *(ngx_atomic_t *) (base + f->offset)
                       : (ngx_atomic_uint_t) *(ngx_uint_t *) (base
                                                              + f->offset);

        p = ngx_sprintf(p, "signaller_%V{zone=\"%V\"} %uA\n",
                        &f->name, &zones[z]->shm.name, v);
    }

    if (i == 0) {
        /* the zone's memory goes with the listeners it holds */

        p = ngx_sprintf(p, "# HELP signaller_zone_bytes Shared memory of "
                        "the zone, in use and free.\n"
                        "# TYPE signaller_zone_bytes gauge\n");

        for (z = 0; z < nzones; z++) {
            p = ngx_sprintf(p, "signaller_zone_bytes{zone=\"%V\","
                            "state=\"used\"} %ui\n"
                            "signaller_zone_bytes{zone=\"%V\","
                            "state=\"free\"} %ui\n",
                            &zones[z]->shm.name,
                            (stats[z].pages - stats[z].free) * ngx_pagesize,
                            &zones[z]->shm.name,
                            stats[z].free * ngx_pagesize);
        }
    }

    return p;
}


static u_char *
ngx_http_signaller_prometheus_codes(u_char *p, char *name, char *help,
    ngx_shm_zone_t **zones, ngx_uint_t nzones,
    ngx_http_signaller_stats_t *stats, ngx_uint_t refused)
{
    ngx_uint_t     i, n, z, *codes;
    ngx_atomic_t  *counts;

    codes = refused ? ngx_http_signaller_refusal_codes
                    : ngx_http_signaller_end_codes;
    n = refused ? NGX_HTTP_SIGNALLER_REFUSALS : NGX_HTTP_SIGNALLER_CODES;

    p = ngx_sprintf(p, "# HELP signaller_%s %s\n# TYPE signaller_%s counter\n",
                    name, help, name);

    for (z = 0; z < nzones; z++) {
        counts = refused ? stats[z].counters.refused
                         : stats[z].counters.ended;

        for (i = 0; i < n; i++) {
            if (counts[i] == 0) {
                continue;
            }

            p = ngx_sprintf(p, "signaller_%s{zone=\"%V\",code=\"", name,
                            &zones[z]->shm.name);
            p = ngx_http_signaller_code_label(p, codes, n, i);
            p = ngx_sprintf(p, "\"} %uA\n", counts[i]);
        }
    }

    return p;
}

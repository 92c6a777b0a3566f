
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * libFuzzer target: src/ngx_http_signaller_handshake.c.
 *
 * ngx_http_signaller_check_request() on a fake request whose headers come
 * from the input, compared with a model of RFC 6455 section 4.2.1 as the
 * module documents it: not an upgrade 400, a version other than 13 426,
 * not exactly one valid Sec-WebSocket-Key 400, a repeated Origin or one
 * the policy refuses 403, in this order.
 *
 * ngx_http_signaller_route() on the request's URI, compared with a model
 * of the documented paths: the last two segments are "listen" or
 * "connect" and a handle of ^[a-z](?:_?[a-z0-9]){2,31}$.
 *
 * Input:
 *   byte 0   flags: 0x03 origin policy (0 Origin must name Host, 1 any,
 *            2 and 3 a signaller_origin list), 0x04 method POST,
 *            0x08 HTTP/1.0, 0x10 a subrequest, 0x20 HTTP/2 stream,
 *            0xc0 elements per part of the headers list - 1
 *   line 1   the URI (r->uri, as nginx has decoded it: any bytes but
 *            "\n"), for route()
 *   the rest header lines split at "\n", "name: value" (a line without
 *            ":" is a name with an empty value); NUL and CR do not get
 *            through nginx's header parser: with them, only route() is
 *            checked
 *
 * The functions of nginx's core that the file calls live in the nginx
 * binary; here they are stand-ins with the same contracts: the string
 * functions in ngx_stubs.c, ngx_regex_exec_array() below, as part of the
 * model of the origin policy.
 */


#include "fuzz_common.h"


#define FUZZ_MAX_HEADERS  64


static void fuzz_check_route(ngx_http_request_t *r);
static ngx_int_t fuzz_route_model(u_char *uri, size_t len, size_t *start,
    size_t *hlen, ngx_uint_t *listen);
static ngx_uint_t fuzz_handle_model(u_char *p, size_t len);
static ngx_int_t fuzz_model(ngx_uint_t flags, ngx_table_elt_t *h,
    ngx_uint_t n, ngx_table_elt_t **key);
static ngx_uint_t fuzz_has_token(ngx_str_t *v, const char *token);
static ngx_uint_t fuzz_name_is(ngx_table_elt_t *h, const char *name);
static ngx_uint_t fuzz_origin_matches(ngx_str_t *v);
static int fuzz_lower(int c);


/* the signaller_origin list: literal, or a prefix when ending in "*" */

static char  *fuzz_origins[] = {
    "https://example.com",
    "http://*",
    NULL
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *p, *end, *line, *colon, *v, *ve;
    size_t                          nalloc;
    ngx_int_t                       rc, expect;
    ngx_str_t                       key, uri;
    ngx_uint_t                      flags, n, i, k;
    ngx_log_t                       log;
    ngx_list_t                      list;
    ngx_array_t                     origins;
    ngx_list_part_t                *part, *prev;
    ngx_table_elt_t                 h[FUZZ_MAX_HEADERS], *elts, *wskey;
    ngx_regex_elt_t                 re[2];
    ngx_connection_t                c;
    ngx_http_request_t              r;
    ngx_http_signaller_loc_conf_t   slcf;

    if (size == 0) {
        return 0;
    }

    flags = data[0];
    data++;
    size--;

    /* the URI */

    p = memchr(data, '\n', size);
    uri.len = p ? (size_t) (p - data) : size;
    uri.data = (u_char *) data;

    data += uri.len;
    size -= uri.len;

    if (size) {
        data++;
        size--;
    }

    /* route() reads nothing of the request but its URI */

    ngx_memzero(&r, sizeof(ngx_http_request_t));
    r.uri.len = uri.len;
    r.uri.data = fuzz_dup(uri.data, uri.len);

    fuzz_check_route(&r);

    free(r.uri.data);

    if (memchr(data, '\0', size) || memchr(data, '\r', size)) {
        return 0;
    }

    /* header lines */

    ngx_memzero(h, sizeof(h));
    n = 0;
    p = (u_char *) data;
    end = p + size;

    while (p < end && n < FUZZ_MAX_HEADERS) {
        line = p;

        while (p < end && *p != '\n') {
            p++;
        }

        colon = memchr(line, ':', p - line);

        if (colon == NULL) {
            colon = p;
            v = p;

        } else {
            v = colon + 1;
        }

        /* nginx trims the value */

        ve = p;

        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }

        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }

        /* exact heap copies: ASan catches a read past their ends */

        h[n].hash = 1;
        h[n].key.len = colon - line;
        h[n].key.data = fuzz_dup(line, h[n].key.len);
        h[n].value.len = ve - v;
        h[n].value.data = fuzz_dup(v, h[n].value.len);
        h[n].lowcase_key = h[n].key.data;
        n++;

        if (p < end) {
            p++;
        }
    }

    /* the request */

    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_memzero(&c, sizeof(ngx_connection_t));
    ngx_memzero(&r, sizeof(ngx_http_request_t));

    c.log = &log;
    r.connection = &c;
    r.main = (flags & 0x10) ? NULL : &r;
    r.method = (flags & 0x04) ? NGX_HTTP_POST : NGX_HTTP_GET;
    r.http_version = (flags & 0x08) ? NGX_HTTP_VERSION_10
                                    : NGX_HTTP_VERSION_11;
#if (NGX_HTTP_V2)
    r.stream = (flags & 0x20) ? (ngx_http_v2_stream_t *) &r : NULL;
#endif

    /* the headers list in parts of nalloc elements, each its own block */

    nalloc = ((flags >> 6) & 3) + 1;

    ngx_memzero(&list, sizeof(ngx_list_t));
    list.size = sizeof(ngx_table_elt_t);
    list.nalloc = nalloc;
    list.last = &list.part;

    part = &list.part;
    prev = NULL;
    i = 0;

    do {
        if (prev) {
            part = malloc(sizeof(ngx_list_part_t));
            FUZZ_ASSERT(part != NULL);
            prev->next = part;
            list.last = part;
        }

        elts = malloc(nalloc * sizeof(ngx_table_elt_t));
        FUZZ_ASSERT(elts != NULL);

        part->elts = elts;
        part->nelts = 0;
        part->next = NULL;

        while (part->nelts < nalloc && i < n) {
            elts[part->nelts++] = h[i++];
        }

        prev = part;

    } while (i < n);

    r.headers_in.headers = list;

    /* nginx points headers_in.host at the first Host header */

    for (i = 0; i < n; i++) {
        if (fuzz_name_is(&h[i], "Host")) {
            r.headers_in.host = malloc(sizeof(ngx_table_elt_t));
            FUZZ_ASSERT(r.headers_in.host != NULL);
            *r.headers_in.host = h[i];
            break;
        }
    }

    /* the location's configuration */

    ngx_memzero(&slcf, sizeof(ngx_http_signaller_loc_conf_t));

    switch (flags & 0x03) {
    case 1:
        slcf.origin_any = 1;
        break;

    case 2:
    case 3:
        for (k = 0; fuzz_origins[k]; k++) {
            re[k].regex = NULL;
            re[k].name = (u_char *) fuzz_origins[k];
        }

        origins.elts = re;
        origins.nelts = k;
        origins.size = sizeof(ngx_regex_elt_t);
        origins.nalloc = k;
        origins.pool = NULL;
        slcf.origins = &origins;
        break;
    }

    key.len = 0;
    key.data = NULL;

    rc = ngx_http_signaller_check_request(&r, &slcf, &key);

    expect = fuzz_model(flags, h, n, &wskey);

    if (rc != expect) {
        fprintf(stderr, "check_request: %d, model: %d\n", (int) rc,
                (int) expect);
    }

    FUZZ_ASSERT(rc == expect);

    if (rc == NGX_OK) {
        /* the key is the header's value itself, 24 characters */
        FUZZ_ASSERT(key.data == wskey->value.data);
        FUZZ_ASSERT(key.len == 24);
    }

    /* clean up */

    part = list.part.next;
    free(list.part.elts);

    while (part) {
        prev = part;
        part = part->next;
        free(prev->elts);
        free(prev);
    }

    for (i = 0; i < n; i++) {
        free(h[i].key.data);
        free(h[i].value.data);
    }

    free(r.headers_in.host);

    return 0;
}


/* route() against the model: the verdict, and with NGX_OK what it found */

static void
fuzz_check_route(ngx_http_request_t *r)
{
    size_t      start, hlen;
    ngx_int_t   rc, expect;
    ngx_str_t   handle;
    ngx_uint_t  listen, mlisten;

    handle.len = 0;
    handle.data = NULL;
    listen = 2;

    rc = ngx_http_signaller_route(r, &handle, &listen);

    expect = fuzz_route_model(r->uri.data, r->uri.len, &start, &hlen,
                              &mlisten);

    if (rc != expect) {
        fprintf(stderr, "route \"%.*s\": %d, model: %d\n",
                (int) r->uri.len, r->uri.data, (int) rc, (int) expect);
    }

    FUZZ_ASSERT(rc == expect);

    if (rc != NGX_OK) {
        return;
    }

    FUZZ_ASSERT(listen == mlisten);

    /* the handle is the end of the URI itself */
    FUZZ_ASSERT(handle.data == r->uri.data + start);
    FUZZ_ASSERT(handle.len == hlen);

    /* what the session's handle_data[] and the zone count on */
    FUZZ_ASSERT(handle.len >= NGX_HTTP_SIGNALLER_HANDLE_MIN
                && handle.len <= NGX_HTTP_SIGNALLER_HANDLE_MAX);
}


/*
 * The URI split at every "/" into segments: with two at least, the next
 * to last must be "listen" or "connect", the last the handle.
 */

static ngx_int_t
fuzz_route_model(u_char *uri, size_t len, size_t *start, size_t *hlen,
    ngx_uint_t *listen)
{
    size_t  seg[2][2], i, from, n;

    /* the last two segments seen: [0] next to last, [1] last */

    n = 0;
    from = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && uri[i] != '/') {
            continue;
        }

        seg[0][0] = seg[1][0];
        seg[0][1] = seg[1][1];
        seg[1][0] = from;
        seg[1][1] = i - from;
        n++;
        from = i + 1;
    }

    if (n < 2) {
        return NGX_DECLINED;
    }

    if (seg[0][1] == 6 && memcmp(uri + seg[0][0], "listen", 6) == 0) {
        *listen = 1;

    } else if (seg[0][1] == 7 && memcmp(uri + seg[0][0], "connect", 7) == 0)
    {
        *listen = 0;

    } else {
        return NGX_DECLINED;
    }

    if (!fuzz_handle_model(uri + seg[1][0], seg[1][1])) {
        return NGX_DECLINED;
    }

    *start = seg[1][0];
    *hlen = seg[1][1];

    return NGX_OK;
}


/*
 * ^[a-z](?:_?[a-z0-9]){2,31}$: a letter, then 2 to 31 letters or digits,
 * each of which may have one "_" before it; so no "_" at the end, and
 * never two in a row.
 */

static ngx_uint_t
fuzz_handle_model(u_char *p, size_t len)
{
    size_t      i, units;
    ngx_uint_t  underscore;

    if (len == 0 || p[0] < 'a' || p[0] > 'z') {
        return 0;
    }

    units = 0;
    underscore = 0;

    for (i = 1; i < len; i++) {
        if (p[i] == '_') {
            if (underscore) {
                return 0;
            }

            underscore = 1;
            continue;
        }

        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')))
        {
            return 0;
        }

        underscore = 0;
        units++;
    }

    return !underscore && units >= 2 && units <= 31;
}


/* what the checks should answer */

static ngx_int_t
fuzz_model(ngx_uint_t flags, ngx_table_elt_t *h, ngx_uint_t n,
    ngx_table_elt_t **key)
{
    u_char           *p, *last;
    size_t            k;
    ngx_str_t         host;
    ngx_uint_t        i, upgrade, connection, keys, origins;
    ngx_table_elt_t  *version, *origin, *hosth;

    static const char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    *key = NULL;

    if (flags & 0x04) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (flags & (0x08 | 0x10 | 0x20)) {
        return NGX_HTTP_BAD_REQUEST;
    }

    upgrade = 0;
    connection = 0;
    version = NULL;
    origin = NULL;
    hosth = NULL;
    keys = 0;
    origins = 0;

    for (i = 0; i < n; i++) {

        if (fuzz_name_is(&h[i], "Upgrade")) {
            upgrade |= fuzz_has_token(&h[i].value, "websocket");

        } else if (fuzz_name_is(&h[i], "Connection")) {
            connection |= fuzz_has_token(&h[i].value, "upgrade");

        } else if (fuzz_name_is(&h[i], "Sec-WebSocket-Version")) {
            if (version == NULL) {
                version = &h[i];
            }

        } else if (fuzz_name_is(&h[i], "Sec-WebSocket-Key")) {
            *key = &h[i];
            keys++;

        } else if (fuzz_name_is(&h[i], "Origin")) {
            origin = &h[i];
            origins++;

        } else if (fuzz_name_is(&h[i], "Host")) {
            if (hosth == NULL) {
                hosth = &h[i];
            }
        }
    }

    if (!upgrade || !connection) {
        return NGX_HTTP_BAD_REQUEST;
    }

    if (version == NULL || version->value.len != 2
        || memcmp(version->value.data, "13", 2) != 0)
    {
        return NGX_HTTP_SIGNALLER_UPGRADE_REQUIRED;
    }

    /* exactly one key: 16 bytes, 22 base64 characters and "==" */

    if (keys != 1 || (*key)->value.len != 24
        || memcmp((*key)->value.data + 22, "==", 2) != 0)
    {
        return NGX_HTTP_BAD_REQUEST;
    }

    for (k = 0; k < 22; k++) {
        if (memchr(b64, (*key)->value.data[k], 64) == NULL) {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    /* a repeated Origin is refused whatever the policy */

    if (origins > 1) {
        return NGX_HTTP_FORBIDDEN;
    }

    switch (flags & 0x03) {

    case 1:
        return NGX_OK;

    case 2:
    case 3:
        if (origin == NULL || !fuzz_origin_matches(&origin->value)) {
            return NGX_HTTP_FORBIDDEN;
        }

        return NGX_OK;
    }

    if (origin == NULL) {
        return NGX_OK;
    }

    if (hosth == NULL) {
        return NGX_HTTP_FORBIDDEN;
    }

    /* scheme "://" host, the host equal to Host but for case */

    p = origin->value.data;
    last = p + origin->value.len;

    for ( /* void */ ; p + 3 <= last; p++) {
        if (memcmp(p, "://", 3) == 0) {
            break;
        }
    }

    if (p + 3 > last) {
        return NGX_HTTP_FORBIDDEN;
    }

    host.data = p + 3;
    host.len = last - host.data;

    if (host.len != hosth->value.len) {
        return NGX_HTTP_FORBIDDEN;
    }

    for (k = 0; k < host.len; k++) {
        if (fuzz_lower(host.data[k]) != fuzz_lower(hosth->value.data[k])) {
            return NGX_HTTP_FORBIDDEN;
        }
    }

    return NGX_OK;
}


/* a comma-separated list of tokens with optional white space around them */

static ngx_uint_t
fuzz_has_token(ngx_str_t *v, const char *token)
{
    size_t   i, j, s, e, len;

    len = strlen(token);
    i = 0;

    while (i <= v->len) {
        j = i;

        while (j < v->len && v->data[j] != ',') {
            j++;
        }

        s = i;
        e = j;

        while (s < e && (v->data[s] == ' ' || v->data[s] == '\t')) {
            s++;
        }

        while (e > s && (v->data[e - 1] == ' ' || v->data[e - 1] == '\t')) {
            e--;
        }

        if (e - s == len) {
            for (i = 0; i < len; i++) {
                if (fuzz_lower(v->data[s + i]) != token[i]) {
                    break;
                }
            }

            if (i == len) {
                return 1;
            }
        }

        i = j + 1;
    }

    return 0;
}


static ngx_uint_t
fuzz_name_is(ngx_table_elt_t *h, const char *name)
{
    size_t  i;

    if (h->key.len != strlen(name)) {
        return 0;
    }

    for (i = 0; i < h->key.len; i++) {
        if (fuzz_lower(h->key.data[i]) != fuzz_lower(name[i])) {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
fuzz_origin_matches(ngx_str_t *v)
{
    size_t      len;
    ngx_uint_t  k;

    for (k = 0; fuzz_origins[k]; k++) {
        len = strlen(fuzz_origins[k]);

        if (fuzz_origins[k][len - 1] == '*') {
            if (v->len >= len - 1
                && memcmp(v->data, fuzz_origins[k], len - 1) == 0)
            {
                return 1;
            }

        } else if (v->len == len && memcmp(v->data, fuzz_origins[k], len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
fuzz_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
}


/*
 * A stand-in for nginx's src/core/ngx_regex.c, part of the model of the
 * origin policy (fuzz_origin_matches()).
 */


/*
 * The stand-in "expressions" are the names: a literal, or a prefix when
 * the name ends in "*".  NGX_OK on a match, NGX_DECLINED otherwise.
 */

ngx_int_t
ngx_regex_exec_array(ngx_array_t *a, ngx_str_t *s, ngx_log_t *log)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_regex_elt_t  *re;

    re = a->elts;

    for (i = 0; i < a->nelts; i++) {
        len = ngx_strlen(re[i].name);

        if (re[i].name[len - 1] == '*') {
            if (s->len >= len - 1 && memcmp(s->data, re[i].name, len - 1) == 0)
            {
                return NGX_OK;
            }

        } else if (s->len == len && memcmp(s->data, re[i].name, len) == 0) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}

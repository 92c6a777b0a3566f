
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * RFC 6455 framing.  Client frames are parsed in place: a data frame's
 * payload is unmasked and moved down over its own (longer) client header,
 * behind a server header, so the bytes between the output pointer and the
 * parse position are always complete server frames ready to be sent to the
 * peer.  Messages are never reassembled: each piece of payload that has
 * arrived becomes a frame of its own, with FIN set only on the piece that
 * ends the message.  Every server frame is therefore complete, and control
 * frames for the peer can be sent between any two of them.
 */


#include "ngx_http_signaller.h"


#define NGX_HTTP_SIGNALLER_PARSE_HEADER   0
#define NGX_HTTP_SIGNALLER_PARSE_PAYLOAD  1


static ngx_int_t ngx_http_signaller_parse_frames(
    ngx_http_signaller_parser_t *p, u_char **pos, u_char *last, u_char **out,
    size_t max_size, ngx_uint_t discard, ngx_http_signaller_frame_t *frame);
static u_char *ngx_http_signaller_write_header(u_char *p, ngx_uint_t opcode,
    ngx_uint_t fin, size_t len);
static uint64_t ngx_http_signaller_unmask(u_char *dst, u_char *src,
    size_t len, u_char *mask);


ngx_http_signaller_reason_t  ngx_http_signaller_reasons[] = {
    { NGX_HTTP_SIGNALLER_NORMAL, ngx_string("Normal Closure") },
    { NGX_HTTP_SIGNALLER_GOING_AWAY, ngx_string("Going Away") },
    { NGX_HTTP_SIGNALLER_PROTOCOL_ERROR, ngx_string("Protocol Error") },
    { NGX_HTTP_SIGNALLER_INVALID_PAYLOAD, ngx_string("Invalid Payload") },
    { NGX_HTTP_SIGNALLER_TOO_BIG, ngx_string("Message Too Big") },
    { NGX_HTTP_SIGNALLER_INTERNAL_ERROR, ngx_string("Internal Error") },
    { NGX_HTTP_SIGNALLER_LISTEN_TIMEOUT, ngx_string("Listen Timeout") },
    { NGX_HTTP_SIGNALLER_PIPE_TIMEOUT, ngx_string("Pipe Timeout") },
    { NGX_HTTP_SIGNALLER_TOO_MANY, ngx_string("Too Many Messages") },
    { NGX_HTTP_SIGNALLER_PEER_GONE, ngx_string("Peer Gone") },
    { NGX_HTTP_SIGNALLER_NO_SUCH_HANDLE, ngx_string("No Such Handle") },
    { NGX_HTTP_SIGNALLER_RATE_LIMITED, ngx_string("Rate Limited") },
    { NGX_HTTP_SIGNALLER_HANDLE_TAKEN, ngx_string("Handle Taken") },
    { NGX_HTTP_SIGNALLER_TOO_MANY_REQUESTS, ngx_string("Too Many Requests") },
    { NGX_HTTP_SIGNALLER_FORBIDDEN, ngx_string("Forbidden") },
    { 0, ngx_null_string }
};


void
ngx_http_signaller_parser_init(ngx_http_signaller_parser_t *p)
{
    ngx_memzero(p, sizeof(ngx_http_signaller_parser_t));
}


/*
 * Parses frames in [*pos, last).  Data is written as server frames at *out
 * unless "discard" is set (the connection is closing and only its close
 * frame matters).  Returns when more input is needed (FRAME_AGAIN), when a
 * message ends (FRAME_MESSAGE), when a complete control frame is found
 * (FRAME_PING, FRAME_PONG, FRAME_CLOSE, its unmasked payload in "frame"), or
 * with FRAME_ERROR for a frame that must fail the connection, the close
 * code to fail it with in "frame".  Nothing of a frame that fails is
 * written to *out.
 */

ngx_int_t
ngx_http_signaller_parse(ngx_http_signaller_parser_t *p, u_char **pos,
    u_char *last, u_char **out, size_t max_size, ngx_uint_t discard,
    ngx_http_signaller_frame_t *frame)
{
    u_char     *b, *data;
    size_t      len;
    uint64_t    bits;
    ngx_uint_t  op;

    /*
     * The usual message, a text or binary one in a single frame of up to
     * 125 bytes that has arrived whole, goes out at once, the parser
     * staying before a frame header: none of the state kept for a message
     * in pieces is needed.  Anything else is left to the parser proper.
     */

    b = *pos;

    if (p->state != NGX_HTTP_SIGNALLER_PARSE_HEADER || discard
        || p->in_message || last - b < 6
        || (b[0] != 0x81 && b[0] != 0x82) || (b[1] & 0x80) == 0)
    {
        return ngx_http_signaller_parse_frames(p, pos, last, out, max_size,
                                               discard, frame);
    }

    op = b[0] & 0x0f;
    len = b[1] & 0x7f;

    if (len > 125 || len > max_size || (size_t) (last - b) < 6 + len) {
        return ngx_http_signaller_parse_frames(p, pos, last, out, max_size,
                                               discard, frame);
    }

    /*
     * The payload may be stored over the client's header: what is needed
     * of it has been read, and the mask is kept apart, in the parser, so
     * that nothing of this goes on the stack.
     */

    ngx_memcpy(p->mask, b + 2, 4);

    data = ngx_http_signaller_write_header(*out, op, 1, len);
    bits = ngx_http_signaller_unmask(data, b + 6, len, p->mask);

    if (op == 0x01 && (bits & 0x8080808080808080ULL)) {
        p->utf8 = 0;

        if (ngx_http_signaller_utf8(&p->utf8, data, len) != NGX_OK
            || p->utf8 != 0)
        {
            *pos = b + 6;
            frame->code = NGX_HTTP_SIGNALLER_INVALID_PAYLOAD;
            return NGX_HTTP_SIGNALLER_FRAME_ERROR;
        }
    }

    *out = data + len;
    *pos = b + 6 + len;

    return NGX_HTTP_SIGNALLER_FRAME_MESSAGE;
}


static ngx_int_t
ngx_http_signaller_parse_frames(ngx_http_signaller_parser_t *p, u_char **pos,
    u_char *last, u_char **out, size_t max_size, ngx_uint_t discard,
    ngx_http_signaller_frame_t *frame)
{
    u_char      *b, *dst, *data, mask[4];
    size_t       avail, hlen, n;
    uint64_t     len, bits;
    uint32_t     utf8;
    ngx_uint_t   op, fin, end, i;

    for ( ;; ) {
        b = *pos;
        avail = last - b;

        if (p->state == NGX_HTTP_SIGNALLER_PARSE_HEADER) {

            if (avail < 2) {
                return NGX_HTTP_SIGNALLER_FRAME_AGAIN;
            }

            fin = b[0] & 0x80;
            op = b[0] & 0x0f;
            len = b[1] & 0x7f;

            if ((b[0] & 0x70) || !(b[1] & 0x80)) {
                frame->code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
                return NGX_HTTP_SIGNALLER_FRAME_ERROR;
            }

            if (op & 0x08) {
                if (op > 0x0a || !fin || len > 125) {
                    frame->code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
                    return NGX_HTTP_SIGNALLER_FRAME_ERROR;
                }

            } else if (op > 0x02
                       || (op == 0x00 && !p->in_message)
                       || (op != 0x00 && p->in_message))
            {
                frame->code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
                return NGX_HTTP_SIGNALLER_FRAME_ERROR;
            }

            hlen = (len == 126) ? 8 : (len == 127) ? 14 : 6;

            if (avail < hlen) {
                return NGX_HTTP_SIGNALLER_FRAME_AGAIN;
            }

            if (len == 126) {
                len = ((uint64_t) b[2] << 8) | b[3];

            } else if (len == 127) {
                if (b[2] & 0x80) {
                    frame->code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
                    return NGX_HTTP_SIGNALLER_FRAME_ERROR;
                }

                len = 0;
                for (i = 2; i < 10; i++) {
                    len = (len << 8) | b[i];
                }
            }

            if (op & 0x08) {
                if (avail < hlen + len) {
                    return NGX_HTTP_SIGNALLER_FRAME_AGAIN;
                }

                data = b + hlen;
                (void) ngx_http_signaller_unmask(data, data, len,
                                                 b + hlen - 4);

                *pos = data + len;

                frame->payload = data;
                frame->len = len;

                switch (op) {
                case 0x08:
                    return NGX_HTTP_SIGNALLER_FRAME_CLOSE;
                case 0x09:
                    return NGX_HTTP_SIGNALLER_FRAME_PING;
                default:
                    return NGX_HTTP_SIGNALLER_FRAME_PONG;
                }
            }

            /* the limit holds for the whole message, checked up front */

            if (op != 0x00) {
                if (len > max_size) {
                    frame->code = NGX_HTTP_SIGNALLER_TOO_BIG;
                    return NGX_HTTP_SIGNALLER_FRAME_ERROR;
                }

                p->in_message = 1;
                p->msg_opcode = op;
                p->msg_size = 0;
                p->utf8 = 0;
                p->first_piece = 1;

            } else if (len > max_size - p->msg_size) {
                frame->code = NGX_HTTP_SIGNALLER_TOO_BIG;
                return NGX_HTTP_SIGNALLER_FRAME_ERROR;
            }

            p->msg_size += len;
            p->fin = fin ? 1 : 0;
            p->remaining = len;
            ngx_memcpy(p->mask, b + hlen - 4, 4);
            p->mask_off = 0;
            p->state = NGX_HTTP_SIGNALLER_PARSE_PAYLOAD;

            *pos = b + hlen;

            continue;
        }

        n = (p->remaining < avail) ? p->remaining : avail;
        end = (p->fin && n == p->remaining);

        if (n == 0 && !end) {
            if (p->remaining) {
                return NGX_HTTP_SIGNALLER_FRAME_AGAIN;
            }

            /* an empty fragment that does not end the message */
            p->state = NGX_HTTP_SIGNALLER_PARSE_HEADER;
            continue;
        }

        if (!discard) {
            dst = *out;
            data = ngx_http_signaller_write_header(dst,
                                       p->first_piece ? p->msg_opcode : 0x00,
                                       end, n);

            for (i = 0; i < 4; i++) {
                mask[i] = p->mask[(p->mask_off + i) & 3];
            }

            bits = ngx_http_signaller_unmask(data, b, n, mask);

            /*
             * ASCII on a character boundary needs no more checking: the
             * unmasking saw every byte, and none had its high bit set.
             */

            if (p->msg_opcode == 0x01
                && (p->utf8 != 0 || (bits & 0x8080808080808080ULL)))
            {
                utf8 = p->utf8;

                if (ngx_http_signaller_utf8(&utf8, data, n) != NGX_OK
                    || (end && utf8 != 0))
                {
                    frame->code = NGX_HTTP_SIGNALLER_INVALID_PAYLOAD;
                    return NGX_HTTP_SIGNALLER_FRAME_ERROR;
                }

                p->utf8 = utf8;
            }

            *out = data + n;
            p->first_piece = 0;
        }

        *pos = b + n;
        p->remaining -= n;
        p->mask_off = (p->mask_off + n) & 3;

        if (p->remaining == 0) {
            p->state = NGX_HTTP_SIGNALLER_PARSE_HEADER;

            if (p->fin) {
                p->in_message = 0;
                return NGX_HTTP_SIGNALLER_FRAME_MESSAGE;
            }
        }
    }
}


static u_char *
ngx_http_signaller_write_header(u_char *p, ngx_uint_t opcode, ngx_uint_t fin,
    size_t len)
{
    ngx_uint_t  i;

    *p++ = (u_char) ((fin ? 0x80 : 0x00) | opcode);

    if (len < 126) {
        *p++ = (u_char) len;

    } else if (len < 65536) {
        *p++ = 126;
        *p++ = (u_char) (len >> 8);
        *p++ = (u_char) len;

    } else {
        *p++ = 127;
        for (i = 8; i > 0; i--) {
            *p++ = (u_char) ((uint64_t) len >> ((i - 1) * 8));
        }
    }

    return p;
}


/*
 * "mask" is the key as it applies from the first byte.  dst may overlap
 * src as long as dst <= src, every word is read before the store that
 * could reach it, but not the mask.  Returns the unmasked bytes ORed
 * together, in any of its bytes, so that the caller can tell ASCII without
 * another pass.
 */

static uint64_t
ngx_http_signaller_unmask(u_char *dst, u_char *src, size_t len, u_char *mask)
{
    size_t    i;
    uint32_t  half;
    uint64_t  w0, w1, w2, w3, key, bits;

    /* the same four bytes twice are the same in either byte order */

    ngx_memcpy(&half, mask, 4);
    key = (uint64_t) half << 32 | half;

    bits = 0;

    /* four words at a time: all are read before any is stored */

    for (i = 0; i + 32 <= len; i += 32) {
        ngx_memcpy(&w0, src + i, 8);
        ngx_memcpy(&w1, src + i + 8, 8);
        ngx_memcpy(&w2, src + i + 16, 8);
        ngx_memcpy(&w3, src + i + 24, 8);
        w0 ^= key;
        w1 ^= key;
        w2 ^= key;
        w3 ^= key;
        bits |= (w0 | w1) | (w2 | w3);
        ngx_memcpy(dst + i, &w0, 8);
        ngx_memcpy(dst + i + 8, &w1, 8);
        ngx_memcpy(dst + i + 16, &w2, 8);
        ngx_memcpy(dst + i + 24, &w3, 8);
    }

    for ( /* void */ ; i + 8 <= len; i += 8) {
        ngx_memcpy(&w0, src + i, 8);
        w0 ^= key;
        bits |= w0;
        ngx_memcpy(dst + i, &w0, 8);
    }

    for ( /* void */ ; i < len; i++) {
        dst[i] = src[i] ^ mask[i & 3];
        bits |= dst[i];
    }

    return bits;
}


/*
 * Streaming UTF-8 validation (RFC 3629): no overlong forms, no surrogates,
 * nothing above U+10FFFF.  The state carries, across calls, how many
 * continuation bytes are still due and the range the next one must be in,
 * so a sequence may be split between fragments; it is 0 on a character
 * boundary.  Fails on the first byte that cannot start or continue a valid
 * sequence.
 */

ngx_int_t
ngx_http_signaller_utf8(uint32_t *state, u_char *p, size_t len)
{
    u_char    *end, c, lo, hi;
    uint32_t   need;
    uint64_t   word;

    need = *state & 0xff;
    lo = (u_char) (*state >> 8);
    hi = (u_char) (*state >> 16);

    end = p + len;

    while (p < end) {

        if (need == 0) {

            while (end - p >= 8) {
                ngx_memcpy(&word, p, 8);
                if (word & 0x8080808080808080ULL) {
                    break;
                }
                p += 8;
            }

            if (p == end) {
                break;
            }

            c = *p++;

            if (c < 0x80) {
                continue;
            }

            lo = 0x80;
            hi = 0xbf;

            if (c >= 0xc2 && c <= 0xdf) {
                need = 1;

            } else if (c >= 0xe0 && c <= 0xef) {
                need = 2;

                if (c == 0xe0) {
                    lo = 0xa0;

                } else if (c == 0xed) {
                    hi = 0x9f;
                }

            } else if (c >= 0xf0 && c <= 0xf4) {
                need = 3;

                if (c == 0xf0) {
                    lo = 0x90;

                } else if (c == 0xf4) {
                    hi = 0x8f;
                }

            } else {
                return NGX_ERROR;
            }

            continue;
        }

        c = *p++;

        if (c < lo || c > hi) {
            return NGX_ERROR;
        }

        need--;
        lo = 0x80;
        hi = 0xbf;
    }

    *state = need ? (need | (uint32_t) lo << 8 | (uint32_t) hi << 16) : 0;

    return NGX_OK;
}


/*
 * The status code of a client's close frame in "code", 0 for one without a
 * code; NGX_ERROR and the close code to answer it with if it is invalid.
 */

ngx_int_t
ngx_http_signaller_close_code(u_char *p, size_t len, ngx_uint_t *code)
{
    uint32_t  utf8;

    *code = 0;

    if (len == 0) {
        return NGX_OK;
    }

    if (len == 1) {
        *code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
        return NGX_ERROR;
    }

    *code = (p[0] << 8) | p[1];

    if (!((*code >= 1000 && *code <= 1003)
          || (*code >= 1007 && *code <= 1014)
          || (*code >= 3000 && *code <= 4999)))
    {
        *code = NGX_HTTP_SIGNALLER_PROTOCOL_ERROR;
        return NGX_ERROR;
    }

    utf8 = 0;

    if (ngx_http_signaller_utf8(&utf8, p + 2, len - 2) != NGX_OK || utf8) {
        *code = NGX_HTTP_SIGNALLER_INVALID_PAYLOAD;
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_http_signaller_reason(ngx_uint_t code)
{
    ngx_http_signaller_reason_t  *r;

    for (r = ngx_http_signaller_reasons; r->code; r++) {
        if (r->code == code) {
            break;
        }
    }

    return &r->reason;
}


/* a close frame with the code and its reason; 0 for one without a code */

u_char *
ngx_http_signaller_close_frame(u_char *p, ngx_uint_t code)
{
    ngx_str_t  *reason;

    *p++ = 0x88;

    if (code == 0) {
        *p++ = 0;
        return p;
    }

    reason = ngx_http_signaller_reason(code);

    *p++ = (u_char) (2 + reason->len);
    *p++ = (u_char) (code >> 8);
    *p++ = (u_char) code;

    if (reason->len == 0) {
        return p;
    }

    return ngx_cpymem(p, reason->data, reason->len);
}

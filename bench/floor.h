/*
 * floor: what its files share.  floor.c runs the event loop and copies
 * bytes, floor_request.c answers the handshake and pairs.
 */

#ifndef FLOOR_H
#define FLOOR_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>


#define REQ_MAX     2048
#define HBUCKETS    65536

enum { ST_REQ, ST_WAIT, ST_PIPE, ST_DEAD };


typedef struct conn_s  conn_t;

struct conn_s {
    int         fd;
    int         state;
    conn_t     *peer;
    conn_t     *next;           /* hash chain, free list */
    char       *pend;           /* bytes for this socket not yet written */
    size_t      pend_len;
    size_t      pend_cap;
    size_t      req_len;
    char        handle[33];
    char       *req;
};


conn_t **lookup(const char *handle);
void conn_close(conn_t *c);
int relay_write(conn_t *c, const char *data, size_t len);

void respond(conn_t *c, const char *status);
void on_request(conn_t *c, char *end);

#endif /* FLOOR_H */

/*
 * floor: what its files share.  floor.c runs the event loop and copies
 * bytes, floor_request.c answers the handshake and pairs, floor_cross.c
 * hands a connector to the process its listener waits in.
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


extern int   ep;
extern int   crossing;


conn_t **lookup(const char *handle);
unsigned hash(const char *s);
conn_t *conn_new(int fd);
void conn_close(conn_t *c);
int relay_write(conn_t *c, const char *data, size_t len);

void respond(conn_t *c, const char *status);
void on_request(conn_t *c, char *end);
void pair(conn_t *l, conn_t *c, const char *extra, size_t len);

int cross_init(int procs);
void cross_start(int me);
int cross_publish(const char *handle);
void cross_withdraw(const char *handle);
int cross_owner(const char *handle);
void cross_send(conn_t *c, int owner, const char *extra, size_t len);
void cross_receive(void);
unsigned long cross_handoffs(void);

extern char  cross_mailbox;

#endif /* FLOOR_H */

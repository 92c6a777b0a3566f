/*
 * floor: crossing processes (-j N -x), the least the module's way can do.
 *
 * Which process a listener waits in is kept in a table in shared memory,
 * mapped before the fork: buckets of four handles, each bucket behind a
 * spin lock.  A connector whose listener waits in another process gets its
 * 101 where it arrived; then its socket, its handle and any bytes behind
 * its request go to that process in one SCM_RIGHTS message, and its copy
 * here is closed.  Every process reads a mailbox of its own, one end of a
 * SOCK_SEQPACKET pair, whose other end all the processes write to.  The
 * process that receives pairs the connector with its listener or, if that
 * has gone meanwhile, closes it.
 *
 * Nothing here checks where a message comes from: this is a benchmark, and
 * only the processes of one floor hold the mailboxes.
 */

#include "floor.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>


#define CROSS_BUCKETS  16384
#define CROSS_WAYS     4


typedef struct {
    uint32_t    lock;
    int32_t     owner[CROSS_WAYS];      /* -1: a free way */
    char        handle[CROSS_WAYS][33];
} cross_bucket_t;

typedef struct {
    char        handle[33];
    char        extra[REQ_MAX];
} cross_msg_t;


/* what an epoll event carries for the mailbox */
char                    cross_mailbox;

static cross_bucket_t  *buckets;
static int              mailbox[64][2];
static int              self;
static unsigned long    handoffs;


int
cross_init(int procs)
{
    int  i;

    buckets = mmap(NULL, CROSS_BUCKETS * sizeof(cross_bucket_t),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (buckets == MAP_FAILED) {
        perror("floor: mmap");
        return -1;
    }

    memset(buckets, 0xff, CROSS_BUCKETS * sizeof(cross_bucket_t));
    for (i = 0; i < CROSS_BUCKETS; i++) {
        buckets[i].lock = 0;
    }

    for (i = 0; i < procs; i++) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0,
                       mailbox[i]) == -1)
        {
            perror("floor: socketpair");
            return -1;
        }
    }

    return 0;
}


void
cross_start(int me)
{
    struct epoll_event  ev;

    self = me;

    /* level-triggered: one message a round, so no read comes back empty */
    ev.events = EPOLLIN;
    ev.data.ptr = &cross_mailbox;
    epoll_ctl(ep, EPOLL_CTL_ADD, mailbox[me][0], &ev);
}


static cross_bucket_t *
bucket_lock(const char *handle)
{
    cross_bucket_t  *b;

    b = &buckets[hash(handle) % CROSS_BUCKETS];

    /* the holder may be the other process on this CPU: let it run */
    while (__atomic_exchange_n(&b->lock, 1, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }

    return b;
}


static void
bucket_unlock(cross_bucket_t *b)
{
    __atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
}


static int
way_of(cross_bucket_t *b, const char *handle)
{
    int  i;

    for (i = 0; i < CROSS_WAYS; i++) {
        if (b->owner[i] != -1 && strcmp(b->handle[i], handle) == 0) {
            return i;
        }
    }

    return -1;
}


/* -1: the handle waits elsewhere, or its bucket is full (never, here) */

int
cross_publish(const char *handle)
{
    int              i;
    cross_bucket_t  *b;

    if (!crossing) {
        return 0;
    }

    b = bucket_lock(handle);

    if (way_of(b, handle) != -1) {
        bucket_unlock(b);
        return -1;
    }

    for (i = 0; i < CROSS_WAYS; i++) {
        if (b->owner[i] == -1) {
            strcpy(b->handle[i], handle);
            b->owner[i] = self;
            break;
        }
    }

    bucket_unlock(b);

    return i < CROSS_WAYS ? 0 : -1;
}


void
cross_withdraw(const char *handle)
{
    int              i;
    cross_bucket_t  *b;

    if (!crossing) {
        return;
    }

    b = bucket_lock(handle);

    i = way_of(b, handle);
    if (i != -1) {
        b->owner[i] = -1;
    }

    bucket_unlock(b);
}


/* the other process the handle's listener waits in, else -1 */

int
cross_owner(const char *handle)
{
    int              i, owner;
    cross_bucket_t  *b;

    if (!crossing) {
        return -1;
    }

    b = bucket_lock(handle);

    i = way_of(b, handle);
    owner = i == -1 ? -1 : b->owner[i];

    bucket_unlock(b);

    return owner == self ? -1 : owner;
}


/* after its 101; len <= REQ_MAX, as the request buffer it comes from */

void
cross_send(conn_t *c, int owner, const char *extra, size_t len)
{
    char            ctl[CMSG_SPACE(sizeof(int))];
    cross_msg_t     m;
    struct iovec    iov;
    struct msghdr   msg;
    struct cmsghdr *cm;

    memcpy(m.handle, c->handle, sizeof(m.handle));
    memcpy(m.extra, extra, len);

    iov.iov_base = &m;
    iov.iov_len = offsetof(cross_msg_t, extra) + len;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof(ctl);

    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &c->fd, sizeof(int));

    /* the socket outlives our close: our epoll would go on watching it */
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);

    if (sendmsg(mailbox[owner][1], &msg, MSG_DONTWAIT) != -1) {
        handoffs++;
    }

    conn_close(c);
}


void
cross_receive(void)
{
    int             fd;
    char            ctl[CMSG_SPACE(sizeof(int))];
    ssize_t         n;
    conn_t        **pp, *c, *l;
    cross_msg_t     m;
    struct iovec    iov;
    struct msghdr   msg;
    struct cmsghdr *cm;

    iov.iov_base = &m;
    iov.iov_len = sizeof(m);

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof(ctl);

    n = recvmsg(mailbox[self][0], &msg, MSG_CMSG_CLOEXEC);
    if (n == -1) {
        return;
    }

    cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS) {
        return;
    }

    memcpy(&fd, CMSG_DATA(cm), sizeof(int));

    if ((size_t) n < offsetof(cross_msg_t, extra)) {
        close(fd);
        return;
    }

    c = conn_new(fd);
    if (c == NULL) {
        return;
    }

    memcpy(c->handle, m.handle, sizeof(c->handle));
    c->handle[sizeof(c->handle) - 1] = '\0';

    pp = lookup(c->handle);
    if (*pp == NULL) {
        conn_close(c);
        return;
    }

    l = *pp;
    *pp = l->next;
    cross_withdraw(l->handle);

    pair(l, c, m.extra, n - offsetof(cross_msg_t, extra));
}


unsigned long
cross_handoffs(void)
{
    return handoffs;
}

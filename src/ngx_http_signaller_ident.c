
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * Who a worker is.  Workers reach each other through sockets that any
 * process in the network namespace can connect to or bind, so a worker is
 * known by what the kernel vouches for: its pid and uid, as SO_PEERCRED
 * gives them, and its start time in /proc, which a later process given the
 * same pid does not share.  Identifiers an outsider could use (socket
 * names, listener ids) are random from the kernel.
 */


#include "ngx_http_signaller.h"

#if (NGX_HAVE_GETRANDOM)
#include <sys/random.h>
#endif


/* random bytes drawn from the kernel at once, 64 listener ids' worth */
#define NGX_HTTP_SIGNALLER_RANDOM_POOL  1024


static ngx_int_t ngx_http_signaller_kernel_random(void *buf, size_t len);
static ngx_int_t ngx_http_signaller_proc_start(ngx_pid_t pid,
    uint64_t *start);


ngx_http_signaller_ident_t  ngx_http_signaller_self;

static u_char     ngx_http_signaller_pool[NGX_HTTP_SIGNALLER_RANDOM_POOL];
static size_t     ngx_http_signaller_pool_left;
static ngx_pid_t  ngx_http_signaller_pool_pid;


/*
 * Random bytes from the kernel, drawn a block at a time rather than with
 * a system call per handshake.  The block is a process's own: one filled
 * before a fork is never used after it, and each byte is handed out once
 * and wiped.
 */

ngx_int_t
ngx_http_signaller_random(void *buf, size_t len)
{
    u_char  *p;

    if (len > NGX_HTTP_SIGNALLER_RANDOM_POOL) {
        return ngx_http_signaller_kernel_random(buf, len);
    }

    if (ngx_http_signaller_pool_pid != ngx_pid
        || ngx_http_signaller_pool_left < len)
    {
        if (ngx_http_signaller_kernel_random(ngx_http_signaller_pool,
                                             NGX_HTTP_SIGNALLER_RANDOM_POOL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_signaller_pool_left = NGX_HTTP_SIGNALLER_RANDOM_POOL;
        ngx_http_signaller_pool_pid = ngx_pid;
    }

    p = ngx_http_signaller_pool + NGX_HTTP_SIGNALLER_RANDOM_POOL
        - ngx_http_signaller_pool_left;

    ngx_memcpy(buf, p, len);
    ngx_explicit_memzero(p, len);

    ngx_http_signaller_pool_left -= len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_signaller_kernel_random(void *buf, size_t len)
{
    u_char    *p;
    ssize_t    n;
#if !(NGX_HAVE_GETRANDOM)
    ngx_fd_t   fd;
#endif

    p = buf;

#if !(NGX_HAVE_GETRANDOM)

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "signaller: open(\"/dev/urandom\") failed");
        return NGX_ERROR;
    }

#endif

    while (len) {
#if (NGX_HAVE_GETRANDOM)
        n = getrandom(p, len, 0);
#else
        n = read(fd, p, len);
#endif

        if (n <= 0) {
            if (n == -1 && ngx_errno == NGX_EINTR) {
                continue;
            }

            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "signaller: no random bytes from the kernel");
            break;
        }

        p += n;
        len -= n;
    }

#if !(NGX_HAVE_GETRANDOM)
    (void) ngx_close_file(fd);
#endif

    return len ? NGX_ERROR : NGX_OK;
}


/*
 * This worker's identity, but for its socket's name (see relay_init()).
 * /proc may belong to another pid namespace than ours (a container that
 * did not mount its own): it names us by its own pid, which "/proc/self"
 * tells.  Where /proc cannot tell, the start time stays unknown and a
 * worker is known by its pid and uid only.
 */

void
ngx_http_signaller_ident_init(void)
{
    u_char                       buf[NGX_INT64_LEN + 1];
    ssize_t                      n;
    ngx_int_t                    pid;
    ngx_http_signaller_ident_t  *self;

    self = &ngx_http_signaller_self;

    ngx_memzero(self, sizeof(ngx_http_signaller_ident_t));

    self->pid = ngx_pid;
    self->uid = geteuid();

    n = readlink("/proc/self", (char *) buf, sizeof(buf));
    pid = (n > 0 && n < (ssize_t) sizeof(buf)) ? ngx_atoi(buf, n)
                                                : NGX_ERROR;

    if (pid == NGX_ERROR || pid == 0
        || ngx_http_signaller_proc_start((ngx_pid_t) pid, &self->start)
           != NGX_OK)
    {
        self->start = 0;
        return;
    }

    self->proc_pid = (ngx_pid_t) pid;
}


/*
 * Whether "a" and "b" describe one worker: a pid alone may be of a worker
 * that died and of the one started after it.
 */

ngx_uint_t
ngx_http_signaller_ident_same(ngx_http_signaller_ident_t *a,
    ngx_http_signaller_ident_t *b)
{
    return a->pid == b->pid && a->start == b->start
           && ngx_memcmp(&a->name, &b->name,
                         sizeof(ngx_http_signaller_id_t)) == 0;
}


/* whether the worker "w" describes still runs (not a namesake of it) */

ngx_uint_t
ngx_http_signaller_ident_alive(ngx_http_signaller_ident_t *w)
{
    uint64_t  start;

    /*
     * No two live processes share a pid: a record with this worker's is
     * its own, or a dead predecessor's.
     */

    if (w->pid == ngx_pid) {
        return ngx_http_signaller_ident_same(w, &ngx_http_signaller_self);
    }

    if (kill(w->pid, 0) == -1 && ngx_errno == ESRCH) {
        return 0;
    }

    if (w->start == 0) {
        return 1;
    }

    switch (ngx_http_signaller_proc_start(w->proc_pid, &start)) {

    case NGX_OK:
        return start == w->start;

    case NGX_DECLINED:
        return 0;

    default:
        /* /proc cannot tell now (out of descriptors): keep its entries */
        return 1;
    }
}


/* who is at the other end of "fd", as the kernel saw it connect or listen */

ngx_int_t
ngx_http_signaller_ident_peer(ngx_socket_t fd, struct ucred *cred)
{
    socklen_t  len;

    len = sizeof(struct ucred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == -1
        || len != sizeof(struct ucred))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* whether the peer "cred" is the worker "w", and not a namesake of it */

ngx_uint_t
ngx_http_signaller_ident_match(struct ucred *cred,
    ngx_http_signaller_ident_t *w)
{
    uint64_t  start;

    if (cred->pid != w->pid || cred->uid != w->uid) {
        return 0;
    }

    if (w->start == 0) {
        return 1;
    }

    return ngx_http_signaller_proc_start(w->proc_pid, &start) == NGX_OK
           && start == w->start;
}


/*
 * Field 22 of /proc/<pid>/stat, the start time in ticks since boot.  The
 * command name (field 2) may hold spaces and parentheses: the fields are
 * counted from its closing parenthesis, the last one in the line.
 * NGX_DECLINED: no such process, or one that has died and not yet been
 * reaped (state Z or X, field 3).
 */

static ngx_int_t
ngx_http_signaller_proc_start(ngx_pid_t pid, uint64_t *start)
{
    u_char      buf[1024], path[sizeof("/proc//stat") + NGX_INT64_LEN];
    u_char     *p, *last;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_err_t   err;
    ngx_uint_t  field;

    ngx_sprintf(path, "/proc/%P/stat%Z", pid);

    fd = open((char *) path, O_RDONLY|O_CLOEXEC);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        return (err == NGX_ENOENT || err == NGX_ESRCH) ? NGX_DECLINED
                                                      : NGX_ERROR;
    }

    n = read(fd, buf, sizeof(buf));
    err = ngx_errno;

    (void) close(fd);

    if (n <= 0) {
        return (n == -1 && err == NGX_ESRCH) ? NGX_DECLINED : NGX_ERROR;
    }

    last = buf + n;

    for (p = last; p > buf && p[-1] != ')'; p--) { /* void */ }

    if (p == buf) {
        return NGX_ERROR;
    }

    /* p is at the space before field 3 */

    if (last - p < 2 || p[1] == 'Z' || p[1] == 'X') {
        return (last - p < 2) ? NGX_ERROR : NGX_DECLINED;
    }

    for (field = 2; p < last && field < 22; p++) {
        if (*p == ' ') {
            field++;
        }
    }

    *start = 0;

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (*start >= 0xffffffffffffffffULL / 10) {
            return NGX_ERROR;
        }

        *start = *start * 10 + (*p - '0');
    }

    if (p == last || *p != ' ' || *start == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The shared memory zone that holds the pairing table (table.c), and the
 * workers' records: each worker keeps one (its identity, see ident.c) with
 * the table entries it owns, so those of a worker that died can be found
 * and purged without a walk over the whole table.  The zone also counts
 * configuration loads, which tells a stop from a reload.  The slab mutex
 * is held only for what is in the zone, never across a system call.
 */


#include "ngx_http_signaller.h"


static ngx_int_t ngx_http_signaller_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_signaller_worker_t *ngx_http_signaller_find_worker(
    ngx_http_signaller_zone_ctx_t *ctx, ngx_pid_t pid);
static void ngx_http_signaller_free_entries(
    ngx_http_signaller_zone_ctx_t *ctx, ngx_http_signaller_worker_t *w);


char *
ngx_http_signaller_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_shm_zone_t **zone)
{
    ngx_shm_zone_t                  *shm_zone, **pz;
    ngx_http_signaller_zone_ctx_t   *ctx;
    ngx_http_signaller_main_conf_t  *smcf;

    shm_zone = ngx_shared_memory_add(cf, name, size,
                                     &ngx_http_signaller_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data == NULL) {
        ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_signaller_zone_ctx_t));
        if (ctx == NULL) {
            return NGX_CONF_ERROR;
        }

        shm_zone->init = ngx_http_signaller_init_zone;
        shm_zone->data = ctx;

        smcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_signaller_module);

        pz = ngx_array_push(&smcf->zones);
        if (pz == NULL) {
            return NGX_CONF_ERROR;
        }

        *pz = shm_zone;
    }

    *zone = shm_zone;

    return NGX_CONF_OK;
}


/* the old table is kept across reloads, as long as the size is the same */

static ngx_int_t
ngx_http_signaller_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_signaller_zone_ctx_t  *octx = data;

    size_t                          len;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ctx->sh->generation++;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        ctx->sh->generation++;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_calloc(ctx->shpool,
                              sizeof(ngx_http_signaller_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ctx->sh->workers);

    ctx->sh->entries = 0;
    ctx->sh->taken = 0;
    ctx->sh->generation = 1;

    len = sizeof(" in signaller zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in signaller zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is reported by the caller, at the "error" level */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_signaller_zone_register(ngx_shm_zone_t *zone)
{
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    w = ngx_slab_alloc_locked(ctx->shpool,
                              sizeof(ngx_http_signaller_worker_t));
    if (w != NULL) {
        w->ident = ngx_http_signaller_self;
        w->generation = ctx->sh->generation;
        w->stopping = 0;
        w->pipes = 0;
        w->crossing = 0;
        ngx_queue_init(&w->entries);
        ngx_queue_init(&w->taken);
        ngx_queue_insert_tail(&ctx->sh->workers, &w->queue);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (w == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "signaller zone \"%V\" is full",
                      &zone->shm.name);
        return NGX_ERROR;
    }

    ctx->self = &w->queue;

    return NGX_OK;
}


void
ngx_http_signaller_zone_unregister(ngx_shm_zone_t *zone)
{
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL) {
        return;
    }

    w = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);

    /*
     * The record itself stays, marked, until a sweep finds the pid gone:
     * a worker still relaying from this one must learn that it left on
     * purpose, not that it crashed.
     */

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_signaller_free_entries(ctx, w);
    w->stopping = 1;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ctx->self = NULL;
}


/*
 * Entries of workers that died without unregistering (kill -9, a crash).
 * Each record is copied out under the lock and checked without it.
 */

void
ngx_http_signaller_zone_sweep(ngx_shm_zone_t *zone)
{
    ngx_uint_t                      i, n, found;
    ngx_queue_t                    *q;
    ngx_http_signaller_ident_t      ident;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;
    i = 0;

    for ( ;; ) {

        found = 0;
        n = 0;

        ngx_shmtx_lock(&ctx->shpool->mutex);

        for (q = ngx_queue_head(&ctx->sh->workers);
             q != ngx_queue_sentinel(&ctx->sh->workers);
             q = ngx_queue_next(q))
        {
            if (n++ == i) {
                w = ngx_queue_data(q, ngx_http_signaller_worker_t, queue);
                ident = w->ident;
                found = 1;
                break;
            }
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        if (!found) {
            return;
        }

        if (!ngx_http_signaller_ident_alive(&ident)) {
            /* the next record is now the i-th */
            ngx_http_signaller_purge(zone, &ident);
            continue;
        }

        i++;
    }
}


/* removes the record of the worker "ident", which is gone */

void
ngx_http_signaller_purge(ngx_shm_zone_t *zone,
    ngx_http_signaller_ident_t *ident)
{
    ngx_uint_t                      crashed;
    ngx_queue_t                    *q;
    ngx_http_signaller_node_t      *node;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;
    crashed = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(&ctx->sh->workers);
         q != ngx_queue_sentinel(&ctx->sh->workers);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_signaller_worker_t, queue);

        if (!ngx_http_signaller_ident_same(&w->ident, ident)) {
            continue;
        }

        crashed = !w->stopping;

        ngx_http_signaller_free_entries(ctx, w);

        /* listeners it took and did not pair can be found again */

        while (!ngx_queue_empty(&w->taken)) {
            q = ngx_queue_head(&w->taken);
            ngx_queue_remove(q);

            node = ngx_queue_data(q, ngx_http_signaller_node_t, taken);
            node->taker = NULL;
            ctx->sh->taken--;
        }

        ngx_queue_remove(&w->queue);
        ngx_slab_free_locked(ctx->shpool, w);
        break;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    /* the log is written once the lock is let go: it is I/O */

    if (crashed) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "signaller: purging entries of worker %P, which died",
                      ident->pid);
    }
}


static void
ngx_http_signaller_free_entries(ngx_http_signaller_zone_ctx_t *ctx,
    ngx_http_signaller_worker_t *w)
{
    ngx_queue_t                *q;
    ngx_http_signaller_node_t  *node;

    while (!ngx_queue_empty(&w->entries)) {
        q = ngx_queue_head(&w->entries);
        node = ngx_queue_data(q, ngx_http_signaller_node_t, queue);
        ngx_http_signaller_free_node(ctx, node);
    }
}


/*
 * A connector's worker could not reach the worker "w" that holds a
 * listener, or had no answer: its entries go if it is gone.
 */

ngx_uint_t
ngx_http_signaller_zone_gone(ngx_shm_zone_t *zone,
    ngx_http_signaller_ident_t *w)
{
    if (ngx_http_signaller_ident_alive(w)) {
        return 0;
    }

    ngx_http_signaller_purge(zone, w);

    return 1;
}


/*
 * The record of a worker of this zone with the pid "pid", to tell whether
 * a process that connects to this one is one of its fellow workers.
 */

ngx_int_t
ngx_http_signaller_zone_worker(ngx_shm_zone_t *zone, ngx_pid_t pid,
    ngx_http_signaller_ident_t *ident)
{
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    w = ngx_http_signaller_find_worker(ctx, pid);

    if (w != NULL) {
        *ident = w->ident;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return (w != NULL) ? NGX_OK : NGX_DECLINED;
}


/*
 * Whether a newer configuration has been loaded since this worker started:
 * a worker told to shut down is then being replaced by a reload, not
 * stopped.  Every load of the configuration counts in the zone it reuses,
 * and in the old zone it replaces (see zone_reload()).
 */

ngx_uint_t
ngx_http_signaller_zone_reloaded(ngx_shm_zone_t *zone)
{
    ngx_http_signaller_worker_t    *self;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL) {
        return 0;
    }

    self = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);

    return ctx->sh->generation != self->generation;
}


/*
 * In the master, when a new configuration is loaded: zones of the old one
 * that are not reused (gone, or resized) count the load too.
 */

void
ngx_http_signaller_zone_reload(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i, n, reused;
    ngx_list_part_t                *part, *opart;
    ngx_shm_zone_t                 *zone, *ozone;
    ngx_http_signaller_zone_ctx_t  *octx;

    if (cycle->old_cycle == NULL
        || cycle->old_cycle->shared_memory.part.elts == NULL)
    {
        return;
    }

    opart = &cycle->old_cycle->shared_memory.part;
    ozone = opart->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= opart->nelts) {
            if (opart->next == NULL) {
                break;
            }

            opart = opart->next;
            ozone = opart->elts;
            i = 0;
        }

        if (ozone[i].tag != &ngx_http_signaller_module) {
            continue;
        }

        reused = 0;

        part = &cycle->shared_memory.part;
        zone = part->elts;

        for (n = 0; /* void */ ; n++) {

            if (n >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                zone = part->elts;
                n = 0;
            }

            if (zone[n].shm.addr == ozone[i].shm.addr) {
                reused = 1;
                break;
            }
        }

        octx = ozone[i].data;

        if (!reused && octx->sh) {
            octx->sh->generation++;
        }
    }
}


/* this worker stops, or exits: pipes relayed from it end with 1001 */

void
ngx_http_signaller_zone_stopping(ngx_shm_zone_t *zone)
{
    ngx_http_signaller_worker_t    *self;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL) {
        return;
    }

    self = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);

    ngx_shmtx_lock(&ctx->shpool->mutex);
    self->stopping = 1;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Whether worker "pid" stopped on purpose: it marked its record when it
 * began to stop, or exited.  A crashed worker's record is not marked, or is
 * already purged.
 */

ngx_uint_t
ngx_http_signaller_zone_stopped(ngx_shm_zone_t *zone, ngx_pid_t pid)
{
    ngx_uint_t                      stopped;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    w = ngx_http_signaller_find_worker(ctx, pid);
    stopped = (w != NULL) ? w->stopping : 0;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return stopped;
}


void
ngx_http_signaller_zone_stats(ngx_shm_zone_t *zone,
    ngx_http_signaller_stats_t *stats)
{
    ngx_queue_t                    *q;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    ngx_memzero(stats, sizeof(ngx_http_signaller_stats_t));

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* a listener taken by a connector is no longer waiting for one */
    stats->waiting = ctx->sh->entries - ctx->sh->taken;

    /* pipes of workers shutting down count, not the workers themselves */

    for (q = ngx_queue_head(&ctx->sh->workers);
         q != ngx_queue_sentinel(&ctx->sh->workers);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_http_signaller_worker_t, queue);

        stats->workers += !w->stopping;
        stats->pipes += w->pipes;
        stats->crossing += w->crossing;
    }

    stats->pages = (ctx->shpool->end - ctx->shpool->start) / ngx_pagesize;
    stats->free = ctx->shpool->pfree;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    stats->counters = ctx->sh->counters;
}


/* a pipe opens (1) or closes (-1) in this worker */

void
ngx_http_signaller_zone_pipe(ngx_shm_zone_t *zone, ngx_uint_t crossing,
    ngx_atomic_int_t n)
{
    ngx_http_signaller_worker_t    *self;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL) {
        return;
    }

    self = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);

    (void) ngx_atomic_fetch_add(crossing ? &self->crossing : &self->pipes,
                                n);
}


/*
 * The newest record with the pid "pid"; called with the mutex held.  A
 * worker that died keeps its record until a sweep, and a worker started
 * after it may have its pid: only the newest can be of a live process.
 */

static ngx_http_signaller_worker_t *
ngx_http_signaller_find_worker(ngx_http_signaller_zone_ctx_t *ctx,
    ngx_pid_t pid)
{
    ngx_queue_t                  *q;
    ngx_http_signaller_worker_t  *w;

    for (q = ngx_queue_last(&ctx->sh->workers);
         q != ngx_queue_sentinel(&ctx->sh->workers);
         q = ngx_queue_prev(q))
    {
        w = ngx_queue_data(q, ngx_http_signaller_worker_t, queue);

        if (w->ident.pid == pid) {
            return w;
        }
    }

    return NULL;
}

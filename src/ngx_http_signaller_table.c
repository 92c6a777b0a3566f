
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The pairing table: waiting listeners by handle, in a shared memory zone,
 * so that a connector finds a listener whatever worker either landed on.
 * An entry names its listener by the owning worker's record (zone.c) and
 * a random id; nothing private to a process is kept here.  A worker that
 * pairs a listener, its own or another's, takes the entry first, so that
 * one connector only gets it.  Only the owner removes an entry, when its
 * listener pairs or leaves, or a worker that finds the owner dead.  The
 * slab mutex is only held for table operations, never across a system
 * call.
 */


#include "ngx_http_signaller.h"


static ngx_http_signaller_node_t *ngx_http_signaller_lookup(
    ngx_http_signaller_zone_ctx_t *ctx, ngx_str_t *handle);


/*
 * Adds a waiting listener under a new random id.  NGX_BUSY: the handle has
 * one already; NGX_DECLINED: the zone is full; NGX_AGAIN: it holds "max"
 * listeners (0: no limit).
 */

ngx_int_t
ngx_http_signaller_table_insert(ngx_shm_zone_t *zone, ngx_str_t *handle,
    ngx_uint_t max, ngx_http_signaller_id_t *id)
{
    size_t                          n;
    ngx_uint_t                      tries;
    ngx_http_signaller_node_t      *node;
    ngx_http_signaller_ident_t      owner;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL
        || ngx_http_signaller_random(id, sizeof(ngx_http_signaller_id_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    w = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);

    n = offsetof(ngx_http_signaller_node_t, data) + handle->len;

    for (tries = 0; tries < 2; tries++) {

        ngx_shmtx_lock(&ctx->shpool->mutex);

        node = ngx_http_signaller_lookup(ctx, handle);

        if (node != NULL) {
            owner = node->worker->ident;
            ngx_shmtx_unlock(&ctx->shpool->mutex);

            /* a listener of a worker that died is no listener */

            if (ngx_http_signaller_ident_alive(&owner)) {
                return NGX_BUSY;
            }

            ngx_http_signaller_purge(zone, &owner);
            continue;
        }

        if (max && ctx->sh->entries >= max) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_AGAIN;
        }

        node = ngx_slab_alloc_locked(ctx->shpool, n);

        if (node != NULL) {
            ngx_memcpy(node->data, handle->data, handle->len);
            node->sn.str.data = node->data;
            node->sn.str.len = handle->len;
            node->sn.node.key = ngx_crc32_short(handle->data, handle->len);
            node->worker = w;
            node->taker = NULL;
            node->id = *id;

            ngx_rbtree_insert(&ctx->sh->rbtree, &node->sn.node);
            ngx_queue_insert_tail(&w->entries, &node->queue);
            ctx->sh->entries++;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        if (node == NULL) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "signaller zone \"%V\" is full", &zone->shm.name);
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    return NGX_BUSY;
}


/*
 * Where the listener on "handle" waits: NGX_DECLINED if none.  The entry
 * stays: its owner removes it when the listener pairs.
 */

ngx_int_t
ngx_http_signaller_table_find(ngx_shm_zone_t *zone, ngx_str_t *handle,
    ngx_http_signaller_entry_t *entry)
{
    ngx_http_signaller_node_t      *node;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_signaller_lookup(ctx, handle);

    if (node != NULL) {
        entry->worker = node->worker->ident;
        entry->id = node->id;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return (node != NULL) ? NGX_OK : NGX_DECLINED;
}


/*
 * Takes the listener "id" on "handle" for a connector of this worker:
 * NGX_DECLINED if it has left, or another connector has it.  A taker that
 * died before the listener was paired leaves it to the next (purge()).
 */

ngx_int_t
ngx_http_signaller_table_take(ngx_shm_zone_t *zone, ngx_str_t *handle,
    ngx_http_signaller_id_t *id)
{
    ngx_int_t                       rc;
    ngx_http_signaller_node_t      *node;
    ngx_http_signaller_worker_t    *w;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;

    if (ctx->self == NULL) {
        return NGX_DECLINED;
    }

    w = ngx_queue_data(ctx->self, ngx_http_signaller_worker_t, queue);
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_signaller_lookup(ctx, handle);

    if (node != NULL && node->taker == NULL
        && ngx_memcmp(&node->id, id, sizeof(ngx_http_signaller_id_t)) == 0)
    {
        node->taker = w;
        ngx_queue_insert_tail(&w->taken, &node->taken);
        ctx->sh->taken++;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * NGX_BUSY: another worker had taken the entry, and a connector's socket
 * is on its way here for the listener.
 */

ngx_int_t
ngx_http_signaller_table_delete(ngx_shm_zone_t *zone, ngx_str_t *handle,
    ngx_http_signaller_id_t *id)
{
    ngx_int_t                       rc;
    ngx_http_signaller_node_t      *node;
    ngx_http_signaller_zone_ctx_t  *ctx;

    ctx = zone->data;
    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    node = ngx_http_signaller_lookup(ctx, handle);

    if (node != NULL
        && ngx_memcmp(&node->id, id, sizeof(ngx_http_signaller_id_t)) == 0)
    {
        if (node->taker && &node->taker->queue != ctx->self) {
            rc = NGX_BUSY;
        }

        ngx_http_signaller_free_node(ctx, node);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


static ngx_http_signaller_node_t *
ngx_http_signaller_lookup(ngx_http_signaller_zone_ctx_t *ctx,
    ngx_str_t *handle)
{
    return (ngx_http_signaller_node_t *)
               ngx_str_rbtree_lookup(&ctx->sh->rbtree, handle,
                                     ngx_crc32_short(handle->data,
                                                     handle->len));
}


void
ngx_http_signaller_free_node(ngx_http_signaller_zone_ctx_t *ctx,
    ngx_http_signaller_node_t *node)
{
    ngx_rbtree_delete(&ctx->sh->rbtree, &node->sn.node);
    ngx_queue_remove(&node->queue);

    if (node->taker) {
        ngx_queue_remove(&node->taken);
        ctx->sh->taken--;
    }

    ngx_slab_free_locked(ctx->shpool, node);
    ctx->sh->entries--;
}

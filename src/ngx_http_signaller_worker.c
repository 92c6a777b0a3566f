
/*
 * Copyright (C) The signaller for nginx authors
 */


/*
 * The worker's life: what each worker sets up and tears down, the sweep
 * of dead workers' entries, and telling a stop from a reload.
 */


#include "ngx_http_signaller.h"


static void ngx_http_signaller_sweep_handler(ngx_event_t *ev);
static void ngx_http_signaller_zones_stopping(ngx_shm_zone_t **zones,
    ngx_uint_t n);


static ngx_event_t  ngx_http_signaller_sweep;


ngx_int_t
ngx_http_signaller_init_module(ngx_cycle_t *cycle)
{
    ngx_http_signaller_zone_reload(cycle);

    return NGX_OK;
}


/* the zones of the running configuration: none if the module is unused */

ngx_shm_zone_t **
ngx_http_signaller_zones(ngx_cycle_t *cycle, ngx_uint_t *n)
{
    ngx_http_signaller_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_signaller_module);

    *n = smcf ? smcf->zones.nelts : 0;

    return *n ? smcf->zones.elts : NULL;
}


ngx_int_t
ngx_http_signaller_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t        i, n;
    ngx_shm_zone_t  **zones;

    zones = ngx_http_signaller_zones(cycle, &n);

    if (n == 0) {
        return NGX_OK;
    }

    ngx_http_signaller_sessions_init();

    /* the record each zone gets holds the relay socket's name */

    ngx_http_signaller_ident_init();
    ngx_http_signaller_links_init();
    ngx_http_signaller_relay_init(cycle);
    ngx_http_signaller_relays_init();
    ngx_http_signaller_handoffs_init();

    for (i = 0; i < n; i++) {
        if (ngx_http_signaller_zone_register(zones[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* debug logging reads a timer's data as a connection: never NULL */

    ngx_http_signaller_sweep.handler = ngx_http_signaller_sweep_handler;
    ngx_http_signaller_sweep.data = cycle;
    ngx_http_signaller_sweep.log = cycle->log;
    ngx_http_signaller_sweep.cancelable = 1;

    ngx_add_timer(&ngx_http_signaller_sweep, 1000);

    return NGX_OK;
}


static void
ngx_http_signaller_sweep_handler(ngx_event_t *ev)
{
    ngx_uint_t        i, n;
    ngx_shm_zone_t  **zones;

    zones = ngx_http_signaller_zones((ngx_cycle_t *) ngx_cycle, &n);

    for (i = 0; i < n; i++) {
        ngx_http_signaller_zone_sweep(zones[i]);
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, 1000);
    }
}


void
ngx_http_signaller_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t        i, n;
    ngx_shm_zone_t  **zones;

    zones = ngx_http_signaller_zones(cycle, &n);

    if (n == 0) {
        return;
    }

    ngx_http_signaller_zones_stopping(zones, n);

    ngx_http_signaller_sessions_exit();
    ngx_http_signaller_relays_exit();
    ngx_http_signaller_handoffs_exit();
    ngx_http_signaller_link_exit();
    ngx_http_signaller_relay_exit(cycle);

    for (i = 0; i < n; i++) {
        ngx_http_signaller_zone_unregister(zones[i]);
    }
}


/* a worker begins to shut down: sessions end now unless this is a reload */

void
ngx_http_signaller_worker_shutdown(void)
{
    ngx_uint_t        i, n;
    ngx_shm_zone_t  **zones;

    zones = ngx_http_signaller_zones((ngx_cycle_t *) ngx_cycle, &n);

    for (i = 0; i < n; i++) {
        if (ngx_http_signaller_zone_reloaded(zones[i])) {
            return;
        }
    }

    ngx_http_signaller_zones_stopping(zones, n);
    ngx_http_signaller_sessions_stop();
}


/* pipes relayed from this worker end with 1001 on the other side too */

static void
ngx_http_signaller_zones_stopping(ngx_shm_zone_t **zones, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_http_signaller_zone_stopping(zones[i]);
    }
}

/* flowpicd exporters: Prometheus /metrics over HTTP and DPDK telemetry commands. */
#ifndef FPD_EXPORT_H
#define FPD_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

struct fpd_app;

/**
 * Names the exporters show, copied once at start so that a model reload (which frees the old
 * model on the stats lcore) never pulls them from under an exporter thread. A reload keeps the
 * classes, so only the model name can go stale: it is the one loaded at start.
 */
struct fpd_export_names {
	char *model;
	uint32_t n_cats;		/**< classes + unknown, unclassified, other */
	uint32_t n_classes;
	char **cat;			/**< n_cats names */
};

/**
 * Copy app's model and category names (once; later calls do nothing). Call from the main
 * thread before any exporter starts. The copy lives until the process exits.
 * Returns 0 or -ENOMEM.
 */
int fpd_export_names_init(const struct fpd_app *app);

/** The copied names (all zero before fpd_export_names_init()). */
const struct fpd_export_names *fpd_export_names(void);

/**
 * Bind and listen on endpoint ("ADDR:PORT" or "[ADDR6]:PORT", as export.metrics takes it).
 * Call before the data path starts, so that a bad or busy address stops start-up. Prints a
 * message naming export.metrics and the address on error. An empty endpoint does nothing.
 * Returns 0, or a negative errno (-EINVAL malformed, -EADDRINUSE, -EADDRNOTAVAIL, ...).
 */
int fpd_metrics_open(struct fpd_app *app, const char *endpoint);

/**
 * Start serving /metrics from libmicrohttpd's own thread, created from an EAL control thread
 * so that it runs on the control CPUs, never on a data-path lcore. It reads snapshots only.
 * Does nothing if fpd_metrics_open() was not called or had an empty endpoint.
 * Returns 0, or a negative errno.
 */
int fpd_metrics_start(struct fpd_app *app);

/** Stop the HTTP server and close its socket; safe to call when it never started. */
void fpd_metrics_stop(struct fpd_app *app);

/**
 * Write the Prometheus text exposition (format 0.0.4) of snapshot s, with the names copied by
 * fpd_export_names_init(), into a new malloc'd, NUL-terminated buffer that the caller frees;
 * *len receives its length without the NUL. Returns the buffer, or NULL with errno set (ENOMEM).
 */
char *fpd_metrics_render(const struct fpd_snapshot *s, size_t *len);

/**
 * Register the /flowpic/... commands on DPDK's telemetry socket (after rte_eal_init()).
 * Their callbacks run on the telemetry thread and read snapshots only.
 * Returns 0, or a negative errno of the first registration that failed.
 */
int fpd_telemetry_init(struct fpd_app *app);

/**
 * Open the verdict log path for appending (app->verdict_log) and remember max_bytes: when the
 * file reaches it, the stats lcore renames it to PATH.1 (replacing an older one) and starts a
 * new one. Returns 0, or a negative errno with a message logged.
 */
int fpd_verdict_log_open(struct fpd_app *app, const char *path, uint64_t max_bytes);

/** Flush and close the verdict log and free its state; safe when it was never opened. */
void fpd_verdict_log_close(struct fpd_app *app);

#endif /* FPD_EXPORT_H */

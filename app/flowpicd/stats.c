/* Stats stage: the stats lcore folds verdicts into per-category counters, logs and reports. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowpicd.h"

#define FPD_STATS_BURST 64

static void
fpd_verdict_log(struct fpd_app *app, const struct fpd_verdict *v)
{
	char src[64], dst[64];
	uint16_t sport, dport;

	fp_flow_key_endpoints(&v->key, v->init_swapped, src, sizeof(src), &sport, dst,
		sizeof(dst), &dport);
	fprintf(app->verdict_log,
		"{\"time\": %" PRIu64 ".%06" PRIu64 ", \"src\": \"%s\", \"dst\": \"%s\", "
		"\"sport\": %u, \"dport\": %u, \"proto\": %u, \"window\": %u, "
		"\"category\": \"%s\", \"confidence\": %.4f, \"packets\": %" PRIu64 ", "
		"\"bytes\": %" PRIu64 "}\n",
		v->start_us / 1000000, v->start_us % 1000000, src, dst, sport, dport,
		v->key.proto, v->index, app->cat_names[v->category], v->confidence,
		v->packets, v->bytes);
}

/* Fold one verdict into the stats lcore's own counters. */
static void
fpd_stats_apply(struct fpd_app *app, const struct fpd_verdict *v)
{
	struct fpd_cat_counters *c = &app->cats[v->category];

	c->packets += v->packets;
	c->bytes += v->bytes;
	c->windows++;
	if (v->index == 0)
		c->flows++;
	if (app->verdict_log != NULL)
		fpd_verdict_log(app, v);
}

static void
fpd_add(struct fpd_cat_counters *dst, const struct fpd_cat_counters *src)
{
	dst->packets += src->packets;
	dst->bytes += src->bytes;
	dst->flows += src->flows;
	dst->windows += src->windows;
}

/*
 * Sum every stage's counters into per-category totals. RX and worker counters are read while
 * their single writers may still run (64-bit aligned loads are atomic on the platforms DPDK
 * supports), so a live snapshot may be a few packets behind; after the pipeline has stopped the
 * totals are exact.
 */
void
fpd_stats_totals(const struct fpd_app *app, struct fpd_cat_counters *cats,
		uint64_t *rx_packets, uint64_t *rx_bytes)
{
	unsigned int i;

	memcpy(cats, app->cats, sizeof(app->cats[0]) * app->n_cats);
	*rx_packets = 0;
	*rx_bytes = 0;
	for (i = 0; i < app->n_rx; i++) {
		const struct fpd_rx *rx = &app->rx[i];

		*rx_packets += rx->rx_packets;
		*rx_bytes += rx->rx_bytes;
		fpd_add(&cats[FPD_CAT_OTHER(app)], &rx->other);
		fpd_add(&cats[FPD_CAT_UNCLASSIFIED(app)], &rx->unclassified);
		fpd_add(&cats[FPD_CAT_UNCLASSIFIED(app)], &rx->unclassified_no_mem);
	}
	for (i = 0; i < app->n_workers; i++)
		fpd_add(&cats[FPD_CAT_UNCLASSIFIED(app)], &app->workers[i].unclassified);
}

static void
fpd_stats_summary(const struct fpd_app *app)
{
	struct fpd_cat_counters cats[FPD_MAX_CATEGORIES];
	uint64_t pk, by;
	char line[1024];
	size_t off = 0;
	unsigned int c;

	fpd_stats_totals(app, cats, &pk, &by);
	off += snprintf(line + off, sizeof(line) - off, "rx %" PRIu64 " pkts;", pk);
	for (c = 0; c < app->n_cats && off < sizeof(line); c++)
		off += snprintf(line + off, sizeof(line) - off, " %s %" PRIu64 "/%" PRIu64 "w",
			app->cat_names[c], cats[c].packets, cats[c].windows);
	FPD_LOG(INFO, "%s\n", line);
}

static unsigned int
fpd_stats_poll(struct fpd_app *app)
{
	struct fpd_verdict v[FPD_STATS_BURST];
	unsigned int i, w, n, total = 0;

	for (w = 0; w < app->n_workers; w++) {
		n = rte_ring_dequeue_burst_elem(app->workers[w].verdict_out, v, sizeof(v[0]),
			FPD_STATS_BURST, NULL);
		for (i = 0; i < n; i++)
			fpd_stats_apply(app, &v[i]);
		total += n;
	}
	return total;
}

static int
fpd_workers_done(const struct fpd_app *app)
{
	unsigned int w;

	for (w = 0; w < app->n_workers; w++)
		if (!atomic_load_explicit(&app->workers[w].done, memory_order_acquire))
			return 0;
	return 1;
}

/*
 * The stats lcore's loop: runs until every worker has finished and its verdict ring is empty.
 * Verdicts are the only input; everything else is read from the other stages' counters.
 */
int
fpd_stats_main(struct fpd_app *app)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t next_summary = 0, summary_every = 0;
	uint64_t snap_every = (uint64_t)(app->set.stats_interval * (double)hz);
	uint64_t next_snap = rte_get_tsc_cycles();

	if (app->set.summary_interval > 0) {
		summary_every = (uint64_t)(app->set.summary_interval * (double)hz);
		next_summary = rte_get_tsc_cycles() + summary_every;
	}
	for (;;) {
		int done = fpd_workers_done(app);
		unsigned int n = fpd_stats_poll(app);

		if (done && n == 0 && fpd_stats_poll(app) == 0)
			break;
		if (atomic_exchange(&app->reload, 0))
			fpd_reload_model(app);
		fpd_reload_poll(app);
		if (rte_get_tsc_cycles() >= next_snap) {
			fpd_snapshot_publish(app, 0);
			next_snap += snap_every;
		}
		if (summary_every != 0 && rte_get_tsc_cycles() >= next_summary) {
			fpd_stats_summary(app);
			next_summary += summary_every;
		}
		if (n == 0)
			rte_delay_us_sleep(100);
		if (atomic_load(&app->quit))
			break;
	}
	if (app->verdict_log != NULL)
		fflush(app->verdict_log);
	return 0;
}

/* After every lcore has stopped: publish the final, exact counters. */
void
fpd_stats_final(struct fpd_app *app)
{
	fpd_snapshot_publish(app, 1);
}

/* Stats stage: the stats lcore folds verdicts into per-category counters, logs and reports. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowpicd.h"
#include "export.h"

#define FPD_STATS_BURST 64

/* Verdict log rotation state (the stats lcore is the only writer). */
static struct {
	char *path;
	char *path1;		/* path + ".1" */
	uint64_t max;
	uint64_t size;		/* bytes in the current file */
} fpd_vlog;

int
fpd_verdict_log_open(struct fpd_app *app, const char *path, uint64_t max_bytes)
{
	struct stat st;
	size_t len = strlen(path);

	fpd_vlog.path = strdup(path);
	fpd_vlog.path1 = malloc(len + 3);
	if (fpd_vlog.path == NULL || fpd_vlog.path1 == NULL) {
		fpd_verdict_log_close(app);
		return -ENOMEM;
	}
	memcpy(fpd_vlog.path1, path, len);
	memcpy(fpd_vlog.path1 + len, ".1", 3);
	fpd_vlog.max = max_bytes;
	app->verdict_log = fopen(path, "a");
	if (app->verdict_log == NULL) {
		int err = errno;

		FPD_LOG(ERR, "%s: cannot open the verdict log: %s\n", path, strerror(err));
		fpd_verdict_log_close(app);
		return -err;
	}
	fpd_vlog.size = fstat(fileno(app->verdict_log), &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

void
fpd_verdict_log_close(struct fpd_app *app)
{
	if (app->verdict_log != NULL)
		fclose(app->verdict_log);
	app->verdict_log = NULL;
	free(fpd_vlog.path);
	free(fpd_vlog.path1);
	memset(&fpd_vlog, 0, sizeof(fpd_vlog));
}

/* The file reached export.verdicts_max_bytes: keep it as PATH.1 (replacing the older one). */
static void
fpd_verdict_log_rotate(struct fpd_app *app)
{
	fclose(app->verdict_log);
	if (rename(fpd_vlog.path, fpd_vlog.path1) != 0)
		FPD_LOG(WARNING, "%s: cannot rotate the verdict log to %s: %s\n", fpd_vlog.path,
			fpd_vlog.path1, strerror(errno));
	app->verdict_log = fopen(fpd_vlog.path, "a");
	if (app->verdict_log == NULL)
		FPD_LOG(ERR, "%s: cannot reopen the verdict log, verdicts no longer logged: %s\n",
			fpd_vlog.path, strerror(errno));
	fpd_vlog.size = 0;
}

static void
fpd_verdict_log(struct fpd_app *app, const struct fpd_verdict *v)
{
	char src[64], dst[64];
	uint16_t sport, dport;
	int n;

	fp_flow_key_endpoints(&v->key, v->init_swapped, src, sizeof(src), &sport, dst,
		sizeof(dst), &dport);
	n = fprintf(app->verdict_log,
		"{\"time\": %" PRIu64 ".%06" PRIu64 ", \"src\": \"%s\", \"dst\": \"%s\", "
		"\"sport\": %u, \"dport\": %u, \"proto\": %u, \"window\": %u, "
		"\"category\": \"%s\", \"confidence\": %.4f, \"packets\": %" PRIu64 ", "
		"\"bytes\": %" PRIu64 "}\n",
		v->start_us / 1000000, v->start_us % 1000000, src, dst, sport, dport,
		v->key.proto, v->index, app->cat_names[v->category], v->confidence,
		v->packets, v->bytes);
	if (n > 0)
		fpd_vlog.size += (uint64_t)n;
	if (fpd_vlog.max != 0 && fpd_vlog.size >= fpd_vlog.max)
		fpd_verdict_log_rotate(app);
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

/*
 * One line in the log from the latest snapshot: receive rate, per category share of bytes,
 * bit rate and flows (categories with traffic only), drops, ring fill and inference latency.
 * final: the counters at exit, rates left out.
 */
static void
fpd_stats_summary(const struct fpd_app *app, int final)
{
	static struct fpd_snapshot s;	/* stats lcore only */
	uint64_t drops = 0, used = 0, size = 0;
	char line[2048];
	size_t off = 0;
	unsigned int c, i;

	if (fpd_snapshot_read(app, &s) != 0)
		return;
	for (i = 1; i < FP_PARSE_REASON_MAX; i++)
		drops += s.parse_drops[i];
	for (i = 0; i < FP_PIPE_REASON_MAX; i++)
		if (i != FP_PIPE_WINDOW_SAMPLED && i != FP_PIPE_TABLE_EVICT)
			drops += s.pipe_drops[i];
	for (i = 0; i < s.n_workers; i++) {
		used += s.worker[i].ring_used;
		size += s.worker[i].ring_size;
	}
#define FPD_APPEND(...) do { \
		if (off < sizeof(line)) \
			off += (size_t)snprintf(line + off, sizeof(line) - off, __VA_ARGS__); \
	} while (0)
	FPD_APPEND("%s: rx %" PRIu64 " pkts %" PRIu64 " bytes", final ? "final" : "summary",
		s.rx_packets, s.rx_bytes);
	if (!final)
		FPD_APPEND(" (%.3f Mbit/s)", s.rx_bits_rate / 1e6);
	for (c = 0; c < s.n_cats; c++) {
		if (s.cat[c].bytes == 0)
			continue;
		FPD_APPEND("; %s %.1f%%", app->cat_names[c], s.rx_bytes ?
			100.0 * (double)s.cat[c].bytes / (double)s.rx_bytes : 0.0);
		if (!final)
			FPD_APPEND(" %.3f Mbit/s", s.cat[c].bits_rate / 1e6);
		FPD_APPEND(" %" PRIu64 " flows", s.cat[c].flows);
	}
	FPD_APPEND("; drops %" PRIu64 "; ring %.1f%%; inference %.0f us/batch", drops,
		size ? 100.0 * (double)used / (double)size : 0.0,
		s.lat_total ? s.lat_sum_s * 1e6 / (double)s.lat_total : 0.0);
#undef FPD_APPEND
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
 * The tick after one that fell due at or before now: one period later, or, when the lcore was
 * held up past that too (descheduled on a loaded host), one period from now. Ticks missed are
 * skipped rather than run back to back, so no snapshot's rates are taken over a few
 * microseconds and no burst of summary lines follows a stall.
 */
static inline uint64_t
fpd_next_tick(uint64_t due, uint64_t every, uint64_t now)
{
	due += every;
	return due > now ? due : now + every;
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
	uint64_t next_snap = rte_get_tsc_cycles(), now;

	if (app->set.summary_interval > 0) {
		summary_every = (uint64_t)(app->set.summary_interval * (double)hz);
		next_summary = rte_get_tsc_cycles() + summary_every;
	}
	for (;;) {
		int done = fpd_workers_done(app);
		unsigned int n = fpd_stats_poll(app);

		if (done && n == 0 && fpd_stats_poll(app) == 0)
			break;
		/* a SIGHUP during an unfinished reload waits for it, then reloads again */
		fpd_reload_poll(app);
		if (app->old_model == NULL && atomic_exchange(&app->reload, 0))
			fpd_reload_model(app);
		now = rte_get_tsc_cycles();
		if (now >= next_snap) {
			fpd_snapshot_publish(app, 0);
			next_snap = fpd_next_tick(next_snap, snap_every, now);
		}
		if (summary_every != 0 && now >= next_summary) {
			fpd_stats_summary(app, 0);
			next_summary = fpd_next_tick(next_summary, summary_every, now);
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
	if (app->set.summary_interval > 0)
		fpd_stats_summary(app, 1);
}

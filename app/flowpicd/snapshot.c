/* Counter snapshots: built on the stats lcore each interval, read lock-free by exporters. */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "flowpicd.h"
#include "snapshot.h"

/*
 * Category counters move only when a verdict arrives, by a whole window's packets at once, so
 * their rate over one stats interval swings between 0 and several times the real one. Their
 * rates are taken over fpd_rate_span() instead (two windows, at least one interval), against
 * the newest kept point at least that old. A point is kept at most every span / (points - 2)
 * seconds, so the ring always reaches back a whole span once the run is that old; before that
 * the reference is the zero point at start.
 */
static double
fpd_rate_span(const struct fpd_app *app)
{
	return RTE_MAX(app->set.stats_interval, 2e-6 * (double)app->set.window_us);
}

static const struct fpd_rate_point *
fpd_rate_ref(const struct fpd_app *app, double now)
{
	const struct fpd_rate_point *ref = NULL;
	unsigned int k;

	for (k = 0; k < app->rate_n; k++) {
		const struct fpd_rate_point *p =
			&app->rate_hist[(app->rate_head + FPD_RATE_POINTS - app->rate_n + k) %
				FPD_RATE_POINTS];

		if (ref == NULL || p->t <= now - fpd_rate_span(app))
			ref = p;
		else
			break;
	}
	return ref;
}

static void
fpd_rate_keep(struct fpd_app *app, double now, const struct fpd_cat_counters *cats)
{
	const struct fpd_rate_point *last;
	struct fpd_rate_point *p;
	unsigned int i;

	if (app->rate_n > 0) {
		last = &app->rate_hist[(app->rate_head + FPD_RATE_POINTS - 1) % FPD_RATE_POINTS];
		if (now - last->t < fpd_rate_span(app) / (FPD_RATE_POINTS - 2))
			return;
	}
	p = &app->rate_hist[app->rate_head];
	p->t = now;
	for (i = 0; i < app->n_cats; i++) {
		p->packets[i] = cats != NULL ? cats[i].packets : 0;
		p->bytes[i] = cats != NULL ? cats[i].bytes : 0;
	}
	app->rate_head = (app->rate_head + 1) % FPD_RATE_POINTS;
	if (app->rate_n < FPD_RATE_POINTS)
		app->rate_n++;
}

static void
fpd_snapshot_build(struct fpd_app *app, struct fpd_snapshot *s, const struct fpd_snapshot *prev,
		int finished)
{
	struct fpd_cat_counters cats[FPD_MAX_CATEGORIES];
	uint64_t now = rte_get_tsc_cycles(), rx_packets, rx_bytes;
	const struct fpd_rate_point *ref;
	double dt, cat_dt;
	unsigned int i, r, w;

	memset(s, 0, offsetof(struct fpd_snapshot, cat));
	s->uptime_s = (double)(now - app->start_tsc) / (double)app->tsc_hz;
	dt = prev->seq != 0 ? s->uptime_s - prev->uptime_s : s->uptime_s;
	s->interval_s = dt;
	fpd_stats_totals(app, cats, &rx_packets, &rx_bytes);
	/* every category before the queue counters: pairs with the fence in rx.c (snapshot.h) */
	rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
	s->rx_packets = 0;
	s->rx_bytes = 0;
	s->n_queues = 0;
	for (r = 0; r < app->n_rx; r++) {
		const struct fpd_rx *rx = &app->rx[r];

		for (i = 0; i < rx->n_polls; i++) {
			uint64_t pk = rx->q_packets[i], by = rx->q_bytes[i];

			s->rx_packets += pk;
			s->rx_bytes += by;
			if (s->n_queues < FPD_SNAP_MAX_QUEUES) {
				struct fpd_snap_queue *q = &s->queue[s->n_queues++];

				q->port = app->ports[rx->port_idx[i]].port_id;
				q->queue = rx->queue[i];
				q->packets = pk;
				q->bytes = by;
			}
		}
	}
	s->n_cats = app->n_cats;
	if (app->rate_n == 0)
		fpd_rate_keep(app, 0.0, NULL);
	ref = fpd_rate_ref(app, s->uptime_s);
	cat_dt = s->uptime_s - ref->t;
	s->cat_rate_span_s = cat_dt;
	s->window_s = 1e-6 * (double)app->set.window_us;
	for (i = 0; i < app->n_cats; i++) {
		s->cat[i].packets = cats[i].packets;
		s->cat[i].bytes = cats[i].bytes;
		s->cat[i].flows = cats[i].flows;
		s->cat[i].windows = cats[i].windows;
		s->cat[i].packets_rate = cat_dt > 0 ?
			(double)(cats[i].packets - ref->packets[i]) / cat_dt : 0.0;
		s->cat[i].bits_rate = cat_dt > 0 ?
			8.0 * (double)(cats[i].bytes - ref->bytes[i]) / cat_dt : 0.0;
	}
	fpd_rate_keep(app, s->uptime_s, cats);
	if (dt > 0) {
		s->rx_packets_rate = (double)(s->rx_packets - prev->rx_packets) / dt;
		s->rx_bits_rate = 8.0 * (double)(s->rx_bytes - prev->rx_bytes) / dt;
	}
	memset(s->parse_drops, 0, sizeof(s->parse_drops));
	memset(s->pipe_drops, 0, sizeof(s->pipe_drops));
	s->flows_active = 0;
	s->windows_sent = 0;
	for (r = 0; r < app->n_rx; r++) {
		const struct fpd_rx *rx = &app->rx[r];

		for (i = 0; i < FP_PARSE_REASON_MAX; i++)
			s->parse_drops[i] += rx->parse[i];
		for (i = 0; i < FP_PIPE_REASON_MAX; i++)
			s->pipe_drops[i] += rx->pipe[i];
		s->flows_active += rx->flows_active;
		s->windows_sent += rx->windows_sent;
	}
	s->pool[FPD_POOL_MBUFS].in_use = rte_mempool_in_use_count(app->mbuf_pool);
	s->pool[FPD_POOL_MBUFS].size = app->mbuf_pool->size;
	s->pool[FPD_POOL_RECORD_CHUNKS].in_use = rte_mempool_in_use_count(app->chunk_pool);
	s->pool[FPD_POOL_RECORD_CHUNKS].size = app->chunk_pool->size;
	s->nic_imissed = s->nic_ierrors = s->nic_rx_nombuf = 0;
	for (i = 0; i < app->n_ports; i++) {
		struct rte_eth_stats st;

		if (rte_eth_stats_get(app->ports[i].port_id, &st) == 0) {
			s->nic_imissed += st.imissed;
			s->nic_ierrors += st.ierrors;
			s->nic_rx_nombuf += st.rx_nombuf;
		}
	}
	s->n_workers = app->n_workers;
	for (i = 0; i < FPD_SNAP_LAT_BUCKETS; i++) {
		s->lat_le_s[i] = 10e-6 * (double)(1ull << i);
		s->lat_count[i] = 0;
	}
	s->lat_total = 0;
	s->lat_sum_s = 0;
	for (w = 0; w < app->n_workers && w < FPD_SNAP_MAX_WORKERS; w++) {
		struct fpd_worker *wk = &app->workers[w];
		uint64_t cum = 0, busy = wk->busy_cycles, total = wk->total_cycles;

		s->pipe_drops[FP_PIPE_VERDICT_RING_FULL] += wk->verdict_drops;
		s->worker[w].windows = wk->windows;
		s->worker[w].batches = wk->batches;
		s->worker[w].busy = total > wk->snap_total ?
			(double)(busy - wk->snap_busy) / (double)(total - wk->snap_total) : 0.0;
		wk->snap_busy = busy;
		wk->snap_total = total;
		s->worker[w].ring_used = 0;
		s->worker[w].ring_size = 0;
		for (r = 0; r < app->n_rx; r++) {
			s->worker[w].ring_used += rte_ring_count(app->rx[r].win_out[w]);
			s->worker[w].ring_size += rte_ring_get_capacity(app->rx[r].win_out[w]);
		}
		for (i = 0; i < FPD_SNAP_LAT_BUCKETS; i++) {
			cum += wk->lat_hist[i];
			s->lat_count[i] += cum;
		}
		s->lat_total += wk->batches;
		s->lat_sum_s += (double)wk->infer_ns / 1e9;
	}
	s->finished = finished;
}

void
fpd_snapshot_publish(struct fpd_app *app, int finished)
{
	uint64_t seq = atomic_load_explicit(&app->snap_seq, memory_order_relaxed);
	struct fpd_snapshot *next = &app->snap[(seq + 1) & 1];
	const struct fpd_snapshot *prev = &app->snap[seq & 1];

	/* readers of buffer (seq + 1) & 1 saw seq - 1 and will retry on the changed seq */
	atomic_store_explicit(&app->snap_writing, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	fpd_snapshot_build(app, next, prev, finished);
	next->seq = seq + 1;
	atomic_store_explicit(&app->snap_seq, seq + 1, memory_order_release);
}

int
fpd_snapshot_read(const struct fpd_app *app, struct fpd_snapshot *out)
{
	for (;;) {
		uint64_t s1 = atomic_load_explicit(&app->snap_seq, memory_order_acquire);

		if (s1 == 0)
			return -EAGAIN;
		memcpy(out, &app->snap[s1 & 1], sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		/* valid if no publication started writing into the buffer we copied */
		if (atomic_load_explicit(&app->snap_writing, memory_order_acquire) < s1 + 2 &&
				out->seq == s1)
			return 0;
	}
}

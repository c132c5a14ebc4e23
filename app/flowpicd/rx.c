/* RX stage: poll queues, parse, feed the per-lcore flow table, hand completed windows to workers. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "flowpicd.h"

#define FPD_RX_MAX_BURST 512
#define FPD_SWEEP_BUDGET 256

static void *
fpd_chunk_alloc(void *ctx)
{
	struct fpd_rx *rx = ctx;
	void *c;

	if (rte_mempool_get(rx->app->chunk_pool, &c) != 0)
		return NULL;
	return c;
}

static void
fpd_chunk_free(void *ctx, void *c)
{
	struct fpd_rx *rx = ctx;

	rte_mempool_put(rx->app->chunk_pool, c);
}

static void
fpd_count(struct fpd_cat_counters *c, uint64_t packets, uint64_t bytes, int windows, int flows)
{
	c->packets += packets;
	c->bytes += bytes;
	c->windows += windows;
	c->flows += flows;
}

/*
 * A window completed: too short -> unclassified; else to a worker ring, round-robin, trying
 * every worker once. Live, a full set of rings drops the window (counted, never waits); in
 * offline replay it waits for room so replay speed cannot change the results.
 */
static void
fpd_emit(void *ctx, struct fp_window *w)
{
	struct fpd_rx *rx = ctx;
	struct fpd_app *app = rx->app;
	unsigned int k, nw = app->n_workers;
	enum fp_pipe_reason why = FP_PIPE_SHORT_WINDOW;

	if (w->packets >= app->set.min_packets) {
		for (;;) {
			for (k = 0; k < nw; k++) {
				unsigned int wi = (rx->next_worker + k) % nw;

				if (rte_ring_sp_enqueue(rx->win_out[wi], w) == 0) {
					rx->next_worker = (wi + 1) % nw;
					rx->windows_sent++;
					return;
				}
			}
			if (!app->set.backpressure || atomic_load(&app->quit))
				break;
			rte_pause();
		}
		why = FP_PIPE_RING_FULL;
	}
	rx->pipe[why] += w->packets;
	fpd_count(&rx->unclassified, w->packets, w->bytes, 1, w->index == 0);
	fp_window_free(&rx->ops, w);
}

/* Time of a packet in microseconds: the Rx timestamp (packet clock) or the burst's TSC time. */
static inline uint64_t
fpd_pkt_time(const struct fpd_app *app, struct rte_mbuf *m, uint64_t burst_us)
{
	if (app->set.clock_packet && (m->ol_flags & app->ts_flag) != 0)
		return *RTE_MBUF_DYNFIELD(m, app->ts_offset, rte_mbuf_timestamp_t *);
	return burst_us;
}

static inline uint64_t
fpd_tsc_us(const struct fpd_app *app)
{
	return rte_get_tsc_cycles() / (app->tsc_hz / 1000000);
}

/*
 * --speed: hold a replayed packet until its capture time, relative to the first one and divided
 * by the speed, has come. Only the lcore polling the capture paces; what it hands over is due.
 */
static void
fpd_pace(struct fpd_rx *rx, struct rte_mbuf *m)
{
	struct fpd_app *app = rx->app;
	uint64_t t, due, now, us;

	if ((m->ol_flags & app->ts_flag) == 0)
		return;
	t = *RTE_MBUF_DYNFIELD(m, app->ts_offset, rte_mbuf_timestamp_t *);
	if (!rx->pace_started) {
		rx->pace_started = 1;
		rx->pace_t0_us = t;
		rx->pace_t0_tsc = rte_get_tsc_cycles();
		return;
	}
	if (t <= rx->pace_t0_us)
		return;
	due = rx->pace_t0_tsc +
		(uint64_t)((double)(t - rx->pace_t0_us) * (double)app->tsc_hz / 1e6 / app->speed);
	while ((now = rte_get_tsc_cycles()) < due && !atomic_load(&app->stop)) {
		us = (due - now) / (app->tsc_hz / 1000000);
		if (us >= 100)
			rte_delay_us_sleep(us < 10000 ? (unsigned int)us : 10000);
		else
			rte_pause();
	}
}

/*
 * Parse and account one burst, then add the flow packets to the table in one call. Frames that
 * are not flow packets count as "other" by reason. When dist is set (RX lcore 0 spreading a
 * single-queue port), packets owned by another RX lcore are passed to it instead. q is the
 * index of the polled queue, or -1 for frames handed over by RX lcore 0: the whole burst is
 * counted there as received before any of its packets is accounted anywhere else, so no
 * snapshot shows more packets or bytes in categories than received (snapshot.h).
 *
 * Pass 1 parses each frame straight into the next free slot of the table's burst (a frame that
 * is not one of this lcore's flow packets leaves the slot to the next frame) and sums what is
 * counted in locals; pass 2, after the fence, publishes the sums and handles the rare frames:
 * parse failures and packets for other lcores.
 */
static void
fpd_rx_process(struct fpd_rx *rx, struct rte_mbuf **pkts, uint16_t n, int dist, int q)
{
	struct fpd_app *app = rx->app;
	struct fp_pkt_meta metas[FPD_RX_MAX_BURST];
	uint64_t times[FPD_RX_MAX_BURST];
	struct rte_mbuf *done[FPD_RX_MAX_BURST];
	struct rte_mbuf *fwd[FPD_RX_MAX_BURST];
	uint32_t bad_wire[FPD_RX_MAX_BURST], fwd_wire[FPD_RX_MAX_BURST];
	uint8_t bad_reason[FPD_RX_MAX_BURST];
	uint8_t fwd_owner[FPD_RX_MAX_BURST];
	uint64_t burst_us = app->set.clock_packet ? rx->now_us : fpd_tsc_us(app);
	uint64_t burst_bytes = 0, flow_bytes = 0, now_us = rx->now_us;
	int pace = q >= 0 && app->speed > 0;
	uint16_t i, nf = 0, nd = 0, nb = 0, nfw = 0;

	/* pass 1: parse, the length each frame counts with, and where it goes */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct fp_pkt_meta *meta = &metas[nf];
		uint32_t wire = rte_pktmbuf_pkt_len(m);
		enum fp_parse_reason r;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (pace)
			fpd_pace(rx, m);
		r = fp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			meta);
		if (unlikely(r != FP_PARSE_OK)) {
			burst_bytes += wire;
			bad_reason[nb] = (uint8_t)r;
			bad_wire[nb++] = wire;
			done[nd++] = m;
			continue;
		}
		/*
		 * A replayed capture's snap length cuts frames: a frame exactly snap-length long
		 * weighs what its IP header says. Nothing else trusts the header's length.
		 */
		if (unlikely(app->snaplen[m->port] != 0 && wire == app->snaplen[m->port] &&
				meta->l3_off + meta->ip_len > wire))
			wire = meta->l3_off + meta->ip_len;
		burst_bytes += wire;
		if (dist) {
			unsigned int owner = fp_flow_key_hash(&meta->key) % app->n_rx;

			if (owner != rx->idx) {
				fwd_owner[nfw] = (uint8_t)owner;
				fwd_wire[nfw] = wire;
				fwd[nfw++] = m;
				continue;
			}
		}
		meta->frame_len = wire;
		flow_bytes += wire;
		times[nf] = fpd_pkt_time(app, m, burst_us);
		if (times[nf] > now_us)
			now_us = times[nf];
		nf++;
		done[nd++] = m;
	}
	if (q >= 0) {
		rx->q_packets[q] += n;
		rx->q_bytes[q] += burst_bytes;
	}
	/* received before accounted: the snapshot's acquire fence pairs with this one */
	rte_atomic_thread_fence(__ATOMIC_RELEASE);
	/* pass 2: account */
	rx->rx_packets += nf;
	rx->rx_bytes += flow_bytes;
	rx->now_us = now_us;
	for (i = 0; i < nb; i++) {
		rx->rx_packets++;
		rx->rx_bytes += bad_wire[i];
		rx->parse[bad_reason[i]]++;
		fpd_count(&rx->other, 1, bad_wire[i], 0, 0);
	}
	for (i = 0; i < nfw; i++) {
		struct rte_mbuf *m = fwd[i];
		struct fpd_rx *o = &app->rx[fwd_owner[i]];
		uint32_t wire = fwd_wire[i];
		int ret;

		while ((ret = rte_ring_sp_enqueue(o->dist_in, m)) != 0 &&
				app->set.backpressure && !atomic_load(&app->quit))
			rte_pause();
		if (ret == 0)
			continue;
		/* counted as received and unclassified here */
		rx->rx_packets++;
		rx->rx_bytes += wire;
		rx->pipe[FP_PIPE_DIST_RING_FULL]++;
		fpd_count(&rx->unclassified, 1, wire, 0, 0);
		done[nd++] = m;
	}
	/* everything parsed is in metas: the frames go back to the pool in one call */
	rte_pktmbuf_free_bulk(done, nd);
	if (nf > 0)
		fp_flow_table_add_burst(rx->table, metas, nf, times);
}

/* Copy the table's own drop counters into the lcore's reason counters. */
static void
fpd_rx_sync_counters(struct fpd_rx *rx)
{
	const struct fp_flow_counters *fc = fp_flow_table_counters(rx->table);

	rx->pipe[FP_PIPE_WINDOW_SAMPLED] = fc->recs_sampled_out;
	rx->pipe[FP_PIPE_TABLE_EVICT] = fc->flows_evicted;
	rx->pipe[FP_PIPE_NO_RECORD_MEM] = fc->recs_no_mem + fc->packets_no_mem;
	/* windows the table could not store at all: their packets are unclassified */
	rx->unclassified_no_mem.packets = fc->packets_no_mem;
	rx->unclassified_no_mem.bytes = fc->bytes_no_mem;
	rx->unclassified_no_mem.windows = fc->windows_no_mem;
	rx->flows_active = fc->flows_active;
}

/* Offline replay: the port is done once it has delivered every frame of the capture. */
static int
fpd_port_drained(const struct fpd_app *app, const struct fpd_port *p)
{
	struct rte_eth_stats st;

	if (!app->offline || rte_eth_stats_get(p->port_id, &st) != 0)
		return 0;
	return st.ipackets + st.rx_nombuf + st.ierrors >= p->frames;
}

int
fpd_rx_main(void *arg)
{
	struct fpd_rx *rx = arg;
	struct fpd_app *app = rx->app;
	struct rte_mbuf *pkts[FPD_RX_MAX_BURST];
	uint16_t burst = app->set.burst;
	unsigned int i, idle_polls = 0;
	int polling = rx->n_polls > 0;
	int dist = rx->idx == 0 && app->n_rx > 1 && rx->dist_needed;

	uint64_t t_start = rte_get_tsc_cycles(), t_loop = t_start;
	struct timespec cpu0, cpu1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);

	while (!atomic_load(&app->quit)) {
		unsigned int got = 0;
		int ports_done = 1;
		uint64_t t_now;

		if (polling && atomic_load(&app->stop))
			polling = 0;
		if (polling) {
			uint64_t t_poll = t_loop;

			for (i = 0; i < rx->n_polls; i++) {
				const struct fpd_port *p = &app->ports[rx->port_idx[i]];
				uint16_t n = rte_eth_rx_burst(p->port_id, rx->queue[i], pkts, burst);

				if (n > 0) {
					/* the driver's share: from the poll's start to its return */
					rx->driver_cycles += rte_get_tsc_cycles() - t_poll;
					fpd_rx_process(rx, pkts, n, dist && !p->rss, (int)i);
					got += n;
					ports_done = 0;
					if (i + 1 < rx->n_polls)
						t_poll = rte_get_tsc_cycles();
				} else if (!fpd_port_drained(app, p)) {
					ports_done = 0;
				}
			}
			if (ports_done && app->offline)
				polling = 0;
		}
		if (rx->dist_in != NULL) {
			uint16_t n = (uint16_t)rte_ring_sc_dequeue_burst(rx->dist_in, (void **)pkts,
				burst, NULL);

			if (n > 0) {
				fpd_rx_process(rx, pkts, n, 0, -1);
				got += n;
			}
		}
		if (!app->set.clock_packet)
			rx->now_us = fpd_tsc_us(app);
		if (got == 0 || ++idle_polls >= 64) {
			fp_flow_table_sweep(rx->table, rx->now_us, FPD_SWEEP_BUDGET);
			fpd_rx_sync_counters(rx);
			idle_polls = 0;
		}
		if (!polling && got == 0) {
			/* A lcore fed by lcore 0 stops once lcore 0 has and its ring is empty. */
			if (rx->dist_in == NULL || atomic_load(&app->rx[0].polling_done))
				if (rx->dist_in == NULL || rte_ring_empty(rx->dist_in))
					break;
		}
		if (!polling && rx->idx == 0)
			atomic_store(&rx->polling_done, 1);
		t_now = rte_get_tsc_cycles();
		if (got > 0)
			rx->busy_cycles += t_now - t_loop;
		if (polling || got > 0)
			rx->run_cycles = t_now - t_start;
		t_loop = t_now;
	}
	atomic_store(&rx->polling_done, 1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	rx->cpu_ns = (uint64_t)(cpu1.tv_sec - cpu0.tv_sec) * 1000000000ull +
		(uint64_t)cpu1.tv_nsec - (uint64_t)cpu0.tv_nsec;
	rx->flows_at_stop = fp_flow_table_counters(rx->table)->flows_active;
	fp_flow_table_flush(rx->table, rx->now_us);
	fpd_rx_sync_counters(rx);
	atomic_store_explicit(&rx->done, 1, memory_order_release);
	return 0;
}

/* Create flow tables and rings, and assign every port's queues to the RX lcores. */
int
fpd_rx_setup(struct fpd_app *app)
{
	char name[RTE_RING_NAMESIZE];
	unsigned int r, w, p;
	int need_dist = 0;

	for (p = 0; p < app->n_ports; p++)
		if (!app->ports[p].rss)
			need_dist = 1;
	for (r = 0; r < app->n_rx; r++) {
		struct fpd_rx *rx = &app->rx[r];
		struct fp_flow_table_conf tc;
		uint32_t cap = 16;

		rx->idx = r;
		rx->app = app;
		rx->dist_needed = need_dist;
		rx->ops.alloc_chunk = fpd_chunk_alloc;
		rx->ops.free_chunk = fpd_chunk_free;
		rx->ops.emit = fpd_emit;
		rx->ops.ctx = rx;
		while (cap < app->set.table_size)
			cap <<= 1;
		memset(&tc, 0, sizeof(tc));
		tc.capacity = cap;
		tc.window_us = app->set.window_us;
		tc.idle_us[FP_FLOW_CLASS_TCP] = app->set.idle_us[0];
		tc.idle_us[FP_FLOW_CLASS_UDP] = app->set.idle_us[1];
		tc.idle_us[FP_FLOW_CLASS_OTHER] = app->set.idle_us[2];
		tc.max_records = app->set.max_recs;
		tc.ops = rx->ops;
		rx->table = fp_flow_table_create(&tc);
		if (rx->table == NULL) {
			FPD_LOG(ERR, "RX lcore %u: cannot create a flow table of %u flows: %s\n",
				rx->lcore, cap, strerror(errno));
			return -errno;
		}
		for (w = 0; w < app->n_workers; w++) {
			snprintf(name, sizeof(name), "fpd_win_%u_%u", r, w);
			rx->win_out[w] = rte_ring_create(name, app->set.ring_windows,
				rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (rx->win_out[w] == NULL) {
				FPD_LOG(ERR, "cannot create ring %s: %s\n", name,
					rte_strerror(rte_errno));
				return -rte_errno;
			}
		}
		if (need_dist && r > 0) {
			snprintf(name, sizeof(name), "fpd_dist_%u", r);
			rx->dist_in = rte_ring_create(name, 4096, rte_socket_id(),
				RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (rx->dist_in == NULL) {
				FPD_LOG(ERR, "cannot create ring %s: %s\n", name,
					rte_strerror(rte_errno));
				return -rte_errno;
			}
		}
		/* queue r of every RSS port; every single-queue port is polled by lcore 0 */
		for (p = 0; p < app->n_ports; p++) {
			if (app->ports[p].rss || r == 0) {
				rx->port_idx[rx->n_polls] = (uint16_t)p;
				rx->queue[rx->n_polls] = app->ports[p].rss ? (uint16_t)r : 0;
				rx->n_polls++;
			}
		}
	}
	FPD_LOG(INFO, "flow table: %zu bytes of state per flow, %u flows per RX lcore\n",
		fp_flow_table_bytes_per_flow(), app->set.table_size);
	return 0;
}

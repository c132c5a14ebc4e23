/* Worker stage: completed windows -> FlowPics -> batched CNN inference -> verdicts to stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowpic.h"
#include "infer.h"
#include "flowpicd.h"

/* A worker's private state: one builder, one inference context, the batch being filled. */
struct fpd_worker_priv {
	struct fp_flowpic *pic;
	struct fp_infer *infer;
	uint32_t n;			/* pictures in the batch */
	uint64_t set_cycles;		/* TSC cycles spent setting the batch's inputs */
	struct fp_verdict *out;		/* max_batch */
	struct fpd_verdict *pend;	/* max_batch: what each picture's verdict reports */
};

/* Draw one window into the builder and hand it to inference slot n; frees the window. */
static void
fpd_worker_take(struct fpd_worker *wk, struct fpd_worker_priv *pv, struct fpd_rx *rx,
		struct fp_window *w)
{
	struct fpd_verdict *v = &pv->pend[pv->n];
	struct fp_rec_chunk *c;

	uint64_t t0;
	int ret;

	fp_flowpic_reset(pv->pic);
	for (c = fp_window_chunks(w); c != NULL; c = c->next)
		fp_flowpic_add_weighted(pv->pic, fp_rec_chunk_recs(c), c->n, 1u << w->shift);
	/* with the sparse front most of the network runs here: it counts as inference time */
	t0 = rte_get_tsc_cycles();
	ret = fp_infer_set_input(pv->infer, pv->n, pv->pic);
	pv->set_cycles += rte_get_tsc_cycles() - t0;
	if (ret != 0) {
		/* cannot happen with a checked model; never let the window vanish if it does */
		wk->unclassified.packets += w->packets;
		wk->unclassified.bytes += w->bytes;
		wk->unclassified.windows++;
		wk->unclassified.flows += w->index == 0;
		wk->windows++;
		fp_window_free(&rx->ops, w);
		return;
	}
	v->key = w->key;
	v->start_us = w->start_us;
	v->packets = w->packets;
	v->bytes = w->bytes;
	v->index = w->index;
	v->init_swapped = w->init_swapped;
	pv->n++;
	wk->windows++;
	fp_window_free(&rx->ops, w);
}

static unsigned int
fpd_lat_bucket(uint64_t ns)
{
	unsigned int b = 0;
	uint64_t bound = 10000;		/* 10 us */

	while (b + 1 < FPD_LAT_BUCKETS && ns >= bound) {
		bound <<= 1;
		b++;
	}
	return b;
}

/* Classify the pending batch and send its verdicts to the stats lcore. */
static void
fpd_worker_flush(struct fpd_worker *wk, struct fpd_worker_priv *pv)
{
	struct fpd_app *app = wk->app;
	uint64_t t0, ns;
	uint32_t i;
	int ret;

	if (pv->n == 0)
		return;
	t0 = rte_get_tsc_cycles();
	ret = fp_infer_run(pv->infer, pv->n, pv->out);
	ns = (rte_get_tsc_cycles() - t0 + pv->set_cycles) * 1000000000ull / app->tsc_hz;
	pv->set_cycles = 0;
	wk->infer_ns += ns;
	wk->lat_hist[fpd_lat_bucket(ns)]++;
	wk->batches++;
	for (i = 0; i < pv->n; i++) {
		struct fpd_verdict *v = &pv->pend[i];

		if (ret != 0) {
			v->category = (int32_t)FPD_CAT_UNKNOWN(app);
			v->confidence = 0;
		} else {
			v->category = pv->out[i].class_id < 0 ? (int32_t)FPD_CAT_UNKNOWN(app) :
				pv->out[i].class_id;
			v->confidence = pv->out[i].confidence;
		}
		while (rte_ring_sp_enqueue_elem(wk->verdict_out, v, sizeof(*v)) != 0) {
			if (!app->set.backpressure || atomic_load(&app->quit)) {
				wk->verdict_drops += v->packets;
				wk->unclassified.packets += v->packets;
				wk->unclassified.bytes += v->bytes;
				wk->unclassified.windows++;
				wk->unclassified.flows += v->index == 0;
				break;
			}
			rte_pause();
		}
	}
	if (ret != 0)
		FPD_LOG(ERR, "worker %u: inference failed (%d); %u windows reported unknown\n",
			wk->idx, ret, pv->n);
	pv->n = 0;
}

static int
fpd_rx_all_done(const struct fpd_app *app)
{
	unsigned int r;

	for (r = 0; r < app->n_rx; r++)
		if (!atomic_load_explicit(&app->rx[r].done, memory_order_acquire))
			return 0;
	return 1;
}

int
fpd_worker_main(void *arg)
{
	struct fpd_worker *wk = arg;
	struct fpd_app *app = wk->app;
	struct fpd_worker_priv *pv = wk->priv;
	void *wins[FP_INFER_MAX_BATCH];
	uint32_t batch = app->set.batch;

	while (!atomic_load(&app->quit)) {
		unsigned int r, got = 0;
		struct fp_infer *next = atomic_load(&wk->next_infer);

		/* a reloaded model: switch between batches; stats lcore frees the old context */
		if (next != NULL && pv->n == 0 && atomic_load(&wk->retired) == NULL) {
			atomic_store(&wk->retired, pv->infer);
			pv->infer = next;
			wk->swapped++;
			atomic_store(&wk->next_infer, NULL);
		}
		uint64_t t0 = rte_get_tsc_cycles();
		int rx_done = fpd_rx_all_done(app);

		for (r = 0; r < app->n_rx; r++) {
			struct fpd_rx *rx = &app->rx[r];
			unsigned int i, n;

			n = rte_ring_sc_dequeue_burst(rx->win_out[wk->idx], wins, batch - pv->n,
				NULL);
			for (i = 0; i < n; i++) {
				fpd_worker_take(wk, pv, rx, wins[i]);
				if (pv->n == batch)
					fpd_worker_flush(wk, pv);
			}
			got += n;
		}
		if (got == 0)
			fpd_worker_flush(wk, pv);	/* idle: do not hold a partial batch */
		if (got > 0)
			wk->busy_cycles += rte_get_tsc_cycles() - t0;
		wk->total_cycles += rte_get_tsc_cycles() - t0;
		if (got == 0 && rx_done)
			break;	/* RX finished before this pass found its rings empty */
		if (got == 0)
			rte_pause();
	}
	fpd_worker_flush(wk, pv);
	atomic_store_explicit(&wk->done, 1, memory_order_release);
	return 0;
}

/* Create each worker's builder, inference context and verdict ring (on the main lcore). */
int
fpd_worker_setup(struct fpd_app *app)
{
	char name[RTE_RING_NAMESIZE], err[512];
	unsigned int w;

	for (w = 0; w < app->n_workers; w++) {
		struct fpd_worker *wk = &app->workers[w];
		struct fpd_worker_priv *pv;

		wk->idx = w;
		wk->app = app;
		pv = calloc(1, sizeof(*pv));
		if (pv == NULL)
			return -ENOMEM;
		wk->priv = pv;
		pv->out = calloc(app->set.batch, sizeof(*pv->out));
		pv->pend = calloc(app->set.batch, sizeof(*pv->pend));
		pv->pic = fp_flowpic_create(app->set.resolution, app->set.window_us,
			app->set.direction);
		if (pv->out == NULL || pv->pend == NULL || pv->pic == NULL) {
			FPD_LOG(ERR, "worker %u: out of memory\n", w);
			return -ENOMEM;
		}
		pv->infer = fp_infer_create(app->model, app->set.batch, app->set.confidence, err,
			sizeof(err));
		if (pv->infer == NULL) {
			FPD_LOG(ERR, "worker %u: %s\n", w, err);
			return -EINVAL;
		}
		snprintf(name, sizeof(name), "fpd_verdict_%u", w);
		wk->verdict_out = rte_ring_create_elem(name, sizeof(struct fpd_verdict),
			app->set.ring_verdicts, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (wk->verdict_out == NULL) {
			FPD_LOG(ERR, "cannot create ring %s: %s\n", name, rte_strerror(rte_errno));
			return -rte_errno;
		}
	}
	if (app->n_workers > 0) {
		fp_infer_describe(((struct fpd_worker_priv *)app->workers[0].priv)->infer, err,
			sizeof(err));
		FPD_LOG(INFO, "inference: %s\n", err);
	}
	return 0;
}

void
fpd_worker_teardown(struct fpd_app *app)
{
	unsigned int w;

	for (w = 0; w < app->n_workers; w++) {
		struct fpd_worker_priv *pv = app->workers[w].priv;

		if (pv == NULL)
			continue;
		fp_infer_free(pv->infer);
		fp_infer_free(atomic_exchange(&app->workers[w].next_infer, NULL));
		fp_infer_free(atomic_exchange(&app->workers[w].retired, NULL));
		fp_flowpic_free(pv->pic);
		free(pv->out);
		free(pv->pend);
		free(pv);
		app->workers[w].priv = NULL;
	}
}

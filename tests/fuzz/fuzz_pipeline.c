/* Fuzz target: a capture file through parse, flow table, FlowPic and inference, accounted. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "flow.h"
#include "flowpic.h"
#include "infer.h"
#include "model.h"
#include "pkt.h"
#include "fuzz.h"

/*
 * The path is flowpicd's (app/flowpicd/rx.c, worker.c) without DPDK: each frame is parsed;
 * a frame that is not a flow packet is "other"; a flow packet goes to a small flow table whose
 * windows are either too short ("unclassified"), classified by a tiny CNN (one counter per
 * class), or lost for lack of record memory (the table's no_mem counters, "unclassified"). At
 * the end every received packet and byte must be in exactly one of those places, and every
 * record chunk must be back.
 */

#define FUZZ_RES 8u
#define FUZZ_CLASSES 3u
#define FUZZ_BATCH 4u
#define FUZZ_WINDOW_US 1000000u
#define FUZZ_MIN_PACKETS 2u
#define FUZZ_MAX_RECORDS 64u		/* records a window keeps before it is sampled */
#define FUZZ_MAX_CHUNKS 12u		/* fewer than table entries: the no-memory paths run */
#define FUZZ_MAX_FRAMES 4096u
#define FUZZ_SNAP_CAP 2048u		/* bytes the parser sees: an mbuf's first segment */

struct fuzz_cat {
	uint64_t packets;
	uint64_t bytes;
};

struct fuzz_run {
	struct fp_flow_table *table;
	struct fp_flow_table_ops ops;
	struct fp_flowpic *pic;
	uint32_t chunks_out;
	uint32_t n_pend;
	struct fuzz_cat pend[FUZZ_BATCH];
	struct fuzz_cat cls[FUZZ_CLASSES + 1];	/* classes, then unknown */
	struct fuzz_cat unclassified;
	struct fuzz_cat other;
	struct fuzz_cat rx;
	uint64_t windows;
};

static struct fp_model *fuzz_model;
static struct fp_infer *fuzz_infer;

/* Deterministic small weights. */
static float
fuzz_weight(uint32_t i)
{
	uint32_t x = i * 2654435761u + 12345u;

	x ^= x >> 13;
	return ((float)(x % 2001u) - 1000.0f) / 4000.0f;
}

/* conv2d 4x3x3 pad 1 -> relu -> maxpool 2 -> dense 3: a CNN of the shape flowpicd runs. */
static struct fp_model *
fuzz_model_build(void)
{
	static const char *const names[FUZZ_CLASSES] = { "voip", "video", "chat" };
	struct fp_model *m = calloc(1, sizeof(*m));
	char err[512];
	size_t i, n;

	if (m == NULL)
		return NULL;
	m->format_version = FP_MODEL_FORMAT_VERSION;
	snprintf(m->name, sizeof(m->name), "fuzz-%u", FUZZ_RES);
	m->resolution = FUZZ_RES;
	m->direction = FP_DIR_BOTH;
	m->norm = FP_NORM_LOG1P;
	m->window_us = FUZZ_WINDOW_US;
	m->n_classes = FUZZ_CLASSES;
	m->class_names = calloc(FUZZ_CLASSES, sizeof(char *));
	if (m->class_names == NULL)
		goto fail;
	for (i = 0; i < FUZZ_CLASSES; i++)
		if ((m->class_names[i] = strdup(names[i])) == NULL)
			goto fail;
	m->n_layers = 4;
	m->layers[0] = (struct fp_layer){ .type = FP_LAYER_CONV2D, .out_channels = 4,
		.kernel = 3, .stride = 1, .padding = 1 };
	m->layers[1] = (struct fp_layer){ .type = FP_LAYER_RELU };
	m->layers[2] = (struct fp_layer){ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 };
	m->layers[3] = (struct fp_layer){ .type = FP_LAYER_DENSE, .units = FUZZ_CLASSES };
	m->accuracy = -1;
	if (fp_model_derive_shapes(m, err, sizeof(err)) != 0)
		goto fail;
	n = fp_model_param_count(m);
	m->blob = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	if (m->blob == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		m->blob[i] = fuzz_weight((uint32_t)i);
	m->blob_len = n;
	if (fp_model_bind_weights(m, err, sizeof(err)) != 0)
		goto fail;
	return m;
fail:
	fprintf(stderr, "fuzz_pipeline: model: %s\n", err);
	fp_model_free(m);
	return NULL;
}

static void *
fuzz_chunk_alloc(void *ctx)
{
	struct fuzz_run *r = ctx;
	void *c;

	if (r->chunks_out == FUZZ_MAX_CHUNKS)
		return NULL;
	c = aligned_alloc(64, FP_FLOW_CHUNK_SIZE);
	if (c != NULL)
		r->chunks_out++;
	return c;
}

static void
fuzz_chunk_free(void *ctx, void *c)
{
	struct fuzz_run *r = ctx;

	FP_FUZZ_CHECK(r->chunks_out > 0);
	r->chunks_out--;
	free(c);
}

static void
fuzz_add(struct fuzz_cat *c, uint64_t packets, uint64_t bytes)
{
	c->packets += packets;
	c->bytes += bytes;
}

/* Classify the pending pictures; each verdict's window counts in its class. */
static void
fuzz_classify(struct fuzz_run *r)
{
	struct fp_verdict v[FUZZ_BATCH];
	uint32_t i;

	if (r->n_pend == 0)
		return;
	FP_FUZZ_CHECK(fp_infer_run(fuzz_infer, r->n_pend, v) == 0);
	for (i = 0; i < r->n_pend; i++) {
		float sum = 0;
		uint32_t k;

		FP_FUZZ_CHECK(v[i].best >= 0 && (uint32_t)v[i].best < FUZZ_CLASSES);
		for (k = 0; k < FUZZ_CLASSES; k++) {
			FP_FUZZ_CHECK(isfinite(v[i].probs[k]) && v[i].probs[k] >= 0);
			sum += v[i].probs[k];
		}
		FP_FUZZ_CHECK(fabsf(sum - 1.0f) < 1e-3f);
		fuzz_add(&r->cls[v[i].class_id < 0 ? FUZZ_CLASSES : (uint32_t)v[i].class_id],
			r->pend[i].packets, r->pend[i].bytes);
	}
	r->n_pend = 0;
}

/* A window ended: short ones are unclassified, others become a picture of the batch. */
static void
fuzz_emit(void *ctx, struct fp_window *w)
{
	struct fuzz_run *r = ctx;
	struct fp_rec_chunk *c;
	uint32_t n = 0, drawn = 0;

	r->windows++;
	FP_FUZZ_CHECK(w->end_reason < FP_WIN_END_MAX);
	FP_FUZZ_CHECK(w->packets >= 1 && w->n_records <= w->packets);
	FP_FUZZ_CHECK(w->n_records + w->sampled_out + w->no_mem == w->packets);
	/* sampling keeps the cap and marks the window; an unsampled window left nothing out */
	FP_FUZZ_CHECK(w->n_records <= FUZZ_MAX_RECORDS);
	FP_FUZZ_CHECK((w->shift > 0) == ((w->flags & FP_WIN_F_SAMPLED) != 0));
	FP_FUZZ_CHECK(w->shift > 0 || w->sampled_out == 0);
	if (w->packets < FUZZ_MIN_PACKETS) {
		fuzz_add(&r->unclassified, w->packets, w->bytes);
		fp_window_free(&r->ops, w);
		return;
	}
	fp_flowpic_reset(r->pic);
	for (c = fp_window_chunks(w); c != NULL; c = c->next) {
		uint32_t i;

		for (i = 0; i < c->n; i++)
			FP_FUZZ_CHECK(fp_rec_chunk_recs(c)[i].t_us < FUZZ_WINDOW_US);
		drawn += fp_flowpic_add_weighted(r->pic, fp_rec_chunk_recs(c), c->n,
				1u << w->shift);
		n += c->n;
	}
	FP_FUZZ_CHECK(n == w->n_records && drawn == n);
	FP_FUZZ_CHECK(fp_infer_set_input(fuzz_infer, r->n_pend, r->pic) == 0);
	r->pend[r->n_pend].packets = w->packets;
	r->pend[r->n_pend].bytes = w->bytes;
	r->n_pend++;
	fp_window_free(&r->ops, w);
	if (r->n_pend == FUZZ_BATCH)
		fuzz_classify(r);
}

static int
fuzz_init(void)
{
	char err[512];

	fuzz_model = fuzz_model_build();
	if (fuzz_model == NULL)
		return -1;
	fuzz_infer = fp_infer_create(fuzz_model, FUZZ_BATCH, 0.4f, err, sizeof(err));
	if (fuzz_infer == NULL) {
		fprintf(stderr, "fuzz_pipeline: inference: %s\n", err);
		return -1;
	}
	return 0;
}

/* One frame as flowpicd's RX stage takes it: parse, count, or add to the table. */
static void
fuzz_frame(struct fuzz_run *r, const struct pcap_pkthdr *h, const u_char *data)
{
	uint32_t wire = h->caplen;
	uint32_t seen = h->caplen < FUZZ_SNAP_CAP ? h->caplen : FUZZ_SNAP_CAP;
	uint64_t t = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	struct fp_pkt_meta m;

	if (fp_pkt_parse(data, seen, &m) != FP_PARSE_OK) {
		fuzz_add(&r->rx, 1, wire);
		fuzz_add(&r->other, 1, wire);
		return;
	}
	if (m.l3_off + m.ip_len > wire)
		wire = m.l3_off + m.ip_len;
	m.frame_len = wire;
	fuzz_add(&r->rx, 1, wire);
	fp_flow_table_add(r->table, &m, t);
	if (r->rx.packets % 64 == 0)
		fp_flow_table_sweep(r->table, t, 256);
}

static void
fuzz_check_accounting(struct fuzz_run *r)
{
	const struct fp_flow_counters *fc = fp_flow_table_counters(r->table);
	struct fuzz_cat sum = r->other;
	uint64_t win = 0;
	uint32_t k;

	fuzz_add(&sum, r->unclassified.packets, r->unclassified.bytes);
	fuzz_add(&sum, fc->packets_no_mem, fc->bytes_no_mem);
	for (k = 0; k <= FUZZ_CLASSES; k++)
		fuzz_add(&sum, r->cls[k].packets, r->cls[k].bytes);
	FP_FUZZ_CHECK(sum.packets == r->rx.packets);
	FP_FUZZ_CHECK(sum.bytes == r->rx.bytes);
	FP_FUZZ_CHECK(fc->packets == r->rx.packets - r->other.packets);
	FP_FUZZ_CHECK(fc->flows_active == 0);
	FP_FUZZ_CHECK(fc->flows_created ==
		fc->flows_idle + fc->flows_evicted + fc->flows_flushed);
	for (k = 0; k < FP_WIN_END_MAX; k++)
		win += fc->windows[k];
	FP_FUZZ_CHECK(win == r->windows);
	FP_FUZZ_CHECK(r->chunks_out == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct fp_flow_table_conf tc;
	struct pcap_pkthdr *h;
	const u_char *frame;
	struct fuzz_run r;
	uint64_t last_t = 0;
	uint32_t n = 0;
	pcap_t *p;
	FILE *f;

	if (fuzz_infer == NULL && fuzz_init() != 0)
		abort();
	if (size == 0)
		return 0;
	f = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (f == NULL)
		return 0;
	p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (p == NULL) {
		fclose(f);
		return 0;		/* flowpicd refuses the file before starting */
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		pcap_close(p);
		return 0;		/* net_pcap replays Ethernet only; flowpicd refuses it too */
	}
	memset(&r, 0, sizeof(r));
	r.ops.alloc_chunk = fuzz_chunk_alloc;
	r.ops.free_chunk = fuzz_chunk_free;
	r.ops.emit = fuzz_emit;
	r.ops.ctx = &r;
	memset(&tc, 0, sizeof(tc));
	tc.capacity = 16;
	tc.window_us = FUZZ_WINDOW_US;
	tc.idle_us[FP_FLOW_CLASS_TCP] = 2 * FUZZ_WINDOW_US;
	tc.idle_us[FP_FLOW_CLASS_UDP] = FUZZ_WINDOW_US;
	tc.idle_us[FP_FLOW_CLASS_OTHER] = FUZZ_WINDOW_US / 2;
	tc.max_records = FUZZ_MAX_RECORDS;
	tc.ops = r.ops;
	r.table = fp_flow_table_create(&tc);
	r.pic = fp_flowpic_create(FUZZ_RES, FUZZ_WINDOW_US, FP_DIR_BOTH);
	FP_FUZZ_CHECK(r.table != NULL && r.pic != NULL);

	while (n < FUZZ_MAX_FRAMES && pcap_next_ex(p, &h, &frame) == 1) {
		fuzz_frame(&r, h, frame);
		last_t = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		n++;
	}
	pcap_close(p);
	fp_flow_table_flush(r.table, last_t);
	fuzz_classify(&r);
	fuzz_check_accounting(&r);
	fp_flow_table_free(r.table);
	fp_flowpic_free(r.pic);
	return 0;
}

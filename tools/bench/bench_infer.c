/* Inference benchmark: pictures per second per core, dense oneDNN against flowpic's path. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowpic.h"
#include "infer.h"
#include "model.h"

/*
 * For each network (LeNet-5 at 32 x 32 and 64 x 64, the FlowPic paper network at 1500 x 1500)
 * and batch size, on the same realistic windows (200..3000 packets, VoIP / video / chat /
 * browsing / file-transfer mixes drawn from a fixed seed), one thread:
 *  (a) dense: the whole network in oneDNN on pictures built beforehand (the baseline: a
 *      context with the direct stage turned off, fp_infer_params.direct_front = 0);
 *  (b) flowpic: FlowPic built from the packet records + fp_infer with its defaults on the
 *      automatic path (sparse front when the picture is sparse enough, else the dense path
 *      with the direct stage computing the first convolution), everything timed;
 * plus the parts of (b): the build alone, inference alone on the automatic path, with the
 * sparse path forced, and with the dense path forced (with the direct stage when the model
 * has one: the description line says); and (a) again with oneDNN on plain NCHW / OIHW tensors.
 * Usage: bench_infer [seconds per measurement, default 1] [resolution to run only]
 */

#define N_WINDOWS 96
#define MAX_PKTS 3000
#define WINDOW_US 60000000u
#define N_CLASSES 5

struct window {
	uint32_t n;
	struct fp_pkt_rec recs[MAX_PKTS];
};

static struct window windows[N_WINDOWS];
static double seconds = 1.0;

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state = 20190429;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
rng_unit(void)
{
	return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static uint32_t
rng_range(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_unit() * (hi - lo + 1));
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct fp_pkt_rec *x = a, *y = b;

	return x->t_us < y->t_us ? -1 : x->t_us > y->t_us;
}

/*
 * One window of n packets of a category: 0 VoIP (steady 20 ms frames of 60..220 bytes both
 * ways), 1 video (bursts of full-size packets every 1..4 s, small ACKs back), 2 chat (sparse
 * small messages), 3 browsing (bursts of mixed sizes), 4 file transfer (steady full-size
 * packets, ACKs back).
 */
static void
make_window(struct window *w, uint32_t cat, uint32_t n)
{
	uint32_t i, t = 0, burst_t = 0, left = 0;

	w->n = n;
	for (i = 0; i < n; i++) {
		struct fp_pkt_rec *r = &w->recs[i];
		uint32_t size;

		r->dir = (uint8_t)(rng_next() & 1);
		r->flags = 0;
		switch (cat) {
		case 0:
			t = (uint32_t)((uint64_t)i * WINDOW_US / n) + rng_range(0, 3000);
			size = rng_range(60, 220);
			break;
		case 1:
			if (left == 0) {
				burst_t = rng_range(0, WINDOW_US - 1);
				left = rng_range(50, 400);
			}
			left--;
			t = burst_t + rng_range(0, 300000);
			size = r->dir ? rng_range(52, 66) : rng_unit() < 0.9 ? 1500 :
				rng_range(200, 1500);
			break;
		case 2:
			t = rng_range(0, WINDOW_US - 1);
			size = rng_unit() < 0.5 ? rng_range(52, 80) : rng_range(100, 600);
			break;
		case 3:
			if (left == 0) {
				burst_t = rng_range(0, WINDOW_US - 1);
				left = rng_range(20, 200);
			}
			left--;
			t = burst_t + rng_range(0, 2000000);
			size = rng_unit() < 0.4 ? 1500 : rng_range(52, 1500);
			break;
		default:
			t = (uint32_t)((uint64_t)i * WINDOW_US / n) + rng_range(0, 500);
			size = r->dir ? 52 : rng_unit() < 0.95 ? 1500 : rng_range(100, 1500);
			break;
		}
		r->t_us = t < WINDOW_US ? t : WINDOW_US - 1;
		r->size = (uint16_t)size;
	}
	qsort(w->recs, n, sizeof(w->recs[0]), rec_cmp);
}

/* ---- networks with random weights ---- */

static struct fp_model *
make_model(const char *name, uint32_t res, const struct fp_layer *layers, uint32_t n_layers)
{
	struct fp_model *m = calloc(1, sizeof(*m));
	char err[256];
	size_t count, i;
	uint32_t li;

	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->format_version = FP_MODEL_FORMAT_VERSION;
	m->resolution = res;
	m->direction = FP_DIR_BOTH;
	m->norm = FP_NORM_LOG1P;
	m->window_us = WINDOW_US;
	m->accuracy = -1.0;
	m->n_classes = N_CLASSES;
	m->class_names = calloc(N_CLASSES, sizeof(char *));
	for (li = 0; li < N_CLASSES && m->class_names != NULL; li++)
		m->class_names[li] = strdup("c");
	m->n_layers = n_layers;
	memcpy(m->layers, layers, n_layers * sizeof(*layers));
	if (fp_model_derive_shapes(m, err, sizeof(err)) < 0)
		goto fail;
	count = fp_model_param_count(m);
	m->blob = calloc(count, sizeof(float));
	m->blob_len = count;
	if (m->blob == NULL || fp_model_bind_weights(m, err, sizeof(err)) < 0)
		goto fail;
	for (li = 0; li < n_layers; li++) {
		const struct fp_layer *l = &m->layers[li];
		size_t wo = (size_t)(l->weights - m->blob), bo = (size_t)(l->bias - m->blob);
		double a;

		if (l->n_weights == 0)
			continue;
		a = sqrt(6.0 * l->n_bias / (double)l->n_weights);
		for (i = 0; i < l->n_weights; i++)
			m->blob[wo + i] = (float)((2 * rng_unit() - 1) * a);
		for (i = 0; i < l->n_bias; i++)
			m->blob[bo + i] = (float)((2 * rng_unit() - 1) * 0.2);
	}
	return m;
fail:
	fprintf(stderr, "%s: %s\n", name, err);
	fp_model_free(m);
	return NULL;
}

static struct fp_model *
model_for(uint32_t res)
{
	const struct fp_layer paper[] = {
		{ .type = FP_LAYER_CONV2D, .out_channels = 10, .kernel = 10, .stride = 5 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 },
		{ .type = FP_LAYER_CONV2D, .out_channels = 20, .kernel = 10, .stride = 5 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 },
		{ .type = FP_LAYER_DENSE, .units = 64 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_DENSE, .units = N_CLASSES },
		{ .type = FP_LAYER_SOFTMAX },
	};
	const struct fp_layer lenet[] = {
		{ .type = FP_LAYER_CONV2D, .out_channels = 6, .kernel = 5, .stride = 1 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 },
		{ .type = FP_LAYER_CONV2D, .out_channels = 16, .kernel = 5, .stride = 1 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 },
		{ .type = FP_LAYER_DENSE, .units = 120 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_DENSE, .units = 84 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_DENSE, .units = N_CLASSES },
	};

	if (res == 1500)
		return make_model("paper", res, paper, 10);
	return make_model("lenet5", res, lenet, 11);
}

/* ---- timing ---- */

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double
now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: what the measurement cost when other processes share the cores. */
static double
cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* What one measurement loop does per batch. */
enum mode {
	MODE_DENSE,	/* prebuilt pictures, dense path */
	MODE_FULL,	/* build + automatic path */
	MODE_BUILD,	/* build only */
	MODE_INFER,	/* prebuilt pictures, automatic path */
	MODE_SPARSE,	/* prebuilt pictures, sparse path forced */
};

struct bench {
	struct fp_infer *ctx;
	struct fp_flowpic *pic;		/* builder for MODE_FULL / MODE_BUILD */
	struct fp_flowpic **built;	/* prebuilt pictures */
	uint32_t n_built;
	uint32_t batch;
	struct fp_verdict out[64];
	uint64_t sparse, pictures, sink;
};

/* A rate measured two ways. */
struct rate {
	double wall;	/* pictures per wall-clock second: best of the repetitions */
	double cpu;	/* pictures per second of this thread's CPU time: best repetition */
};

#define REPS 5

/* One repetition: batches for about seconds / REPS. */
static void
measure_once(struct bench *b, enum mode mode, struct rate *r)
{
	uint32_t next = 0, i;
	uint64_t pics = 0;
	double t0, c0, t;

	t0 = now();
	c0 = cpu_now();
	do {
		for (i = 0; i < b->batch; i++) {
			if (mode == MODE_FULL || mode == MODE_BUILD) {
				const struct window *w = &windows[next++ % N_WINDOWS];

				fp_flowpic_reset(b->pic);
				fp_flowpic_add(b->pic, w->recs, w->n);
				if (mode == MODE_FULL)
					fp_infer_set_input(b->ctx, i, b->pic);
				else
					b->sink += fp_flowpic_nnz(b->pic);
			} else {
				fp_infer_set_input(b->ctx, i, b->built[next++ % b->n_built]);
			}
		}
		if (mode != MODE_BUILD) {
			if (fp_infer_run(b->ctx, b->batch, b->out) < 0) {
				fprintf(stderr, "inference failed\n");
				exit(1);
			}
			for (i = 0; i < b->batch; i++)
				b->sparse += b->out[i].path == FP_INFER_PATH_SPARSE;
		}
		pics += b->batch;
		t = now() - t0;
	} while (t < seconds / REPS);
	b->pictures += pics;
	if (pics / t > r->wall)
		r->wall = pics / t;
	t = cpu_now() - c0;
	if (t > 0 && pics / t > r->cpu)
		r->cpu = pics / t;
}

/* Best of REPS repetitions (the least disturbed by other work on the machine). */
static struct rate
measure(struct bench *b, enum mode mode)
{
	struct rate r = { 0, 0 };
	int i;

	fp_infer_set_path(b->ctx, mode == MODE_DENSE ? FP_INFER_PATH_DENSE :
			mode == MODE_SPARSE ? FP_INFER_PATH_SPARSE : FP_INFER_PATH_AUTO);
	b->sparse = 0;
	b->pictures = 0;
	for (i = 0; i < REPS; i++)
		measure_once(b, mode, &r);
	return r;
}

/* Resident memory of the process, MB. */
static double
resident_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, res = 0;

	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * 4096.0 / (1 << 20);
}

static void
cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && p != NULL) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

/* All measurements of one resolution. */
static int
bench_resolution(uint32_t res, const uint32_t *batches, uint32_t n_batches)
{
	struct fp_model *m = model_for(res);
	struct bench b;
	uint64_t nnz = 0;
	char err[512], desc[4096];
	uint32_t i, bi;

	if (m == NULL)
		return -1;
	memset(&b, 0, sizeof(b));
	b.n_built = res >= 1000 ? 8 : N_WINDOWS;
	b.built = calloc(b.n_built, sizeof(*b.built));
	b.pic = fp_flowpic_create(res, WINDOW_US, FP_DIR_BOTH);
	if (b.built == NULL || b.pic == NULL)
		return -1;
	for (i = 0; i < b.n_built; i++) {
		b.built[i] = fp_flowpic_create(res, WINDOW_US, FP_DIR_BOTH);
		if (b.built[i] == NULL)
			return -1;
		fp_flowpic_add(b.built[i], windows[i].recs, windows[i].n);
	}
	for (i = 0; i < N_WINDOWS; i++) {
		fp_flowpic_reset(b.pic);
		fp_flowpic_add(b.pic, windows[i].recs, windows[i].n);
		nnz += fp_flowpic_nnz(b.pic);
	}
	for (bi = 0; bi < n_batches; bi++) {
		struct rate dense, full, build, infer, sparse, direct, plain;
		struct fp_infer_params prm;
		struct fp_infer *ctx;
		double mb;

		b.batch = batches[bi];
		/* (b) and its parts: the defaults (created first: its memory is measured) */
		mb = resident_mb();
		ctx = fp_infer_create(m, b.batch, 0.0f, err, sizeof(err));
		if (ctx == NULL) {
			fprintf(stderr, "create: %s\n", err);
			return -1;
		}
		mb = resident_mb() - mb;
		if (bi == 0) {
			fp_infer_describe(ctx, desc, sizeof(desc));
			printf("\n%ux%u: %s\n  mean non-zero cells %.0f of %u; auto sparse up to %u cells\n",
					res, res, desc, (double)nnz / N_WINDOWS, res * res,
					fp_infer_sparse_max_nnz(ctx));
		}
		printf("  R=%-4u batch %-2u context memory %.0f MB\n", res, b.batch, mb);
		/* (a): the whole network in oneDNN, no direct stage */
		fp_infer_params_init(&prm);
		prm.max_batch = b.batch;
		prm.direct_front = 0;
		b.ctx = fp_infer_create_params(m, &prm, err, sizeof(err));
		if (b.ctx == NULL) {
			fprintf(stderr, "create: %s\n", err);
			return -1;
		}
		dense = measure(&b, MODE_DENSE);
		fp_infer_free(b.ctx);
		b.ctx = ctx;
		full = measure(&b, MODE_FULL);
		printf("  R=%-4u batch %-2u (a) dense oneDNN %7.0f/s (cpu %7.0f/s)   (b) build+infer %7.0f/s (cpu %7.0f/s)   b/a %5.2fx   sparse %3.0f%%\n",
				res, b.batch, dense.wall, dense.cpu, full.wall, full.cpu,
				full.cpu / dense.cpu, 100.0 * (double)b.sparse / (double)b.pictures);
		build = measure(&b, MODE_BUILD);
		infer = measure(&b, MODE_INFER);
		sparse = measure(&b, MODE_SPARSE);
		direct = measure(&b, MODE_DENSE);
		fp_infer_free(b.ctx);
		/* the dense baseline again, oneDNN on plain NCHW/OIHW tensors */
		fp_infer_params_init(&prm);
		prm.max_batch = b.batch;
		prm.plain_formats = 1;
		prm.direct_front = 0;
		b.ctx = fp_infer_create_params(m, &prm, err, sizeof(err));
		if (b.ctx == NULL) {
			fprintf(stderr, "create: %s\n", err);
			return -1;
		}
		plain = measure(&b, MODE_DENSE);
		fp_infer_free(b.ctx);
		printf("  %*s cpu: build only %7.0f/s; infer only: auto %7.0f/s, sparse forced %7.0f/s, dense forced %7.0f/s, (a) on plain formats %7.0f/s\n",
				16, "", build.cpu, infer.cpu, sparse.cpu, direct.cpu, plain.cpu);
		fflush(stdout);
	}
	for (i = 0; i < b.n_built; i++)
		fp_flowpic_free(b.built[i]);
	free(b.built);
	fp_flowpic_free(b.pic);
	fp_model_free(m);
	return 0;
}

int
main(int argc, char **argv)
{
	static const uint32_t small[] = { 1, 64 }, big[] = { 1, 8, 64 };
	uint32_t only = 0, i;
	char cpu[256];

	if (argc > 1)
		seconds = atof(argv[1]);
	if (argc > 2)
		only = (uint32_t)atoi(argv[2]);
	if (!(seconds > 0) || seconds > 600) {
		fprintf(stderr, "usage: %s [seconds per measurement (0..600]] [resolution]\n",
				argv[0]);
		return 2;
	}
	for (i = 0; i < N_WINDOWS; i++)
		make_window(&windows[i], i % 5, rng_range(200, MAX_PKTS));
	cpu_model(cpu, sizeof(cpu));
	printf("flowpic inference benchmark: one thread, pictures per second of wall clock (CLOCK_MONOTONIC)\n");
	printf("on a shared machine, and per second of this thread's CPU time; best of %d repetitions\n",
			REPS);
	printf("CPU: %s; %.1f s per measurement; %u windows of 200..%u packets (seeded)\n", cpu,
			seconds, N_WINDOWS, MAX_PKTS);
	if ((only == 0 || only == 32) && bench_resolution(32, small, 2) < 0)
		return 1;
	if ((only == 0 || only == 64) && bench_resolution(64, small, 2) < 0)
		return 1;
	if ((only == 0 || only == 1500) && bench_resolution(1500, big, 3) < 0)
		return 1;
	return 0;
}

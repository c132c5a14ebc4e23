/* Unit tests of lib/infer: oneDNN, sparse and direct paths against a naive reference, batching, errors. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "flowpic.h"
#include "infer.h"
#include "infer_priv.h"
#include "model.h"
#include "fp_test.h"
#include "ref_cnn.h"

/* The unit-test build compiles one source file per library, so the reference comes in here. */
#include "ref_cnn.c"

#define TOL 1e-4		/* on probabilities */

/*
 * Allocation counter: this executable's malloc family wraps glibc's, so every allocation made
 * by the library under test (and oneDNN, and its C++ runtime) is seen. oneDNN's
 * dnnl_primitive_execute() is wrapped too: it builds a small argument map on the heap at every
 * call (oneDNN 2.x does so in its C and C++ APIs alike), which is counted apart.
 * Under AddressSanitizer, whose allocator owns the malloc family (glibc would abort on its
 * pointers), the count comes from the sanitizer's allocation hook instead.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FP_ASAN 1
#endif
#endif

static volatile unsigned long n_allocs;		/* outside dnnl_primitive_execute() */
static volatile unsigned long n_allocs_execute;	/* inside it */
static volatile int in_execute;

static inline void
count_alloc(void)
{
	if (in_execute)
		n_allocs_execute++;
	else
		n_allocs++;
}

#ifndef FP_ASAN
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *
malloc(size_t n)
{
	count_alloc();
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	count_alloc();
	return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	count_alloc();
	return __libc_realloc(p, n);
}

void *
memalign(size_t align, size_t n)
{
	count_alloc();
	return __libc_memalign(align, n);
}

void *
aligned_alloc(size_t align, size_t n)
{
	count_alloc();
	return __libc_memalign(align, n);
}

int
posix_memalign(void **p, size_t align, size_t n)
{
	count_alloc();
	*p = __libc_memalign(align, n);
	return *p == NULL ? ENOMEM : 0;
}

void
free(void *p)
{
	__libc_free(p);
}
#else
/* In the sanitizer runtimes (gcc's libasan and clang's compiler-rt alike). */
int __sanitizer_install_malloc_and_free_hooks(
		void (*malloc_hook)(const volatile void *p, size_t n),
		void (*free_hook)(const volatile void *p));

static void
asan_malloc_hook(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
	count_alloc();
}

static void
asan_free_hook(const volatile void *p)
{
	(void)p;
}
#endif

dnnl_status_t
dnnl_primitive_execute(const_dnnl_primitive_t prim, dnnl_stream_t stream, int nargs,
		const dnnl_exec_arg_t *args)
{
	static dnnl_status_t (*real)(const_dnnl_primitive_t, dnnl_stream_t, int,
			const dnnl_exec_arg_t *);
	dnnl_status_t st;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "dnnl_primitive_execute");
	if (real == NULL)
		return dnnl_runtime_error;
	in_execute++;
	st = real(prim, stream, nargs, args);
	in_execute--;
	return st;
}

#define MAX_PICS 16

static char err[512];
static int verdicts_compared;

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rng_state;

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
rng_below(uint32_t n)
{
	return (uint32_t)(rng_unit() * n);
}

static float
rng_sym(double a)
{
	return (float)((2.0 * rng_unit() - 1.0) * a);
}

/* ---- models built in memory ---- */

static struct fp_layer
conv(uint32_t out_c, uint32_t k, uint32_t s, uint32_t p)
{
	struct fp_layer l = { .type = FP_LAYER_CONV2D, .out_channels = out_c, .kernel = k,
		.stride = s, .padding = p };

	return l;
}

static struct fp_layer
pool(uint32_t k, uint32_t s, uint32_t p)
{
	struct fp_layer l = { .type = FP_LAYER_MAXPOOL, .kernel = k, .stride = s, .padding = p };

	return l;
}

static struct fp_layer
dense(uint32_t units)
{
	struct fp_layer l = { .type = FP_LAYER_DENSE, .units = units };

	return l;
}

static struct fp_layer
op(enum fp_layer_type t)
{
	struct fp_layer l = { .type = t, .rate = t == FP_LAYER_DROPOUT ? 0.5f : 0.0f };

	return l;
}

/*
 * A model of the given layers with derived shapes and random weights (fixed seed): weights
 * uniform in +-sqrt(6 / fan_in) (He), biases uniform in +-0.2, so activations are neither all
 * dead nor exploding. Freed with fp_model_free().
 */
static struct fp_model *
make_model(const char *name, uint32_t res, uint32_t n_classes, enum fp_norm norm,
		const struct fp_layer *layers, uint32_t n_layers, uint64_t seed)
{
	struct fp_model *m = calloc(1, sizeof(*m));
	size_t count, i;
	uint32_t li;

	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->format_version = FP_MODEL_FORMAT_VERSION;
	m->resolution = res;
	m->direction = FP_DIR_BOTH;
	m->norm = norm;
	m->window_us = 60000000;
	m->accuracy = -1.0;
	m->n_classes = n_classes;
	m->class_names = calloc(n_classes, sizeof(char *));
	for (li = 0; li < n_classes && m->class_names != NULL; li++) {
		char cn[16];

		snprintf(cn, sizeof(cn), "class%u", li);
		m->class_names[li] = strdup(cn);
	}
	m->n_layers = n_layers;
	memcpy(m->layers, layers, n_layers * sizeof(*layers));
	if (fp_model_derive_shapes(m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		fp_model_free(m);
		return NULL;
	}
	count = fp_model_param_count(m);
	m->blob = calloc(count, sizeof(float));
	m->blob_len = count;
	if (m->blob == NULL || fp_model_bind_weights(m, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", name, err);
		fp_model_free(m);
		return NULL;
	}
	rng_state = seed;
	for (li = 0; li < n_layers; li++) {
		const struct fp_layer *l = &m->layers[li];
		double fan_in, a;
		size_t wo, bo;

		if (l->n_weights == 0)
			continue;
		fan_in = (double)l->n_weights / (l->type == FP_LAYER_DENSE ? l->units : l->out_c);
		a = sqrt(6.0 / fan_in);
		wo = (size_t)(l->weights - m->blob);
		bo = (size_t)(l->bias - m->blob);
		for (i = 0; i < l->n_weights; i++)
			m->blob[wo + i] = rng_sym(a);
		for (i = 0; i < l->n_bias; i++)
			m->blob[bo + i] = rng_sym(0.2);
	}
	return m;
}

/* Paper network (Shapira & Shavitt, FlowPic) on 1500 x 1500. */
static struct fp_model *
paper_model(uint32_t n_classes, uint64_t seed)
{
	const struct fp_layer l[] = {
		conv(10, 10, 5, 0), op(FP_LAYER_RELU), pool(2, 2, 0),
		conv(20, 10, 5, 0), op(FP_LAYER_RELU), pool(2, 2, 0),
		dense(64), op(FP_LAYER_RELU), dense(n_classes), op(FP_LAYER_SOFTMAX),
	};

	return make_model("paper", 1500, n_classes, FP_NORM_LOG1P, l, 10, seed);
}

/* LeNet-5 on res x res (no final softmax layer). */
static struct fp_model *
lenet_model(uint32_t res, uint32_t n_classes, uint64_t seed)
{
	const struct fp_layer l[] = {
		conv(6, 5, 1, 0), op(FP_LAYER_RELU), pool(2, 2, 0),
		conv(16, 5, 1, 0), op(FP_LAYER_RELU), pool(2, 2, 0),
		dense(120), op(FP_LAYER_RELU), dense(84), op(FP_LAYER_RELU), dense(n_classes),
	};

	return make_model("lenet5", res, n_classes, FP_NORM_LOG1P, l, 11, seed);
}

/* ---- pictures ---- */

enum pic_kind {
	PIC_EMPTY,
	PIC_SCATTER,	/* cells anywhere, small counts */
	PIC_BANDS,	/* a few packet-size rows across all time columns, like VoIP */
	PIC_BORDER,	/* every border row and column and the corners, saturated counts */
	PIC_DENSE,	/* a third of all cells */
};

/* Fill img (R x R, zeroed here) with a picture of the given kind, values normalised by norm. */
static uint32_t
make_picture(float *img, uint32_t res, enum fp_norm norm, enum pic_kind kind, uint32_t nnz)
{
	uint32_t i, r, c, n = 0;

	memset(img, 0, (size_t)res * res * sizeof(float));
	switch (kind) {
	case PIC_EMPTY:
		break;
	case PIC_SCATTER:
	case PIC_DENSE:
		if (kind == PIC_DENSE)
			nnz = res * res / 3;
		for (i = 0; i < nnz; i++)
			img[rng_below(res * res)] = fp_norm_apply(norm, 1 + rng_below(20));
		break;
	case PIC_BANDS:
		for (i = 0; i < nnz; i++) {
			r = res / 10 + rng_below(3) * (res / 7 + 1) + rng_below(2);
			c = rng_below(res);
			img[(size_t)(r % res) * res + c] = fp_norm_apply(norm, 1 + rng_below(40));
		}
		break;
	case PIC_BORDER:
		for (i = 0; i < res; i++) {
			img[i] = fp_norm_apply(norm, FP_FLOWPIC_COUNT_MAX);
			img[(size_t)(res - 1) * res + i] = fp_norm_apply(norm, 1 + i % 7);
			img[(size_t)i * res] = fp_norm_apply(norm, 1 + i % 5);
			img[(size_t)i * res + res - 1] = fp_norm_apply(norm, FP_FLOWPIC_COUNT_MAX);
		}
		break;
	}
	for (i = 0; i < res * res; i++)
		n += img[i] != 0.0f;
	return n;
}

/* ---- checks ---- */

/* v (from inference) agrees with the reference forward pass of img. */
static int
check_ref(const struct fp_model *m, const float *img, const struct fp_verdict *v)
{
	double probs[FP_MODEL_MAX_CLASSES], top = -1, second = -1;
	uint32_t i, best = 0;

	FP_ASSERT_EQ(ref_cnn_forward(m, img, probs, NULL), 0);
	for (i = 0; i < m->n_classes; i++) {
		FP_ASSERT_NEAR(v->probs[i], probs[i], TOL);
		if (probs[i] > top) {
			second = top;
			top = probs[i];
			best = i;
		} else if (probs[i] > second) {
			second = probs[i];
		}
	}
	FP_ASSERT_NEAR(v->confidence, top, TOL);
	if (top - second > 10 * TOL) {	/* otherwise rounding may pick the other one */
		FP_ASSERT_EQ(v->best, best);
		FP_ASSERT_EQ(v->class_id, best);
		verdicts_compared++;
	}
	return 0;
}

/* Two verdicts of the same picture agree (other path, other batch size). */
static int
check_same(const struct fp_verdict *a, const struct fp_verdict *b, uint32_t n_classes)
{
	uint32_t i;

	for (i = 0; i < n_classes; i++)
		FP_ASSERT_NEAR(a->probs[i], b->probs[i], TOL);
	FP_ASSERT_NEAR(a->confidence, b->confidence, TOL);
	return 0;
}

/* Copy verdicts and their probabilities out of the context (valid until the next run). */
static void
keep(struct fp_verdict *dst, float (*probs)[FP_MODEL_MAX_CLASSES], const struct fp_verdict *src,
		uint32_t n, uint32_t n_classes)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		dst[i] = src[i];
		memcpy(probs[i], src[i].probs, n_classes * sizeof(float));
		dst[i].probs = probs[i];
	}
}

/* Set pictures first .. first+n-1 into slots 0 .. n-1 and run them. */
static int
run_pics(struct fp_infer *ctx, float *const *imgs, uint32_t first, uint32_t n,
		struct fp_verdict *out)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, i, imgs[first + i]), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, n, out), 0);
	return 0;
}

/* Number of threads of this process. */
static int
thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Every picture through dense and sparse paths, one by one, partial and full batches, against
 * the reference: the heart of the checks, shared by all networks.
 */
static int
check_model_all_ways(const struct fp_model *m, float *const *imgs, uint32_t n_pics,
		uint32_t max_batch, int has_front)
{
	static float probs[4][MAX_PICS][FP_MODEL_MAX_CLASSES];
	struct fp_verdict out[MAX_PICS], full_dense[MAX_PICS], full_sparse[MAX_PICS];
	struct fp_verdict single[MAX_PICS];
	struct fp_infer *ctx;
	uint32_t i, half;
	int rc = 0;

	FP_ASSERT(n_pics <= max_batch && n_pics <= MAX_PICS);
	ctx = fp_infer_create(m, max_batch, 0.0f, err, sizeof(err));
	if (ctx == NULL)
		FP_FAIL("create %s: %s", m->name, err);

	/* full batch, dense path, against the reference */
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_DENSE), 0);
	if (run_pics(ctx, imgs, 0, n_pics, out) < 0)
		goto fail;
	keep(full_dense, probs[0], out, n_pics, m->n_classes);
	for (i = 0; i < n_pics; i++) {
		if (full_dense[i].path != FP_INFER_PATH_DENSE || check_ref(m, imgs[i],
				&full_dense[i]) < 0) {
			fprintf(stderr, "%s: dense picture %u\n", m->name, i);
			goto fail;
		}
	}

	/* sparse path (when the model has a front): same results */
	if (has_front) {
		FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_SPARSE), 0);
		if (run_pics(ctx, imgs, 0, n_pics, out) < 0)
			goto fail;
		keep(full_sparse, probs[1], out, n_pics, m->n_classes);
		for (i = 0; i < n_pics; i++) {
			if (full_sparse[i].path != FP_INFER_PATH_SPARSE ||
					check_same(&full_sparse[i], &full_dense[i], m->n_classes) < 0 ||
					check_ref(m, imgs[i], &full_sparse[i]) < 0) {
				fprintf(stderr, "%s: sparse picture %u\n", m->name, i);
				goto fail;
			}
		}
	} else {
		FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_SPARSE), -ENOTSUP);
	}

	/* batch of one, and a partial batch then the rest, on the automatic path */
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_AUTO), 0);
	for (i = 0; i < n_pics; i++) {
		if (run_pics(ctx, imgs, i, 1, out) < 0)
			goto fail;
		keep(&single[i], &probs[2][i], out, 1, m->n_classes);
		if (check_same(&single[i], &full_dense[i], m->n_classes) < 0 ||
				single[i].best != full_dense[i].best) {
			fprintf(stderr, "%s: single picture %u\n", m->name, i);
			goto fail;
		}
	}
	half = n_pics > 1 ? n_pics / 2 + 1 : 1;
	if (run_pics(ctx, imgs, 0, half, out) < 0)
		goto fail;
	for (i = 0; i < half; i++) {
		if (check_same(&out[i], &full_dense[i], m->n_classes) < 0) {
			fprintf(stderr, "%s: partial batch picture %u\n", m->name, i);
			goto fail;
		}
	}
	if (half < n_pics) {
		if (run_pics(ctx, imgs, half, n_pics - half, out) < 0)
			goto fail;
		for (i = half; i < n_pics; i++) {
			if (check_same(&out[i - half], &full_dense[i], m->n_classes) < 0) {
				fprintf(stderr, "%s: rest of batch picture %u\n", m->name, i);
				goto fail;
			}
		}
	}
	goto done;
fail:
	rc = -1;
done:
	fp_infer_free(ctx);
	return rc;
}

/* Allocate n pictures of res x res of the kinds in turn (cycling through kinds). */
static float **
make_pictures(uint32_t res, enum fp_norm norm, const enum pic_kind *kinds, uint32_t n_kinds,
		uint32_t n, uint32_t nnz, uint64_t seed)
{
	float **imgs = calloc(n, sizeof(*imgs));
	uint32_t i;

	if (imgs == NULL)
		return NULL;
	rng_state = seed;
	for (i = 0; i < n; i++) {
		imgs[i] = malloc((size_t)res * res * sizeof(float));
		if (imgs[i] == NULL)
			return NULL;
		make_picture(imgs[i], res, norm, kinds[i % n_kinds], nnz + 7 * i);
	}
	return imgs;
}

static void
free_pictures(float **imgs, uint32_t n)
{
	uint32_t i;

	for (i = 0; imgs != NULL && i < n; i++)
		free(imgs[i]);
	free(imgs);
}

/* ---- tests ---- */

/* Inference stays in the calling thread: no OpenMP worker threads appear. */
static int
test_one_thread(void)
{
	const enum pic_kind kinds[] = { PIC_DENSE, PIC_SCATTER };
	struct fp_model *m = lenet_model(64, 5, 11);
	struct fp_verdict out[4];
	struct fp_infer *ctx;
	float **imgs;
	int before, rc = 0;

	FP_ASSERT(m != NULL);
	imgs = make_pictures(64, m->norm, kinds, 2, 4, 300, 12);
	FP_ASSERT(imgs != NULL);
	before = thread_count();
	FP_ASSERT(before >= 1);
	ctx = fp_infer_create(m, 4, 0.0f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_DENSE), 0);
	if (run_pics(ctx, imgs, 0, 4, out) < 0)
		rc = -1;
	fp_infer_free(ctx);
	free_pictures(imgs, 4);
	fp_model_free(m);
	FP_ASSERT_EQ(rc, 0);
	FP_ASSERT_EQ(thread_count(), before);
	return 0;
}

/* LeNet-5 at 32 x 32 and 64 x 64, every way, against the reference. */
static int
test_lenet(void)
{
	const enum pic_kind kinds[] = { PIC_SCATTER, PIC_BANDS, PIC_BORDER, PIC_EMPTY, PIC_DENSE };
	static const uint32_t res[] = { 32, 64 };
	uint32_t r;

	for (r = 0; r < 2; r++) {
		struct fp_model *m = lenet_model(res[r], 5, 100 + r);
		float **imgs = make_pictures(res[r], m != NULL ? m->norm : FP_NORM_LOG1P, kinds, 5,
				11, 40, 200 + r);
		int rc;

		FP_ASSERT(m != NULL && imgs != NULL);
		rc = check_model_all_ways(m, imgs, 11, 16, 1);
		free_pictures(imgs, 11);
		fp_model_free(m);
		if (rc < 0)
			FP_FAIL("LeNet-5 at %u x %u", res[r], res[r]);
	}
	return 0;
}

/* Paper network at 1500 x 1500 (few pictures: the reference takes ~0.1 s each). */
static int
test_paper_1500(void)
{
	const enum pic_kind kinds[] = { PIC_BANDS, PIC_BORDER, PIC_EMPTY, PIC_SCATTER };
	struct fp_model *m = paper_model(5, 300);
	float **imgs = make_pictures(1500, FP_NORM_LOG1P, kinds, 4, 4, 2000, 301);
	int rc;

	FP_ASSERT(m != NULL && imgs != NULL);
	rc = check_model_all_ways(m, imgs, 4, 4, 1);
	free_pictures(imgs, 4);
	fp_model_free(m);
	FP_ASSERT_EQ(rc, 0);
	return 0;
}

/* Other layer stacks: padding, strides, dropout, pooling orders, no softmax, odd sizes. */
static int
test_other_stacks(void)
{
	const enum pic_kind kinds[] = { PIC_BORDER, PIC_SCATTER, PIC_BANDS, PIC_EMPTY, PIC_DENSE };
	const struct fp_layer pad1[] = {	/* padding 1, maxpool floor on an odd size */
		conv(4, 3, 1, 1), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct fp_layer pad2[] = {	/* padding 2 and stride 2, padded maxpool, softmax */
		conv(5, 5, 2, 2), op(FP_LAYER_RELU), conv(6, 3, 2, 1), op(FP_LAYER_RELU),
		pool(3, 2, 1), dense(7), op(FP_LAYER_RELU), op(FP_LAYER_DROPOUT), dense(4),
		op(FP_LAYER_SOFTMAX),
	};
	const struct fp_layer drop_mid[] = {	/* dropout between conv and relu, pool 3 stride 3 */
		conv(3, 4, 1, 0), op(FP_LAYER_DROPOUT), op(FP_LAYER_RELU), pool(3, 3, 0),
		dense(4),
	};
	const struct fp_layer pool_relu[] = {	/* maxpool before relu, conv without relu */
		conv(8, 3, 1, 0), pool(2, 2, 0), op(FP_LAYER_RELU), conv(9, 3, 1, 1),
		conv(2, 2, 1, 0), op(FP_LAYER_RELU), dense(6), op(FP_LAYER_SOFTMAX),
	};
	const struct fp_layer gaps[] = {	/* stride larger than kernel: cells between windows */
		op(FP_LAYER_DROPOUT), conv(17, 2, 3, 0), op(FP_LAYER_RELU), op(FP_LAYER_RELU),
		dense(5),
	};
	const struct fp_layer wide[] = {	/* 40 and 70 channels: 3 and 5 vectors a position */
		conv(40, 4, 2, 1), op(FP_LAYER_RELU), pool(3, 1, 1), conv(70, 3, 2, 1),
		op(FP_LAYER_RELU), dense(3),
	};
	const struct fp_layer mlp[] = {		/* no convolution: no sparse front */
		dense(16), op(FP_LAYER_RELU), dense(3), op(FP_LAYER_SOFTMAX),
	};
	const struct {
		const char *name;
		const struct fp_layer *l;
		uint32_t n, res, classes, front;
		enum fp_norm norm;
	} st[] = {
		{ "pad1", pad1, 4, 37, 3, 1, FP_NORM_LOG1P },
		{ "pad2", pad2, 10, 41, 4, 1, FP_NORM_CLIP255 },
		{ "dropout-mid", drop_mid, 5, 23, 4, 1, FP_NORM_NONE },
		{ "pool-relu", pool_relu, 8, 30, 6, 1, FP_NORM_LOG1P },
		{ "gaps", gaps, 5, 29, 5, 1, FP_NORM_LOG1P },
		{ "wide", wide, 6, 24, 3, 1, FP_NORM_LOG1P },
		{ "mlp", mlp, 4, 16, 3, 0, FP_NORM_LOG1P },
	};
	uint32_t i;

	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		struct fp_model *m = make_model(st[i].name, st[i].res, st[i].classes, st[i].norm,
				st[i].l, st[i].n, 400 + i);
		float **imgs = make_pictures(st[i].res, st[i].norm, kinds, 5, 7, 12, 500 + i);
		int rc;

		FP_ASSERT(m != NULL && imgs != NULL);
		rc = check_model_all_ways(m, imgs, 7, 8, st[i].front);
		free_pictures(imgs, 7);
		fp_model_free(m);
		if (rc < 0)
			FP_FAIL("stack %s", st[i].name);
	}
	return 0;
}

/*
 * The direct stage's own output (channels last) against the reference forward pass of layers
 * [0, k), which is in C, H, W order; returns 0 when every value agrees within 1e-4 (relative
 * beyond 1).
 */
static int
check_direct_stage(const struct fp_model *m, uint32_t k, float *const *imgs, uint32_t n_pics)
{
	const struct fp_layer *last = &m->layers[k - 1];
	uint32_t C = last->out_c, H = last->out_h, W = last->out_w, p, c, y, x;
	size_t n = (size_t)C * H * W;
	struct fp_model sub = *m;
	double *ref = malloc(n * sizeof(double)), *probs = malloc(n * sizeof(double));
	float *out = malloc(n * sizeof(float));
	struct dr_stage *dr = dr_stage_create(m, m->n_layers, err, sizeof(err));
	int rc = 0;

	if (ref == NULL || probs == NULL || out == NULL || dr == NULL) {
		fprintf(stderr, "%s: direct stage: %s\n", m->name, dr == NULL ? err : "no memory");
		rc = -1;
		goto done;
	}
	if (dr_stage_end(dr) != k || dr_stage_out_floats(dr) != n) {
		fprintf(stderr, "%s: direct stage ends at %u (%zu values), expected %u (%zu)\n",
				m->name, dr_stage_end(dr), dr_stage_out_floats(dr), k, n);
		rc = -1;
		goto done;
	}
	sub.n_layers = k;	/* the reference's "logits" are then layer k - 1's output */
	sub.n_classes = (uint32_t)n;
	for (p = 0; p < n_pics && rc == 0; p++) {
		if (ref_cnn_forward(&sub, imgs[p], probs, ref) < 0) {
			rc = -1;
			break;
		}
		memset(out, 0xff, n * sizeof(float));	/* NaN: every value must be written */
		dr_stage_run(dr, imgs[p], out);
		for (c = 0; c < C && rc == 0; c++)
			for (y = 0; y < H && rc == 0; y++)
				for (x = 0; x < W && rc == 0; x++) {
					double e = ref[((size_t)c * H + y) * W + x];
					double a = out[((size_t)y * W + x) * C + c];

					if (!(fabs(a - e) <= 1e-4 * (1.0 + fabs(e)))) {
						fprintf(stderr, "%s: picture %u: direct stage C%u Y%u X%u = %.9g, reference %.9g\n",
								m->name, p, c, y, x, a, e);
						rc = -1;
					}
				}
	}
done:
	dr_stage_free(dr);
	free(ref);
	free(probs);
	free(out);
	return rc;
}

/*
 * The dense path with the direct stage (the default) against the reference and against a
 * context with the stage turned off, on every picture in one batch, then one at a time.
 */
static int
check_direct_vs_off(const struct fp_model *m, float *const *imgs, uint32_t n_pics, uint32_t k)
{
	static float probs[2][MAX_PICS][FP_MODEL_MAX_CLASSES];
	struct fp_verdict on[MAX_PICS], off[MAX_PICS], out[MAX_PICS];
	struct fp_infer *ctx_on, *ctx_off;
	struct fp_infer_params prm;
	char buf[4096], want[64];
	uint32_t i;
	int rc = 0;

	fp_infer_params_init(&prm);
	prm.max_batch = n_pics;
	prm.path = FP_INFER_PATH_DENSE;
	ctx_on = fp_infer_create_params(m, &prm, err, sizeof(err));
	prm.direct_front = 0;
	ctx_off = fp_infer_create_params(m, &prm, err, sizeof(err));
	if (ctx_on == NULL || ctx_off == NULL) {
		fprintf(stderr, "%s: create: %s\n", m->name, err);
		rc = -1;
		goto done;
	}
	/* the description says which is used */
	fp_infer_describe(ctx_on, buf, sizeof(buf));
	if (k > 0)
		snprintf(want, sizeof(want), "direct stage: layers 1-%u (", k);
	else
		snprintf(want, sizeof(want), "no direct stage;");
	if (strstr(buf, want) == NULL) {
		fprintf(stderr, "%s: description lacks \"%s\": %s\n", m->name, want, buf);
		rc = -1;
		goto done;
	}
	fp_infer_describe(ctx_off, buf, sizeof(buf));
	if (strstr(buf, k > 0 ? "no direct stage (turned off)" : "no direct stage;") == NULL) {
		fprintf(stderr, "%s: direct-off description: %s\n", m->name, buf);
		rc = -1;
		goto done;
	}
	if (run_pics(ctx_on, imgs, 0, n_pics, out) < 0)
		goto fail;
	keep(on, probs[0], out, n_pics, m->n_classes);
	if (run_pics(ctx_off, imgs, 0, n_pics, out) < 0)
		goto fail;
	keep(off, probs[1], out, n_pics, m->n_classes);
	for (i = 0; i < n_pics; i++) {
		if (on[i].path != FP_INFER_PATH_DENSE || check_ref(m, imgs[i], &on[i]) < 0 ||
				check_same(&on[i], &off[i], m->n_classes) < 0) {
			fprintf(stderr, "%s: direct stage, picture %u\n", m->name, i);
			goto fail;
		}
	}
	/* one at a time, in the last slot's place too: same results */
	for (i = 0; i < n_pics; i++) {
		if (run_pics(ctx_on, imgs, i, 1, out) < 0 || check_same(&out[0], &on[i],
				m->n_classes) < 0) {
			fprintf(stderr, "%s: direct stage, single picture %u\n", m->name, i);
			goto fail;
		}
	}
	goto done;
fail:
	rc = -1;
done:
	fp_infer_free(ctx_on);
	fp_infer_free(ctx_off);
	return rc;
}

/*
 * The direct stage (a leading one-channel stride-1 conv2d, its relus and dropouts, at most one
 * maxpool) on many shapes: its own output against the reference, the network's outputs with it
 * against the reference and against oneDNN alone, the sparse and automatic paths beside it.
 */
static int
test_direct(void)
{
	const enum pic_kind kinds[] = { PIC_SCATTER, PIC_BORDER, PIC_BANDS, PIC_DENSE, PIC_EMPTY };
	const struct fp_layer pad2[] = {	/* padding 2: 32 outputs, two whole blocks a phase */
		conv(6, 5, 1, 2), op(FP_LAYER_RELU), pool(2, 2, 0), conv(16, 5, 1, 0),
		op(FP_LAYER_RELU), pool(2, 2, 0), dense(10), op(FP_LAYER_RELU), dense(5),
	};
	const struct fp_layer k3_oc20[] = {	/* kernel 3, 20 channels, padded pool: whole front */
		conv(20, 3, 1, 1), op(FP_LAYER_RELU), pool(3, 2, 1), dense(4),
	};
	const struct fp_layer oc1[] = {		/* one output channel */
		conv(1, 5, 1, 0), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct fp_layer relu_both[] = {	/* relu before and after the pool; 17 columns out */
		conv(6, 3, 1, 0), op(FP_LAYER_RELU), pool(2, 2, 0), op(FP_LAYER_RELU),
		conv(8, 3, 1, 0), op(FP_LAYER_RELU), dense(4),
	};
	const struct fp_layer pool_relu[] = {	/* relu only after a padded pool */
		conv(5, 4, 1, 1), pool(2, 2, 1), op(FP_LAYER_RELU), conv(4, 3, 1, 0), dense(3),
	};
	const struct fp_layer dropouts[] = {	/* dropouts everywhere, pool 3 stride 3 */
		op(FP_LAYER_DROPOUT), conv(6, 5, 1, 2), op(FP_LAYER_DROPOUT), op(FP_LAYER_RELU),
		op(FP_LAYER_DROPOUT), pool(3, 3, 0), op(FP_LAYER_DROPOUT), op(FP_LAYER_RELU),
		conv(6, 3, 1, 1), op(FP_LAYER_RELU), dense(4),
	};
	const struct fp_layer conv_only[] = {	/* no pool: the stage is the whole front */
		conv(7, 3, 1, 0), op(FP_LAYER_RELU), dense(5),
	};
	const struct fp_layer bare_conv[] = {	/* no relu, no pool: the stage is one layer */
		conv(4, 3, 1, 0), conv(6, 3, 1, 0), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct fp_layer pool_s1[] = {	/* pool stride 1 with padding, then a stride-2 conv */
		conv(9, 3, 1, 1), op(FP_LAYER_RELU), pool(3, 1, 1), conv(4, 3, 2, 0),
		op(FP_LAYER_RELU), dense(3),
	};
	const struct fp_layer pool_gap[] = {	/* pool stride 3 > kernel 2: unused columns */
		conv(3, 2, 1, 0), op(FP_LAYER_RELU), pool(2, 3, 0), dense(4),
	};
	const struct fp_layer neg_pool[] = {	/* padded pool on negative values (no relu) */
		conv(4, 3, 1, 0), pool(3, 2, 1), dense(3),
	};
	const struct fp_layer big_k[] = {	/* kernel 9, padding 4 */
		conv(3, 9, 1, 4), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct fp_layer wide[] = {	/* 33 channels, 100 columns: many groups and blocks */
		conv(33, 5, 1, 2), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct fp_layer stride2[] = {	/* stride 2: no direct stage */
		conv(5, 5, 2, 2), op(FP_LAYER_RELU), pool(2, 2, 0), dense(3),
	};
	const struct {
		const char *name;
		const struct fp_layer *l;
		uint32_t n, res, classes, k;
		enum fp_norm norm;
	} st[] = {
		{ "pad2", pad2, 9, 32, 5, 3, FP_NORM_LOG1P },
		{ "k3-oc20", k3_oc20, 4, 29, 4, 3, FP_NORM_LOG1P },
		{ "oc1", oc1, 4, 30, 3, 3, FP_NORM_CLIP255 },
		{ "relu-both", relu_both, 7, 37, 4, 4, FP_NORM_LOG1P },
		{ "pool-relu", pool_relu, 5, 33, 3, 3, FP_NORM_LOG1P },
		{ "dropouts", dropouts, 11, 31, 4, 8, FP_NORM_NONE },
		{ "conv-only", conv_only, 3, 28, 5, 2, FP_NORM_LOG1P },
		{ "bare-conv", bare_conv, 5, 24, 3, 1, FP_NORM_LOG1P },
		{ "pool-s1", pool_s1, 6, 26, 3, 3, FP_NORM_LOG1P },
		{ "pool-gap", pool_gap, 4, 35, 4, 3, FP_NORM_LOG1P },
		{ "neg-pool", neg_pool, 3, 27, 3, 2, FP_NORM_LOG1P },
		{ "big-k", big_k, 4, 20, 3, 3, FP_NORM_LOG1P },
		{ "wide", wide, 4, 100, 3, 3, FP_NORM_LOG1P },
		{ "stride2", stride2, 4, 32, 3, 0, FP_NORM_LOG1P },
	};
	static const uint32_t lenet_res[] = { 32, 64 };
	uint32_t i;

	for (i = 0; i < 2; i++) {	/* LeNet-5 at 32 and 64: stage = conv, relu, pool */
		struct fp_model *m = lenet_model(lenet_res[i], 5, 1100 + i);
		float **imgs = make_pictures(lenet_res[i], FP_NORM_LOG1P, kinds, 5, 8, 150,
				1200 + i);
		int rc;

		FP_ASSERT(m != NULL && imgs != NULL);
		rc = check_direct_stage(m, 3, imgs, 8);
		if (rc == 0)
			rc = check_direct_vs_off(m, imgs, 8, 3);
		free_pictures(imgs, 8);
		fp_model_free(m);
		if (rc < 0)
			FP_FAIL("LeNet-5 at %u x %u", lenet_res[i], lenet_res[i]);
	}
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		struct fp_model *m = make_model(st[i].name, st[i].res, st[i].classes, st[i].norm,
				st[i].l, st[i].n, 1300 + i);
		float **imgs = make_pictures(st[i].res, st[i].norm, kinds, 5, 7, 30, 1400 + i);
		int rc = 0;

		FP_ASSERT(m != NULL && imgs != NULL);
		FP_ASSERT_EQ(dr_stage_layers(m, m->n_layers), st[i].k);
		if (st[i].k > 0)
			rc = check_direct_stage(m, st[i].k, imgs, 7);
		if (rc == 0)
			rc = check_direct_vs_off(m, imgs, 7, st[i].k);
		if (rc == 0)	/* sparse and automatic paths beside it, partial batches */
			rc = check_model_all_ways(m, imgs, 7, 8, 1);
		free_pictures(imgs, 7);
		fp_model_free(m);
		if (rc < 0)
			FP_FAIL("stack %s", st[i].name);
	}
	return 0;
}

/* Pictures from the FlowPic builder: set_input equals set_input_dense, both paths, and reuse. */
static int
test_flowpic_input(void)
{
	struct fp_model *m = lenet_model(32, 4, 600);
	struct fp_verdict a[3], b[3], e[1];
	static float probs[2][3][FP_MODEL_MAX_CLASSES];
	struct fp_pkt_rec recs[3000];
	struct fp_flowpic *pic[3];
	static float img[3][32 * 32], zero[32 * 32];
	struct fp_infer *ctx;
	uint32_t i, p, path;

	FP_ASSERT(m != NULL);
	rng_state = 601;
	for (p = 0; p < 3; p++) {
		uint32_t n = p == 0 ? 3000 : p == 1 ? 200 : 1500;	/* 2: one cell, count 1500 */

		pic[p] = fp_flowpic_create(32, 60000000, FP_DIR_BOTH);
		FP_ASSERT(pic[p] != NULL);
		for (i = 0; i < n; i++) {
			recs[i].t_us = p == 2 ? 7000000 : (uint32_t)(i * (60000000ull / n)) +
				rng_below(1000);
			recs[i].size = (uint16_t)(p == 0 ? 80 + rng_below(120) : p == 2 ? 700 :
					rng_below(2) ? 1500 : 52);
			recs[i].dir = (uint8_t)(i & 1);
			recs[i].flags = 0;
		}
		fp_flowpic_add(pic[p], recs, n);
		fp_flowpic_to_dense(pic[p], img[p], m->norm, 0);
	}
	ctx = fp_infer_create(m, 3, 0.0f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	for (path = FP_INFER_PATH_DENSE; path <= FP_INFER_PATH_SPARSE; path++) {
		FP_ASSERT_EQ(fp_infer_set_path(ctx, (enum fp_infer_path)path), 0);
		for (p = 0; p < 3; p++)
			FP_ASSERT_EQ(fp_infer_set_input(ctx, p, pic[p]), 0);
		FP_ASSERT_EQ(fp_infer_run(ctx, 3, a), 0);
		keep(a, probs[0], a, 3, m->n_classes);
		for (p = 0; p < 3; p++) {
			FP_ASSERT_EQ(a[p].path, path);
			if (check_ref(m, img[p], &a[p]) < 0)
				FP_FAIL("path %u picture %u", path, p);
		}
		/* same pictures given densely, in another slot order */
		for (p = 0; p < 3; p++)
			FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 2 - p, img[p]), 0);
		FP_ASSERT_EQ(fp_infer_run(ctx, 3, b), 0);
		keep(b, probs[1], b, 3, m->n_classes);
		for (p = 0; p < 3; p++)
			if (check_same(&a[p], &b[2 - p], m->n_classes) < 0)
				FP_FAIL("path %u picture %u dense input", path, p);
		/* replacing a slot's picture, and the cleared input after a run */
		FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic[0]), 0);
		FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic[1]), 0);
		FP_ASSERT_EQ(fp_infer_set_input(ctx, 2, pic[0]), 0);	/* discarded: run 1 */
		FP_ASSERT_EQ(fp_infer_run(ctx, 1, e), 0);
		if (check_same(&e[0], &a[1], m->n_classes) < 0)
			FP_FAIL("path %u: replaced slot", path);
		FP_ASSERT_EQ(fp_infer_run(ctx, 3, b), 0);	/* all three slots empty now */
		for (p = 0; p < 3; p++)
			if (check_ref(m, zero, &b[p]) < 0)
				FP_FAIL("path %u: slot %u not empty after a run", path, p);
	}
	/* mixed batch on the automatic path: one picture sparse, one dense */
	fp_infer_free(ctx);
	{
		struct fp_infer_params prm;

		fp_infer_params_init(&prm);
		prm.max_batch = 3;
		prm.sparse_max_nnz = fp_flowpic_nnz(pic[1]);
		ctx = fp_infer_create_params(m, &prm, err, sizeof(err));
	}
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_sparse_max_nnz(ctx), fp_flowpic_nnz(pic[1]));
	FP_ASSERT(fp_flowpic_nnz(pic[0]) > fp_flowpic_nnz(pic[1]));
	FP_ASSERT_EQ(fp_flowpic_nnz(pic[2]), 1);
	FP_ASSERT_EQ(fp_flowpic_count(pic[2], 700 * 32 / 1500, 7 * 32 / 60), 1500);
	for (p = 0; p < 3; p++)
		FP_ASSERT_EQ(fp_infer_set_input(ctx, p, pic[p]), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 3, a), 0);
	FP_ASSERT_EQ(a[0].path, FP_INFER_PATH_DENSE);
	FP_ASSERT_EQ(a[1].path, FP_INFER_PATH_SPARSE);
	FP_ASSERT_EQ(a[2].path, FP_INFER_PATH_SPARSE);
	for (p = 0; p < 3; p++)
		if (check_ref(m, img[p], &a[p]) < 0)
			FP_FAIL("mixed batch picture %u", p);
	fp_infer_free(ctx);
	for (p = 0; p < 3; p++)
		fp_flowpic_free(pic[p]);
	fp_model_free(m);
	return 0;
}

/* Below the confidence threshold the verdict is unknown, but best is still reported. */
static int
test_threshold(void)
{
	struct fp_model *m = lenet_model(32, 5, 700);
	static float img[32 * 32];
	struct fp_verdict v[1];
	struct fp_infer *ctx;
	double probs[5];
	uint32_t i, best = 0;

	FP_ASSERT(m != NULL);
	rng_state = 701;
	make_picture(img, 32, m->norm, PIC_SCATTER, 50);
	FP_ASSERT_EQ(ref_cnn_forward(m, img, probs, NULL), 0);
	for (i = 1; i < 5; i++)
		if (probs[i] > probs[best])
			best = i;
	FP_ASSERT(probs[best] > 0.2 + 1e-3 && probs[best] < 1.0 - 1e-3);

	/* just above the confidence: unknown */
	ctx = fp_infer_create(m, 1, (float)probs[best] + 1e-3f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 0, img), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(v[0].class_id, FP_VERDICT_UNKNOWN);
	FP_ASSERT_EQ(v[0].best, best);
	FP_ASSERT_NEAR(v[0].confidence, probs[best], TOL);
	fp_infer_free(ctx);

	/* just below: the class */
	ctx = fp_infer_create(m, 1, (float)probs[best] - 1e-3f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 0, img), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(v[0].class_id, best);
	FP_ASSERT_EQ(v[0].best, best);
	fp_infer_free(ctx);
	fp_model_free(m);
	return 0;
}

/* Bad models, parameters and calls give clear errors, never a crash. */
static int
test_errors(void)
{
	struct fp_model *m = lenet_model(32, 5, 800);
	struct fp_flowpic *pic64 = fp_flowpic_create(64, 60000000, FP_DIR_BOTH);
	struct fp_infer_params prm;
	static float img[32 * 32];
	struct fp_verdict v[2];
	struct fp_infer *ctx;
	struct fp_model bad;
	char buf[4096];

	FP_ASSERT(m != NULL && pic64 != NULL);
	errno = 0;
	FP_ASSERT(fp_infer_create(NULL, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	FP_ASSERT(fp_infer_create(m, 0, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "max_batch 0");
	FP_ASSERT(fp_infer_create(m, FP_INFER_MAX_BATCH + 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT(fp_infer_create(m, 1, NAN, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "threshold");
	FP_ASSERT(fp_infer_create(m, 1, 1.5f, err, sizeof(err)) == NULL);

	/* shapes never derived */
	bad = *m;
	bad.layers[0].out_h = 0;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "layer 1 (conv2d): shapes");
	/* weights never bound */
	bad = *m;
	bad.layers[3].weights = NULL;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "layer 4 (conv2d): weights not bound");
	/* softmax in the middle */
	bad = *m;
	bad.layers[1].type = FP_LAYER_SOFTMAX;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "softmax must be the last layer");
	/* class count not matching the output */
	bad = *m;
	bad.n_classes = 4;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "4 classes");
	/* resolution, classes, normalisation, a kernel larger than its input */
	bad = *m;
	bad.resolution = 0;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "resolution 0 out of range");
	bad = *m;
	bad.n_classes = 0;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "0 classes");
	bad = *m;
	bad.norm = (enum fp_norm)5;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "normalisation 5 unknown");
	bad = *m;
	bad.layers[3].kernel = 15;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "layer 4 (conv2d): kernel 15 stride 1 padding 0 do not fit input 6x14x14");
	/* unknown layer type */
	bad = *m;
	bad.layers[2].type = FP_LAYER_TYPE_MAX;
	FP_ASSERT(fp_infer_create(&bad, 1, 0.0f, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "layer 3: unknown layer type");
	/* parameters */
	fp_infer_params_init(&prm);
	FP_ASSERT(fp_infer_create_params(m, NULL, err, sizeof(err)) == NULL);
	prm.path = (enum fp_infer_path)7;
	FP_ASSERT(fp_infer_create_params(m, &prm, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "unknown path");

	ctx = fp_infer_create(m, 2, 0.5f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic64), -EINVAL);	/* 64 x 64 into 32 x 32 */
	FP_ASSERT_EQ(fp_infer_set_input(ctx, 2, NULL), -EINVAL);
	FP_ASSERT_EQ(fp_infer_set_input(NULL, 0, pic64), -EINVAL);
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 2, img), -EINVAL);	/* slot >= max_batch */
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 0, NULL), -EINVAL);
	img[77] = NAN;
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 0, img), -EINVAL);
	img[77] = INFINITY;
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 0, img), -EINVAL);
	img[77] = 0.0f;
	FP_ASSERT_EQ(fp_infer_run(ctx, 0, v), -EINVAL);
	FP_ASSERT_EQ(fp_infer_run(ctx, 3, v), -EINVAL);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, NULL), -EINVAL);
	FP_ASSERT_EQ(fp_infer_run(NULL, 1, v), -EINVAL);
	FP_ASSERT_EQ(fp_infer_set_path(ctx, (enum fp_infer_path)9), -EINVAL);
	FP_ASSERT_EQ(fp_infer_set_path(NULL, FP_INFER_PATH_AUTO), -EINVAL);
	FP_ASSERT_EQ(fp_infer_sparse_max_nnz(NULL), 0);
	/* still works after the rejected calls */
	FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, 1, img), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 2, v), 0);
	FP_ASSERT(fp_infer_describe(ctx, buf, sizeof(buf)) > 0);
	FP_ASSERT_CONTAINS(buf, "model 'lenet5' 32x32, 5 classes; batch sizes 2 1");
	FP_ASSERT_CONTAINS(buf, "sparse front: layers 1-6");
	FP_ASSERT_CONTAINS(buf, "direct stage: layers 1-3 (conv2d 5x5 pad 0, 6 channels + relu + maxpool 2/2 pad 0)");
	FP_ASSERT_CONTAINS(buf, "dense front: L4:conv2d+relu=");
	FP_ASSERT_CONTAINS(buf, "L7:dense+relu=");
	FP_ASSERT_CONTAINS(buf, "path auto");
	FP_ASSERT(fp_infer_describe(NULL, buf, sizeof(buf)) > 0);
	fp_infer_free(ctx);
	fp_infer_free(NULL);
	/* the direct stage turned off: oneDNN computes the first layers too */
	fp_infer_params_init(&prm);
	FP_ASSERT_EQ(prm.direct_front, 1);
	prm.direct_front = 0;
	ctx = fp_infer_create_params(m, &prm, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT(fp_infer_describe(ctx, buf, sizeof(buf)) > 0);
	FP_ASSERT_CONTAINS(buf, "no direct stage (turned off)");
	FP_ASSERT_CONTAINS(buf, "dense front: L1:conv2d+relu=");
	fp_infer_free(ctx);

	/* a model starting with a dense layer has no sparse front */
	{
		const struct fp_layer l[] = { dense(8), op(FP_LAYER_RELU), dense(3) };
		struct fp_model *mlp = make_model("mlp", 8, 3, FP_NORM_NONE, l, 3, 801);

		FP_ASSERT(mlp != NULL);
		fp_infer_params_init(&prm);
		prm.path = FP_INFER_PATH_SPARSE;
		FP_ASSERT(fp_infer_create_params(mlp, &prm, err, sizeof(err)) == NULL);
		FP_ASSERT_CONTAINS(err, "does not start with a conv2d");
		ctx = fp_infer_create(mlp, 1, 0.0f, err, sizeof(err));
		FP_ASSERT(ctx != NULL);
		FP_ASSERT_EQ(fp_infer_sparse_max_nnz(ctx), 0);
		FP_ASSERT(fp_infer_describe(ctx, buf, sizeof(buf)) > 0);
		FP_ASSERT_CONTAINS(buf, "no sparse front");
		fp_infer_free(ctx);
		fp_model_free(mlp);
	}
	fp_flowpic_free(pic64);
	fp_model_free(m);
	return 0;
}

/* oneDNN on plain NCHW / OIHW tensors (reorders between them and the chain's layout). */
static int
test_plain_formats(void)
{
	const enum pic_kind kinds[] = { PIC_SCATTER, PIC_BORDER, PIC_DENSE };
	struct fp_model *m = lenet_model(32, 5, 900);
	float **imgs = make_pictures(32, FP_NORM_LOG1P, kinds, 3, 5, 60, 901);
	struct fp_infer_params prm;
	struct fp_verdict out[5];
	struct fp_infer *ctx;
	char buf[4096];
	uint32_t i;
	int rc = 0;

	FP_ASSERT(m != NULL && imgs != NULL);
	fp_infer_params_init(&prm);
	prm.max_batch = 5;
	prm.plain_formats = 1;
	prm.path = FP_INFER_PATH_DENSE;
	ctx = fp_infer_create_params(m, &prm, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT(fp_infer_describe(ctx, buf, sizeof(buf)) > 0);
	FP_ASSERT_CONTAINS(buf, "oneDNN plain formats");
	FP_ASSERT_CONTAINS(buf, "reorder=");
	FP_ASSERT_CONTAINS(buf, "path dense");
	if (run_pics(ctx, imgs, 0, 5, out) < 0)
		rc = -1;
	for (i = 0; i < 5 && rc == 0; i++) {
		FP_ASSERT_EQ(out[i].path, FP_INFER_PATH_DENSE);
		rc = check_ref(m, imgs[i], &out[i]);
	}
	fp_infer_free(ctx);
	free_pictures(imgs, 5);
	fp_model_free(m);
	FP_ASSERT_EQ(rc, 0);
	return 0;
}

/*
 * A dense picture with more cells than the context remembers for clearing (16384) is cleared
 * whole after the run: the next run of that slot is the empty picture again.
 */
static int
test_many_cells(void)
{
	const struct fp_layer l[] = { conv(2, 3, 2, 0), op(FP_LAYER_RELU), dense(3) };
	struct fp_model *m = make_model("many", 160, 3, FP_NORM_LOG1P, l, 3, 950);
	struct fp_flowpic *pic = fp_flowpic_create(160, 60000000, FP_DIR_BOTH);
	static struct fp_pkt_rec recs[160 * 160];
	static float img[160 * 160], zero[160 * 160];
	struct fp_verdict v[1];
	struct fp_infer *ctx;
	uint32_t i;

	FP_ASSERT(m != NULL && pic != NULL);
	for (i = 0; i < 160 * 160; i++) {	/* every cell once: size row i / 160, column i % 160 */
		recs[i].size = (uint16_t)((i / 160) * 1500 / 160 + 5);
		recs[i].t_us = (uint32_t)((i % 160) * 375000u + 1000);
		recs[i].dir = 0;
		recs[i].flags = 0;
	}
	fp_flowpic_add(pic, recs, 20000);
	FP_ASSERT_EQ(fp_flowpic_nnz(pic), 20000);
	fp_flowpic_to_dense(pic, img, m->norm, 0);
	ctx = fp_infer_create(m, 1, 0.0f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_DENSE), 0);
	FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(check_ref(m, img, &v[0]), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(check_ref(m, zero, &v[0]), 0);
	/* the same on the sparse path, and the automatic one (too many cells: dense) */
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_SPARSE), 0);
	FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(v[0].path, FP_INFER_PATH_SPARSE);
	FP_ASSERT_EQ(check_ref(m, img, &v[0]), 0);
	FP_ASSERT_EQ(fp_infer_set_path(ctx, FP_INFER_PATH_AUTO), 0);
	FP_ASSERT(fp_infer_sparse_max_nnz(ctx) < 20000);
	FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic), 0);
	FP_ASSERT_EQ(fp_infer_run(ctx, 1, v), 0);
	FP_ASSERT_EQ(v[0].path, FP_INFER_PATH_DENSE);
	FP_ASSERT_EQ(check_ref(m, img, &v[0]), 0);
	fp_infer_free(ctx);
	fp_flowpic_free(pic);
	fp_model_free(m);
	return 0;
}

/*
 * Setting pictures and running batches allocates nothing, on either path, from the first run,
 * except inside oneDNN's dnnl_primitive_execute(), whose count per run does not grow.
 */
static int
test_no_allocation(void)
{
	const enum pic_kind kinds[] = { PIC_SCATTER, PIC_BANDS, PIC_DENSE, PIC_EMPTY };
	struct fp_model *m = lenet_model(64, 5, 960);
	float **imgs = make_pictures(64, FP_NORM_LOG1P, kinds, 4, 8, 80, 961);
	struct fp_flowpic *pic = fp_flowpic_create(64, 60000000, FP_DIR_BOTH);
	unsigned long before, exec_before, per_round[3];
	struct fp_pkt_rec recs[500];
	struct fp_verdict out[8];
	struct fp_infer *ctx;
	uint32_t i, round;

	FP_ASSERT(m != NULL && imgs != NULL && pic != NULL);
	for (i = 0; i < 500; i++) {
		recs[i].t_us = i * 100000u;
		recs[i].size = (uint16_t)(60 + i % 200);
		recs[i].dir = 0;
		recs[i].flags = 0;
	}
	fp_flowpic_add(pic, recs, 500);
	ctx = fp_infer_create(m, 8, 0.0f, err, sizeof(err));
	FP_ASSERT(ctx != NULL);
	before = n_allocs;
	for (round = 0; round < 6; round++) {
		exec_before = n_allocs_execute;
		FP_ASSERT_EQ(fp_infer_set_path(ctx, (enum fp_infer_path)(round % 3)), 0);
		for (i = 0; i < 7; i++)
			FP_ASSERT_EQ(fp_infer_set_input_dense(ctx, i, imgs[i]), 0);
		FP_ASSERT_EQ(fp_infer_set_input(ctx, 7, pic), 0);
		FP_ASSERT_EQ(fp_infer_run(ctx, 8, out), 0);
		FP_ASSERT_EQ(fp_infer_set_input(ctx, 0, pic), 0);
		FP_ASSERT_EQ(fp_infer_run(ctx, 3, out), 0);	/* partial batch */
		if (round < 3)
			per_round[round] = n_allocs_execute - exec_before;
		else
			FP_ASSERT_EQ(n_allocs_execute - exec_before, per_round[round - 3]);
	}
	FP_ASSERT_EQ(n_allocs - before, 0);
	printf("     (oneDNN's execute: %lu, %lu, %lu small allocations per round on the dense, sparse and automatic paths)\n",
			per_round[0], per_round[1], per_round[2]);
	fp_infer_free(ctx);
	fp_flowpic_free(pic);
	free_pictures(imgs, 8);
	fp_model_free(m);
	return 0;
}

int
main(void)
{
#ifdef FP_ASAN
	if (__sanitizer_install_malloc_and_free_hooks(asan_malloc_hook, asan_free_hook) == 0) {
		printf("FAIL: cannot install the sanitizer's allocation hooks\n");
		return 1;
	}
#endif
	FP_RUN(test_one_thread);
	FP_RUN(test_errors);
	FP_RUN(test_no_allocation);
	FP_RUN(test_threshold);
	FP_RUN(test_flowpic_input);
	FP_RUN(test_plain_formats);
	FP_RUN(test_many_cells);
	FP_RUN(test_lenet);
	FP_RUN(test_other_stacks);
	FP_RUN(test_direct);
	FP_RUN(test_paper_1500);
	printf("%d verdicts compared with the reference\n", verdicts_compared);
	if (verdicts_compared < 50) {
		printf("FAIL: too few verdicts were clear enough to compare\n");
		fp_test_failed++;
	}
	return fp_test_report();
}

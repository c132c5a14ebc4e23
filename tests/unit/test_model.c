/* Unit tests of lib/model: shapes and counts of real networks, save/load, every broken file kind. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "model.h"
#include "fp_test.h"

static char tmpdir[256];
static char err[512];

/* ---- building models in memory ---- */

static struct fp_layer
conv(uint32_t out_c, uint32_t k, uint32_t s, uint32_t p)
{
	struct fp_layer l = { .type = FP_LAYER_CONV2D, .out_channels = out_c, .kernel = k,
		.stride = s, .padding = p };

	return l;
}

static struct fp_layer
pool(uint32_t k, uint32_t s)
{
	struct fp_layer l = { .type = FP_LAYER_MAXPOOL, .kernel = k, .stride = s };

	return l;
}

static struct fp_layer
dense(uint32_t units)
{
	struct fp_layer l = { .type = FP_LAYER_DENSE, .units = units };

	return l;
}

static struct fp_layer
plain(enum fp_layer_type t)
{
	struct fp_layer l = { .type = t };

	return l;
}

static const char *const class_names[] = { "voip", "video", "chat", "browsing", "file-transfer" };

/* A model with the first n_classes class names and the given layers (shapes not derived). */
static struct fp_model *
new_model(const char *name, uint32_t res, uint32_t n_classes, const struct fp_layer *layers,
		uint32_t n_layers)
{
	struct fp_model *m = calloc(1, sizeof(*m));
	uint32_t i;

	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->format_version = FP_MODEL_FORMAT_VERSION;
	m->resolution = res;
	m->direction = FP_DIR_BOTH;
	m->norm = FP_NORM_LOG1P;
	m->window_us = 60000000;
	m->accuracy = -1.0;
	m->n_classes = n_classes;
	m->class_names = calloc(n_classes, sizeof(char *));
	for (i = 0; i < n_classes && m->class_names != NULL; i++)
		m->class_names[i] = strdup(class_names[i % 5]);
	m->n_layers = n_layers;	/* may exceed the maximum, to test its check */
	memcpy(m->layers, layers, (n_layers < FP_MODEL_MAX_LAYERS ? n_layers :
			FP_MODEL_MAX_LAYERS) * sizeof(*layers));
	return m;
}

/* Paper network (Shapira & Shavitt) on 1500 x 1500 with 5 classes. */
static struct fp_model *
paper_model(void)
{
	const struct fp_layer l[] = {
		conv(10, 10, 5, 0), plain(FP_LAYER_RELU), pool(2, 2),
		conv(20, 10, 5, 0), plain(FP_LAYER_RELU), pool(2, 2),
		dense(64), plain(FP_LAYER_RELU), dense(5), plain(FP_LAYER_SOFTMAX),
	};

	return new_model("paper-1500", 1500, 5, l, 10);
}

/* Mini LeNet-5 on res x res with 5 classes. */
static struct fp_model *
lenet_model(uint32_t res)
{
	const struct fp_layer l[] = {
		conv(6, 5, 1, 0), plain(FP_LAYER_RELU), pool(2, 2),
		conv(16, 5, 1, 0), plain(FP_LAYER_RELU), pool(2, 2),
		dense(120), plain(FP_LAYER_RELU), dense(84), plain(FP_LAYER_RELU), dense(5),
	};

	return new_model(res == 32 ? "lenet5-32" : "lenet5-64", res, 5, l, 11);
}

/* Derive shapes and fill the blob with values that depend on the position. */
static int
fill_and_bind(struct fp_model *m)
{
	size_t i, n;

	if (fp_model_derive_shapes(m, err, sizeof(err)) != 0)
		return -1;
	n = fp_model_param_count(m);
	m->blob = malloc(n * sizeof(float));
	if (m->blob == NULL)
		return -1;
	m->blob_len = n;
	for (i = 0; i < n; i++)
		m->blob[i] = (float)((double)(i % 1000) / 997.0 - 0.5);
	return fp_model_bind_weights(m, err, sizeof(err));
}

static int
check_layer(const struct fp_layer *l, uint32_t ic, uint32_t ih, uint32_t oc, uint32_t oh,
		size_t nw, size_t nb)
{
	FP_ASSERT_EQ(l->in_c, ic);
	FP_ASSERT_EQ(l->in_h, ih);
	FP_ASSERT_EQ(l->in_w, ih);
	FP_ASSERT_EQ(l->out_c, oc);
	FP_ASSERT_EQ(l->out_h, oh);
	FP_ASSERT_EQ(l->out_w, oh);
	FP_ASSERT_EQ(l->n_weights, nw);
	FP_ASSERT_EQ(l->n_bias, nb);
	return 0;
}

#define CHECK_LAYER(...) FP_ASSERT_EQ(check_layer(__VA_ARGS__), 0)

/*
 * 1500 -> conv 10x10/5: (1500-10)/5+1 = 299 -> pool: (299-2)/2+1 = 149
 * -> conv 10x10/5: (149-10)/5+1 = 28 -> pool: 14 -> flatten 20*14*14 = 3920
 * weights: 10*1*100+10 = 1010, 20*10*100+20 = 20020, 3920*64+64 = 250944, 64*5+5 = 325
 */
static int
test_paper_network_shapes(void)
{
	struct fp_model *m = paper_model();
	struct fp_layer *l;

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fp_model_derive_shapes(m, err, sizeof(err)), 0);
	l = m->layers;
	CHECK_LAYER(&l[0], 1, 1500, 10, 299, 1000, 10);
	CHECK_LAYER(&l[1], 10, 299, 10, 299, 0, 0);
	CHECK_LAYER(&l[2], 10, 299, 10, 149, 0, 0);
	CHECK_LAYER(&l[3], 10, 149, 20, 28, 20000, 20);
	CHECK_LAYER(&l[5], 20, 28, 20, 14, 0, 0);
	CHECK_LAYER(&l[6], 20, 14, 64, 1, 250880, 64);
	CHECK_LAYER(&l[8], 64, 1, 5, 1, 320, 5);
	CHECK_LAYER(&l[9], 5, 1, 5, 1, 0, 0);
	FP_ASSERT_EQ(fp_model_param_count(m), 272299);
	fp_model_free(m);
	return 0;
}

/*
 * 32 -> conv 5: 28 -> pool 14 -> conv 5: 10 -> pool 5 -> flatten 16*5*5 = 400
 * weights: 6*25+6 = 156, 16*6*25+16 = 2416, 400*120+120 = 48120, 120*84+84 = 10164,
 * 84*5+5 = 425; total 61281
 */
static int
test_lenet32_shapes(void)
{
	struct fp_model *m = lenet_model(32);
	struct fp_layer *l;

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fp_model_derive_shapes(m, err, sizeof(err)), 0);
	l = m->layers;
	CHECK_LAYER(&l[0], 1, 32, 6, 28, 150, 6);
	CHECK_LAYER(&l[2], 6, 28, 6, 14, 0, 0);
	CHECK_LAYER(&l[3], 6, 14, 16, 10, 2400, 16);
	CHECK_LAYER(&l[5], 16, 10, 16, 5, 0, 0);
	CHECK_LAYER(&l[6], 16, 5, 120, 1, 48000, 120);
	CHECK_LAYER(&l[8], 120, 1, 84, 1, 10080, 84);
	CHECK_LAYER(&l[10], 84, 1, 5, 1, 420, 5);
	FP_ASSERT_EQ(fp_model_param_count(m), 61281);
	fp_model_free(m);
	return 0;
}

/* 64 -> 60 -> 30 -> 26 -> 13 -> flatten 16*13*13 = 2704; dense 2704*120+120 = 324600 */
static int
test_lenet64_shapes(void)
{
	struct fp_model *m = lenet_model(64);
	struct fp_layer *l;

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fp_model_derive_shapes(m, err, sizeof(err)), 0);
	l = m->layers;
	CHECK_LAYER(&l[0], 1, 64, 6, 60, 150, 6);
	CHECK_LAYER(&l[2], 6, 60, 6, 30, 0, 0);
	CHECK_LAYER(&l[3], 6, 30, 16, 26, 2400, 16);
	CHECK_LAYER(&l[5], 16, 26, 16, 13, 0, 0);
	CHECK_LAYER(&l[6], 16, 13, 120, 1, 324480, 120);
	FP_ASSERT_EQ(fp_model_param_count(m), 337761);
	fp_model_free(m);
	return 0;
}

/* Padding, odd strides and PyTorch's floor-mode pooling. */
static int
test_padding_and_floor_pooling(void)
{
	const struct fp_layer l[] = {
		conv(4, 3, 2, 1), pool(3, 2), pool(2, 2), dense(3),
	};
	struct fp_model *m = new_model("odd", 33, 3, l, 4);

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fp_model_derive_shapes(m, err, sizeof(err)), 0);
	/* (33+2-3)/2+1 = 17; (17-3)/2+1 = 8; (8-2)/2+1 = 4; dense 4*4*4 = 64 -> 3 */
	CHECK_LAYER(&m->layers[0], 1, 33, 4, 17, 36, 4);
	CHECK_LAYER(&m->layers[1], 4, 17, 4, 8, 0, 0);
	CHECK_LAYER(&m->layers[2], 4, 8, 4, 4, 0, 0);
	CHECK_LAYER(&m->layers[3], 4, 4, 3, 1, 192, 3);
	FP_ASSERT_EQ(fp_model_param_count(m), 235);
	fp_model_free(m);
	return 0;
}

/* ---- save / load ---- */

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int
same_model(const struct fp_model *a, const struct fp_model *b)
{
	uint32_t i;

	FP_ASSERT_STR_EQ(a->name, b->name);
	FP_ASSERT_EQ(a->resolution, b->resolution);
	FP_ASSERT_EQ(a->direction, b->direction);
	FP_ASSERT_EQ(a->norm, b->norm);
	FP_ASSERT_EQ(a->window_us, b->window_us);
	FP_ASSERT_EQ(a->n_classes, b->n_classes);
	for (i = 0; i < a->n_classes; i++)
		FP_ASSERT_STR_EQ(a->class_names[i], b->class_names[i]);
	FP_ASSERT_EQ(a->n_layers, b->n_layers);
	for (i = 0; i < a->n_layers; i++) {
		const struct fp_layer *x = &a->layers[i], *y = &b->layers[i];

		FP_ASSERT_EQ(x->type, y->type);
		FP_ASSERT_EQ(x->out_channels, y->out_channels);
		FP_ASSERT_EQ(x->kernel, y->kernel);
		FP_ASSERT_EQ(x->stride, y->stride);
		FP_ASSERT_EQ(x->padding, y->padding);
		FP_ASSERT_EQ(x->units, y->units);
		FP_ASSERT(x->rate == y->rate);
		FP_ASSERT_EQ(check_layer(y, x->in_c, x->in_h, x->out_c, x->out_h, x->n_weights,
				x->n_bias), 0);
		FP_ASSERT_EQ(x->weights == NULL, y->weights == NULL);
		FP_ASSERT_EQ(x->bias == NULL, y->bias == NULL);
		if (x->weights != NULL) {
			FP_ASSERT_EQ(x->weights - a->blob, y->weights - b->blob);
			FP_ASSERT_EQ(x->bias - a->blob, y->bias - b->blob);
		}
	}
	FP_ASSERT_EQ(a->blob_len, b->blob_len);
	FP_ASSERT(memcmp(a->blob, b->blob, a->blob_len * sizeof(float)) == 0);
	FP_ASSERT_EQ(a->crc32, b->crc32);
	return 0;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf != NULL) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int
write_all(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(a, 1, alen, f) == alen && (blen == 0 || fwrite(b, 1, blen, f) == blen);
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
test_save_load_round_trip(void)
{
	struct fp_model *models[3] = { paper_model(), lenet_model(32), lenet_model(64) };
	int i;

	for (i = 0; i < 3; i++) {
		struct fp_model *m = models[i], *back;
		char p1[300], p2[300];
		char *b1, *b2;
		size_t l1 = 0, l2 = 0;

		FP_ASSERT(m != NULL);
		FP_ASSERT_EQ(fill_and_bind(m), 0);
		if (i == 1) {
			m->direction = FP_DIR_DOWN;
			m->norm = FP_NORM_CLIP255;
			m->window_us = 15000000;
			m->accuracy = 0.9731;
			m->data_digest = strdup("sha256:0f3a");
			m->description = strdup("quote \" backslash \\ tab \t newline \n end");
			m->training_date = strdup("2024-05-01T10:00:00Z");
			m->training_command = strdup("train.py --res 32 # not a comment");
		}
		path_of(p1, sizeof(p1), "a.fpm");
		path_of(p2, sizeof(p2), "b.fpm");
		FP_ASSERT_EQ(fp_model_save(m, p1, err, sizeof(err)), 0);
		back = fp_model_load(p1, err, sizeof(err));
		if (back == NULL)
			FP_FAIL("load: %s", err);
		FP_ASSERT_EQ(same_model(m, back), 0);
		FP_ASSERT(back->accuracy == m->accuracy);
		FP_ASSERT_STR_EQ(back->data_digest, m->data_digest ? m->data_digest : "");
		FP_ASSERT_STR_EQ(back->description, m->description ? m->description : "");
		FP_ASSERT_STR_EQ(back->training_date, m->training_date ? m->training_date : "");
		FP_ASSERT_STR_EQ(back->training_command,
				m->training_command ? m->training_command : "");
		/* saving what was loaded gives the same bytes */
		FP_ASSERT_EQ(fp_model_save(back, p2, err, sizeof(err)), 0);
		b1 = read_all(p1, &l1);
		b2 = read_all(p2, &l2);
		FP_ASSERT(b1 != NULL && b2 != NULL);
		FP_ASSERT_EQ(l1, l2);
		FP_ASSERT(memcmp(b1, b2, l1) == 0);
		/* the file is metadata, then exactly the weights */
		FP_ASSERT(memcmp(b1 + l1 - m->blob_len * 4, m->blob, m->blob_len * 4) == 0);
		FP_ASSERT(memcmp(b1 + l1 - m->blob_len * 4 - 5, "\n...\n", 5) == 0);
		FP_ASSERT_EQ(back->crc32, (uint32_t)crc32(0, (const Bytef *)m->blob,
				(uInt)(m->blob_len * 4)));
		free(b1);
		free(b2);
		fp_model_free(back);
		fp_model_free(m);
	}
	return 0;
}

static int
test_describe(void)
{
	struct fp_model *m = lenet_model(32);
	char buf[512];

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fill_and_bind(m), 0);
	fp_model_describe(m, buf, sizeof(buf));
	FP_ASSERT_CONTAINS(buf, "lenet5-32: input 1x32x32 both/log1p 60 s, 11 layers, 61281 weights");
	FP_ASSERT_CONTAINS(buf, "5 classes [voip,video,chat,browsing,file-transfer]");
	FP_ASSERT_STR_EQ(fp_layer_type_name(FP_LAYER_MAXPOOL), "maxpool");
	FP_ASSERT_STR_EQ(fp_layer_type_name(FP_LAYER_TYPE_MAX), "unknown");
	fp_model_free(m);
	return 0;
}

/* ---- architectures rejected in memory ---- */

static int
expect_derive_error(struct fp_model *m, const char *msg)
{
	int rc;

	FP_ASSERT(m != NULL);
	err[0] = '\0';
	rc = fp_model_derive_shapes(m, err, sizeof(err));
	fp_model_free(m);
	FP_ASSERT_EQ(rc, -EINVAL);
	FP_ASSERT_CONTAINS(err, msg);
	return 0;
}

static int
test_derive_rejects_bad_architectures(void)
{
	const struct fp_layer big_kernel[] = { conv(2, 5, 1, 0), plain(FP_LAYER_RELU),
		conv(2, 10, 1, 0), dense(2) };
	const struct fp_layer padded[] = { conv(2, 7, 1, 1), dense(2) };
	const struct fp_layer early_softmax[] = { dense(4), plain(FP_LAYER_SOFTMAX), dense(2) };
	const struct fp_layer no_weights[] = { plain(FP_LAYER_RELU) };
	const struct fp_layer ends_conv[] = { dense(8), conv(2, 1, 1, 0) };
	const struct fp_layer last_conv[] = { conv(2, 3, 1, 0), plain(FP_LAYER_RELU) };
	const struct fp_layer mismatch[] = { dense(4), plain(FP_LAYER_SOFTMAX) };
	const struct fp_layer zero_stride[] = { pool(2, 0), dense(2) };
	const struct fp_layer bad_rate[] = { dense(2), { .type = FP_LAYER_DROPOUT, .rate = 1.0f } };
	struct fp_layer many[FP_MODEL_MAX_LAYERS + 1];
	int i;

	FP_ASSERT_EQ(expect_derive_error(new_model("k", 8, 2, big_kernel, 4),
			"layer 3 (conv2d): kernel 10 larger than input 4x4"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("p", 4, 2, padded, 2),
			"layer 1 (conv2d): kernel 7 larger than input 4x4 with padding 1"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("s", 8, 2, early_softmax, 3),
			"layer 2 (softmax): softmax must be the last layer"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("n", 8, 2, no_weights, 1),
			"no layer with weights"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("c", 8, 2, ends_conv, 2),
			"layer 2 (conv2d): input is flat (it follows a dense layer)"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("l", 8, 2, last_conv, 2),
			"last layer with weights is layer 1 (conv2d); it must be dense"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("m", 8, 5, mismatch, 2),
			"last dense layer has 4 units but 5 classes are listed"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("z", 8, 2, zero_stride, 2),
			"layer 1 (maxpool): stride 0 out of range 1..4096"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("d", 8, 2, bad_rate, 2),
			"layer 2 (dropout): rate 1 out of range [0, 1)"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("r", 0, 2, mismatch, 2),
			"resolution 0 out of range 1..4096"), 0);
	FP_ASSERT_EQ(expect_derive_error(new_model("r", 4097, 2, mismatch, 2),
			"resolution 4097 out of range 1..4096"), 0);
	for (i = 0; i <= FP_MODEL_MAX_LAYERS; i++)
		many[i] = plain(FP_LAYER_RELU);
	FP_ASSERT_EQ(expect_derive_error(new_model("x", 8, 2, many, FP_MODEL_MAX_LAYERS + 1),
			"65 layers, 1..64 allowed"), 0);
	return 0;
}

/* bind and save refuse what they cannot honour */
static int
test_bind_and_save_errors(void)
{
	struct fp_model *m = lenet_model(32);
	char p[300];

	FP_ASSERT(m != NULL);
	FP_ASSERT_EQ(fp_model_derive_shapes(m, err, sizeof(err)), 0);
	FP_ASSERT_EQ(fp_model_bind_weights(m, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "weights hold 0 floats, the layers need 61281");
	path_of(p, sizeof(p), "unbound.fpm");
	FP_ASSERT_EQ(fp_model_save(m, p, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "cannot save: weights hold 0 floats, the layers need 61281");
	FP_ASSERT(access(p, F_OK) != 0);
	FP_ASSERT_EQ(fill_and_bind(m), 0);
	free(m->class_names[1]);
	m->class_names[1] = strdup("voip");
	FP_ASSERT_EQ(fp_model_save(m, p, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "duplicate class name 'voip' (classes 1 and 2)");
	m->class_names[1][0] = '\0';
	FP_ASSERT_EQ(fp_model_save(m, p, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "class 2 has an empty name");
	strcpy(m->class_names[1], "v");
	m->window_us = 1500000;
	FP_ASSERT_EQ(fp_model_save(m, p, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "window 1500000 us is not a whole number of seconds");
	m->window_us = 60000000;
	FP_ASSERT_EQ(fp_model_save(m, "/nonexistent-dir/x.fpm", err, sizeof(err)), -ENOENT);
	FP_ASSERT_CONTAINS(err, "/nonexistent-dir/x.fpm: cannot create");
	m->blob[17] = nanf("");
	FP_ASSERT_EQ(fp_model_bind_weights(m, err, sizeof(err)), -EINVAL);
	FP_ASSERT_STR_EQ(err, "weight 17 of layer 1 (conv2d) is NaN");
	FP_ASSERT_EQ(fp_model_save(m, p, err, sizeof(err)), -EINVAL);
	FP_ASSERT_CONTAINS(err, "cannot save: weight 17 of the blob is NaN");
	FP_ASSERT(access(p, F_OK) != 0);
	fp_model_free(m);
	fp_model_free(NULL);
	return 0;
}

/* ---- broken files ---- */

/* A saved model split into its metadata text and weight bytes, to be edited by tests. */
struct parts {
	char *meta;		/* NUL-terminated, ends with "...\n" */
	unsigned char *blob;
	size_t blob_len;
};

static int
good_parts(struct parts *p)
{
	struct fp_model *m = lenet_model(32);
	char path[300];
	size_t len = 0;
	char *all, *end;

	if (m == NULL || fill_and_bind(m) != 0)
		return -1;
	path_of(path, sizeof(path), "good.fpm");
	if (fp_model_save(m, path, err, sizeof(err)) != 0)
		return -1;
	fp_model_free(m);
	all = read_all(path, &len);
	if (all == NULL)
		return -1;
	end = memmem(all, len, "\n...\n", 5);
	if (end == NULL)
		return -1;
	end += 5;
	p->blob_len = len - (size_t)(end - all);
	p->blob = malloc(p->blob_len + 64);
	memcpy(p->blob, end, p->blob_len);
	*end = '\0';
	p->meta = all;
	return 0;
}

/* Replace the first occurrence of from by to in the metadata. */
static int
edit(struct parts *p, const char *from, const char *to)
{
	char *at = strstr(p->meta, from), *n;
	size_t flen = strlen(from), tlen = strlen(to), mlen = strlen(p->meta);

	if (at == NULL)
		return -1;
	n = malloc(mlen - flen + tlen + 1);
	memcpy(n, p->meta, (size_t)(at - p->meta));
	memcpy(n + (at - p->meta), to, tlen);
	strcpy(n + (at - p->meta) + tlen, at + flen);
	free(p->meta);
	p->meta = n;
	return 0;
}

/* Rewrite the crc32 value in the metadata to match the current blob. */
static int
fix_crc(struct parts *p)
{
	char *at = strstr(p->meta, "crc32: 0x");
	char hex[9];

	if (at == NULL)
		return -1;
	snprintf(hex, sizeof(hex), "%08lx", crc32(0, p->blob, (uInt)p->blob_len));
	memcpy(at + 9, hex, 8);
	return 0;
}

static void
free_parts(struct parts *p)
{
	free(p->meta);
	free(p->blob);
}

/* Write the parts to name, load it, and check that loading fails with the expected message. */
static int
expect_load_error(struct parts *p, const char *name, const char *msg)
{
	char path[300], want[700];
	struct fp_model *m;

	path_of(path, sizeof(path), name);
	FP_ASSERT_EQ(write_all(path, p->meta, strlen(p->meta), p->blob, p->blob_len), 0);
	err[0] = '\0';
	m = fp_model_load(path, err, sizeof(err));
	fp_model_free(m);
	free_parts(p);
	FP_ASSERT(m == NULL);
	snprintf(want, sizeof(want), "%s: %s", path, msg);
	FP_ASSERT_CONTAINS(err, want);
	FP_ASSERT(strchr(err, '\n') == NULL);
	return 0;
}

#define BROKEN(name, msg, ...) do { \
	struct parts p_; \
	FP_ASSERT_EQ(good_parts(&p_), 0); \
	{ struct parts *p = &p_; __VA_ARGS__; } \
	FP_ASSERT_EQ(expect_load_error(&p_, name, msg), 0); \
} while (0)

#define EDIT(from, to) FP_ASSERT_EQ(edit(p, from, to), 0)

static int
test_load_good_parts_loads(void)
{
	/* the editing helpers leave a loadable file when nothing is changed */
	struct parts p;
	char path[300];
	struct fp_model *m;

	FP_ASSERT_EQ(good_parts(&p), 0);
	FP_ASSERT_EQ(fix_crc(&p), 0);
	path_of(path, sizeof(path), "unchanged.fpm");
	FP_ASSERT_EQ(write_all(path, p.meta, strlen(p.meta), p.blob, p.blob_len), 0);
	free_parts(&p);
	m = fp_model_load(path, err, sizeof(err));
	if (m == NULL)
		FP_FAIL("%s", err);
	FP_ASSERT_EQ(m->blob_len, 61281);
	fp_model_free(m);
	return 0;
}

static int
test_load_wrong_version(void)
{
	BROKEN("version.fpm", "unsupported format version 2 (this build reads 1)",
			EDIT("version: 1", "version: 2"));
	BROKEN("format.fpm", "not a flowpic model (format is 'flowpic-modle'",
			EDIT("format: flowpic-model", "format: flowpic-modle"));
	return 0;
}

static int
test_load_unknown_layer(void)
{
	BROKEN("lstm.fpm", "unknown layer type 'lstm' in layer 4 (line 11)",
			EDIT("{type: conv2d, out_channels: 16", "{type: lstm, out_channels: 16"));
	BROKEN("layerkey.fpm", "unknown key 'units' in layer 2 (relu) (line 9)",
			EDIT("{type: relu}", "{type: relu, units: 3}"));
	return 0;
}

static int
test_load_shape_mismatch(void)
{
	/* 32 -> 28 -> 14 -> conv 16@15: fits; conv 16@15 after pool 14x14: kernel 15 too big */
	BROKEN("kernel.fpm", "layer 4 (conv2d): kernel 15 larger than input 14x14",
			EDIT("out_channels: 16, kernel: 5", "out_channels: 16, kernel: 15"));
	BROKEN("count.fpm", "weights count 61280 in the metadata but the layers need 61281",
			EDIT("count: 61281", "count: 61280"));
	return 0;
}

static int
test_load_truncated_weights(void)
{
	BROKEN("trunc.fpm", "weights truncated: 1000 floats present, 61281 needed",
			p->blob_len = 4002);
	BROKEN("noblob.fpm", "weights truncated: 0 floats present, 61281 needed",
			p->blob_len = 0);
	return 0;
}

static int
test_load_oversized_weights(void)
{
	BROKEN("over.fpm", "weights oversized: 3 trailing bytes after the 61281 floats needed",
			p->blob_len += 3);
	return 0;
}

static int
test_load_checksum_mismatch(void)
{
	char msg[128];
	struct parts q;
	uint32_t good;

	FP_ASSERT_EQ(good_parts(&q), 0);
	good = (uint32_t)crc32(0, q.blob, (uInt)q.blob_len);
	q.blob[100] ^= 0x01;
	snprintf(msg, sizeof(msg), "weights checksum mismatch (file says 0x%08x, computed 0x%08x)",
			good, (uint32_t)crc32(0, q.blob, (uInt)q.blob_len));
	FP_ASSERT_EQ(expect_load_error(&q, "crc.fpm", msg), 0);
	BROKEN("crcsyntax.fpm", "key 'crc32' in weights: '0xZZ",
			EDIT("crc32: 0x", "crc32: 0xZZ"));
	return 0;
}

static void
set_float(struct parts *p, size_t i, float v)
{
	memcpy(p->blob + i * 4, &v, 4);
}

static int
test_load_nan_and_inf(void)
{
	BROKEN("nan.fpm", "weight 17 of layer 1 (conv2d) is NaN",
			set_float(p, 17, nanf("")); fix_crc(p));
	/* layer 7 (dense 120) starts after 156 + 2416 floats; its bias after 48000 more */
	BROKEN("inf.fpm", "bias 3 of layer 7 (dense) is Inf",
			set_float(p, 156 + 2416 + 48000 + 3, 1.0f / 0.0f); fix_crc(p));
	BROKEN("ninf.fpm", "weight 0 of layer 11 (dense) is -Inf",
			set_float(p, 61281 - 425, -1.0f / 0.0f); fix_crc(p));
	return 0;
}

static int
test_load_class_count_mismatch(void)
{
	BROKEN("classes.fpm", "last dense layer has 5 units but 6 classes are listed",
			EDIT("\"file-transfer\"]", "\"file-transfer\", \"gaming\"]"));
	BROKEN("dupclass.fpm", "duplicate class name 'chat' (classes 3 and 6)",
			EDIT("\"file-transfer\"]", "\"file-transfer\", chat]"));
	BROKEN("emptyclass.fpm", "class 2 has an empty name", EDIT("\"video\"", "\"\""));
	return 0;
}

static int
test_load_missing_required_key(void)
{
	BROKEN("nores.fpm", "missing required key 'resolution' in input",
			EDIT("resolution: 32, ", ""));
	BROKEN("noweights.fpm", "missing required key 'weights' in the metadata",
			EDIT("weights: {", "# weights: {"));
	BROKEN("nokernel.fpm", "missing required key 'kernel' in layer 1 (conv2d)",
			EDIT("out_channels: 6, kernel: 5", "out_channels: 6"));
	BROKEN("unknownkey.fpm", "unknown key 'weightz' in the metadata (line 20)",
			EDIT("...\n", "weightz: 3\n...\n"));
	return 0;
}

static int
test_load_bad_values(void)
{
	BROKEN("win0.fpm", "input window_seconds 0 out of range 1..3600 (line 5)",
			EDIT("window_seconds: 60", "window_seconds: 0"));
	BROKEN("win3601.fpm", "input window_seconds 3601 out of range 1..3600",
			EDIT("window_seconds: 60", "window_seconds: 3601"));
	BROKEN("res0.fpm", "input resolution 0 out of range 1..4096",
			EDIT("resolution: 32", "resolution: 0"));
	BROKEN("res4097.fpm", "input resolution 4097 out of range 1..4096",
			EDIT("resolution: 32", "resolution: 4097"));
	BROKEN("resneg.fpm", "key 'resolution' in input: '-32' is not an unsigned integer",
			EDIT("resolution: 32", "resolution: -32"));
	BROKEN("dir.fpm", "input direction 'left' is not both, up or down",
			EDIT("direction: both", "direction: left"));
	BROKEN("norm.fpm", "input normalization 'log' is not none, log1p or clip255",
			EDIT("normalization: log1p", "normalization: log"));
	BROKEN("acc.fpm", "training accuracy 97 out of range [0, 1]",
			EDIT("...\n", "training: {accuracy: 97}\n...\n"));
	BROKEN("name.fpm", "model name longer than 63 bytes",
			EDIT("\"lenet5-32\"", "\"0123456789012345678901234567890123456789012345678901234567890123\""));
	return 0;
}

static int
test_load_limits(void)
{
	char *big = malloc(65 * 20 + 32), *cls = malloc(257 * 8 + 32);
	size_t o = 0;
	int i;

	FP_ASSERT(big != NULL && cls != NULL);
	o += (size_t)sprintf(big + o, "layers:\n");
	for (i = 0; i < 65; i++)
		o += (size_t)sprintf(big + o, "  - {type: relu}\n");
	BROKEN("layers76.fpm", "76 layers listed, 1..64 allowed", EDIT("layers:\n", big));
	o = (size_t)sprintf(cls, "classes: [");
	for (i = 0; i < 257; i++)
		o += (size_t)sprintf(cls + o, "c%d, ", i);
	sprintf(cls + o, "last]\n");
	BROKEN("classes257.fpm", "258 classes listed, 1..256 allowed",
			EDIT("classes: [\"voip\", \"video\", \"chat\", \"browsing\", \"file-transfer\"]\n",
				cls));
	free(big);
	free(cls);
	return 0;
}

static int
test_load_malformed_yaml(void)
{
	BROKEN("yaml.fpm", "malformed YAML (line 5, column",
			EDIT("input: {resolution: 32,", "input: {resolution: [32,"));
	BROKEN("alias.fpm", "YAML aliases are not supported (line",
			EDIT("name: \"lenet5-32\"", "name: &n \"lenet5-32\"\ndescription: *n"));
	BROKEN("deep.fpm", "YAML nested deeper than 8 levels",
			EDIT("...\n", "training: {command: [[[[[[[[x]]]]]]]]}\n...\n"));
	BROKEN("dupkey.fpm", "duplicate key 'version' (lines 3 and 4)",
			EDIT("version: 1\n", "version: 1\nversion: 1\n"));
	BROKEN("twodocs.fpm", "more than one YAML document",
			EDIT("layers:", "---\nlayers:"));
	BROKEN("nomap.fpm", "metadata is not a YAML mapping",
			free(p->meta); p->meta = strdup("- just\n- a list\n...\n"));
	BROKEN("nomarker.fpm", "no '...' line ending the metadata",
			EDIT("\n...\n", "\n"));
	return 0;
}

static int
test_load_missing_and_empty_file(void)
{
	char path[300], want[400];

	path_of(path, sizeof(path), "does-not-exist.fpm");
	errno = 0;
	FP_ASSERT(fp_model_load(path, err, sizeof(err)) == NULL);
	FP_ASSERT_EQ(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	FP_ASSERT_STR_EQ(err, want);
	path_of(path, sizeof(path), "empty.fpm");
	FP_ASSERT_EQ(write_all(path, "", 0, NULL, 0), 0);
	FP_ASSERT(fp_model_load(path, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "%s: empty file", path);
	FP_ASSERT_STR_EQ(err, want);
	FP_ASSERT(fp_model_load(tmpdir, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "not a regular file");
	path_of(path, sizeof(path), "dots.fpm");
	FP_ASSERT_EQ(write_all(path, "...\n", 4, NULL, 0), 0);
	FP_ASSERT(fp_model_load(path, err, sizeof(err)) == NULL);
	FP_ASSERT_CONTAINS(err, "metadata is empty");
	return 0;
}

/*
 * Random damage never crashes the loader: flipped metadata bytes and cuts at random lengths
 * either still load or fail with one line naming the file.
 */
static int
test_load_random_damage(void)
{
	struct parts p;
	char path[300];
	size_t mlen, i, len;
	unsigned char *buf;
	uint64_t x = 0x2545f4914f6cdd1dull;
	int round, loaded = 0;

	FP_ASSERT_EQ(good_parts(&p), 0);
	mlen = strlen(p.meta);
	buf = malloc(mlen + p.blob_len);
	FP_ASSERT(buf != NULL);
	path_of(path, sizeof(path), "damaged.fpm");
	for (round = 0; round < 600; round++) {
		struct fp_model *m;

		memcpy(buf, p.meta, mlen);
		memcpy(buf + mlen, p.blob, p.blob_len);
		len = mlen + p.blob_len;
		for (i = 0; i < 3; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (round % 3 == 2)
				len = len > 0 ? x % len : 0;	/* cut anywhere */
			else
				buf[x % mlen] = (unsigned char)(x >> 32);	/* any byte */
		}
		FP_ASSERT_EQ(write_all(path, buf, len, NULL, 0), 0);
		err[0] = '\0';
		m = fp_model_load(path, err, sizeof(err));
		if (m != NULL) {
			loaded++;
			FP_ASSERT_EQ(m->blob_len, 61281);
			fp_model_free(m);
			continue;
		}
		FP_ASSERT(strncmp(err, path, strlen(path)) == 0);
		FP_ASSERT(strlen(err) > strlen(path) + 2);
		FP_ASSERT(strchr(err, '\n') == NULL);
	}
	FP_ASSERT(loaded < 600);
	free(buf);
	free_parts(&p);
	return 0;
}

/* Remove the temporary directory and what the tests wrote into it. */
static void
cleanup(void)
{
	char cmd[300];

	if (tmpdir[0] != '\0' && strncmp(tmpdir, "/tmp/", 5) == 0 && getenv("FP_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fp_test_model.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	FP_RUN(test_paper_network_shapes);
	FP_RUN(test_lenet32_shapes);
	FP_RUN(test_lenet64_shapes);
	FP_RUN(test_padding_and_floor_pooling);
	FP_RUN(test_save_load_round_trip);
	FP_RUN(test_describe);
	FP_RUN(test_derive_rejects_bad_architectures);
	FP_RUN(test_bind_and_save_errors);
	FP_RUN(test_load_good_parts_loads);
	FP_RUN(test_load_wrong_version);
	FP_RUN(test_load_unknown_layer);
	FP_RUN(test_load_shape_mismatch);
	FP_RUN(test_load_truncated_weights);
	FP_RUN(test_load_oversized_weights);
	FP_RUN(test_load_checksum_mismatch);
	FP_RUN(test_load_nan_and_inf);
	FP_RUN(test_load_class_count_mismatch);
	FP_RUN(test_load_missing_required_key);
	FP_RUN(test_load_bad_values);
	FP_RUN(test_load_limits);
	FP_RUN(test_load_malformed_yaml);
	FP_RUN(test_load_missing_and_empty_file);
	FP_RUN(test_load_random_damage);
	cleanup();
	return fp_test_report();
}

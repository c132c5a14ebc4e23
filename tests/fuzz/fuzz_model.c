/* Fuzz target: model files through the loader, the canonical writer and a small inference. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "infer.h"
#include "model.h"
#include "fuzz.h"

/* Models up to this size are also run through an inference context. */
#define FUZZ_INFER_MAX_RES 64u
#define FUZZ_INFER_MAX_PARAMS 200000u

static int fuzz_fd = -1;
static char fuzz_in[64];
static char fuzz_dir[64];
static char fuzz_out[96];

static void
fuzz_cleanup(void)
{
	if (fuzz_dir[0] != '\0') {
		unlink(fuzz_out);
		rmdir(fuzz_dir);
	}
}

/* The input goes to a memory file read back through its /proc path; saves go to a temp dir. */
static int
fuzz_init(void)
{
	const char *tmp = getenv("TMPDIR");

	fuzz_fd = memfd_create("fuzz_model", 0);
	if (fuzz_fd < 0)
		return -1;
	snprintf(fuzz_in, sizeof(fuzz_in), "/proc/self/fd/%d", fuzz_fd);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_model.XXXXXX",
		tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL) {
		fuzz_dir[0] = '\0';
		return -1;
	}
	snprintf(fuzz_out, sizeof(fuzz_out), "%s/out.fpm", fuzz_dir);
	atexit(fuzz_cleanup);
	return 0;
}

static int
fuzz_write_input(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(fuzz_fd, 0) != 0 || lseek(fuzz_fd, 0, SEEK_SET) != 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fuzz_fd, data + off, size - off);

		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* A loaded model saves in canonical form and that file loads back to the same model. */
static void
check_round_trip(const struct fp_model *m)
{
	struct fp_model *back;
	char err[512];
	int ret;

	ret = fp_model_save(m, fuzz_out, err, sizeof(err));
	if (ret != 0) {
		/* only what the writer documents as not saveable */
		FP_FUZZ_CHECK(ret == -EINVAL && err[0] != '\0');
		return;
	}
	back = fp_model_load(fuzz_out, err, sizeof(err));
	if (back == NULL)
		fprintf(stderr, "saved model does not load: %s\n", err);
	FP_FUZZ_CHECK(back != NULL);
	FP_FUZZ_CHECK(back->crc32 == m->crc32 && back->blob_len == m->blob_len);
	FP_FUZZ_CHECK(back->n_layers == m->n_layers && back->n_classes == m->n_classes);
	FP_FUZZ_CHECK(back->resolution == m->resolution && back->window_us == m->window_us);
	FP_FUZZ_CHECK(memcmp(back->blob, m->blob, m->blob_len * sizeof(float)) == 0);
	fp_model_free(back);
}

/* Small models: one empty and one non-empty picture through a real inference context. */
static void
check_infer(const struct fp_model *m)
{
	struct fp_pkt_rec recs[3] = {
		{ .t_us = 0, .size = 100, .dir = 0 },
		{ .t_us = 1000, .size = 1500, .dir = 1 },
		{ .t_us = 2000, .size = 60, .dir = 0 },
	};
	struct fp_verdict v[2];
	struct fp_flowpic *pic;
	struct fp_infer *ctx;
	char err[512];
	int i;

	if (m->resolution > FUZZ_INFER_MAX_RES || m->blob_len > FUZZ_INFER_MAX_PARAMS)
		return;
	err[0] = '\0';
	ctx = fp_infer_create(m, 2, 0.5f, err, sizeof(err));
	if (ctx == NULL) {
		FP_FUZZ_CHECK(errno == EINVAL || errno == ENOMEM || errno == EIO);
		FP_FUZZ_CHECK(err[0] != '\0');
		return;
	}
	pic = fp_flowpic_create(m->resolution, m->window_us, m->direction);
	FP_FUZZ_CHECK(pic != NULL);
	fp_flowpic_add(pic, recs, 3);
	FP_FUZZ_CHECK(fp_infer_set_input(ctx, 1, pic) == 0);
	FP_FUZZ_CHECK(fp_infer_run(ctx, 2, v) == 0);
	for (i = 0; i < 2; i++) {
		FP_FUZZ_CHECK(v[i].best >= 0 && (uint32_t)v[i].best < m->n_classes);
		FP_FUZZ_CHECK(v[i].class_id == FP_VERDICT_UNKNOWN || v[i].class_id == v[i].best);
	}
	fp_flowpic_free(pic);
	fp_infer_free(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fp_model *m;
	char err[512], desc[1024];

	if (fuzz_fd < 0 && fuzz_init() != 0) {
		perror("fuzz_model: init");
		abort();
	}
	if (fuzz_write_input(data, size) != 0) {
		perror("fuzz_model: memory file");
		abort();
	}
	err[0] = '\0';
	m = fp_model_load(fuzz_in, err, sizeof(err));
	if (m == NULL) {
		FP_FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		FP_FUZZ_CHECK(strstr(err, fuzz_in) != NULL);
		return 0;
	}
	FP_FUZZ_CHECK(m->resolution >= 1 && m->resolution <= FP_FLOWPIC_RES_MAX);
	FP_FUZZ_CHECK(m->n_classes >= 1 && m->n_classes <= FP_MODEL_MAX_CLASSES);
	FP_FUZZ_CHECK(m->n_layers >= 1 && m->n_layers <= FP_MODEL_MAX_LAYERS);
	FP_FUZZ_CHECK(fp_model_param_count(m) == m->blob_len);
	FP_FUZZ_CHECK(m->data_digest != NULL && m->description != NULL);
	FP_FUZZ_CHECK(fp_model_describe(m, desc, sizeof(desc)) > 0);
	for (size_t i = 0; i < m->blob_len; i++)
		FP_FUZZ_CHECK(isfinite(m->blob[i]));
	check_round_trip(m);
	check_infer(m);
	fp_model_free(m);
	return 0;
}

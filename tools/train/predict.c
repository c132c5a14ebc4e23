/* fp-predict: .windows -> flowpicd's verdict and probabilities for each classified window. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowpic.h"
#include "infer.h"
#include "model.h"
#include "winread.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: fp-predict --model M.fpm --windows F.windows [--min-packets 10]\n"
		"                  [--path auto|dense|sparse] [--batch 64]\n"
		"Runs every window with at least min-packets packets through lib/flowpic and\n"
		"lib/infer as flowpicd's workers do, and prints one line per window:\n"
		"  window-number-in-file best-class-index p_0 ... p_{C-1}\n"
		"after a '#' header line naming the classes.\n");
}

/* Run the n pending pictures and print their lines. Returns 0 or -1. */
static int
flush_batch(struct fp_infer *ctx, struct fp_verdict *out, const uint32_t *ids, uint32_t n,
		uint32_t n_classes)
{
	uint32_t i, c;

	if (n == 0)
		return 0;
	if (fp_infer_run(ctx, n, out) < 0) {
		fprintf(stderr, "fp-predict: inference failed\n");
		return -1;
	}
	for (i = 0; i < n; i++) {
		printf("%u %d", ids[i], out[i].best);
		for (c = 0; c < n_classes; c++)
			printf(" %.9g", out[i].probs[c]);
		printf("\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'M' },
		{ "windows", required_argument, NULL, 'w' },
		{ "min-packets", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model_path = NULL, *in = NULL;
	uint32_t min_packets = 10, batch = 64, n = 0, c;
	struct fp_infer_params params;
	struct fp_infer *ctx = NULL;
	struct fp_model *m = NULL;
	struct fp_flowpic *pic = NULL;
	struct fp_verdict *out = NULL;
	uint32_t *ids = NULL;
	struct fpt_winread rd;
	struct fpt_window w;
	char err[512];
	int opt, ret, rc = 1;

	fp_infer_params_init(&params);
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'M':
			model_path = optarg;
			break;
		case 'w':
			in = optarg;
			break;
		case 'm':
			if (fpt_opt_u32("fp-predict", "min-packets", optarg,
					1, 1000000, &min_packets) < 0)
				return 2;
			break;
		case 'b':
			if (fpt_opt_u32("fp-predict", "batch", optarg,
					1, FP_INFER_MAX_BATCH, &batch) < 0)
				return 2;
			break;
		case 'p':
			if (strcmp(optarg, "auto") == 0) {
				params.path = FP_INFER_PATH_AUTO;
			} else if (strcmp(optarg, "dense") == 0) {
				params.path = FP_INFER_PATH_DENSE;
			} else if (strcmp(optarg, "sparse") == 0) {
				params.path = FP_INFER_PATH_SPARSE;
			} else {
				fprintf(stderr, "fp-predict: --path '%s' is not auto, dense or "
					"sparse\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (model_path == NULL || in == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	m = fp_model_load(model_path, err, sizeof(err));
	if (m == NULL) {
		fprintf(stderr, "fp-predict: %s\n", err);
		return 1;
	}
	if (fpt_winread_open(&rd, in, err, sizeof(err)) < 0) {
		fprintf(stderr, "fp-predict: %s\n", err);
		fp_model_free(m);
		return 1;
	}
	if (rd.window_us != m->window_us) {
		fprintf(stderr, "fp-predict: %s has %.3f s windows but model %s was trained on "
			"%.3f s windows\n", in, (double)rd.window_us / 1e6, model_path,
			(double)m->window_us / 1e6);
		goto done;
	}
	params.max_batch = batch;
	ctx = fp_infer_create_params(m, &params, err, sizeof(err));
	if (ctx == NULL) {
		fprintf(stderr, "fp-predict: %s\n", err);
		goto done;
	}
	pic = fp_flowpic_create(m->resolution, m->window_us, m->direction);
	out = calloc(batch, sizeof(*out));
	ids = calloc(batch, sizeof(*ids));
	if (pic == NULL || out == NULL || ids == NULL) {
		fprintf(stderr, "fp-predict: out of memory\n");
		goto done;
	}
	printf("# window best");
	for (c = 0; c < m->n_classes; c++)
		printf(" %s", m->class_names[c]);
	printf("\n");
	while ((ret = fpt_winread_next(&rd, &w, err, sizeof(err))) == 1) {
		if (w.packets < min_packets)
			continue;
		fp_flowpic_reset(pic);
		fp_flowpic_add_weighted(pic, rd.recs, w.n_records, 1u << w.shift);
		if (fp_infer_set_input(ctx, n, pic) < 0) {
			fprintf(stderr, "fp-predict: cannot set input %u\n", n);
			goto done;
		}
		ids[n++] = (uint32_t)(rd.done - 1);
		if (n == batch) {
			if (flush_batch(ctx, out, ids, n, m->n_classes) < 0)
				goto done;
			n = 0;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "fp-predict: %s\n", err);
		goto done;
	}
	if (flush_batch(ctx, out, ids, n, m->n_classes) < 0)
		goto done;
	if (fflush(stdout) != 0) {
		fprintf(stderr, "fp-predict: write failed: %s\n", strerror(errno));
		goto done;
	}
	rc = 0;
done:
	free(ids);
	free(out);
	fp_flowpic_free(pic);
	fp_infer_free(ctx);
	fpt_winread_close(&rd);
	fp_model_free(m);
	return rc;
}

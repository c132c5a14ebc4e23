/* Test helper program: lib/model's view of a .fpm file, for the Python interoperability test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/*
 * fpmodel_io dump FILE      load FILE and print every field and every weight's bits
 * fpmodel_io resave IN OUT  load IN and save it as OUT
 * fpmodel_io write OUT      save a fixed model whose weight i is (i % 251 - 125) / 64
 * Exit 0 on success; 1 with lib/model's message on stderr otherwise.
 */

static int
dump(const struct fp_model *m)
{
	uint32_t i;
	size_t k;

	printf("name %s\n", m->name);
	printf("input %u %s %s %llu\n", m->resolution, fp_dir_name(m->direction),
			fp_norm_name(m->norm), (unsigned long long)(m->window_us / 1000000));
	printf("classes %u\n", m->n_classes);
	for (i = 0; i < m->n_classes; i++)
		printf("class %s\n", m->class_names[i]);
	for (i = 0; i < m->n_layers; i++) {
		const struct fp_layer *l = &m->layers[i];

		printf("layer %u %s %u %u %u %u %u %.9g in %ux%ux%u out %ux%ux%u weights %zu %zu\n",
				i + 1, fp_layer_type_name(l->type), l->out_channels, l->kernel,
				l->stride, l->padding, l->units, (double)l->rate, l->in_c, l->in_h,
				l->in_w, l->out_c, l->out_h, l->out_w, l->n_weights, l->n_bias);
	}
	printf("count %zu\ncrc32 0x%08x\n", m->blob_len, m->crc32);
	printf("accuracy %.17g\n", m->accuracy);
	printf("data_digest %s\ndate %s\ncommand %s\n", m->data_digest, m->training_date,
			m->training_command);
	for (k = 0; k < m->blob_len; k++) {
		uint32_t u;

		memcpy(&u, &m->blob[k], 4);
		printf("w %08x\n", u);
	}
	return 0;
}

static struct fp_model *
fixed_model(void)
{
	static const char *const names[] = { "voip", "video", "chat" };
	struct fp_model *m = calloc(1, sizeof(*m));
	const struct fp_layer l[] = {
		{ .type = FP_LAYER_CONV2D, .out_channels = 4, .kernel = 3, .stride = 2, .padding = 1 },
		{ .type = FP_LAYER_RELU },
		{ .type = FP_LAYER_MAXPOOL, .kernel = 2, .stride = 2 },
		{ .type = FP_LAYER_DENSE, .units = 10 },
		{ .type = FP_LAYER_DROPOUT, .rate = 0.25f },
		{ .type = FP_LAYER_DENSE, .units = 3 },
		{ .type = FP_LAYER_SOFTMAX },
	};
	char err[256];
	size_t i;

	if (m == NULL)
		return NULL;
	snprintf(m->name, sizeof(m->name), "c-written");
	m->resolution = 16;
	m->direction = FP_DIR_UP;
	m->norm = FP_NORM_CLIP255;
	m->window_us = 30000000;
	m->n_classes = 3;
	m->class_names = calloc(3, sizeof(char *));
	for (i = 0; i < 3 && m->class_names != NULL; i++)
		m->class_names[i] = strdup(names[i]);
	m->n_layers = sizeof(l) / sizeof(l[0]);
	memcpy(m->layers, l, sizeof(l));
	m->accuracy = 0.875;
	m->description = strdup("written by lib/model: \"quoted\", tab\there, caf\xc3\xa9");
	m->data_digest = strdup("sha256:abc");
	m->training_date = strdup("");
	m->training_command = NULL;
	if (fp_model_derive_shapes(m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		fp_model_free(m);
		return NULL;
	}
	m->blob_len = fp_model_param_count(m);
	m->blob = malloc(m->blob_len * sizeof(float));
	for (i = 0; m->blob != NULL && i < m->blob_len; i++)
		m->blob[i] = (float)((int)(i % 251) - 125) / 64.0f;
	if (fp_model_bind_weights(m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		fp_model_free(m);
		return NULL;
	}
	return m;
}

int
main(int argc, char **argv)
{
	char err[512];
	struct fp_model *m;
	int rc = 0;

	if (argc == 3 && strcmp(argv[1], "dump") == 0) {
		m = fp_model_load(argv[2], err, sizeof(err));
		if (m == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		dump(m);
	} else if (argc == 4 && strcmp(argv[1], "resave") == 0) {
		m = fp_model_load(argv[2], err, sizeof(err));
		if (m == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		rc = fp_model_save(m, argv[3], err, sizeof(err));
	} else if (argc == 3 && strcmp(argv[1], "write") == 0) {
		m = fixed_model();
		if (m == NULL)
			return 1;
		rc = fp_model_save(m, argv[2], err, sizeof(err));
	} else {
		fprintf(stderr, "usage: fpmodel_io dump FILE | resave IN OUT | write OUT\n");
		return 2;
	}
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	fp_model_free(m);
	return rc == 0 ? 0 : 1;
}

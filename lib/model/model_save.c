/* Model writer: the canonical .fpm form (YAML metadata, '...' line, little-endian float32). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "model_priv.h"

/* Write s as a YAML double-quoted scalar; control bytes and DEL become \xNN. */
static void
put_quoted(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	fputc('"', f);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Shortest "%.Ng" text that reads back as the same double (or float when as_float). */
static void
put_real(FILE *f, double v, int as_float)
{
	char buf[40];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		/* as the loader reads it: strtod, then a cast for float fields */
		if (as_float ? (float)strtod(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void
put_layer(FILE *f, const struct fp_layer *l)
{
	fprintf(f, "  - {type: %s", fp_layer_type_name(l->type));
	switch (l->type) {
	case FP_LAYER_CONV2D:
		fprintf(f, ", out_channels: %u, kernel: %u, stride: %u, padding: %u",
				l->out_channels, l->kernel, l->stride, l->padding);
		break;
	case FP_LAYER_MAXPOOL:
		fprintf(f, ", kernel: %u, stride: %u", l->kernel, l->stride);
		if (l->padding > 0)
			fprintf(f, ", padding: %u", l->padding);
		break;
	case FP_LAYER_DENSE:
		fprintf(f, ", units: %u", l->units);
		break;
	case FP_LAYER_DROPOUT:
		fputs(", rate: ", f);
		put_real(f, l->rate, 1);
		break;
	default:
		break;
	}
	fprintf(f, "}  # %ux%ux%u -> %ux%ux%u", l->in_c, l->in_h, l->in_w,
			l->out_c, l->out_h, l->out_w);
	if (l->n_weights + l->n_bias > 0)
		fprintf(f, ", %zu weights", l->n_weights + l->n_bias);
	fputc('\n', f);
}

static int
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* The metadata part, up to and including the "..." line. */
static void
put_meta(FILE *f, const struct fp_model *m, uint32_t crc)
{
	uint32_t i;
	int first = 1;

	fputs("# flowpic CNN model: YAML metadata up to the '...' line, then little-endian float32 weights\n",
			f);
	fprintf(f, "format: flowpic-model\nversion: %d\nname: ", FP_MODEL_FORMAT_VERSION);
	put_quoted(f, m->name);
	fputc('\n', f);
	if (nonempty(m->description)) {
		fputs("description: ", f);
		put_quoted(f, m->description);
		fputc('\n', f);
	}
	fprintf(f, "input: {resolution: %u, direction: %s, normalization: %s, window_seconds: %llu}\n",
			m->resolution, fp_dir_name(m->direction), fp_norm_name(m->norm),
			(unsigned long long)(m->window_us / 1000000));
	fputs("classes: [", f);
	for (i = 0; i < m->n_classes; i++) {
		if (i > 0)
			fputs(", ", f);
		put_quoted(f, m->class_names[i]);
	}
	fputs("]\nlayers:\n", f);
	for (i = 0; i < m->n_layers; i++)
		put_layer(f, &m->layers[i]);
	fprintf(f, "weights: {count: %zu, crc32: 0x%08x}\n", m->blob_len, crc);
	if (nonempty(m->data_digest) || m->accuracy >= 0.0 || nonempty(m->training_date) ||
			nonempty(m->training_command)) {
		fputs("training: {", f);
		if (nonempty(m->data_digest)) {
			fputs("data_digest: ", f);
			put_quoted(f, m->data_digest);
			first = 0;
		}
		if (m->accuracy >= 0.0) {
			fputs(first ? "accuracy: " : ", accuracy: ", f);
			put_real(f, m->accuracy, 0);
			first = 0;
		}
		if (nonempty(m->training_date)) {
			fputs(first ? "date: " : ", date: ", f);
			put_quoted(f, m->training_date);
			first = 0;
		}
		if (nonempty(m->training_command)) {
			fputs(first ? "command: " : ", command: ", f);
			put_quoted(f, m->training_command);
		}
		fputs("}\n", f);
	}
	fputs("...\n", f);
}

/* The weights as little-endian float32. */
static void
put_blob(FILE *f, const float *v, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	fwrite(v, sizeof(float), n, f);
#else
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &v[i], 4);
		u = __builtin_bswap32(u);
		fwrite(&u, 4, 1, f);
	}
#endif
}

/* Check what the writer relies on, so that a saved file always loads. */
static int
check_saveable(const struct fp_model *m, char *err, size_t errlen)
{
	size_t need = fp_model_param_count(m), k;
	uint32_t i;

	if (model_check_names(m, err, errlen) < 0)
		return -EINVAL;
	if (m->resolution == 0 || m->resolution > FP_FLOWPIC_RES_MAX || m->n_layers == 0 ||
			m->n_layers > FP_MODEL_MAX_LAYERS)
		return model_fail(err, errlen, "model shapes not derived (run fp_model_derive_shapes())");
	if (m->window_us == 0 || m->window_us % 1000000 != 0 || m->window_us > 3600000000ull)
		return model_fail(err, errlen, "window %llu us is not a whole number of seconds in 1..3600",
				(unsigned long long)m->window_us);
	if (m->blob == NULL || m->blob_len != need || need == 0)
		return model_fail(err, errlen, "weights hold %zu floats, the layers need %zu",
				m->blob == NULL ? (size_t)0 : m->blob_len, need);
	for (i = 0; i < m->n_layers; i++)
		if (m->layers[i].n_weights > 0 && m->layers[i].weights == NULL)
			return model_fail(err, errlen, "weights not bound (run fp_model_bind_weights())");
	for (k = 0; k < need; k++)
		if (!isfinite(m->blob[k]))
			return model_fail(err, errlen, "weight %zu of the blob is %s", k,
					isnan(m->blob[k]) ? "NaN" : "infinite");
	if (m->accuracy > 1.0)
		return model_fail(err, errlen, "accuracy %g out of range [0, 1]", m->accuracy);
	return 0;
}

int
fp_model_save(const struct fp_model *m, const char *path, char *err, size_t errlen)
{
	char msg[256], *tmp;
	size_t plen;
	FILE *f;
	int rc, e;

	if (m == NULL || path == NULL)
		return model_fail(err, errlen, "%s: no model or no path given", path ? path : "(null)");
	rc = check_saveable(m, msg, sizeof(msg));
	if (rc < 0)
		return model_fail(err, errlen, "%s: cannot save: %s", path, msg);
	/* write a temporary file beside the target, then rename: readers never see half a file */
	plen = strlen(path);
	tmp = malloc(plen + 16);
	if (tmp == NULL)
	{
		model_fail(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	snprintf(tmp, plen + 16, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	if (f == NULL) {
		e = errno;
		model_fail(err, errlen, "%s: cannot create %s: %s", path, tmp, strerror(e));
		free(tmp);
		return -e;
	}
	put_meta(f, m, model_crc32_le(m->blob, m->blob_len));
	put_blob(f, m->blob, m->blob_len);
	e = ferror(f) ? (errno ? errno : EIO) : 0;
	if (fclose(f) != 0 && e == 0)
		e = errno ? errno : EIO;
	if (e == 0 && rename(tmp, path) != 0)
		e = errno;
	if (e != 0) {
		model_fail(err, errlen, "%s: write failed: %s", path, strerror(e));
		unlink(tmp);
		free(tmp);
		return -e;
	}
	free(tmp);
	return 0;
}

/* Model loader: read a .fpm file, parse and validate its YAML metadata, read and check weights. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "model_priv.h"
#include "model_yaml.h"

#define MSG_MAX 512

/* Keys each section accepts; anything else is rejected so typos do not pass silently. */
static const char *const top_keys[] = {
	"format", "version", "name", "description", "input", "classes", "layers", "weights",
	"training", NULL
};
static const char *const input_keys[] = {
	"resolution", "direction", "normalization", "window_seconds", NULL
};
static const char *const weights_keys[] = { "count", "crc32", NULL };
static const char *const training_keys[] = {
	"data_digest", "accuracy", "date", "command", NULL
};

/* Keys of each layer type, "type" included. */
static const struct layer_spec {
	const char *name;
	const char *keys[5];
} layer_specs[FP_LAYER_TYPE_MAX] = {
	[FP_LAYER_CONV2D] = { "conv2d", { "type", "out_channels", "kernel", "stride", "padding" } },
	[FP_LAYER_RELU] = { "relu", { "type" } },
	[FP_LAYER_MAXPOOL] = { "maxpool", { "type", "kernel", "stride", "padding" } },
	[FP_LAYER_DENSE] = { "dense", { "type", "units" } },
	[FP_LAYER_DROPOUT] = { "dropout", { "type", "rate" } },
	[FP_LAYER_SOFTMAX] = { "softmax", { "type" } },
};

/* Reject any key of map not in the NULL-terminated list keys (at most n entries). */
static int
check_keys(const struct ynode *map, const char *const *keys, size_t n, const char *where,
		char *err, size_t errlen)
{
	size_t i, k;

	for (i = 0; i + 1 < map->n_kids; i += 2) {
		const char *key = map->kids[i]->str;

		for (k = 0; k < n && keys[k] != NULL; k++)
			if (strcmp(keys[k], key) == 0)
				break;
		if (k == n || keys[k] == NULL)
			return model_fail(err, errlen, "unknown key '%s' in %s (line %u)",
					key, where, map->kids[i]->line);
	}
	return 0;
}

/* The value of a required key, or NULL with a message. */
static const struct ynode *
need(const struct ynode *map, const char *key, const char *where, char *err, size_t errlen)
{
	const struct ynode *v = ytree_get(map, key);

	if (v == NULL)
		model_fail(err, errlen, "missing required key '%s' in %s", key, where);
	return v;
}

static int
need_kind(const struct ynode *v, enum ynode_kind kind, const char *key, const char *where,
		char *err, size_t errlen)
{
	static const char *const kinds[] = { "a single value", "a list", "a mapping" };

	if (v->kind == kind)
		return 0;
	return model_fail(err, errlen, "key '%s' in %s must be %s (line %u)",
			key, where, kinds[kind], v->line);
}

/* An unsigned integer scalar (decimal, or 0x hex when hex is set) no larger than max. */
static int
get_uint(const struct ynode *v, const char *key, const char *where, uint64_t max, int hex,
		uint64_t *out, char *err, size_t errlen)
{
	const char *s;
	const char *digits = "0123456789";
	unsigned long long x;
	char *end;
	int base = 10;

	if (need_kind(v, YNODE_SCALAR, key, where, err, errlen) < 0)
		return -EINVAL;
	s = v->str;
	if (hex && (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)) {
		s += 2;
		base = 16;
		digits = "0123456789abcdefABCDEF";
	}
	if (!v->plain || s[0] == '\0' || strspn(s, digits) != strlen(s) || strlen(s) > 20)
		return model_fail(err, errlen, "key '%s' in %s: '%s' is not an unsigned integer (line %u)",
				key, where, v->str, v->line);
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || x > max)
		return model_fail(err, errlen, "key '%s' in %s: %s larger than %llu (line %u)",
				key, where, v->str, (unsigned long long)max, v->line);
	*out = x;
	return 0;
}

/* A finite real-number scalar. */
static int
get_real(const struct ynode *v, const char *key, const char *where, double *out, char *err,
		size_t errlen)
{
	char *end;
	double x;

	if (need_kind(v, YNODE_SCALAR, key, where, err, errlen) < 0)
		return -EINVAL;
	errno = 0;
	x = strtod(v->str, &end);
	if (!v->plain || v->str[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(x))
		return model_fail(err, errlen, "key '%s' in %s: '%s' is not a finite number (line %u)",
				key, where, v->str, v->line);
	*out = x;
	return 0;
}

/* A text scalar, copied into *out (a new string owned by the caller). */
static int
get_text(const struct ynode *v, const char *key, const char *where, char **out, char *err,
		size_t errlen)
{
	if (need_kind(v, YNODE_SCALAR, key, where, err, errlen) < 0)
		return -EINVAL;
	free(*out);
	*out = strdup(v->str);
	if (*out == NULL)
		return model_fail(err, errlen, "out of memory");
	return 0;
}

/* Required unsigned integer key of a mapping. */
static int
req_uint(const struct ynode *map, const char *key, const char *where, uint64_t max,
		uint64_t *out, char *err, size_t errlen)
{
	const struct ynode *v = need(map, key, where, err, errlen);

	if (v == NULL)
		return -EINVAL;
	return get_uint(v, key, where, max, 0, out, err, errlen);
}

/* Optional unsigned integer key: *out keeps its value when the key is absent. */
static int
opt_uint(const struct ynode *map, const char *key, const char *where, uint64_t max,
		uint64_t *out, char *err, size_t errlen)
{
	const struct ynode *v = ytree_get(map, key);

	if (v == NULL)
		return 0;
	return get_uint(v, key, where, max, 0, out, err, errlen);
}

static int
parse_format(const struct ynode *root, char *err, size_t errlen)
{
	const struct ynode *f, *v;
	uint64_t version;

	f = need(root, "format", "the metadata", err, errlen);
	if (f == NULL)
		return -EINVAL;
	if (f->kind != YNODE_SCALAR || strcmp(f->str, "flowpic-model") != 0)
		return model_fail(err, errlen, "not a flowpic model (format is '%s', expected 'flowpic-model')",
				f->kind == YNODE_SCALAR ? f->str : "(not a value)");
	v = need(root, "version", "the metadata", err, errlen);
	if (v == NULL)
		return -EINVAL;
	if (get_uint(v, "version", "the metadata", UINT32_MAX, 0, &version, err, errlen) < 0)
		return -EINVAL;
	if (version != FP_MODEL_FORMAT_VERSION)
		return model_fail(err, errlen, "unsupported format version %llu (this build reads %d)",
				(unsigned long long)version, FP_MODEL_FORMAT_VERSION);
	return 0;
}

static int
parse_input(const struct ynode *root, struct fp_model *m, char *err, size_t errlen)
{
	const struct ynode *in, *v;
	uint64_t x;

	in = need(root, "input", "the metadata", err, errlen);
	if (in == NULL || need_kind(in, YNODE_MAP, "input", "the metadata", err, errlen) < 0)
		return -EINVAL;
	if (check_keys(in, input_keys, 5, "input", err, errlen) < 0)
		return -EINVAL;
	if (req_uint(in, "resolution", "input", UINT32_MAX, &x, err, errlen) < 0)
		return -EINVAL;
	if (x == 0 || x > FP_FLOWPIC_RES_MAX)
		return model_fail(err, errlen, "input resolution %llu out of range 1..%u (line %u)",
				(unsigned long long)x, FP_FLOWPIC_RES_MAX, ytree_get(in, "resolution")->line);
	m->resolution = (uint32_t)x;
	if (req_uint(in, "window_seconds", "input", UINT32_MAX, &x, err, errlen) < 0)
		return -EINVAL;
	if (x < 1 || x > 3600)
		return model_fail(err, errlen, "input window_seconds %llu out of range 1..3600 (line %u)",
				(unsigned long long)x, ytree_get(in, "window_seconds")->line);
	m->window_us = x * 1000000u;
	v = need(in, "direction", "input", err, errlen);
	if (v == NULL || need_kind(v, YNODE_SCALAR, "direction", "input", err, errlen) < 0)
		return -EINVAL;
	if (fp_dir_parse(v->str, &m->direction) < 0)
		return model_fail(err, errlen, "input direction '%s' is not both, up or down (line %u)",
				v->str, v->line);
	v = need(in, "normalization", "input", err, errlen);
	if (v == NULL || need_kind(v, YNODE_SCALAR, "normalization", "input", err, errlen) < 0)
		return -EINVAL;
	if (fp_norm_parse(v->str, &m->norm) < 0)
		return model_fail(err, errlen,
				"input normalization '%s' is not none, log1p or clip255 (line %u)",
				v->str, v->line);
	return 0;
}

static int
parse_classes(const struct ynode *root, struct fp_model *m, char *err, size_t errlen)
{
	const struct ynode *cl;
	size_t i;

	cl = need(root, "classes", "the metadata", err, errlen);
	if (cl == NULL || need_kind(cl, YNODE_SEQ, "classes", "the metadata", err, errlen) < 0)
		return -EINVAL;
	if (cl->n_kids == 0 || cl->n_kids > FP_MODEL_MAX_CLASSES)
		return model_fail(err, errlen, "%zu classes listed, 1..%d allowed (line %u)",
				cl->n_kids, FP_MODEL_MAX_CLASSES, cl->line);
	m->class_names = calloc(cl->n_kids, sizeof(char *));
	if (m->class_names == NULL)
		return model_fail(err, errlen, "out of memory");
	m->n_classes = (uint32_t)cl->n_kids;
	for (i = 0; i < cl->n_kids; i++) {
		const struct ynode *c = cl->kids[i];

		if (c->kind != YNODE_SCALAR)
			return model_fail(err, errlen, "class %zu is not a name (line %u)", i + 1, c->line);
		m->class_names[i] = strdup(c->str);
		if (m->class_names[i] == NULL)
			return model_fail(err, errlen, "out of memory");
	}
	return 0;
}

static int
parse_layer(const struct ynode *ln, uint32_t num, struct fp_layer *l, char *err, size_t errlen)
{
	const struct ynode *t;
	char where[48];
	uint64_t x;
	double rate;
	int i;

	if (ln->kind != YNODE_MAP)
		return model_fail(err, errlen, "layer %u is not a mapping (line %u)", num, ln->line);
	t = ytree_get(ln, "type");
	if (t == NULL)
		return model_fail(err, errlen, "layer %u has no type (line %u)", num, ln->line);
	if (t->kind != YNODE_SCALAR)
		return model_fail(err, errlen, "layer %u: type must be a single value (line %u)",
				num, t->line);
	for (i = 0; i < FP_LAYER_TYPE_MAX; i++)
		if (strcmp(t->str, layer_specs[i].name) == 0)
			break;
	if (i == FP_LAYER_TYPE_MAX)
		return model_fail(err, errlen, "unknown layer type '%s' in layer %u (line %u)",
				t->str, num, t->line);
	memset(l, 0, sizeof(*l));
	l->type = (enum fp_layer_type)i;
	snprintf(where, sizeof(where), "layer %u (%s)", num, layer_specs[i].name);
	if (check_keys(ln, layer_specs[i].keys, 5, where, err, errlen) < 0)
		return -EINVAL;
	switch (l->type) {
	case FP_LAYER_CONV2D:
		if (req_uint(ln, "out_channels", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->out_channels = (uint32_t)x;
		x = 1;
		if (opt_uint(ln, "stride", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->stride = (uint32_t)x;
		if (req_uint(ln, "kernel", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->kernel = (uint32_t)x;
		break;
	case FP_LAYER_MAXPOOL:
		if (req_uint(ln, "kernel", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->kernel = (uint32_t)x;
		if (opt_uint(ln, "stride", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->stride = (uint32_t)x;	/* defaults to the kernel, as in PyTorch */
		break;
	case FP_LAYER_DENSE:
		if (req_uint(ln, "units", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->units = (uint32_t)x;
		break;
	case FP_LAYER_DROPOUT:
		rate = 0.5;
		t = ytree_get(ln, "rate");
		if (t != NULL && get_real(t, "rate", where, &rate, err, errlen) < 0)
			return -EINVAL;
		l->rate = (float)rate;
		break;
	default:
		break;
	}
	if (l->type == FP_LAYER_CONV2D || l->type == FP_LAYER_MAXPOOL) {
		x = 0;
		if (opt_uint(ln, "padding", where, UINT32_MAX, &x, err, errlen) < 0)
			return -EINVAL;
		l->padding = (uint32_t)x;
	}
	return 0;
}

static int
parse_layers(const struct ynode *root, struct fp_model *m, char *err, size_t errlen)
{
	const struct ynode *ls;
	size_t i;

	ls = need(root, "layers", "the metadata", err, errlen);
	if (ls == NULL || need_kind(ls, YNODE_SEQ, "layers", "the metadata", err, errlen) < 0)
		return -EINVAL;
	if (ls->n_kids == 0 || ls->n_kids > FP_MODEL_MAX_LAYERS)
		return model_fail(err, errlen, "%zu layers listed, 1..%d allowed (line %u)",
				ls->n_kids, FP_MODEL_MAX_LAYERS, ls->line);
	m->n_layers = (uint32_t)ls->n_kids;
	for (i = 0; i < ls->n_kids; i++)
		if (parse_layer(ls->kids[i], (uint32_t)i + 1, &m->layers[i], err, errlen) < 0)
			return -EINVAL;
	return 0;
}

static int
parse_weights(const struct ynode *root, uint64_t *count, uint32_t *crc, char *err,
		size_t errlen)
{
	const struct ynode *w, *v;
	uint64_t x;

	w = need(root, "weights", "the metadata", err, errlen);
	if (w == NULL || need_kind(w, YNODE_MAP, "weights", "the metadata", err, errlen) < 0)
		return -EINVAL;
	if (check_keys(w, weights_keys, 3, "weights", err, errlen) < 0)
		return -EINVAL;
	if (req_uint(w, "count", "weights", UINT64_MAX, count, err, errlen) < 0)
		return -EINVAL;
	v = need(w, "crc32", "weights", err, errlen);
	if (v == NULL || get_uint(v, "crc32", "weights", UINT32_MAX, 1, &x, err, errlen) < 0)
		return -EINVAL;
	*crc = (uint32_t)x;
	return 0;
}

static int
parse_optional(const struct ynode *root, struct fp_model *m, char *err, size_t errlen)
{
	const struct ynode *t, *v;

	v = ytree_get(root, "description");
	if (v != NULL && get_text(v, "description", "the metadata", &m->description, err,
			errlen) < 0)
		return -EINVAL;
	t = ytree_get(root, "training");
	if (t == NULL)
		return 0;
	if (need_kind(t, YNODE_MAP, "training", "the metadata", err, errlen) < 0 ||
			check_keys(t, training_keys, 5, "training", err, errlen) < 0)
		return -EINVAL;
	v = ytree_get(t, "data_digest");
	if (v != NULL && get_text(v, "data_digest", "training", &m->data_digest, err, errlen) < 0)
		return -EINVAL;
	v = ytree_get(t, "date");
	if (v != NULL && get_text(v, "date", "training", &m->training_date, err, errlen) < 0)
		return -EINVAL;
	v = ytree_get(t, "command");
	if (v != NULL && get_text(v, "command", "training", &m->training_command, err,
			errlen) < 0)
		return -EINVAL;
	v = ytree_get(t, "accuracy");
	if (v != NULL) {
		if (get_real(v, "accuracy", "training", &m->accuracy, err, errlen) < 0)
			return -EINVAL;
		if (m->accuracy < 0.0 || m->accuracy > 1.0)
			return model_fail(err, errlen, "training accuracy %g out of range [0, 1] (line %u)",
					m->accuracy, v->line);
	}
	return 0;
}

/* Metadata tree -> model fields, in the order that gives the most useful first error. */
static int
parse_meta(const struct ynode *root, struct fp_model *m, uint64_t *count, uint32_t *crc,
		char *err, size_t errlen)
{
	const struct ynode *v;

	if (root->kind != YNODE_MAP)
		return model_fail(err, errlen, "metadata is not a YAML mapping (line %u)", root->line);
	if (parse_format(root, err, errlen) < 0)
		return -EINVAL;
	if (check_keys(root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), "the metadata",
			err, errlen) < 0)
		return -EINVAL;
	m->format_version = FP_MODEL_FORMAT_VERSION;
	v = need(root, "name", "the metadata", err, errlen);
	if (v == NULL || need_kind(v, YNODE_SCALAR, "name", "the metadata", err, errlen) < 0)
		return -EINVAL;
	if (strlen(v->str) >= FP_MODEL_NAME_MAX)
		return model_fail(err, errlen, "model name longer than %d bytes (line %u)",
				FP_MODEL_NAME_MAX - 1, v->line);
	memcpy(m->name, v->str, strlen(v->str) + 1);
	if (parse_input(root, m, err, errlen) < 0 || parse_classes(root, m, err, errlen) < 0 ||
			parse_layers(root, m, err, errlen) < 0 ||
			parse_weights(root, count, crc, err, errlen) < 0 ||
			parse_optional(root, m, err, errlen) < 0)
		return -EINVAL;
	return 0;
}

/* Read exactly len bytes at offset off; returns 0 or -1 (errno set, 0 for end of file). */
static int
read_at(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Find the end of the metadata: the byte after the first line that is exactly "...". */
static size_t
meta_end(const char *buf, size_t len)
{
	const char *p;

	if (len >= 4 && memcmp(buf, "...\n", 4) == 0)
		return 4;
	p = memmem(buf, len, "\n...\n", 5);
	return p == NULL ? 0 : (size_t)(p - buf) + 5;
}

/* Everything after the metadata: count, read, checksum and bind the weights. */
static int
load_blob(int fd, struct fp_model *m, size_t meta_len, uint64_t file_size, uint64_t count,
		uint32_t crc, char *err, size_t errlen)
{
	size_t need = fp_model_param_count(m), bytes;
	uint64_t have = file_size - meta_len;
	uint32_t got;

	if (count != need)
		return model_fail(err, errlen, "weights count %llu in the metadata but the layers need %zu",
				(unsigned long long)count, need);
	if (have < (uint64_t)need * 4)
		return model_fail(err, errlen, "weights truncated: %llu floats present, %zu needed",
				(unsigned long long)(have / 4), need);
	if (have > (uint64_t)need * 4)
		return model_fail(err, errlen,
				"weights oversized: %llu trailing bytes after the %zu floats needed",
				(unsigned long long)(have - (uint64_t)need * 4), need);
	bytes = need * 4;
	m->blob = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	if (m->blob == NULL)
		return model_fail(err, errlen, "out of memory for %zu weights", need);
	m->blob_len = need;
	if (read_at(fd, m->blob, bytes, (off_t)meta_len) < 0)
		return model_fail(err, errlen, "read error in the weights: %s",
				errno ? strerror(errno) : "file shrank");
	got = model_crc32_le(m->blob, need);	/* the file's bytes, before any swap */
	if (got != crc)
		return model_fail(err, errlen,
				"weights checksum mismatch (file says 0x%08x, computed 0x%08x)", crc, got);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	for (size_t i = 0; i < need; i++) {
		uint32_t u;

		memcpy(&u, &m->blob[i], 4);
		u = __builtin_bswap32(u);
		memcpy(&m->blob[i], &u, 4);
	}
#endif
	m->crc32 = got;
	return model_bind(m, 0, err, errlen);
}

/* The loader proper; messages go to msg without the file name. */
static struct fp_model *
load(int fd, char *msg, size_t msglen)
{
	struct fp_model *m = NULL;
	struct ynode *root = NULL;
	struct stat st;
	char *head = NULL;
	size_t head_len, meta_len;
	uint64_t count = 0;
	uint32_t crc = 0;

	if (fstat(fd, &st) < 0) {
		model_fail(msg, msglen, "cannot stat: %s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		model_fail(msg, msglen, "not a regular file");
		return NULL;
	}
	if (st.st_size == 0) {
		model_fail(msg, msglen, "empty file");
		return NULL;
	}
	if ((uint64_t)st.st_size > FP_MODEL_FILE_MAX) {
		model_fail(msg, msglen, "file too large (%llu bytes, limit %u)",
				(unsigned long long)st.st_size, FP_MODEL_FILE_MAX);
		return NULL;
	}
	head_len = (uint64_t)st.st_size < FP_MODEL_HEADER_MAX ? (size_t)st.st_size :
			FP_MODEL_HEADER_MAX;
	head = malloc(head_len + 1);
	m = calloc(1, sizeof(*m));
	if (head == NULL || m == NULL) {
		model_fail(msg, msglen, "out of memory");
		goto fail;
	}
	m->accuracy = -1.0;
	if (read_at(fd, head, head_len, 0) < 0) {
		model_fail(msg, msglen, "read error: %s", errno ? strerror(errno) : "file shrank");
		goto fail;
	}
	head[head_len] = '\0';
	meta_len = meta_end(head, head_len);
	if (meta_len == 0) {
		if (head_len == FP_MODEL_HEADER_MAX)
			model_fail(msg, msglen, "no '...' line ending the metadata in the first %u bytes",
					FP_MODEL_HEADER_MAX);
		else
			model_fail(msg, msglen, "no '...' line ending the metadata (not a model file?)");
		goto fail;
	}
	if (meta_len == 4) {
		model_fail(msg, msglen, "metadata is empty");
		goto fail;
	}
	root = ytree_parse(head, meta_len, msg, msglen);
	if (root == NULL || parse_meta(root, m, &count, &crc, msg, msglen) < 0 ||
			model_check_names(m, msg, msglen) < 0 ||
			fp_model_derive_shapes(m, msg, msglen) < 0 ||
			load_blob(fd, m, meta_len, (uint64_t)st.st_size, count, crc, msg, msglen) < 0)
		goto fail;
	if ((m->data_digest == NULL && (m->data_digest = strdup("")) == NULL) ||
			(m->description == NULL && (m->description = strdup("")) == NULL) ||
			(m->training_date == NULL && (m->training_date = strdup("")) == NULL) ||
			(m->training_command == NULL && (m->training_command = strdup("")) == NULL)) {
		model_fail(msg, msglen, "out of memory");
		goto fail;
	}
	ytree_free(root);
	free(head);
	return m;
fail:
	ytree_free(root);
	free(head);
	fp_model_free(m);
	return NULL;
}

struct fp_model *
fp_model_load(const char *path, char *err, size_t errlen)
{
	char msg[MSG_MAX];
	struct fp_model *m;
	int fd;

	if (path == NULL) {
		model_fail(err, errlen, "(null): no path given");
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		model_fail(err, errlen, "%s: cannot open: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	msg[0] = '\0';
	m = load(fd, msg, sizeof(msg));
	close(fd);
	if (m == NULL) {
		model_fail(err, errlen, "%s: %s", path, msg);
		errno = EINVAL;
	}
	return m;
}

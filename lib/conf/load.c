/* Reading configuration: YAML files and strings, --set overrides, unknown-key suggestions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_private.h"

/* Longest dotted key path looked up; longer ones are unknown anyway. */
#define LOAD_PATH_MAX 128

struct load_ctx {
	struct fp_conf *c;
	int32_t src;
	const char *name;
	struct fp_conf_err *e;
	const struct conf_node *seen[FP_CONF_NKEYS];	/* key node that set each key */
};

/* Optimal string alignment distance (edits, a swap of neighbours counting as one). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, v;
	/* Rows i - 2, i - 1 and i of the distance matrix. */
	uint16_t r[3][LOAD_PATH_MAX + 1];
	uint16_t *pp, *p, *cur;

	if (la > LOAD_PATH_MAX || lb > LOAD_PATH_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		r[1][j] = (uint16_t)j;
	for (i = 1; i <= la; i++) {
		pp = r[(i + 2) % 3];	/* row k is kept in r[(k + 1) % 3] */
		p = r[i % 3];
		cur = r[(i + 1) % 3];
		cur[0] = (uint16_t)i;
		for (j = 1; j <= lb; j++) {
			v = p[j] + 1u;
			if (cur[j - 1] + 1u < v)
				v = cur[j - 1] + 1u;
			if (p[j - 1] + (size_t)(a[i - 1] != b[j - 1]) < v)
				v = p[j - 1] + (size_t)(a[i - 1] != b[j - 1]);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
					pp[j - 2] + 1u < v)
				v = pp[j - 2] + 1u;
			cur[j] = (uint16_t)v;
		}
	}
	return r[(la + 1) % 3][lb];
}

const char *
conf_suggest(const char *name, char *best, size_t size)
{
	char cand[LOAD_PATH_MAX + 1];
	size_t best_d = SIZE_MAX, d, len;
	const char *dot;
	int i;

	if (size < sizeof(cand))
		return NULL;
	best[0] = '\0';
	/* Candidates: every key and every section ("flow", "flow.idle_timeout"). */
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		dot = conf_keys[i].name;
		do {
			dot = strchr(dot, '.');
			len = dot != NULL ? (size_t)(dot - conf_keys[i].name) :
				strlen(conf_keys[i].name);
			if (len > LOAD_PATH_MAX)
				break;
			memcpy(cand, conf_keys[i].name, len);
			cand[len] = '\0';
			d = edit_distance(name, cand);
			if (d < best_d) {
				best_d = d;
				memcpy(best, cand, len + 1);
			}
			if (dot != NULL)
				dot++;
		} while (dot != NULL);
	}
	len = strlen(name) > strlen(best) ? strlen(name) : strlen(best);
	if (best_d == 0 || best_d > 3 || best_d * 3 > len)
		return NULL;
	return best;
}

static int
load_unknown(struct load_ctx *x, const struct conf_node *k, const char *path)
{
	char show[64], buf[LOAD_PATH_MAX + 1];
	const char *near = conf_suggest(path, buf, sizeof(buf));

	conf_show(path, strlen(path), show, sizeof(show));
	if (near != NULL)
		return conf_err(x->e, x->name, k->line, k->col,
			"unknown key '%s' (did you mean '%s'?)", show, near);
	return conf_err(x->e, x->name, k->line, k->col, "unknown key '%s'", show);
}

/* A section given something else than a map of keys. */
static int
load_not_map(struct load_ctx *x, const struct conf_node *v, const char *path)
{
	char show[64];

	if (v->kind == CONF_N_SEQ)
		return conf_err(x->e, x->name, v->line, v->col,
			"%s: expected a mapping of keys, got a list", path);
	return conf_err(x->e, x->name, v->line, v->col, "%s: expected a mapping of keys, got '%s'",
		path, conf_show(v->text, v->len, show, sizeof(show)));
}

static int
load_map(struct load_ctx *x, const struct conf_node *map, const char *prefix)
{
	char path[LOAD_PATH_MAX + 1], show[64];
	const struct conf_node *k, *v;
	uint32_t i, j;
	int id, ret, n;

	for (i = 0; i + 1 < map->n; i += 2) {
		k = map->kid[i];
		v = map->kid[i + 1];
		n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix != '\0' ? "." : "",
			k->text);
		if (n < 0 || (size_t)n >= sizeof(path) || k->len == 0)
			return load_unknown(x, k, path);
		for (j = 0; j < i; j += 2) {
			if (strcmp(map->kid[j]->text, k->text) == 0)
				return conf_err(x->e, x->name, k->line, k->col,
					"duplicate key '%s' (first at %u:%u)",
					conf_show(path, strlen(path), show, sizeof(show)),
					map->kid[j]->line, map->kid[j]->col);
		}
		id = fp_conf_key_find(path);
		if (id >= 0) {
			if (x->seen[id] != NULL)
				return conf_err(x->e, x->name, k->line, k->col,
					"duplicate key '%s' (first at %u:%u)", path,
					x->seen[id]->line, x->seen[id]->col);
			x->seen[id] = k;
			ret = conf_apply(x->c, id, v, x->src, x->name, x->e);
		} else if (conf_is_section(path, strlen(path))) {
			if (v->kind == CONF_N_MAP)
				ret = load_map(x, v, path);
			else if (conf_node_is_null(v))
				ret = 0;	/* "flow:" with nothing under it */
			else
				ret = load_not_map(x, v, path);
		} else {
			ret = load_unknown(x, k, path);
		}
		if (ret != 0)
			return ret;
	}
	return 0;
}

int
fp_conf_load_string(struct fp_conf *c, const char *name, const char *text, size_t len,
		struct fp_conf_err *e)
{
	struct load_ctx x;
	struct conf_node *root;
	struct fp_conf tmp;
	int ret;

	if (c == NULL || name == NULL || (text == NULL && len > 0))
		return conf_err(e, name != NULL ? name : "?", 0, 0, "invalid argument"), -EINVAL;
	ret = conf_tree_parse(name, text != NULL ? text : "", len, 0, &root, e);
	if (ret != 0)
		return ret;
	if (root != NULL && root->kind != CONF_N_MAP && !conf_node_is_null(root)) {
		ret = conf_err(e, name, root->line, root->col,
			"the top level must be a mapping of keys, not %s",
			root->kind == CONF_N_SEQ ? "a list" : "a scalar");
		conf_tree_free(root);
		return ret;
	}
	ret = fp_conf_copy(&tmp, c);
	if (ret != 0) {
		conf_tree_free(root);
		return conf_err(e, name, 0, 0, "out of memory"), -ENOMEM;
	}
	memset(&x, 0, sizeof(x));
	x.c = &tmp;
	x.name = name;
	x.e = e;
	x.src = conf_source(&tmp, name);
	if (x.src < 0)
		ret = (conf_err(e, name, 0, 0, "out of memory"), -ENOMEM);
	else if (root != NULL && root->kind == CONF_N_MAP)
		ret = load_map(&x, root, "");
	conf_tree_free(root);
	if (ret != 0) {
		fp_conf_free(&tmp);
		return ret;
	}
	fp_conf_free(c);
	*c = tmp;
	return 0;
}

int
fp_conf_load(struct fp_conf *c, const char *path, struct fp_conf_err *e)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t r;
	int fd, ret;

	if (c == NULL || path == NULL)
		return conf_err(e, path != NULL ? path : "?", 0, 0, "invalid argument"), -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		conf_err(e, path, 0, 0, "cannot open: %s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		conf_err(e, path, 0, 0, "cannot read: %s", strerror(EISDIR));
		return -EISDIR;
	}
	buf = malloc(FP_CONF_MAX_FILE_SIZE + 1);
	if (buf == NULL) {
		close(fd);
		return conf_err(e, path, 0, 0, "out of memory"), -ENOMEM;
	}
	/* Read one byte more than allowed, to tell a full-size file from a larger one. */
	while (len <= FP_CONF_MAX_FILE_SIZE) {
		r = read(fd, buf + len, FP_CONF_MAX_FILE_SIZE + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			conf_err(e, path, 0, 0, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return ret;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > FP_CONF_MAX_FILE_SIZE) {
		free(buf);
		conf_err(e, path, 0, 0, "file is larger than %d bytes", FP_CONF_MAX_FILE_SIZE);
		return -EFBIG;
	}
	ret = fp_conf_load_string(c, path, buf, len, e);
	free(buf);
	return ret;
}

int
fp_conf_set(struct fp_conf *c, const char *a, struct fp_conf_err *e)
{
	char key[LOAD_PATH_MAX + 1], show[64];
	struct conf_node *root = NULL;
	char empty[1] = "";
	struct conf_node null = { .kind = CONF_N_SCALAR, .plain = true, .text = empty };
	const char *eq, *val;
	size_t kb, ke, i;
	int id, src, ret;

	if (c == NULL || a == NULL)
		return conf_err(e, "--set", 0, 0, "invalid argument"), -EINVAL;
	eq = strchr(a, '=');
	if (eq == NULL)
		return conf_err(e, "--set", 1, 1, "expected KEY=VALUE, got '%s'",
			conf_show(a, strlen(a), show, sizeof(show)));
	/* KEY without the blanks around it. */
	for (kb = 0; a + kb < eq && (a[kb] == ' ' || a[kb] == '\t'); kb++)
		;
	for (ke = (size_t)(eq - a); ke > kb && (a[ke - 1] == ' ' || a[ke - 1] == '\t'); ke--)
		;
	if (ke == kb)
		return conf_err(e, "--set", 1, 1, "expected KEY=VALUE, got '%s'",
			conf_show(a, strlen(a), show, sizeof(show)));
	if (ke - kb > LOAD_PATH_MAX)
		return conf_err(e, "--set", 1, (uint32_t)kb + 1, "unknown key '%s'",
			conf_show(a + kb, ke - kb, show, sizeof(show)));
	memcpy(key, a + kb, ke - kb);
	key[ke - kb] = '\0';
	id = fp_conf_key_find(key);
	if (id < 0 && conf_is_section(key, strlen(key))) {
		for (i = 0; i < FP_CONF_NKEYS; i++)
			if (strncmp(conf_keys[i].name, key, strlen(key)) == 0 &&
					conf_keys[i].name[strlen(key)] == '.')
				break;
		return conf_err(e, "--set", 1, (uint32_t)kb + 1,
			"'%s' is a section: set one of its keys, such as '%s'", key,
			conf_keys[i].name);
	}
	if (id < 0) {
		char buf[LOAD_PATH_MAX + 1];
		const char *near = conf_suggest(key, buf, sizeof(buf));

		conf_show(key, strlen(key), show, sizeof(show));
		if (near != NULL)
			return conf_err(e, "--set", 1, (uint32_t)kb + 1,
				"unknown key '%s' (did you mean '%s'?)", show, near);
		return conf_err(e, "--set", 1, (uint32_t)kb + 1, "unknown key '%s'", show);
	}
	val = eq + 1;
	ret = conf_tree_parse("--set", val, strlen(val), (uint32_t)(val - a), &root, e);
	if (ret != 0)
		return ret;
	if (root == NULL) {
		null.line = 1;
		null.col = (uint32_t)(val - a) + 1;
	}
	src = conf_source(c, "--set");
	if (src < 0)
		ret = (conf_err(e, "--set", 0, 0, "out of memory"), -ENOMEM);
	else
		ret = conf_apply(c, id, root != NULL ? root : &null, src, "--set", e);
	conf_tree_free(root);
	return ret;
}

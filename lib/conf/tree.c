/* YAML text -> a small node tree with libyaml's marks, bounded in depth and width. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf_private.h"

struct tree_ctx {
	const char *src;
	const char *text;
	size_t len;
	uint32_t col0;
	struct fp_conf_err *e;
};

void
conf_tree_free(struct conf_node *n)
{
	uint32_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		conf_tree_free(n->kid[i]);
	free(n->kid);
	free(n->text);
	free(n);
}

bool
conf_node_is_null(const struct conf_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (n->kind != CONF_N_SCALAR || !n->plain)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

/* 1-based line and column of a libyaml mark; the first line is shifted by col0. */
static void
tree_pos(const struct tree_ctx *t, yaml_mark_t m, uint32_t *line, uint32_t *col)
{
	*line = (uint32_t)m.line + 1;
	*col = (uint32_t)m.column + 1 + (m.line == 0 ? t->col0 : 0);
}

static int __attribute__((format(printf, 4, 5)))
tree_fail(const struct tree_ctx *t, yaml_mark_t m, int ret, const char *fmt, ...)
{
	uint32_t line, col;
	va_list ap;

	tree_pos(t, m, &line, &col);
	va_start(ap, fmt);
	conf_verr(t->e, t->src, line, col, fmt, ap);
	va_end(ap);
	return ret;
}

/* libyaml's own error, with its problem and context and their marks. */
static int
tree_yaml_error(const struct tree_ctx *t, const yaml_parser_t *p)
{
	uint32_t line, col, cline, ccol;
	yaml_mark_t m;
	size_t i;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return conf_err(t->e, t->src, 0, 0, "out of memory reading YAML"), -ENOMEM;
	case YAML_READER_ERROR:
		/* The reader knows only a byte offset: count lines up to it. */
		memset(&m, 0, sizeof(m));
		for (i = 0; i < p->problem_offset && i < t->len; i++) {
			if (t->text[i] == '\n') {
				m.line++;
				m.column = 0;
			} else {
				m.column++;
			}
		}
		tree_pos(t, m, &line, &col);
		if (p->problem_value != -1)
			return conf_err(t->e, t->src, line, col, "invalid YAML: %s (byte 0x%02X)",
				p->problem, (unsigned int)p->problem_value), -EINVAL;
		return conf_err(t->e, t->src, line, col, "invalid YAML: %s", p->problem), -EINVAL;
	default:
		tree_pos(t, p->problem_mark, &line, &col);
		if (p->context != NULL) {
			tree_pos(t, p->context_mark, &cline, &ccol);
			return conf_err(t->e, t->src, line, col, "invalid YAML: %s (%s at %u:%u)",
				p->problem != NULL ? p->problem : "syntax error", p->context,
				cline, ccol), -EINVAL;
		}
		return conf_err(t->e, t->src, line, col, "invalid YAML: %s",
			p->problem != NULL ? p->problem : "syntax error"), -EINVAL;
	}
}

static struct conf_node *
tree_node(const struct tree_ctx *t, enum conf_node_kind kind, yaml_mark_t m)
{
	struct conf_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->kind = kind;
	tree_pos(t, m, &n->line, &n->col);
	return n;
}

/* Scalar node from a scalar event; NULL with e filled on error. */
static struct conf_node *
tree_scalar(const struct tree_ctx *t, const yaml_event_t *ev, int *ret)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	struct conf_node *n;

	if (memchr(ev->data.scalar.value, '\0', len) != NULL) {
		*ret = tree_fail(t, ev->start_mark, -EINVAL, "a value holds a NUL character");
		return NULL;
	}
	n = tree_node(t, CONF_N_SCALAR, ev->start_mark);
	if (n == NULL || (n->text = malloc(len + 1)) == NULL) {
		free(n);
		*ret = (conf_err(t->e, t->src, 0, 0, "out of memory reading YAML"), -ENOMEM);
		return NULL;
	}
	memcpy(n->text, ev->data.scalar.value, len);
	n->text[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		(tag == NULL || strcmp(tag, YAML_STR_TAG) != 0);
	return n;
}

/* Attach n under parent (NULL: n is the document root). */
static int
tree_attach(const struct tree_ctx *t, struct conf_node *parent, struct conf_node **root,
		struct conf_node *n, yaml_mark_t m)
{
	uint32_t limit;
	struct conf_node **kid;

	if (parent == NULL) {
		*root = n;
		return 0;
	}
	if (parent->kind == CONF_N_MAP && parent->n % 2 == 0 && n->kind != CONF_N_SCALAR)
		return tree_fail(t, m, -EINVAL, "a map key must be a plain name");
	limit = parent->kind == CONF_N_MAP ? 2 * FP_CONF_MAX_ITEMS : FP_CONF_MAX_ITEMS;
	if (parent->n == limit)
		return tree_fail(t, m, -E2BIG, "more than %d items in one list or map",
			FP_CONF_MAX_ITEMS);
	if (parent->n == parent->cap) {
		uint32_t cap = parent->cap == 0 ? 8 : parent->cap * 2;

		kid = realloc(parent->kid, cap * sizeof(*kid));
		if (kid == NULL)
			return conf_err(t->e, t->src, 0, 0, "out of memory reading YAML"), -ENOMEM;
		parent->kid = kid;
		parent->cap = cap;
	}
	parent->kid[parent->n++] = n;
	return 0;
}

int
conf_tree_parse(const char *src, const char *text, size_t len, uint32_t col0,
		struct conf_node **root, struct fp_conf_err *e)
{
	struct tree_ctx t = { src, text, len, col0, e };
	struct conf_node *stack[FP_CONF_MAX_DEPTH];
	struct conf_node *n;
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned int depth = 0, docs = 0;
	int ret = 0, done = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return conf_err(e, src, 0, 0, "out of memory reading YAML"), -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && ret == 0) {
		if (!yaml_parser_parse(&p, &ev)) {
			ret = tree_yaml_error(&t, &p);
			break;
		}
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0)
				ret = tree_fail(&t, ev.start_mark, -EINVAL,
					"a second YAML document is not allowed");
			break;
		case YAML_ALIAS_EVENT:
			ret = tree_fail(&t, ev.start_mark, -EINVAL,
				"aliases (*%s) are not supported",
				(const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			n = tree_scalar(&t, &ev, &ret);
			if (n != NULL) {
				ret = tree_attach(&t, depth > 0 ? stack[depth - 1] : NULL, root, n,
					ev.start_mark);
				if (ret != 0)
					conf_tree_free(n);
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == FP_CONF_MAX_DEPTH) {
				ret = tree_fail(&t, ev.start_mark, -EINVAL,
					"nesting is deeper than %d levels",
					FP_CONF_MAX_DEPTH);
				break;
			}
			n = tree_node(&t, ev.type == YAML_SEQUENCE_START_EVENT ? CONF_N_SEQ :
				CONF_N_MAP, ev.start_mark);
			if (n == NULL) {
				conf_err(e, src, 0, 0, "out of memory reading YAML");
				ret = -ENOMEM;
				break;
			}
			ret = tree_attach(&t, depth > 0 ? stack[depth - 1] : NULL, root, n,
				ev.start_mark);
			if (ret != 0) {
				conf_tree_free(n);
				break;
			}
			stack[depth++] = n;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (ret != 0) {
		conf_tree_free(*root);
		*root = NULL;
	}
	return ret;
}

/* Internal: libyaml event stream -> small YAML tree with line numbers and a nesting bound. */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "model_priv.h"
#include "model_yaml.h"

struct yctx {
	yaml_parser_t parser;
	size_t nodes;
	char *err;
	size_t errlen;
};

void
ytree_free(struct ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n_kids; i++)
		ytree_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

const struct ynode *
ytree_get(const struct ynode *map, const char *key)
{
	size_t i;

	if (map == NULL || map->kind != YNODE_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n_kids; i += 2)
		if (strcmp(map->kids[i]->str, key) == 0)
			return map->kids[i + 1];
	return NULL;
}

/* Read the next event; on a syntax error, write the message and return -1. */
static int
next_event(struct yctx *c, yaml_event_t *ev)
{
	if (yaml_parser_parse(&c->parser, ev))
		return 0;
	model_fail(c->err, c->errlen, "malformed YAML (line %zu, column %zu): %s%s%s",
			c->parser.problem_mark.line + 1, c->parser.problem_mark.column + 1,
			c->parser.problem ? c->parser.problem : "syntax error",
			c->parser.context ? " " : "",
			c->parser.context ? c->parser.context : "");
	return -1;
}

static struct ynode *
node_new(struct yctx *c, enum ynode_kind kind, const yaml_event_t *ev)
{
	struct ynode *n;

	if (++c->nodes > YTREE_MAX_NODES) {
		model_fail(c->err, c->errlen, "more than %d YAML nodes (line %zu)",
				YTREE_MAX_NODES, ev->start_mark.line + 1);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		model_fail(c->err, c->errlen, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->line = (unsigned int)ev->start_mark.line + 1;
	return n;
}

static int
node_push(struct yctx *c, struct ynode *parent, struct ynode *kid)
{
	if (parent->n_kids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **k = realloc(parent->kids, cap * sizeof(*k));

		if (k == NULL) {
			model_fail(c->err, c->errlen, "out of memory");
			return -1;
		}
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return 0;
}

static struct ynode *parse_node(struct yctx *c, yaml_event_t *ev, int depth);

/* Parse the children of a sequence or mapping whose start event was just read. */
static int
parse_children(struct yctx *c, struct ynode *n, yaml_event_type_t end, int depth)
{
	yaml_event_t ev;
	struct ynode *kid;
	size_t i;

	for (;;) {
		if (next_event(c, &ev) < 0)
			return -1;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		kid = parse_node(c, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (kid == NULL)
			return -1;
		if (n->kind == YNODE_MAP && n->n_kids % 2 == 0) {
			if (kid->kind != YNODE_SCALAR) {
				model_fail(c->err, c->errlen, "mapping key is not a plain value (line %u)",
						kid->line);
				ytree_free(kid);
				return -1;
			}
			for (i = 0; i < n->n_kids; i += 2) {
				if (strcmp(n->kids[i]->str, kid->str) == 0) {
					model_fail(c->err, c->errlen, "duplicate key '%s' (lines %u and %u)",
							kid->str, n->kids[i]->line, kid->line);
					ytree_free(kid);
					return -1;
				}
			}
		}
		if (node_push(c, n, kid) < 0) {
			ytree_free(kid);
			return -1;
		}
	}
}

/* Build the node that starts with event ev (which the caller still owns). */
static struct ynode *
parse_node(struct yctx *c, yaml_event_t *ev, int depth)
{
	struct ynode *n;

	if (depth > YTREE_MAX_DEPTH) {
		model_fail(c->err, c->errlen, "YAML nested deeper than %d levels (line %zu)",
				YTREE_MAX_DEPTH, ev->start_mark.line + 1);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(c, YNODE_SCALAR, ev);
		if (n == NULL)
			return NULL;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = malloc(ev->data.scalar.length + 1);
		if (n->str == NULL) {
			free(n);
			model_fail(c->err, c->errlen, "out of memory");
			return NULL;
		}
		memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
		n->str[ev->data.scalar.length] = '\0';
		if (strlen(n->str) != ev->data.scalar.length) {
			model_fail(c->err, c->errlen, "NUL character in a value (line %u)", n->line);
			ytree_free(n);
			return NULL;
		}
		return n;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = node_new(c, ev->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ : YNODE_MAP, ev);
		if (n == NULL)
			return NULL;
		if (parse_children(c, n, ev->type == YAML_SEQUENCE_START_EVENT ?
				YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT, depth) < 0) {
			ytree_free(n);
			return NULL;
		}
		return n;
	case YAML_ALIAS_EVENT:
		model_fail(c->err, c->errlen, "YAML aliases are not supported (line %zu)",
				ev->start_mark.line + 1);
		return NULL;
	default:
		model_fail(c->err, c->errlen, "unexpected YAML structure (line %zu)",
				ev->start_mark.line + 1);
		return NULL;
	}
}

struct ynode *
ytree_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct yctx c = { .err = err, .errlen = errlen };
	struct ynode *root = NULL;
	yaml_event_t ev;
	int step = 0;

	if (!yaml_parser_initialize(&c.parser)) {
		model_fail(err, errlen, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text, len);
	/* stream start, document start, root node, document end, stream end */
	for (;;) {
		if (next_event(&c, &ev) < 0)
			goto fail;
		switch (step) {
		case 0:	/* YAML_STREAM_START_EVENT */
			break;
		case 1:
			if (ev.type == YAML_STREAM_END_EVENT) {
				model_fail(err, errlen, "metadata is empty");
				yaml_event_delete(&ev);
				goto fail;
			}
			break;	/* YAML_DOCUMENT_START_EVENT */
		case 2:
			root = parse_node(&c, &ev, 1);
			if (root == NULL) {
				yaml_event_delete(&ev);
				goto fail;
			}
			break;
		case 3:	/* YAML_DOCUMENT_END_EVENT */
			break;
		default:
			if (ev.type != YAML_STREAM_END_EVENT) {
				model_fail(err, errlen, "more than one YAML document in the metadata (line %zu)",
						ev.start_mark.line + 1);
				yaml_event_delete(&ev);
				goto fail;
			}
			yaml_event_delete(&ev);
			yaml_parser_delete(&c.parser);
			return root;
		}
		yaml_event_delete(&ev);
		step++;
	}
fail:
	ytree_free(root);
	yaml_parser_delete(&c.parser);
	return NULL;
}

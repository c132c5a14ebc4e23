/* The key table instantiated, and a configuration's life: defaults, copy, compare, free. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_private.h"

#define CONF_KEY_ROW_(name, type, field, min, max, def, vals, rule, desc) \
	[FP_CONF_K_ ## field] = { name, CONF_T_ ## type, offsetof(struct fp_conf, field), \
		min, max, def, vals, rule, desc },

const struct conf_key conf_keys[FP_CONF_NKEYS] = {
	FP_CONF_KEYS(CONF_KEY_ROW_)
};

#undef CONF_KEY_ROW_

int
conf_verr(struct fp_conf_err *e, const char *src, uint32_t line, uint32_t col,
		const char *fmt, va_list ap)
{
	int n;
	char *p;

	if (e == NULL)
		return -EINVAL;
	n = snprintf(e->msg, sizeof(e->msg), "%s:%u:%u: ", src, line, col);
	if (n >= 0 && (size_t)n < sizeof(e->msg))
		vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	/* One line: no control character survives, whatever the file held. */
	for (p = e->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	e->line = line;
	e->col = col;
	return -EINVAL;
}

int
conf_err(struct fp_conf_err *e, const char *src, uint32_t line, uint32_t col,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(e, src, line, col, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *
conf_show(const char *s, size_t len, char *buf, size_t size)
{
	size_t max = 40, n, i;

	if (size < max + 4)
		max = size > 4 ? size - 4 : 0;
	n = len > max ? max : len;
	/* Do not cut a UTF-8 sequence in two. */
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	for (i = 0; i < n; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

const char *
fp_conf_key_name(int id)
{
	if (id < 0 || id >= FP_CONF_NKEYS)
		return NULL;
	return conf_keys[id].name;
}

int
fp_conf_key_find(const char *name)
{
	int i;

	if (name == NULL)
		return -ENOENT;
	for (i = 0; i < FP_CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return i;
	return -ENOENT;
}

int
conf_is_section(const char *name, size_t len)
{
	int i;

	if (len == 0)
		return 0;
	for (i = 0; i < FP_CONF_NKEYS; i++)
		if (strncmp(conf_keys[i].name, name, len) == 0 && conf_keys[i].name[len] == '.')
			return 1;
	return 0;
}

int
conf_source(struct fp_conf *c, const char *name)
{
	struct fp_conf_strv *s = &c->sources;
	char **v;
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return (int)i;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	s->v = v;
	s->v[s->n] = strdup(name);
	if (s->v[s->n] == NULL)
		return -ENOMEM;
	return (int)s->n++;
}

void
fp_conf_strv_free(struct fp_conf_strv *v)
{
	uint32_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

void
fp_conf_free(struct fp_conf *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		void *p = (char *)c + conf_keys[i].off;

		switch (conf_keys[i].type) {
		case CONF_T_STR:
			free(*(char **)p);
			break;
		case CONF_T_STRV:
			fp_conf_strv_free(p);
			break;
		case CONF_T_U32V:
			free(((struct fp_conf_u32v *)p)->v);
			break;
		default:
			break;
		}
	}
	fp_conf_strv_free(&c->sources);
	memset(c, 0, sizeof(*c));
}

int
fp_conf_defaults(struct fp_conf *c)
{
	struct fp_conf_err e;
	struct conf_node *n;
	char empty[1] = "";
	struct conf_node null = { .kind = CONF_N_SCALAR, .plain = true, .text = empty };
	int i, ret;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		const char *d = conf_keys[i].def;

		ret = conf_tree_parse("<defaults>", d, strlen(d), 0, &n, &e);
		if (ret == 0) {
			ret = conf_apply(c, i, n != NULL ? n : &null, -1, "<defaults>", &e);
			conf_tree_free(n);
		}
		if (ret != 0) {
			fp_conf_free(c);
			return ret;
		}
	}
	return 0;
}

void
fp_conf_flow_settings(const struct fp_conf *c, struct fp_conf_flow *f)
{
	f->window_us = (uint64_t)(c->flow_window * 1e6 + 0.5);
	f->idle_us[0] = (uint64_t)(c->flow_idle_tcp * 1e6 + 0.5);
	f->idle_us[1] = (uint64_t)(c->flow_idle_udp * 1e6 + 0.5);
	f->idle_us[2] = (uint64_t)(c->flow_idle_other * 1e6 + 0.5);
	f->max_records = c->flow_max_packets;
}

int
fp_conf_flow_defaults(struct fp_conf_flow *f)
{
	struct fp_conf c;
	int ret = fp_conf_defaults(&c);

	if (ret != 0)
		return ret;
	fp_conf_flow_settings(&c, f);
	fp_conf_free(&c);
	return 0;
}

static int
strv_dup(struct fp_conf_strv *dst, const struct fp_conf_strv *src)
{
	dst->n = 0;
	dst->v = NULL;
	if (src->n == 0)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	if (dst->v == NULL)
		return -ENOMEM;
	for (; dst->n < src->n; dst->n++) {
		dst->v[dst->n] = strdup(src->v[dst->n]);
		if (dst->v[dst->n] == NULL)
			return -ENOMEM;
	}
	return 0;
}

int
fp_conf_copy(struct fp_conf *dst, const struct fp_conf *src)
{
	int i, ret = 0;

	memcpy(dst, src, sizeof(*dst));
	/* First forget every heap pointer of src, so a failure frees only dst's own. */
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		void *p = (char *)dst + conf_keys[i].off;

		if (conf_keys[i].type == CONF_T_STR)
			*(char **)p = NULL;
		else if (conf_keys[i].type == CONF_T_STRV)
			memset(p, 0, sizeof(struct fp_conf_strv));
		else if (conf_keys[i].type == CONF_T_U32V)
			memset(p, 0, sizeof(struct fp_conf_u32v));
	}
	memset(&dst->sources, 0, sizeof(dst->sources));
	for (i = 0; i < FP_CONF_NKEYS && ret == 0; i++) {
		void *d = (char *)dst + conf_keys[i].off;
		const void *s = (const char *)src + conf_keys[i].off;
		const struct fp_conf_u32v *su;
		struct fp_conf_u32v *du;

		switch (conf_keys[i].type) {
		case CONF_T_STR:
			if (*(char *const *)s != NULL) {
				*(char **)d = strdup(*(char *const *)s);
				if (*(char **)d == NULL)
					ret = -ENOMEM;
			}
			break;
		case CONF_T_STRV:
			ret = strv_dup(d, s);
			break;
		case CONF_T_U32V:
			su = s;
			du = d;
			if (su->n > 0) {
				du->v = malloc(su->n * sizeof(*du->v));
				if (du->v == NULL) {
					ret = -ENOMEM;
					break;
				}
				memcpy(du->v, su->v, su->n * sizeof(*du->v));
				du->n = su->n;
			}
			break;
		default:
			break;
		}
	}
	if (ret == 0)
		ret = strv_dup(&dst->sources, &src->sources);
	if (ret != 0)
		fp_conf_free(dst);
	return ret;
}

static int
key_equal(const struct conf_key *k, const void *a, const void *b)
{
	const struct fp_conf_strv *sa, *sb;
	const struct fp_conf_u32v *ua, *ub;
	uint32_t i;

	switch (k->type) {
	case CONF_T_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case CONF_T_U32:
		return *(const uint32_t *)a == *(const uint32_t *)b;
	case CONF_T_U64:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case CONF_T_DBL:
		return *(const double *)a == *(const double *)b;
	case CONF_T_ENUM:
		return *(const int *)a == *(const int *)b;
	case CONF_T_STR:
		return strcmp(*(char *const *)a, *(char *const *)b) == 0;
	case CONF_T_STRV:
		sa = a;
		sb = b;
		if (sa->n != sb->n)
			return 0;
		for (i = 0; i < sa->n; i++)
			if (strcmp(sa->v[i], sb->v[i]) != 0)
				return 0;
		return 1;
	case CONF_T_U32V:
		ua = a;
		ub = b;
		return ua->n == ub->n &&
			(ua->n == 0 || memcmp(ua->v, ub->v, ua->n * sizeof(*ua->v)) == 0);
	}
	return 0;
}

int
fp_conf_equal(const struct fp_conf *a, const struct fp_conf *b)
{
	int i;

	for (i = 0; i < FP_CONF_NKEYS; i++)
		if (!key_equal(&conf_keys[i], (const char *)a + conf_keys[i].off,
				(const char *)b + conf_keys[i].off))
			return 0;
	return 1;
}

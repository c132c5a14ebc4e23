/* One YAML node -> one key's typed value: type, range, allowed values and rule checks. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_private.h"

/* Where and for what a value is read; label is "flow.window" or "lcores.rx: item 2". */
struct val_ctx {
	const struct conf_key *k;
	const char *src;
	const char *label;
	struct fp_conf_err *e;
};

static int __attribute__((format(printf, 3, 4)))
val_fail(const struct val_ctx *x, const struct conf_node *n, const char *fmt, ...)
{
	char msg[FP_CONF_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err(x->e, x->src, n->line, n->col, "%s: %s", x->label, msg);
	return -EINVAL;
}

/* "got ..." part of a type error. */
static const char *
val_got(const struct conf_node *n, char *buf, size_t size)
{
	char show[64];

	if (n->kind == CONF_N_SEQ)
		return "a list";
	if (n->kind == CONF_N_MAP)
		return "a mapping";
	if (conf_node_is_null(n))
		return "an empty value";
	conf_show(n->text, n->len, show, sizeof(show));
	if (n->plain)
		snprintf(buf, size, "'%s'", show);
	else
		snprintf(buf, size, "the quoted string \"%s\"", show);
	return buf;
}

static int
val_type_error(const struct val_ctx *x, const struct conf_node *n, const char *want)
{
	char got[96];

	return val_fail(x, n, "expected %s, got %s", want, val_got(n, got, sizeof(got)));
}

static const char *
val_num(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%.15g", v);
	return buf;
}

static int
val_range_error(const struct val_ctx *x, const struct conf_node *n)
{
	char show[64], lo[32], hi[32];

	return val_fail(x, n, "%s is out of range [%s, %s]",
		conf_show(n->text, n->len, show, sizeof(show)),
		val_num(x->k->min, lo, sizeof(lo)), val_num(x->k->max, hi, sizeof(hi)));
}

int
conf_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0, d;
	unsigned int base = 10;
	int neg = 0, digits = 0, big = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s != '\0'; s++, digits++) {
		if (*s >= '0' && *s <= '9')
			d = (uint64_t)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (uint64_t)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (uint64_t)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			big = 1;
		v = v * base + d;
	}
	if (digits == 0)
		return -EINVAL;
	if (big || (neg && v != 0))
		return -ERANGE;
	*out = v;
	return 0;
}

/* Unsigned integer of a plain scalar, in [min, max] and passing the key's rule. */
static int
val_u64(const struct val_ctx *x, const struct conf_node *n, uint64_t *out)
{
	char show[64], why[128];
	uint64_t v;
	int ret;

	if (n->kind != CONF_N_SCALAR || !n->plain || conf_node_is_null(n))
		return val_type_error(x, n, "an unsigned integer");
	ret = conf_parse_u64(n->text, &v);
	if (ret == -EINVAL)
		return val_type_error(x, n, "an unsigned integer");
	if (ret == -ERANGE || (double)v < x->k->min || (double)v > x->k->max)
		return val_range_error(x, n);
	if (x->k->rule != NULL && x->k->rule->check_u64 != NULL &&
			x->k->rule->check_u64(v, why, sizeof(why)) != 0)
		return val_fail(x, n, "%s %s", conf_show(n->text, n->len, show, sizeof(show)), why);
	*out = v;
	return 0;
}

static int
val_double(const struct val_ctx *x, const struct conf_node *n, double *out)
{
	char *end;
	double v;

	if (n->kind != CONF_N_SCALAR || !n->plain || conf_node_is_null(n))
		return val_type_error(x, n, "a number");
	/* Decimal notation only: no hex floats, inf or nan. */
	if (strspn(n->text, "0123456789+-.eE") != n->len)
		return val_type_error(x, n, "a number");
	errno = 0;
	v = strtod(n->text, &end);
	if (end == n->text || *end != '\0')
		return val_type_error(x, n, "a number");
	if (errno == ERANGE || !isfinite(v) || v < x->k->min || v > x->k->max)
		return val_range_error(x, n);
	*out = v;
	return 0;
}

static int
val_bool(const struct val_ctx *x, const struct conf_node *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
		"on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
		"off", "Off", "OFF" };
	size_t i;

	if (n->kind == CONF_N_SCALAR && n->plain) {
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			if (strcmp(n->text, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(n->text, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	return val_type_error(x, n, "true or false");
}

/* A string: any scalar; a plain null is the empty string. Returns a heap copy. */
static int
val_str(const struct val_ctx *x, const struct conf_node *n, char **out)
{
	char show[64], why[160];
	const char *s;

	if (n->kind != CONF_N_SCALAR)
		return val_type_error(x, n, "a string");
	s = conf_node_is_null(n) ? "" : n->text;
	if (x->k->rule != NULL && x->k->rule->check_str != NULL &&
			x->k->rule->check_str(s, why, sizeof(why)) != 0)
		return val_fail(x, n, "'%s' %s", conf_show(s, strlen(s), show, sizeof(show)), why);
	*out = strdup(s);
	if (*out == NULL)
		return conf_err(x->e, x->src, 0, 0, "out of memory"), -ENOMEM;
	return 0;
}

static void
val_enum_names(const struct conf_key *k, char *buf, size_t size)
{
	const struct conf_enum_val *v;
	size_t n = 0;

	buf[0] = '\0';
	for (v = k->vals; v->name != NULL && n < size; v++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", v == k->vals ? "" : ", ", v->name);
}

static int
val_enum(const struct val_ctx *x, const struct conf_node *n, int *out)
{
	const struct conf_enum_val *v;
	char names[128], want[160], show[64];

	val_enum_names(x->k, names, sizeof(names));
	if (n->kind != CONF_N_SCALAR || conf_node_is_null(n)) {
		snprintf(want, sizeof(want), "one of %s", names);
		return val_type_error(x, n, want);
	}
	for (v = x->k->vals; v->name != NULL; v++) {
		if (strcmp(v->name, n->text) == 0) {
			*out = v->value;
			return 0;
		}
	}
	return val_fail(x, n, "'%s' is not allowed (allowed: %s)",
		conf_show(n->text, n->len, show, sizeof(show)), names);
}

/* Items of a list node (a plain null is the empty list). */
static int
val_list(const struct val_ctx *x, const struct conf_node *n, const char *want,
		struct conf_node *const **items, uint32_t *count)
{
	if (n->kind == CONF_N_SEQ) {
		*items = n->kid;
		*count = n->n;
		return 0;
	}
	if (conf_node_is_null(n)) {
		*items = NULL;
		*count = 0;
		return 0;
	}
	return val_type_error(x, n, want);
}

static int
val_strv(const struct val_ctx *x, const struct conf_node *n, struct fp_conf_strv *out)
{
	struct conf_node *const *items = NULL;
	struct val_ctx ix = *x;
	char label[96];
	uint32_t count = 0, i;
	int ret;

	ret = val_list(x, n, "a list of strings", &items, &count);
	if (ret != 0)
		return ret;
	out->n = 0;
	out->v = count > 0 ? calloc(count, sizeof(*out->v)) : NULL;
	if (count > 0 && out->v == NULL)
		return conf_err(x->e, x->src, 0, 0, "out of memory"), -ENOMEM;
	ix.label = label;
	for (i = 0; i < count; i++) {
		snprintf(label, sizeof(label), "%s: item %u", x->label, i + 1);
		if (conf_node_is_null(items[i]))
			ret = val_fail(&ix, items[i], "empty item");
		else
			ret = val_str(&ix, items[i], &out->v[i]);
		if (ret != 0) {
			fp_conf_strv_free(out);
			return ret;
		}
		out->n++;
	}
	return 0;
}

static int
val_u32v(const struct val_ctx *x, const struct conf_node *n, struct fp_conf_u32v *out)
{
	struct conf_node *const *items = NULL;
	struct val_ctx ix = *x;
	char label[96];
	uint32_t count = 0, i;
	uint64_t v;
	int ret;

	ret = val_list(x, n, "a list of unsigned integers", &items, &count);
	if (ret != 0)
		return ret;
	out->n = 0;
	out->v = count > 0 ? calloc(count, sizeof(*out->v)) : NULL;
	if (count > 0 && out->v == NULL)
		return conf_err(x->e, x->src, 0, 0, "out of memory"), -ENOMEM;
	ix.label = label;
	for (i = 0; i < count; i++) {
		snprintf(label, sizeof(label), "%s: item %u", x->label, i + 1);
		ret = val_u64(&ix, items[i], &v);
		if (ret != 0) {
			free(out->v);
			out->v = NULL;
			return ret;
		}
		out->v[out->n++] = (uint32_t)v;
	}
	return 0;
}

int
conf_apply(struct fp_conf *c, int id, const struct conf_node *v, int32_t src,
		const char *src_name, struct fp_conf_err *e)
{
	const struct conf_key *k = &conf_keys[id];
	struct val_ctx x = { k, src_name, k->name, e };
	void *p = (char *)c + k->off;
	struct fp_conf_strv sv = { NULL, 0 };
	struct fp_conf_u32v uv = { NULL, 0 };
	uint64_t u = 0;
	double d = 0;
	char *s = NULL;
	bool b = false;
	int ret, en = 0;

	switch (k->type) {
	case CONF_T_BOOL:
		ret = val_bool(&x, v, &b);
		if (ret == 0)
			*(bool *)p = b;
		break;
	case CONF_T_U32:
	case CONF_T_U64:
		ret = val_u64(&x, v, &u);
		if (ret == 0 && k->type == CONF_T_U32)
			*(uint32_t *)p = (uint32_t)u;
		else if (ret == 0)
			*(uint64_t *)p = u;
		break;
	case CONF_T_DBL:
		ret = val_double(&x, v, &d);
		if (ret == 0)
			*(double *)p = d;
		break;
	case CONF_T_ENUM:
		ret = val_enum(&x, v, &en);
		if (ret == 0)
			*(int *)p = en;
		break;
	case CONF_T_STR:
		ret = val_str(&x, v, &s);
		if (ret == 0) {
			free(*(char **)p);
			*(char **)p = s;
		}
		break;
	case CONF_T_STRV:
		ret = val_strv(&x, v, &sv);
		if (ret == 0) {
			fp_conf_strv_free(p);
			*(struct fp_conf_strv *)p = sv;
		}
		break;
	case CONF_T_U32V:
		ret = val_u32v(&x, v, &uv);
		if (ret == 0) {
			free(((struct fp_conf_u32v *)p)->v);
			*(struct fp_conf_u32v *)p = uv;
		}
		break;
	default:
		ret = conf_err(e, src_name, v->line, v->col, "%s: unknown key type", k->name);
		break;
	}
	if (ret == 0) {
		c->mark[id].src = src;
		c->mark[id].line = src < 0 ? 0 : v->line;
		c->mark[id].col = src < 0 ? 0 : v->col;
	}
	return ret;
}

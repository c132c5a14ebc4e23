/* Writing configuration out: the key reference (text, Markdown) and the effective YAML. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_private.h"

static const char *
type_name(enum conf_type t)
{
	switch (t) {
	case CONF_T_BOOL:
		return "bool";
	case CONF_T_U32:
	case CONF_T_U64:
		return "uint";
	case CONF_T_DBL:
		return "double";
	case CONF_T_STR:
		return "string";
	case CONF_T_ENUM:
		return "enum";
	case CONF_T_STRV:
		return "list of strings";
	case CONF_T_U32V:
		return "list of uints";
	}
	return "?";
}

/* Allowed values of a key in words: "[1, 3600]", "tsc, packet", "items in [0, 127]". */
static const char *
allowed(const struct conf_key *k, char *buf, size_t size)
{
	const struct conf_enum_val *v;
	const char *rule = k->rule != NULL ? k->rule->text : NULL;
	size_t n = 0;

	buf[0] = '\0';
	switch (k->type) {
	case CONF_T_BOOL:
		snprintf(buf, size, "true or false");
		break;
	case CONF_T_U32:
	case CONF_T_U64:
	case CONF_T_DBL:
		n = (size_t)snprintf(buf, size, "[%.15g, %.15g]", k->min, k->max);
		if (rule != NULL && n < size)
			snprintf(buf + n, size - n, ", %s", rule);
		break;
	case CONF_T_ENUM:
		n = (size_t)snprintf(buf, size, "one of ");
		for (v = k->vals; v->name != NULL && n < size; v++)
			n += (size_t)snprintf(buf + n, size - n, "%s%s", v == k->vals ? "" : ", ",
				v->name);
		break;
	case CONF_T_U32V:
		snprintf(buf, size, "items in [%.15g, %.15g]", k->min, k->max);
		break;
	case CONF_T_STRV:
		snprintf(buf, size, "%s%s", rule != NULL ? "items: " : "any",
			rule != NULL ? rule : "");
		break;
	case CONF_T_STR:
		snprintf(buf, size, "%s", rule != NULL ? rule : "any");
		break;
	}
	return buf;
}

int
fp_conf_print_reference(FILE *f)
{
	char buf[256];
	int i;

	fprintf(f, "flowpicd configuration keys (YAML maps; dotted name = path of nested keys).\n"
		"Precedence: defaults < configuration file < --set KEY=VALUE.\n\n");
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];

		fprintf(f, "%s: %s, %s; default %s\n    %s.\n", k->name, type_name(k->type),
			allowed(k, buf, sizeof(buf)), k->def, k->desc);
	}
	return ferror(f) ? -EIO : 0;
}

/* Markdown cell text: '|' escaped. */
static void
md_cell(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

int
fp_conf_print_reference_md(FILE *f)
{
	char buf[256];
	int i;

	fprintf(f, "| Key | Type | Allowed | Default | Description |\n");
	fprintf(f, "|---|---|---|---|---|\n");
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];

		fprintf(f, "| `%s` | %s | ", k->name, type_name(k->type));
		md_cell(f, allowed(k, buf, sizeof(buf)));
		fputs(" | `", f);
		md_cell(f, k->def);
		fputs("` | ", f);
		md_cell(f, k->desc);
		fputs(" |\n", f);
	}
	return ferror(f) ? -EIO : 0;
}

/* A YAML double-quoted string. */
static void
dump_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The shortest decimal form that reads back to the same double ("60", "0.1"). */
static void
dump_double(FILE *f, double v)
{
	char buf[64];
	int prec;

	if (fabs(v) < 1e15 && (v == 0 || fabs(v) >= 1e-4)) {
		for (prec = 0; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*f", prec, v);
			if (strtod(buf, NULL) == v) {
				fputs(buf, f);
				return;
			}
		}
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void
dump_value(FILE *f, const struct conf_key *k, const void *p)
{
	const struct conf_enum_val *ev;
	const struct fp_conf_strv *sv;
	const struct fp_conf_u32v *uv;
	uint32_t i;

	switch (k->type) {
	case CONF_T_BOOL:
		fputs(*(const bool *)p ? "true" : "false", f);
		break;
	case CONF_T_U32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case CONF_T_U64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case CONF_T_DBL:
		dump_double(f, *(const double *)p);
		break;
	case CONF_T_STR:
		dump_str(f, *(char *const *)p != NULL ? *(char *const *)p : "");
		break;
	case CONF_T_ENUM:
		for (ev = k->vals; ev->name != NULL; ev++)
			if (ev->value == *(const int *)p)
				break;
		fputs(ev->name != NULL ? ev->name : "~", f);
		break;
	case CONF_T_STRV:
		sv = p;
		fputc('[', f);
		for (i = 0; i < sv->n; i++) {
			if (i > 0)
				fputs(", ", f);
			dump_str(f, sv->v[i]);
		}
		fputc(']', f);
		break;
	case CONF_T_U32V:
		uv = p;
		fputc('[', f);
		for (i = 0; i < uv->n; i++)
			fprintf(f, "%s%" PRIu32, i > 0 ? ", " : "", uv->v[i]);
		fputc(']', f);
		break;
	}
}

/* Split a dotted name into at most max parts (pointers into buf). */
static int
split(const char *name, char *buf, size_t size, const char **part, int max)
{
	int n = 0;
	char *s;

	snprintf(buf, size, "%s", name);
	for (s = buf; n < max; n++) {
		part[n] = s;
		s = strchr(s, '.');
		if (s == NULL)
			return n + 1;
		*s++ = '\0';
	}
	return n;
}

int
fp_conf_dump(const struct fp_conf *c, FILE *f)
{
	char prev_buf[128], cur_buf[128];
	const char *prev[FP_CONF_MAX_DEPTH], *cur[FP_CONF_MAX_DEPTH];
	int i, np = 0, nc, d, same;

	fputs("# flowpicd effective configuration\n", f);
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		nc = split(conf_keys[i].name, cur_buf, sizeof(cur_buf), cur, FP_CONF_MAX_DEPTH);
		/* Sections shared with the previous key are open already. */
		for (same = 0; same < nc - 1 && same < np - 1; same++)
			if (strcmp(cur[same], prev[same]) != 0)
				break;
		for (d = same; d < nc - 1; d++)
			fprintf(f, "%*s%s:\n", 2 * d, "", cur[d]);
		fprintf(f, "%*s%s: ", 2 * (nc - 1), "", cur[nc - 1]);
		dump_value(f, &conf_keys[i], (const char *)c + conf_keys[i].off);
		fputc('\n', f);
		memcpy(prev_buf, cur_buf, sizeof(prev_buf));
		for (d = 0; d < nc; d++)
			prev[d] = prev_buf + (cur[d] - cur_buf);
		np = nc;
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

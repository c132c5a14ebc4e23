/* EAL arguments: the lcore set that eal.args gives, and the argv flowpicd hands to EAL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_private.h"

/* EAL options whose value is the next word (when not written as --opt=value). */
static const char *const eal_opts_with_value[] = {
	"-a", "-b", "-d", "-m", "-n", "-r", "-s", "-S", "--allow", "--block", "--vdev",
	"--file-prefix", "--huge-dir", "--proc-type", "--socket-mem", "--socket-limit",
	"--log-level", "--iova-mode", "--base-virtaddr", "--vfio-intr", "--vfio-vf-token",
	"--mbuf-pool-ops-name", "--service-corelist", "--service-coremask", "--trace",
	"--trace-dir", "--trace-bufsz", "--trace-mode", "--huge-worker-stack",
};

/* One lcore id at *p (decimal, < FP_CONF_MAX_LCORE); advances p. */
static int
eal_id(const char **p, unsigned int *id, char *why, size_t len)
{
	unsigned long v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9') {
		snprintf(why, len, "expected an lcore number at '%s'", s);
		return -EINVAL;
	}
	while (*s >= '0' && *s <= '9' && v < FP_CONF_MAX_LCORE)
		v = v * 10 + (unsigned long)(*s++ - '0');
	if (v >= FP_CONF_MAX_LCORE) {
		snprintf(why, len, "lcore %lu%s is beyond %d", v, *s >= '0' && *s <= '9' ?
			"..." : "", FP_CONF_MAX_LCORE - 1);
		return -EINVAL;
	}
	*id = (unsigned int)v;
	*p = s;
	return 0;
}

/* "N" or "N-M" at *p; marks the ids in set when set is not NULL. */
static int
eal_range(const char **p, bool *set, char *why, size_t len)
{
	unsigned int a, b, i;
	int ret;

	ret = eal_id(p, &a, why, len);
	if (ret != 0)
		return ret;
	b = a;
	if (**p == '-') {
		(*p)++;
		ret = eal_id(p, &b, why, len);
		if (ret != 0)
			return ret;
		if (b < a) {
			snprintf(why, len, "range %u-%u runs backwards", a, b);
			return -EINVAL;
		}
	}
	for (i = a; set != NULL && i <= b; i++)
		set[i] = true;
	return 0;
}

/* "-l" list: "0-3,5". */
static int
eal_corelist(const char *s, bool *set, char *why, size_t len)
{
	int ret;

	for (;;) {
		ret = eal_range(&s, set, why, len);
		if (ret != 0)
			return ret;
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			snprintf(why, len, "unexpected '%c' in lcore list", *s);
			return -EINVAL;
		}
		s++;
	}
}

/* "-c" hexadecimal mask, bit i = lcore i. */
static int
eal_coremask(const char *s, bool *set, char *why, size_t len)
{
	size_t n, i;
	unsigned int d, bit;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (n == 0) {
		snprintf(why, len, "empty core mask");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char ch = s[n - 1 - i];

		if (ch >= '0' && ch <= '9')
			d = (unsigned int)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned int)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned int)(ch - 'A' + 10);
		else {
			snprintf(why, len, "'%c' is not a hexadecimal digit", ch);
			return -EINVAL;
		}
		for (bit = 0; bit < 4; bit++) {
			if ((d & (1u << bit)) == 0)
				continue;
			if (i * 4 + bit >= FP_CONF_MAX_LCORE) {
				snprintf(why, len, "core mask sets lcore %zu, beyond %d",
					i * 4 + bit, FP_CONF_MAX_LCORE - 1);
				return -EINVAL;
			}
			set[i * 4 + bit] = true;
		}
	}
	return 0;
}

/* A "(N,N-M,...)" group or a single N / N-M of an --lcores element. */
static int
eal_group(const char **p, bool *set, char *why, size_t len)
{
	int ret;

	if (**p != '(')
		return eal_range(p, set, why, len);
	(*p)++;
	for (;;) {
		ret = eal_range(p, set, why, len);
		if (ret != 0)
			return ret;
		if (**p == ')') {
			(*p)++;
			return 0;
		}
		if (**p != ',') {
			snprintf(why, len, "expected ',' or ')' at '%s'", *p);
			return -EINVAL;
		}
		(*p)++;
	}
}

/* "--lcores": "LCORES[@CPUS],..." where each side is N, N-M or (list). */
static int
eal_lcores_map(const char *s, bool *set, char *why, size_t len)
{
	int ret;

	for (;;) {
		ret = eal_group(&s, set, why, len);
		if (ret != 0)
			return ret;
		if (*s == '@') {
			s++;
			ret = eal_group(&s, NULL, why, len);
			if (ret != 0)
				return ret;
		}
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			snprintf(why, len, "unexpected '%c' in --lcores", *s);
			return -EINVAL;
		}
		s++;
	}
}

/*
 * Value of option name at args[*i], written "NAME VALUE", "NAME=VALUE" (long) or "NAMEVALUE"
 * (short); NULL when args[*i] is not that option. *i moves past a separate value.
 */
static const char *
eal_opt(const struct fp_conf_strv *args, uint32_t *i, const char *name, int *missing)
{
	const char *a = args->v[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '\0') {
		if (*i + 1 >= args->n) {
			*missing = 1;
			return NULL;
		}
		return args->v[++*i];
	}
	if (name[1] == '-')
		return a[n] == '=' ? a + n + 1 : NULL;
	return a + n;
}

int
conf_eal_lcores(const struct fp_conf_strv *args, bool set[FP_CONF_MAX_LCORE], int *main_lcore,
		char *opt, size_t optlen, char *why, size_t whylen)
{
	static const char *const names[] = { "-l", "-c", "--lcores" };
	static const char *const mains[] = { "--main-lcore", "--master-lcore" };
	const char *v;
	unsigned int id;
	uint32_t i;
	size_t j;
	int found = 0, missing = 0, ret;

	memset(set, 0, FP_CONF_MAX_LCORE * sizeof(bool));
	*main_lcore = -1;
	opt[0] = '\0';
	for (i = 0; i < args->n; i++) {
		for (j = 0; j < sizeof(eal_opts_with_value) / sizeof(eal_opts_with_value[0]); j++)
			if (strcmp(args->v[i], eal_opts_with_value[j]) == 0)
				break;
		if (j < sizeof(eal_opts_with_value) / sizeof(eal_opts_with_value[0])) {
			i++;	/* skip that option's value */
			continue;
		}
		for (j = 0; j < 2; j++) {
			v = eal_opt(args, &i, mains[j], &missing);
			if (v == NULL)
				continue;
			if (eal_id(&v, &id, why, whylen) != 0 || *v != '\0') {
				snprintf(why, whylen, "%s needs an lcore number 0-%d", mains[j],
					FP_CONF_MAX_LCORE - 1);
				return -EINVAL;
			}
			*main_lcore = (int)id;
			break;
		}
		if (j < 2)
			continue;
		for (j = 0; j < 3; j++) {
			v = eal_opt(args, &i, names[j], &missing);
			if (v == NULL)
				continue;
			if (found++ > 0) {
				snprintf(why, whylen,
					"only one of -l, -c and --lcores may be given");
				return -EINVAL;
			}
			snprintf(opt, optlen, "%s %s", names[j], v);
			ret = j == 0 ? eal_corelist(v, set, why, whylen) :
				j == 1 ? eal_coremask(v, set, why, whylen) :
				eal_lcores_map(v, set, why, whylen);
			if (ret != 0)
				return ret;
		}
		if (missing) {
			snprintf(why, whylen, "'%s' needs a value", args->v[i]);
			return -EINVAL;
		}
	}
	if (!found)
		return 0;
	for (id = 0; id < FP_CONF_MAX_LCORE; id++)
		if (set[id])
			break;
	if (id == FP_CONF_MAX_LCORE) {
		snprintf(why, whylen, "'%s' gives no lcore", opt);
		return -EINVAL;
	}
	if (*main_lcore < 0)
		*main_lcore = (int)id;
	return 1;
}

static int
argv_push(struct fp_conf_strv *out, const char *s)
{
	char **v = realloc(out->v, (out->n + 1) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	out->v = v;
	out->v[out->n] = strdup(s);
	if (out->v[out->n] == NULL)
		return -ENOMEM;
	out->n++;
	return 0;
}

/* "--lcores" value for every lcore of lcores.*, remapped onto n_cpus CPUs. */
static int
argv_lcores(const struct fp_conf *c, unsigned int n_cpus, struct fp_conf_strv *out)
{
	bool used[FP_CONF_MAX_LCORE] = { false };
	char buf[FP_CONF_MAX_LCORE * 9 + 1];
	size_t n = 0;
	uint32_t i;
	unsigned int id;

	used[c->lcores_stats % FP_CONF_MAX_LCORE] = true;
	for (i = 0; i < c->lcores_rx.n; i++)
		used[c->lcores_rx.v[i] % FP_CONF_MAX_LCORE] = true;
	for (i = 0; i < c->lcores_workers.n; i++)
		used[c->lcores_workers.v[i] % FP_CONF_MAX_LCORE] = true;
	buf[0] = '\0';
	for (id = 0; id < FP_CONF_MAX_LCORE; id++) {
		if (!used[id])
			continue;
		if (n_cpus == 0 || id < n_cpus)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u", n ? "," : "", id);
		else
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%u@%u", n ? "," : "", id,
				id % n_cpus);
	}
	if (argv_push(out, "--lcores") != 0 || argv_push(out, buf) != 0)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%u", c->lcores_stats);
	if (argv_push(out, "--main-lcore") != 0 || argv_push(out, buf) != 0)
		return -ENOMEM;
	return 0;
}

int
fp_conf_eal_argv(const struct fp_conf *c, const char *prog, unsigned int n_cpus,
		struct fp_conf_strv *out)
{
	bool set[FP_CONF_MAX_LCORE];
	char opt[64], why[128];
	int main_lcore, has_lcores, pci = 0, filtered = 0, ret = 0;
	uint32_t i;

	out->v = NULL;
	out->n = 0;
	has_lcores = conf_eal_lcores(&c->eal_args, set, &main_lcore, opt, sizeof(opt), why,
		sizeof(why));
	if (has_lcores < 0)
		return -EINVAL;
	ret = argv_push(out, prog != NULL ? prog : "flowpicd");
	for (i = 0; i < c->eal_args.n && ret == 0; i++) {
		const char *a = c->eal_args.v[i];

		if ((a[0] == '-' && (a[1] == 'a' || a[1] == 'b')) ||
				strncmp(a, "--allow", 7) == 0 || strncmp(a, "--block", 7) == 0 ||
				strcmp(a, "--no-pci") == 0)
			filtered = 1;
		ret = argv_push(out, a);
	}
	if (ret == 0 && !has_lcores)
		ret = argv_lcores(c, n_cpus, out);
	for (i = 0; i < c->ports.n && ret == 0; i++) {
		if (fp_conf_port_is_pci(c->ports.v[i])) {
			pci = 1;
			ret = argv_push(out, "-a");
		} else {
			ret = argv_push(out, "--vdev");
		}
		if (ret == 0)
			ret = argv_push(out, c->ports.v[i]);
	}
	if (ret == 0 && !pci && !filtered)
		ret = argv_push(out, "--no-pci");
	if (ret != 0)
		fp_conf_strv_free(out);
	return ret;
}

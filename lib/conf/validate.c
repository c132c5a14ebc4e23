/* Cross-key checks of a configuration, each error pointing at the value at fault. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_private.h"

/* SOURCE of a key left at its default: the last file read, else "<defaults>". */
static const char *
val_default_src(const struct fp_conf *c)
{
	uint32_t i;

	for (i = c->sources.n; i > 0; i--)
		if (strcmp(c->sources.v[i - 1], "--set") != 0)
			return c->sources.v[i - 1];
	return "<defaults>";
}

static int __attribute__((format(printf, 4, 5)))
fail(const struct fp_conf *c, int id, struct fp_conf_err *e, const char *fmt, ...)
{
	const struct fp_conf_mark *m = &c->mark[id];
	const char *src;
	char msg[FP_CONF_ERR_LEN];
	va_list ap;

	if (m->src >= 0 && (uint32_t)m->src < c->sources.n)
		src = c->sources.v[m->src];
	else
		src = val_default_src(c);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conf_err(e, src, m->line, m->col, "%s: %s", conf_keys[id].name, msg);
}

/* Of two keys in conflict, the one to blame: b, unless b is a default and a is not. */
static int
blame(const struct fp_conf *c, int a, int b)
{
	return c->mark[b].src < 0 && c->mark[a].src >= 0 ? a : b;
}

static int
has(const struct fp_conf_u32v *l, uint32_t v)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return 1;
	return 0;
}

static int
check_list(const struct fp_conf *c, int id, const struct fp_conf_u32v *l, const char *role,
		struct fp_conf_err *e)
{
	uint32_t i, j;

	if (l->n == 0)
		return fail(c, id, e, "no %s lcore (at least one is needed)", role);
	for (i = 0; i < l->n; i++)
		for (j = 0; j < i; j++)
			if (l->v[i] == l->v[j])
				return fail(c, id, e, "lcore %u is listed twice", l->v[i]);
	return 0;
}

/* Every lcore has one role: RX, worker or stats. */
static int
check_roles(const struct fp_conf *c, struct fp_conf_err *e)
{
	const struct fp_conf_u32v *rx = &c->lcores_rx, *wk = &c->lcores_workers;
	uint32_t i;
	int ret, id;

	ret = check_list(c, FP_CONF_K_lcores_rx, rx, "RX", e);
	if (ret == 0)
		ret = check_list(c, FP_CONF_K_lcores_workers, wk, "worker", e);
	if (ret != 0)
		return ret;
	for (i = 0; i < wk->n; i++) {
		if (!has(rx, wk->v[i]))
			continue;
		id = blame(c, FP_CONF_K_lcores_rx, FP_CONF_K_lcores_workers);
		return fail(c, id, e, "lcore %u is both an RX and a worker lcore (an lcore has one "
			"role)", wk->v[i]);
	}
	if (has(rx, c->lcores_stats)) {
		id = blame(c, FP_CONF_K_lcores_rx, FP_CONF_K_lcores_stats);
		return fail(c, id, e, "lcore %u is both the stats and an RX lcore (an lcore has "
			"one role)", c->lcores_stats);
	}
	if (has(wk, c->lcores_stats)) {
		id = blame(c, FP_CONF_K_lcores_workers, FP_CONF_K_lcores_stats);
		return fail(c, id, e, "lcore %u is both the stats and a worker lcore (an lcore has "
			"one role)", c->lcores_stats);
	}
	return 0;
}

static int
check_in_set(const struct fp_conf *c, int id, const struct fp_conf_u32v *l, const bool *set,
		const char *opt, struct fp_conf_err *e)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] >= FP_CONF_MAX_LCORE || !set[l->v[i]])
			return fail(c, id, e, "lcore %u is not in the EAL lcore set of "
				"eal.args '%s'", l->v[i], opt);
	return 0;
}

/* With -l, -c or --lcores in eal.args, lcores.* must fit in that set. */
static int
check_eal(const struct fp_conf *c, struct fp_conf_err *e)
{
	bool set[FP_CONF_MAX_LCORE];
	struct fp_conf_u32v stats = { (uint32_t *)&c->lcores_stats, 1 };
	char opt[64], why[160];
	unsigned int n_set = 0, need, i;
	int main_lcore, ret, id;

	ret = conf_eal_lcores(&c->eal_args, set, &main_lcore, opt, sizeof(opt), why, sizeof(why));
	if (ret < 0)
		return fail(c, FP_CONF_K_eal_args, e, "%s", why);
	if (ret == 0)
		return 0;
	for (i = 0; i < FP_CONF_MAX_LCORE; i++)
		n_set += set[i];
	need = 1 + c->lcores_rx.n + c->lcores_workers.n;
	if (need > n_set) {
		id = c->mark[FP_CONF_K_lcores_workers].src >= 0 ? FP_CONF_K_lcores_workers :
			c->mark[FP_CONF_K_lcores_rx].src >= 0 ? FP_CONF_K_lcores_rx :
			FP_CONF_K_eal_args;
		return fail(c, id, e, "%u RX + %u worker + 1 stats lcores need %u lcores, but "
			"eal.args '%s' gives %u", c->lcores_rx.n, c->lcores_workers.n, need, opt,
			n_set);
	}
	ret = check_in_set(c, FP_CONF_K_lcores_rx, &c->lcores_rx, set, opt, e);
	if (ret == 0)
		ret = check_in_set(c, FP_CONF_K_lcores_workers, &c->lcores_workers, set, opt, e);
	if (ret == 0)
		ret = check_in_set(c, FP_CONF_K_lcores_stats, &stats, set, opt, e);
	/* EAL's main lcore runs the stats loop. */
	if (ret == 0 && (int)c->lcores_stats != main_lcore)
		ret = fail(c, FP_CONF_K_lcores_stats, e, "%u is not the EAL main lcore %d of "
			"eal.args (add --main-lcore %u)", c->lcores_stats, main_lcore,
			c->lcores_stats);
	return ret;
}

static int
check_ports(const struct fp_conf *c, unsigned int flags, struct fp_conf_err *e)
{
	uint32_t i, j;

	for (i = 0; i < c->ports.n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(c->ports.v[i], c->ports.v[j]) == 0)
				return fail(c, FP_CONF_K_ports, e, "'%s' is listed twice",
					c->ports.v[i]);
	if ((flags & FP_CONF_CHECK_PORTS) && c->ports.n == 0)
		return fail(c, FP_CONF_K_ports, e, "no ports (give a PCI address such as "
			"0000:03:00.0 or a vdev such as net_pcap0,rx_pcap=FILE)");
	return 0;
}

/* Buffers: each RX lcore fills one queue per port, and holds a burst and a cache. */
static int
check_sizes(const struct fp_conf *c, struct fp_conf_err *e)
{
	uint64_t nrx = c->lcores_rx.n, need;
	int id;

	if (c->flow_min_packets > c->flow_max_packets) {
		id = blame(c, FP_CONF_K_flow_max_packets, FP_CONF_K_flow_min_packets);
		if (id == FP_CONF_K_flow_min_packets)
			return fail(c, id, e, "%u is more than flow.max_packets_per_window %u",
				c->flow_min_packets, c->flow_max_packets);
		return fail(c, id, e, "%u is less than flow.min_packets %u", c->flow_max_packets,
			c->flow_min_packets);
	}
	if (c->rx_burst > c->rx_ring_size) {
		id = blame(c, FP_CONF_K_rx_ring_size, FP_CONF_K_rx_burst);
		if (id == FP_CONF_K_rx_burst)
			return fail(c, id, e, "%u is more than rx.ring_size %u", c->rx_burst,
				c->rx_ring_size);
		return fail(c, id, e, "%u is less than rx.burst %u", c->rx_ring_size, c->rx_burst);
	}
	need = (uint64_t)c->ports.n * nrx * c->rx_ring_size +
		nrx * ((uint64_t)c->rx_burst + c->mempool_cache);
	if (c->ports.n > 0 && need > c->mempool_mbufs) {
		id = blame(c, FP_CONF_K_rx_ring_size, FP_CONF_K_mempool_mbufs);
		return fail(c, id, e, "%u port(s) x %u RX queue(s) x %u descriptors plus %u x "
			"(%u burst + %u cache) need %llu mbufs, more than mempool.mbufs %u",
			c->ports.n, c->lcores_rx.n, c->rx_ring_size, c->lcores_rx.n, c->rx_burst,
			c->mempool_cache, (unsigned long long)need, c->mempool_mbufs);
	}
	return 0;
}

/* A file must be a readable regular file. */
static int
check_readable(const struct fp_conf *c, int id, const char *path, struct fp_conf_err *e)
{
	struct stat st;

	if (*path == '\0')
		return fail(c, id, e, "empty (a file is needed)");
	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return fail(c, id, e, "'%s' cannot be read: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(c, id, e, "'%s' is not a regular file", path);
	return 0;
}

/* An output file's directory must exist and be writable ("" = output off). */
static int
check_writable_dir(const struct fp_conf *c, int id, const char *path, struct fp_conf_err *e)
{
	char *copy, *dir;
	int ret = 0;

	if (*path == '\0')
		return 0;
	copy = strdup(path);
	if (copy == NULL)
		return fail(c, id, e, "out of memory");
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK) != 0)
		ret = fail(c, id, e, "directory '%s' of '%s' is not writable: %s", dir, path,
			strerror(errno));
	free(copy);
	return ret;
}

static int
check_files(const struct fp_conf *c, struct fp_conf_err *e)
{
	int ret;

	ret = check_readable(c, FP_CONF_K_model_path, c->model_path, e);
	if (ret == 0)
		ret = check_writable_dir(c, FP_CONF_K_export_verdicts, c->export_verdicts, e);
	if (ret == 0)
		ret = check_writable_dir(c, FP_CONF_K_export_stats_json, c->export_stats_json, e);
	return ret;
}

int
fp_conf_validate(const struct fp_conf *c, unsigned int flags, struct fp_conf_err *e)
{
	int ret;

	if (c == NULL)
		return conf_err(e, "?", 0, 0, "invalid argument"), -EINVAL;
	ret = check_roles(c, e);
	if (ret == 0)
		ret = check_eal(c, e);
	if (ret == 0)
		ret = check_ports(c, flags, e);
	if (ret == 0)
		ret = check_sizes(c, e);
	if (ret == 0 && (flags & FP_CONF_CHECK_FILES))
		ret = check_files(c, e);
	return ret;
}

/* Final report: per-category counters and drop reasons as a text table and as JSON. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "flowpicd.h"

/* Drop and health counters summed over RX lcores and workers, plus the NICs' own. */
struct fpd_drops {
	uint64_t parse[FP_PARSE_REASON_MAX];
	uint64_t pipe[FP_PIPE_REASON_MAX];
	uint64_t imissed, ierrors, rx_nombuf;
};

static void
fpd_drops_sum(const struct fpd_app *app, struct fpd_drops *d)
{
	unsigned int i, r;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < app->n_rx; i++) {
		for (r = 0; r < FP_PARSE_REASON_MAX; r++)
			d->parse[r] += app->rx[i].parse[r];
		for (r = 0; r < FP_PIPE_REASON_MAX; r++)
			d->pipe[r] += app->rx[i].pipe[r];
	}
	for (i = 0; i < app->n_workers; i++)
		d->pipe[FP_PIPE_VERDICT_RING_FULL] += app->workers[i].verdict_drops;
	for (i = 0; i < app->n_ports; i++) {
		struct rte_eth_stats st;

		if (rte_eth_stats_get(app->ports[i].port_id, &st) == 0) {
			d->imissed += st.imissed;
			d->ierrors += st.ierrors;
			d->rx_nombuf += st.rx_nombuf;
		}
	}
}

int
fpd_report_text(const struct fpd_app *app, FILE *f)
{
	struct fpd_cat_counters cats[FPD_MAX_CATEGORIES];
	struct fpd_drops d;
	uint64_t pk, by, sum_pk = 0, sum_by = 0;
	unsigned int c, r;

	fpd_stats_totals(app, cats, &pk, &by);
	fpd_drops_sum(app, &d);
	fprintf(f, "%-16s %14s %16s %10s %10s %7s\n", "category", "packets", "bytes", "flows",
		"windows", "share");
	for (c = 0; c < app->n_cats; c++) {
		sum_pk += cats[c].packets;
		sum_by += cats[c].bytes;
		fprintf(f, "%-16s %14" PRIu64 " %16" PRIu64 " %10" PRIu64 " %10" PRIu64 " %6.2f%%\n",
			app->cat_names[c], cats[c].packets, cats[c].bytes, cats[c].flows,
			cats[c].windows, by ? 100.0 * (double)cats[c].bytes / (double)by : 0.0);
	}
	fprintf(f, "%-16s %14" PRIu64 " %16" PRIu64 "\n", "rx total", pk, by);
	for (r = 1; r < FP_PARSE_REASON_MAX; r++)
		if (d.parse[r] != 0)
			fprintf(f, "drop %-24s %" PRIu64 "\n", fp_parse_reason_label(r), d.parse[r]);
	for (r = 0; r < FP_PIPE_REASON_MAX; r++)
		if (d.pipe[r] != 0)
			fprintf(f, "drop %-24s %" PRIu64 "\n", fp_pipe_reason_label(r), d.pipe[r]);
	if (d.imissed || d.ierrors || d.rx_nombuf)
		fprintf(f, "nic imissed %" PRIu64 " ierrors %" PRIu64 " rx_nombuf %" PRIu64 "\n",
			d.imissed, d.ierrors, d.rx_nombuf);
	if (sum_pk == pk && sum_by == by) {
		fprintf(f, "accounting: ok (categories sum to %" PRIu64 " packets, %" PRIu64
			" bytes received)\n", pk, by);
		return 0;
	}
	fprintf(f, "accounting: MISMATCH: categories sum to %" PRIu64 " packets / %" PRIu64
		" bytes, received %" PRIu64 " / %" PRIu64 "\n", sum_pk, sum_by, pk, by);
	return -EPROTO;
}

static void
fpd_json_cat(FILE *f, const char *name, const struct fpd_cat_counters *c, int last)
{
	fprintf(f, "    \"%s\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
		", \"flows\": %" PRIu64 ", \"windows\": %" PRIu64 "}%s\n", name, c->packets,
		c->bytes, c->flows, c->windows, last ? "" : ",");
}

int
fpd_report_json(const struct fpd_app *app, const char *path)
{
	struct fpd_cat_counters cats[FPD_MAX_CATEGORIES];
	struct fpd_drops d;
	uint64_t pk, by;
	unsigned int c, r;
	FILE *f;

	f = fopen(path, "w");
	if (f == NULL) {
		FPD_LOG(ERR, "%s: cannot write stats: %s\n", path, strerror(errno));
		return -errno;
	}
	fpd_stats_totals(app, cats, &pk, &by);
	fpd_drops_sum(app, &d);
	fprintf(f, "{\n  \"rx\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "},\n", pk, by);
	fprintf(f, "  \"tsc_hz\": %" PRIu64 ",\n  \"rx_lcores\": [", app->tsc_hz);
	for (c = 0; c < app->n_rx; c++)
		fprintf(f, "%s{\"lcore\": %u, \"packets\": %" PRIu64 ", \"run_cycles\": %" PRIu64
			", \"busy_cycles\": %" PRIu64 ", \"driver_cycles\": %" PRIu64
			", \"cpu_ns\": %" PRIu64 ", \"flows_at_stop\": %" PRIu64 "}",
			c ? ", " : "", app->rx[c].lcore, app->rx[c].rx_packets,
			app->rx[c].run_cycles, app->rx[c].busy_cycles, app->rx[c].driver_cycles,
			app->rx[c].cpu_ns,
			app->rx[c].flows_at_stop);
	fprintf(f, "],\n");
	fprintf(f, "  \"categories\": {\n");
	for (c = 0; c < app->n_cats; c++)
		fpd_json_cat(f, app->cat_names[c], &cats[c], c + 1 == app->n_cats);
	fprintf(f, "  },\n  \"drops\": {\n");
	for (r = 1; r < FP_PARSE_REASON_MAX; r++)
		fprintf(f, "    \"%s\": %" PRIu64 ",\n", fp_parse_reason_label(r), d.parse[r]);
	for (r = 0; r < FP_PIPE_REASON_MAX; r++)
		fprintf(f, "    \"%s\": %" PRIu64 ",\n", fp_pipe_reason_label(r), d.pipe[r]);
	fprintf(f, "    \"nic_imissed\": %" PRIu64 ",\n    \"nic_ierrors\": %" PRIu64
		",\n    \"nic_rx_nombuf\": %" PRIu64 "\n  },\n", d.imissed, d.ierrors,
		d.rx_nombuf);
	/* after the flush every record chunk is back; mbufs still held are the ports' own */
	fprintf(f, "  \"mempools\": {\"mbufs\": {\"in_use\": %u, \"size\": %u}, "
		"\"record_chunks\": {\"in_use\": %u, \"size\": %u}}\n}\n",
		rte_mempool_in_use_count(app->mbuf_pool), app->mbuf_pool->size,
		rte_mempool_in_use_count(app->chunk_pool), app->chunk_pool->size);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

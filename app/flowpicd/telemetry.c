/* DPDK telemetry commands /flowpic/...: categories, stats, drops, rx, workers, model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "flowpicd.h"
#include "model.h"
#include "export.h"

static struct fpd_app *fpd_tel_app;

/* The latest snapshot in a new heap buffer (too large for the telemetry thread's stack). */
static struct fpd_snapshot *
fpd_tel_snapshot(int *err)
{
	struct fpd_snapshot *s = malloc(sizeof(*s));

	if (s == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = fpd_snapshot_read(fpd_tel_app, s);
	if (*err != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static uint64_t
fpd_round(double v)
{
	return v > 0 ? (uint64_t)llround(v) : 0;
}

/* Add a fractional value as a decimal string (22.11 telemetry has no floating type). */
static void
fpd_tel_dict_double(struct rte_tel_data *d, const char *name, double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.6g", v);
	rte_tel_data_add_dict_string(d, name, buf);
}

/* Add array-of-u64 column name to d from n values at base with the given stride. */
static int
fpd_tel_u64_column(struct rte_tel_data *d, const char *name, const void *base, size_t stride,
		unsigned int n)
{
	struct rte_tel_data *a = rte_tel_data_alloc();
	unsigned int i;

	if (a == NULL)
		return -ENOMEM;
	rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
	for (i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)base + i * stride, sizeof(v));
		rte_tel_data_add_array_u64(a, v);
	}
	return rte_tel_data_add_dict_container(d, name, a, 0);
}

static struct rte_tel_data *
fpd_tel_array(enum rte_tel_value_type t)
{
	struct rte_tel_data *a = rte_tel_data_alloc();

	if (a != NULL)
		rte_tel_data_start_array(a, t);
	return a;
}

/*
 * /flowpic/categories: one column per counter, row i is category names[i]: cumulative packets,
 * bytes, flows, windows; bits_per_s and packets_per_s over the last rate_span_s seconds (two
 * windows, 0 once the data path has finished: nothing flows any more); share of the bytes
 * since start.
 */
static int
fpd_tel_categories(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct fpd_export_names *en = fpd_export_names();
	struct rte_tel_data *names, *bps, *pps, *share;
	struct fpd_snapshot *s;
	uint64_t total = 0;
	unsigned int c, n;
	int err;

	(void)cmd;
	(void)params;
	s = fpd_tel_snapshot(&err);
	if (s == NULL)
		return err;
	n = RTE_MIN(s->n_cats, (uint32_t)RTE_TEL_MAX_ARRAY_ENTRIES);
	for (c = 0; c < n; c++)
		total += s->cat[c].bytes;
	names = fpd_tel_array(RTE_TEL_STRING_VAL);
	bps = fpd_tel_array(RTE_TEL_U64_VAL);
	pps = fpd_tel_array(RTE_TEL_U64_VAL);
	share = fpd_tel_array(RTE_TEL_STRING_VAL);
	if (names == NULL || bps == NULL || pps == NULL || share == NULL) {
		rte_tel_data_free(names);
		rte_tel_data_free(bps);
		rte_tel_data_free(pps);
		rte_tel_data_free(share);
		free(s);
		return -ENOMEM;
	}
	for (c = 0; c < n; c++) {
		char buf[32];

		rte_tel_data_add_array_string(names, c < en->n_cats ? en->cat[c] : "?");
		rte_tel_data_add_array_u64(bps, s->finished ? 0 : fpd_round(s->cat[c].bits_rate));
		rte_tel_data_add_array_u64(pps, s->finished ? 0 :
			fpd_round(s->cat[c].packets_rate));
		snprintf(buf, sizeof(buf), "%.6f",
			total ? (double)s->cat[c].bytes / (double)total : 0.0);
		rte_tel_data_add_array_string(share, buf);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_container(d, "names", names, 0);
	fpd_tel_u64_column(d, "packets", &s->cat[0].packets, sizeof(s->cat[0]), n);
	fpd_tel_u64_column(d, "bytes", &s->cat[0].bytes, sizeof(s->cat[0]), n);
	fpd_tel_u64_column(d, "flows", &s->cat[0].flows, sizeof(s->cat[0]), n);
	fpd_tel_u64_column(d, "windows", &s->cat[0].windows, sizeof(s->cat[0]), n);
	rte_tel_data_add_dict_container(d, "bits_per_s", bps, 0);
	rte_tel_data_add_dict_container(d, "packets_per_s", pps, 0);
	rte_tel_data_add_dict_container(d, "share", share, 0);
	fpd_tel_dict_double(d, "rate_span_s", s->cat_rate_span_s);
	free(s);
	return 0;
}

/* Upper bound (us) of the histogram bucket holding quantile q of the batches; 0 if none. */
static uint64_t
fpd_lat_quantile_us(const struct fpd_snapshot *s, double q)
{
	uint64_t rank;
	unsigned int i;

	if (s->lat_total == 0)
		return 0;
	rank = (uint64_t)ceil(q * (double)s->lat_total);
	for (i = 0; i < FPD_SNAP_LAT_BUCKETS; i++)
		if (s->lat_count[i] >= rank)
			return fpd_round(s->lat_le_s[i] * 1e6);
	return UINT64_MAX;	/* beyond the last bucket */
}

/*
 * /flowpic/stats: receive totals and rates, flows, windows, mempool use, NIC counters, drops
 * summed, inference latency (mean and histogram quantiles, us), ring fill and worker load.
 */
static int
fpd_tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct fpd_snapshot *s;
	uint64_t drops = 0, used = 0, size = 0;
	double busy = 0;
	unsigned int i;
	int err;

	(void)cmd;
	(void)params;
	s = fpd_tel_snapshot(&err);
	if (s == NULL)
		return err;
	for (i = 1; i < FP_PARSE_REASON_MAX; i++)
		drops += s->parse_drops[i];
	for (i = 0; i < FP_PIPE_REASON_MAX; i++)
		if (i != FP_PIPE_WINDOW_SAMPLED && i != FP_PIPE_TABLE_EVICT)
			drops += s->pipe_drops[i];
	for (i = 0; i < s->n_workers; i++) {
		used += s->worker[i].ring_used;
		size += s->worker[i].ring_size;
		busy += s->worker[i].busy;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "seq", s->seq);
	fpd_tel_dict_double(d, "uptime_s", s->uptime_s);
	fpd_tel_dict_double(d, "interval_s", s->interval_s);
	rte_tel_data_add_dict_int(d, "finished", s->finished);
	rte_tel_data_add_dict_u64(d, "rx_packets", s->rx_packets);
	rte_tel_data_add_dict_u64(d, "rx_bytes", s->rx_bytes);
	rte_tel_data_add_dict_u64(d, "rx_packets_per_s", s->finished ? 0 :
		fpd_round(s->rx_packets_rate));
	rte_tel_data_add_dict_u64(d, "rx_bits_per_s", s->finished ? 0 : fpd_round(s->rx_bits_rate));
	rte_tel_data_add_dict_u64(d, "flows_active", s->flows_active);
	rte_tel_data_add_dict_u64(d, "windows_sent", s->windows_sent);
	rte_tel_data_add_dict_u64(d, "mbufs_in_use", s->pool[FPD_POOL_MBUFS].in_use);
	rte_tel_data_add_dict_u64(d, "mbufs_size", s->pool[FPD_POOL_MBUFS].size);
	rte_tel_data_add_dict_u64(d, "record_chunks_in_use",
		s->pool[FPD_POOL_RECORD_CHUNKS].in_use);
	rte_tel_data_add_dict_u64(d, "record_chunks_size",
		s->pool[FPD_POOL_RECORD_CHUNKS].size);
	rte_tel_data_add_dict_u64(d, "drops", drops);
	rte_tel_data_add_dict_u64(d, "nic_imissed", s->nic_imissed);
	rte_tel_data_add_dict_u64(d, "nic_ierrors", s->nic_ierrors);
	rte_tel_data_add_dict_u64(d, "nic_rx_nombuf", s->nic_rx_nombuf);
	rte_tel_data_add_dict_u64(d, "ring_used", used);
	rte_tel_data_add_dict_u64(d, "ring_size", size);
	fpd_tel_dict_double(d, "ring_fill", size ? (double)used / (double)size : 0.0);
	fpd_tel_dict_double(d, "worker_busy", s->n_workers ? busy / s->n_workers : 0.0);
	rte_tel_data_add_dict_u64(d, "inference_batches", s->lat_total);
	rte_tel_data_add_dict_u64(d, "inference_mean_us", s->lat_total ?
		fpd_round(s->lat_sum_s * 1e6 / (double)s->lat_total) : 0);
	rte_tel_data_add_dict_u64(d, "inference_p50_us", fpd_lat_quantile_us(s, 0.5));
	rte_tel_data_add_dict_u64(d, "inference_p99_us", fpd_lat_quantile_us(s, 0.99));
	free(s);
	return 0;
}

/* /flowpic/drops: packets by reason, every reason of the table, plus the NICs' counters. */
static int
fpd_tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct fpd_snapshot *s;
	unsigned int i;
	int err;

	(void)cmd;
	(void)params;
	s = fpd_tel_snapshot(&err);
	if (s == NULL)
		return err;
	rte_tel_data_start_dict(d);
	for (i = 1; i < FP_PARSE_REASON_MAX; i++)
		rte_tel_data_add_dict_u64(d, fp_parse_reason_label(i), s->parse_drops[i]);
	for (i = 0; i < FP_PIPE_REASON_MAX; i++)
		rte_tel_data_add_dict_u64(d, fp_pipe_reason_label(i), s->pipe_drops[i]);
	rte_tel_data_add_dict_u64(d, "nic_imissed", s->nic_imissed);
	rte_tel_data_add_dict_u64(d, "nic_ierrors", s->nic_ierrors);
	rte_tel_data_add_dict_u64(d, "nic_rx_nombuf", s->nic_rx_nombuf);
	free(s);
	return 0;
}

/* /flowpic/rx: per RX queue columns port, queue, packets, bytes. */
static int
fpd_tel_rx(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *port, *queue;
	struct fpd_snapshot *s;
	unsigned int i;
	int err;

	(void)cmd;
	(void)params;
	s = fpd_tel_snapshot(&err);
	if (s == NULL)
		return err;
	port = fpd_tel_array(RTE_TEL_U64_VAL);
	queue = fpd_tel_array(RTE_TEL_U64_VAL);
	if (port == NULL || queue == NULL) {
		rte_tel_data_free(port);
		rte_tel_data_free(queue);
		free(s);
		return -ENOMEM;
	}
	for (i = 0; i < s->n_queues; i++) {
		rte_tel_data_add_array_u64(port, s->queue[i].port);
		rte_tel_data_add_array_u64(queue, s->queue[i].queue);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_container(d, "port", port, 0);
	rte_tel_data_add_dict_container(d, "queue", queue, 0);
	fpd_tel_u64_column(d, "packets", &s->queue[0].packets, sizeof(s->queue[0]), s->n_queues);
	fpd_tel_u64_column(d, "bytes", &s->queue[0].bytes, sizeof(s->queue[0]), s->n_queues);
	free(s);
	return 0;
}

/* /flowpic/workers: per worker columns windows, batches, busy (0-1), ring_used, ring_size. */
static int
fpd_tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *busy, *used, *size;
	struct fpd_snapshot *s;
	unsigned int i;
	int err;

	(void)cmd;
	(void)params;
	s = fpd_tel_snapshot(&err);
	if (s == NULL)
		return err;
	busy = fpd_tel_array(RTE_TEL_STRING_VAL);
	used = fpd_tel_array(RTE_TEL_U64_VAL);
	size = fpd_tel_array(RTE_TEL_U64_VAL);
	if (busy == NULL || used == NULL || size == NULL) {
		rte_tel_data_free(busy);
		rte_tel_data_free(used);
		rte_tel_data_free(size);
		free(s);
		return -ENOMEM;
	}
	for (i = 0; i < s->n_workers; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%.4f", s->worker[i].busy);
		rte_tel_data_add_array_string(busy, buf);
		rte_tel_data_add_array_u64(used, s->worker[i].ring_used);
		rte_tel_data_add_array_u64(size, s->worker[i].ring_size);
	}
	rte_tel_data_start_dict(d);
	fpd_tel_u64_column(d, "windows", &s->worker[0].windows, sizeof(s->worker[0]),
		s->n_workers);
	fpd_tel_u64_column(d, "batches", &s->worker[0].batches, sizeof(s->worker[0]),
		s->n_workers);
	rte_tel_data_add_dict_container(d, "busy", busy, 0);
	rte_tel_data_add_dict_container(d, "ring_used", used, 0);
	rte_tel_data_add_dict_container(d, "ring_size", size, 0);
	free(s);
	return 0;
}

/* /flowpic/model: the model's name, classes and the picture settings it imposes. */
static int
fpd_tel_model(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct fpd_app *app = fpd_tel_app;
	const struct fpd_export_names *en = fpd_export_names();
	struct rte_tel_data *classes;
	uint32_t i;

	(void)cmd;
	(void)params;
	classes = fpd_tel_array(RTE_TEL_STRING_VAL);
	if (classes == NULL)
		return -ENOMEM;
	for (i = 0; i < en->n_classes; i++)
		rte_tel_data_add_array_string(classes, en->cat[i]);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", en->model);
	rte_tel_data_add_dict_string(d, "version", FLOWPIC_VERSION);
	rte_tel_data_add_dict_container(d, "classes", classes, 0);
	rte_tel_data_add_dict_u64(d, "resolution", app->set.resolution);
	rte_tel_data_add_dict_string(d, "direction", fp_dir_name(app->set.direction));
	rte_tel_data_add_dict_u64(d, "window_us", app->set.window_us);
	rte_tel_data_add_dict_u64(d, "batch", app->set.batch);
	fpd_tel_dict_double(d, "confidence", app->set.confidence);
	return 0;
}

int
fpd_telemetry_init(struct fpd_app *app)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {	/* help texts: at most 127 characters */
		{ "/flowpic/categories", fpd_tel_categories,
		  "Per-category packets, bytes, flows, windows, bit and packet rates, share. "
		  "No parameters" },
		{ "/flowpic/stats", fpd_tel_stats, "Receive totals and rates, mempool use, drops, "
		  "ring fill, worker load, inference latency. No parameters" },
		{ "/flowpic/drops", fpd_tel_drops, "Packets by drop reason. No parameters" },
		{ "/flowpic/rx", fpd_tel_rx, "Packets and bytes per RX queue. No parameters" },
		{ "/flowpic/workers", fpd_tel_workers, "Per worker windows, load and ring fill. "
		  "No parameters" },
		{ "/flowpic/model", fpd_tel_model, "The model's name, classes and picture "
		  "settings. No parameters" },
	};
	unsigned int i;
	int ret;

	fpd_tel_app = app;
	ret = fpd_export_names_init(app);
	if (ret != 0)
		return ret;
	for (i = 0; i < RTE_DIM(cmds); i++) {
		ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (ret != 0) {
			FPD_LOG(ERR, "cannot register telemetry command %s: %s\n", cmds[i].cmd,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Prometheus exporter: /metrics in text format 0.0.4, served by libmicrohttpd from snapshots. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include <rte_lcore.h>

#include "flowpicd.h"
#include "model.h"
#include "export.h"

#define FPD_METRICS_CONN_LIMIT 16
#define FPD_METRICS_TIMEOUT_S 10
#define FPD_METRICS_CT "text/plain; version=0.0.4; charset=utf-8"

/* The one HTTP server of the process. */
static struct {
	struct fpd_app *app;
	int fd;				/* listening socket, -1 if none */
	int family;
	struct MHD_Daemon *daemon;
	int start_err;
	char endpoint[80];
} fpd_metrics = { .fd = -1 };

/* Growable text buffer; err is set once an allocation failed. */
struct fpd_buf {
	char *p;
	size_t len, cap;
	int err;
};

static void __rte_format_printf(2, 3)
fpd_buf_printf(struct fpd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = EINVAL;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->err = ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Append a label value with Prometheus escapes (backslash, double quote, newline). */
static void
fpd_buf_label(struct fpd_buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			fpd_buf_printf(b, "\\\\");
		else if (*v == '"')
			fpd_buf_printf(b, "\\\"");
		else if (*v == '\n')
			fpd_buf_printf(b, "\\n");
		else
			fpd_buf_printf(b, "%c", *v);
	}
}

static void
fpd_family(struct fpd_buf *b, const char *name, const char *type, const char *help)
{
	fpd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample with a single label: name{label="value"} v */
static void
fpd_sample1(struct fpd_buf *b, const char *name, const char *label, const char *value,
		uint64_t v)
{
	fpd_buf_printf(b, "%s{%s=\"", name, label);
	fpd_buf_label(b, value);
	fpd_buf_printf(b, "\"} %" PRIu64 "\n", v);
}

static void
fpd_render_categories(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	const struct fpd_export_names *names = fpd_export_names();
	static const struct {
		const char *name, *help;
		size_t off;
	} fam[] = {
		{ "flowpic_category_packets_total", "Packets accounted to each traffic category.",
		  offsetof(struct fpd_snapshot, cat[0].packets) },
		{ "flowpic_category_bytes_total", "Bytes (whole frames) accounted to each traffic "
		  "category.", offsetof(struct fpd_snapshot, cat[0].bytes) },
		{ "flowpic_category_flows_total", "Flows whose first window was given each "
		  "category.", offsetof(struct fpd_snapshot, cat[0].flows) },
		{ "flowpic_category_windows_total", "Flow windows given each category.",
		  offsetof(struct fpd_snapshot, cat[0].windows) },
	};
	unsigned int f, c;

	for (f = 0; f < RTE_DIM(fam); f++) {
		fpd_family(b, fam[f].name, "counter", fam[f].help);
		for (c = 0; c < s->n_cats && c < names->n_cats; c++) {
			const char *base = (const char *)s + fam[f].off;
			uint64_t v;

			memcpy(&v, base + c * sizeof(s->cat[0]), sizeof(v));
			fpd_sample1(b, fam[f].name, "category", names->cat[c], v);
		}
	}
}

static void
fpd_render_rx(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	unsigned int i;

	fpd_family(b, "flowpic_rx_packets_total", "counter", "Packets received per RX queue.");
	for (i = 0; i < s->n_queues; i++)
		fpd_buf_printf(b, "flowpic_rx_packets_total{port=\"%u\",queue=\"%u\"} %" PRIu64 "\n",
			s->queue[i].port, s->queue[i].queue, s->queue[i].packets);
	fpd_family(b, "flowpic_rx_bytes_total", "counter", "Bytes received per RX queue.");
	for (i = 0; i < s->n_queues; i++)
		fpd_buf_printf(b, "flowpic_rx_bytes_total{port=\"%u\",queue=\"%u\"} %" PRIu64 "\n",
			s->queue[i].port, s->queue[i].queue, s->queue[i].bytes);
}

static void
fpd_render_drops(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	unsigned int r;

	fpd_family(b, "flowpic_drops_total", "counter", "Packets that did not reach a classified "
		"window, by reason (parse reasons count as category other, pipeline reasons as "
		"unclassified; window_sampled and table_evict are informational).");
	for (r = 1; r < FP_PARSE_REASON_MAX; r++)
		fpd_sample1(b, "flowpic_drops_total", "reason", fp_parse_reason_label(r),
			s->parse_drops[r]);
	for (r = 0; r < FP_PIPE_REASON_MAX; r++)
		fpd_sample1(b, "flowpic_drops_total", "reason", fp_pipe_reason_label(r),
			s->pipe_drops[r]);
	fpd_family(b, "flowpic_nic_missed_total", "counter",
		"Packets the NICs dropped for lack of RX descriptors (imissed).");
	fpd_buf_printf(b, "flowpic_nic_missed_total %" PRIu64 "\n", s->nic_imissed);
	fpd_family(b, "flowpic_nic_errors_total", "counter", "Erroneous packets seen by the NICs.");
	fpd_buf_printf(b, "flowpic_nic_errors_total %" PRIu64 "\n", s->nic_ierrors);
	fpd_family(b, "flowpic_nic_nombuf_total", "counter",
		"RX mbuf allocation failures reported by the NICs.");
	fpd_buf_printf(b, "flowpic_nic_nombuf_total %" PRIu64 "\n", s->nic_rx_nombuf);
}

static void
fpd_render_workers(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	unsigned int w;

	fpd_family(b, "flowpic_worker_windows_total", "counter", "Windows classified per worker.");
	for (w = 0; w < s->n_workers; w++)
		fpd_buf_printf(b, "flowpic_worker_windows_total{worker=\"%u\"} %" PRIu64 "\n", w,
			s->worker[w].windows);
	fpd_family(b, "flowpic_worker_busy_ratio", "gauge",
		"Share of the last stats interval each worker spent working (0-1).");
	for (w = 0; w < s->n_workers; w++)
		fpd_buf_printf(b, "flowpic_worker_busy_ratio{worker=\"%u\"} %.6f\n", w,
			s->worker[w].busy);
	fpd_family(b, "flowpic_worker_ring_used", "gauge",
		"Windows waiting in each worker's input rings.");
	for (w = 0; w < s->n_workers; w++)
		fpd_buf_printf(b, "flowpic_worker_ring_used{worker=\"%u\"} %u\n", w,
			s->worker[w].ring_used);
	fpd_family(b, "flowpic_worker_ring_fill_ratio", "gauge",
		"Fill of each worker's input rings (0-1).");
	for (w = 0; w < s->n_workers; w++)
		fpd_buf_printf(b, "flowpic_worker_ring_fill_ratio{worker=\"%u\"} %.6f\n", w,
			s->worker[w].ring_size ? (double)s->worker[w].ring_used /
			(double)s->worker[w].ring_size : 0.0);
}

static void
fpd_render_pools(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	static const char *const pool[FPD_POOL_MAX] = {
		[FPD_POOL_MBUFS] = "mbufs",
		[FPD_POOL_RECORD_CHUNKS] = "record_chunks",
	};
	unsigned int p;

	fpd_family(b, "flowpic_mempool_in_use", "gauge", "Objects of each DPDK mempool taken "
		"and not given back (packet buffers, packet-record chunks of open and queued "
		"windows); per-lcore caches count as free.");
	for (p = 0; p < FPD_POOL_MAX; p++)
		fpd_sample1(b, "flowpic_mempool_in_use", "pool", pool[p], s->pool[p].in_use);
	fpd_family(b, "flowpic_mempool_size", "gauge", "Objects in each DPDK mempool.");
	for (p = 0; p < FPD_POOL_MAX; p++)
		fpd_sample1(b, "flowpic_mempool_size", "pool", pool[p], s->pool[p].size);
}

static void
fpd_render_latency(struct fpd_buf *b, const struct fpd_snapshot *s)
{
	unsigned int i;

	fpd_family(b, "flowpic_inference_seconds", "histogram",
		"Time taken by one inference batch on a worker.");
	for (i = 0; i < FPD_SNAP_LAT_BUCKETS; i++)
		fpd_buf_printf(b, "flowpic_inference_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			s->lat_le_s[i], s->lat_count[i]);
	fpd_buf_printf(b, "flowpic_inference_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		s->lat_total);
	fpd_buf_printf(b, "flowpic_inference_seconds_sum %.9f\n", s->lat_sum_s);
	fpd_buf_printf(b, "flowpic_inference_seconds_count %" PRIu64 "\n", s->lat_total);
}

char *
fpd_metrics_render(const struct fpd_snapshot *s, size_t *len)
{
	struct fpd_buf b = { .p = malloc(8192), .cap = 8192 };

	if (b.p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b.p[0] = '\0';
	fpd_family(&b, "flowpic_build_info", "gauge",
		"Version of flowpicd and name of the model it runs (always 1).");
	fpd_buf_printf(&b, "flowpic_build_info{version=\"");
	fpd_buf_label(&b, FLOWPIC_VERSION);
	fpd_buf_printf(&b, "\",model=\"");
	fpd_buf_label(&b, fpd_export_names()->model != NULL ? fpd_export_names()->model : "");
	fpd_buf_printf(&b, "\"} 1\n");
	fpd_family(&b, "flowpic_uptime_seconds", "gauge", "Seconds since the data path started.");
	fpd_buf_printf(&b, "flowpic_uptime_seconds %.3f\n", s->uptime_s);
	fpd_family(&b, "flowpic_finished", "gauge",
		"1 once the data path has stopped (end of a capture): counters are final.");
	fpd_buf_printf(&b, "flowpic_finished %d\n", s->finished);
	fpd_family(&b, "flowpic_window_seconds", "gauge",
		"Length of a flow window (flow.window). A category counter grows by a whole window's "
		"traffic when its verdict arrives: take its rate over two windows or more.");
	fpd_buf_printf(&b, "flowpic_window_seconds %.6g\n", s->window_s);
	fpd_render_categories(&b, s);
	fpd_render_rx(&b, s);
	fpd_family(&b, "flowpic_flows_active", "gauge", "Flows open in the RX flow tables.");
	fpd_buf_printf(&b, "flowpic_flows_active %" PRIu64 "\n", s->flows_active);
	fpd_family(&b, "flowpic_windows_sent_total", "counter",
		"Flow windows handed by RX lcores to workers.");
	fpd_buf_printf(&b, "flowpic_windows_sent_total %" PRIu64 "\n", s->windows_sent);
	fpd_render_drops(&b, s);
	fpd_render_pools(&b, s);
	fpd_render_workers(&b, s);
	fpd_render_latency(&b, s);
	if (b.err) {
		free(b.p);
		errno = b.err;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static enum MHD_Result
fpd_metrics_reply(struct MHD_Connection *conn, unsigned int status, const char *text,
		size_t len, int owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)text,
		owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			free((void *)(uintptr_t)text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		status == MHD_HTTP_OK ? FPD_METRICS_CT : "text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define FPD_TEXT(s) (s), sizeof(s) - 1, 0

static enum MHD_Result
fpd_metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
		const char *method, const char *version, const char *upload_data,
		size_t *upload_data_size, void **con_cls)
{
	struct fpd_app *app = cls;
	struct fpd_snapshot *snap;
	size_t len;
	char *text;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return fpd_metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			FPD_TEXT("only GET and HEAD\n"));
	if (*upload_data_size != 0)
		return MHD_NO;
	if (strcmp(url, "/") == 0)
		return fpd_metrics_reply(conn, MHD_HTTP_OK,
			FPD_TEXT("flowpicd: Prometheus metrics at /metrics\n"));
	if (strcmp(url, "/metrics") != 0)
		return fpd_metrics_reply(conn, MHD_HTTP_NOT_FOUND, FPD_TEXT("not found\n"));
	snap = malloc(sizeof(*snap));	/* too large for a server thread's stack */
	if (snap == NULL)
		return fpd_metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			FPD_TEXT("out of memory\n"));
	if (fpd_snapshot_read(app, snap) != 0) {
		free(snap);
		return fpd_metrics_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			FPD_TEXT("no counters published yet\n"));
	}
	text = fpd_metrics_render(snap, &len);
	free(snap);
	if (text == NULL)
		return fpd_metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			FPD_TEXT("out of memory\n"));
	return fpd_metrics_reply(conn, MHD_HTTP_OK, text, len, 1);
}

/* Parse "A.B.C.D:PORT" or "[v6]:PORT" into ss; 0 or -EINVAL. */
static int
fpd_endpoint_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	const char *colon = strrchr(s, ':');
	char addr[64], *end;
	size_t alen;
	long port;

	if (colon == NULL || colon == s)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	alen = (size_t)(colon - s);
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[' && alen >= 2 && s[alen - 1] == ']' && alen - 2 < sizeof(addr)) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		memcpy(addr, s + 1, alen - 2);
		addr[alen - 2] = '\0';
		if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*a6);
		return 0;
	}
	if (alen < sizeof(addr)) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		memcpy(addr, s, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*a4);
		return 0;
	}
	return -EINVAL;
}

int
fpd_metrics_open(struct fpd_app *app, const char *endpoint)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, ret;

	if (endpoint == NULL || endpoint[0] == '\0')
		return 0;
	if (fpd_export_names_init(app) != 0) {
		fprintf(stderr, "flowpicd: export.metrics: out of memory\n");
		return -ENOMEM;
	}
	if (fpd_endpoint_parse(endpoint, &ss, &sl) != 0) {
		fprintf(stderr, "flowpicd: export.metrics: '%s' is not ADDR:PORT\n", endpoint);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "flowpicd: export.metrics: %s: cannot create a socket: %s\n",
			endpoint, strerror(errno));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
		ret = -errno;
		fprintf(stderr, "flowpicd: export.metrics: cannot listen on %s: %s%s\n", endpoint,
			strerror(errno), errno == EADDRINUSE ? " (another process holds it; "
			"choose another port)" : errno == EADDRNOTAVAIL ? " (no interface of this "
			"host has that address)" : "");
		close(fd);
		return ret;
	}
	fpd_metrics.app = app;
	fpd_metrics.fd = fd;
	fpd_metrics.family = ss.ss_family;
	snprintf(fpd_metrics.endpoint, sizeof(fpd_metrics.endpoint), "%s", endpoint);
	return 0;
}

/* Runs on an EAL control thread, so the server thread it creates inherits control CPUs. */
static void *
fpd_metrics_boot(void *arg)
{
	/*
	 * MHD_USE_ITC: MHD_stop_daemon() wakes the server thread through its own pipe instead of
	 * relying on the listening socket's shutdown to end the thread's poll().
	 */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
		MHD_USE_ERROR_LOG;

	(void)arg;
	if (fpd_metrics.family == AF_INET6)
		flags |= MHD_USE_IPv6;
	fpd_metrics.daemon = MHD_start_daemon(flags, 0, NULL, NULL,
		fpd_metrics_handler, fpd_metrics.app,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fpd_metrics.fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)FPD_METRICS_CONN_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)FPD_METRICS_TIMEOUT_S,
		MHD_OPTION_END);
	fpd_metrics.start_err = fpd_metrics.daemon == NULL ? (errno ? errno : EIO) : 0;
	return NULL;
}

int
fpd_metrics_start(struct fpd_app *app)
{
	pthread_t tid;
	int ret;

	(void)app;
	if (fpd_metrics.fd < 0)
		return 0;
	ret = rte_ctrl_thread_create(&tid, "fpd-metrics", NULL, fpd_metrics_boot, NULL);
	if (ret != 0) {
		FPD_LOG(ERR, "export.metrics: cannot create a control thread: %s\n", strerror(ret));
		return -ret;
	}
	pthread_join(tid, NULL);
	if (fpd_metrics.daemon == NULL) {
		FPD_LOG(ERR, "export.metrics: cannot start the HTTP server on %s: %s\n",
			fpd_metrics.endpoint, strerror(fpd_metrics.start_err));
		return -fpd_metrics.start_err;
	}
	FPD_LOG(INFO, "Prometheus metrics on http://%s/metrics\n", fpd_metrics.endpoint);
	return 0;
}

void
fpd_metrics_stop(struct fpd_app *app)
{
	(void)app;
	if (fpd_metrics.daemon != NULL) {
		MHD_stop_daemon(fpd_metrics.daemon);	/* closes the listening socket too */
		fpd_metrics.daemon = NULL;
		fpd_metrics.fd = -1;
	}
	if (fpd_metrics.fd >= 0) {
		close(fpd_metrics.fd);
		fpd_metrics.fd = -1;
	}
}

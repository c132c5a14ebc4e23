/* fp-extract: capture file -> flow windows (.windows), with flowpicd's parser and flow table. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "conf.h"
#include "extract.h"

#define FPX_SWEEP_EVERY_US 1000000ull

struct fpx_opts {
	const char *pcap;
	const char *out;
	uint64_t window_us;
	uint64_t idle_us[FP_FLOW_CLASS_MAX];
	uint32_t table_size;
	uint32_t max_records;
	int quiet;
};

/* Emit callback context: the writer and the ops that free what was written. */
struct fpx_sink {
	struct fpx_writer w;
	struct fp_flow_table_ops ops;
	long live_chunks;
};

static void *
sink_alloc(void *ctx)
{
	struct fpx_sink *s = ctx;
	void *p = malloc(FP_FLOW_CHUNK_SIZE);

	if (p != NULL)
		s->live_chunks++;
	return p;
}

static void
sink_free(void *ctx, void *chunk)
{
	struct fpx_sink *s = ctx;

	s->live_chunks--;
	free(chunk);
}

static void
sink_emit(void *ctx, struct fp_window *win)
{
	struct fpx_sink *s = ctx;

	fpx_writer_window(&s->w, win);
	fp_window_free(&s->ops, win);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: fp-extract --pcap FILE --out FILE [options]\n"
		"Cut every flow of a capture into windows, as flowpicd does, and write them as a\n"
		".windows file (format: tools/extract/README.md).\n"
		"  --pcap FILE         capture (pcap or pcapng; Ethernet, Linux cooked SLL/SLL2,\n"
		"                      raw IP or loopback link type)\n"
		"  --out FILE          output .windows file (written to FILE.tmp, then renamed)\n"
		"  --window S          window length in seconds (default 60, 0.000001 .. 3600)\n"
		"  --idle-tcp S        idle timeout of TCP flows in seconds (default 120)\n"
		"  --idle-udp S        idle timeout of UDP flows in seconds (default 60)\n"
		"  --idle-other S      idle timeout of other flows in seconds (default 30)\n"
		"  --table-size N      most flows at once, rounded up to a power of two\n"
		"                      (default 1048576, at most 67108864)\n"
		"  --max-records N     packet records kept per window (default 16384, 1 .. 16777216)\n"
		"  --quiet             no summary on stderr\n"
		"  --help              this text\n");
}

/* Seconds (decimal) -> microseconds in [1, max_us]; returns 0 or -EINVAL. */
static int
parse_seconds(const char *name, const char *s, uint64_t max_us, uint64_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v * 1e6 < 0.5 ||
			v * 1e6 > (double)max_us) {
		fprintf(stderr, "fp-extract: --%s: '%s' is not a number of seconds in "
			"[0.000001, %" PRIu64 "]\n", name, s, max_us / 1000000);
		return -EINVAL;
	}
	*out = (uint64_t)llround(v * 1e6);
	return 0;
}

static int
parse_uint(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "fp-extract: --%s: '%s' is not an integer in [%" PRIu64 ", %"
			PRIu64 "]\n", name, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct fpx_opts *o)
{
	static const struct option lopts[] = {
		{ "pcap", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "window", required_argument, NULL, 'w' },
		{ "idle-tcp", required_argument, NULL, 't' },
		{ "idle-udp", required_argument, NULL, 'u' },
		{ "idle-other", required_argument, NULL, 'x' },
		{ "table-size", required_argument, NULL, 's' },
		{ "max-records", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fp_conf_flow def;
	uint64_t v;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	/* flowpicd's defaults, from its configuration table */
	if (fp_conf_flow_defaults(&def) != 0) {
		fprintf(stderr, "fp-extract: out of memory\n");
		return -ENOMEM;
	}
	o->window_us = def.window_us;
	memcpy(o->idle_us, def.idle_us, sizeof(o->idle_us));
	o->table_size = 1u << 20;
	o->max_records = def.max_records;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->pcap = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'w':
			rc |= parse_seconds("window", optarg, 3600000000ull, &o->window_us);
			break;
		case 't':
			rc |= parse_seconds("idle-tcp", optarg, 86400000000ull,
				&o->idle_us[FP_FLOW_CLASS_TCP]);
			break;
		case 'u':
			rc |= parse_seconds("idle-udp", optarg, 86400000000ull,
				&o->idle_us[FP_FLOW_CLASS_UDP]);
			break;
		case 'x':
			rc |= parse_seconds("idle-other", optarg, 86400000000ull,
				&o->idle_us[FP_FLOW_CLASS_OTHER]);
			break;
		case 's':
			if (parse_uint("table-size", optarg, 1, 1u << 26, &v) == 0) {
				uint32_t p = 16;

				while (p < v)
					p <<= 1;
				o->table_size = p;
			} else {
				rc = -1;
			}
			break;
		case 'r':
			if (parse_uint("max-records", optarg, 1, 1u << 24, &v) == 0)
				o->max_records = (uint32_t)v;
			else
				rc = -1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fp-extract: unexpected argument '%s'\n", argv[optind]);
		rc = -1;
	}
	if (rc == 0 && (o->pcap == NULL || o->out == NULL)) {
		fprintf(stderr, "fp-extract: --pcap and --out are required\n");
		usage(stderr);
		rc = -1;
	}
	return rc == 0 ? 0 : -EINVAL;
}

static void
summary(const struct fpx_opts *o, const uint64_t *parse, uint64_t frames,
		const struct fp_flow_counters *c, const struct fpx_sink *s)
{
	fprintf(stderr, "fp-extract: %s: %" PRIu64 " frames, %" PRIu64 " in flows\n", o->pcap,
		frames, parse[FP_PARSE_OK]);
	for (unsigned int r = 1; r < FP_PARSE_REASON_MAX; r++)
		if (parse[r] != 0)
			fprintf(stderr, "  not in a flow: %-16s %" PRIu64 "\n",
				fp_parse_reason_label(r), parse[r]);
	fprintf(stderr, "  flows %" PRIu64 " (idle-expired %" PRIu64 ", evicted %" PRIu64
		", open at the end %" PRIu64 ")\n", c->flows_created, c->flows_idle,
		c->flows_evicted, c->flows_flushed);
	fprintf(stderr, "  windows %" PRIu64 ": time %" PRIu64 ", idle %" PRIu64 ", evict %"
		PRIu64 ", flush %" PRIu64 "; records %" PRIu64 ", sampled out %" PRIu64 "\n",
		s->w.count, c->windows[FP_WIN_END_TIME], c->windows[FP_WIN_END_IDLE],
		c->windows[FP_WIN_END_EVICT], c->windows[FP_WIN_END_FLUSH], s->w.records,
		c->recs_sampled_out);
	if (c->windows_no_mem != 0 || c->recs_no_mem != 0)
		fprintf(stderr, "  out of memory: %" PRIu64 " windows, %" PRIu64 " records lost\n",
			c->windows_no_mem, c->recs_no_mem);
}

static int
run(const struct fpx_opts *o)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	uint64_t parse[FP_PARSE_REASON_MAX] = { 0 }, frames = 0, last = 0, next_sweep = 0;
	struct fp_flow_table_conf conf;
	struct fp_flow_table *t;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct fpx_sink sink;
	struct fp_pkt_meta m;
	pcap_t *p;
	int dlt, rc, ret = 1;

	p = pcap_open_offline_with_tstamp_precision(o->pcap, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (p == NULL) {
		fprintf(stderr, "fp-extract: %s: %s\n", o->pcap, errbuf);
		return 1;
	}
	dlt = pcap_datalink(p);
	if (!fpx_link_supported(dlt)) {
		fprintf(stderr, "fp-extract: %s: link type %d (%s) not supported\n", o->pcap, dlt,
			pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
		pcap_close(p);
		return 1;
	}
	memset(&sink, 0, sizeof(sink));
	sink.ops.alloc_chunk = sink_alloc;
	sink.ops.free_chunk = sink_free;
	sink.ops.emit = sink_emit;
	sink.ops.ctx = &sink;
	memset(&conf, 0, sizeof(conf));
	conf.capacity = o->table_size;
	conf.window_us = o->window_us;
	memcpy(conf.idle_us, o->idle_us, sizeof(conf.idle_us));
	conf.max_records = o->max_records;
	conf.ops = sink.ops;
	t = fp_flow_table_create(&conf);
	if (t == NULL) {
		fprintf(stderr, "fp-extract: flow table of %u flows: %s\n", o->table_size,
			strerror(errno));
		pcap_close(p);
		return 1;
	}
	rc = fpx_writer_open(&sink.w, o->out, o->window_us);
	if (rc != 0) {
		fprintf(stderr, "fp-extract: %s: %s\n", o->out, strerror(-rc));
		fp_flow_table_free(t);
		pcap_close(p);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		uint64_t ts;
		enum fp_parse_reason r;

		frames++;
		if (h->ts.tv_sec < 0) {
			parse[FP_PARSE_NON_IP]++;	/* no flow time before 1970 */
			continue;
		}
		ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		r = fpx_link_parse(dlt, data, h->caplen, h->len, &m);
		parse[r]++;
		if (r != FP_PARSE_OK)
			continue;
		fp_flow_table_add(t, &m, ts);
		if (ts > last)
			last = ts;
		if (last >= next_sweep) {
			fp_flow_table_sweep(t, last, o->table_size);
			next_sweep = last + FPX_SWEEP_EVERY_US;
		}
	}
	if (rc == -1) {
		fprintf(stderr, "fp-extract: %s: %s\n", o->pcap, pcap_geterr(p));
		fp_flow_table_free(t);
		fpx_writer_close(&sink.w, 1);
		pcap_close(p);
		return 1;
	}
	fp_flow_table_flush(t, last);
	if (!o->quiet)
		summary(o, parse, frames, fp_flow_table_counters(t), &sink);
	fp_flow_table_free(t);
	rc = fpx_writer_close(&sink.w, 0);
	if (rc != 0)
		fprintf(stderr, "fp-extract: %s: %s\n", o->out, strerror(-rc));
	else
		ret = 0;
	pcap_close(p);
	return ret;
}

int
main(int argc, char **argv)
{
	struct fpx_opts o;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	return run(&o);
}

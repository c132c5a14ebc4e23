/* Unit tests of lib/conf: defaults, the reference file, every kind of mistake, --set, dump. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fp_test.h"

#define REF_YAML FP_SRCDIR "/config/flowpicd.yaml"
#define DOC_MD FP_SRCDIR "/docs/CONFIGURATION.md"

static char tmpdir[] = "/tmp/fp-test-conf-XXXXXX";

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(text, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Whole file into a heap string (NULL on error). */
static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	FILE *m;
	int ch;

	if (f == NULL)
		return NULL;
	m = open_memstream(&buf, &size);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Defaults, then "t.yaml" holding text loaded over them; returns fp_conf_load()'s result. */
static int
write_str(const char *path, const char *text)
{
	return write_file(path, text, strlen(text));
}

static int
load_text(struct fp_conf *c, const char *text, struct fp_conf_err *e)
{
	if (fp_conf_defaults(c) != 0)
		return -ENOMEM;
	if (write_str("t.yaml", text) != 0)
		return -EIO;
	return fp_conf_load(c, "t.yaml", e);
}

/* Load text and expect exactly the error msg (and c left at its defaults). */
#define EXPECT_LOAD_ERR(text, want) do { \
	struct fp_conf c_, d_; \
	struct fp_conf_err e_; \
	int r_ = load_text(&c_, (text), &e_); \
	FP_ASSERT_EQ(r_, -EINVAL); \
	FP_ASSERT_STR_EQ(e_.msg, (want)); \
	FP_ASSERT_EQ(fp_conf_defaults(&d_), 0); \
	FP_ASSERT(fp_conf_equal(&c_, &d_)); \
	fp_conf_free(&d_); \
	fp_conf_free(&c_); \
} while (0)

/* Load text (which must load) and expect validate(flags) to fail with exactly msg. */
#define EXPECT_VALIDATE_ERR(text, flags, want) do { \
	struct fp_conf c_; \
	struct fp_conf_err e_; \
	int r_ = load_text(&c_, (text), &e_); \
	if (r_ != 0) \
		FP_FAIL("load failed: %s", e_.msg); \
	FP_ASSERT_EQ(fp_conf_validate(&c_, (flags), &e_), -EINVAL); \
	FP_ASSERT_STR_EQ(e_.msg, (want)); \
	fp_conf_free(&c_); \
} while (0)

/* Apply one --set to defaults and expect exactly the error msg. */
#define EXPECT_SET_ERR(assign, want) do { \
	struct fp_conf c_, d_; \
	struct fp_conf_err e_; \
	FP_ASSERT_EQ(fp_conf_defaults(&c_), 0); \
	FP_ASSERT_EQ(fp_conf_set(&c_, (assign), &e_), -EINVAL); \
	FP_ASSERT_STR_EQ(e_.msg, (want)); \
	FP_ASSERT_EQ(fp_conf_defaults(&d_), 0); \
	FP_ASSERT(fp_conf_equal(&c_, &d_)); \
	fp_conf_free(&d_); \
	fp_conf_free(&c_); \
} while (0)

static int
test_defaults(void)
{
	struct fp_conf c;
	struct fp_conf_err e;
	int i;

	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	FP_ASSERT_EQ(c.eal_args.n, 0);
	FP_ASSERT_EQ(c.ports.n, 1);
	FP_ASSERT_STR_EQ(c.ports.v[0], "net_pcap0,rx_pcap=models/samples/sample.pcap");
	FP_ASSERT_EQ(c.lcores_rx.n, 1);
	FP_ASSERT_EQ(c.lcores_rx.v[0], 1);
	FP_ASSERT_EQ(c.lcores_workers.n, 1);
	FP_ASSERT_EQ(c.lcores_workers.v[0], 2);
	FP_ASSERT_EQ(c.lcores_stats, 0);
	FP_ASSERT_NEAR(c.flow_window, 60.0, 0);
	FP_ASSERT_NEAR(c.flow_idle_tcp, 120.0, 0);
	FP_ASSERT_NEAR(c.flow_idle_udp, 60.0, 0);
	FP_ASSERT_NEAR(c.flow_idle_other, 30.0, 0);
	FP_ASSERT_EQ(c.flow_min_packets, 10);
	FP_ASSERT_EQ(c.flow_table_size, 262144);
	FP_ASSERT_EQ(c.flow_max_packets, 16384);
	FP_ASSERT_EQ(c.flow_clock, FP_CONF_CLOCK_AUTO);
	/* auto: the packet clock for capture replay, the TSC for anything else */
	FP_ASSERT_EQ(fp_conf_clock_effective(&c), FP_CONF_CLOCK_PACKET);
	FP_ASSERT_EQ(c.flowpic_resolution, 0);
	FP_ASSERT_EQ(c.flowpic_direction, FP_CONF_DIR_MODEL);
	FP_ASSERT_STR_EQ(c.model_path, "models/flowpic-32.fpm");
	FP_ASSERT_NEAR(c.model_confidence, 0.5, 0);
	FP_ASSERT_EQ(c.model_batch, 32);
	FP_ASSERT_EQ(c.rings_windows, 4096);
	FP_ASSERT_EQ(c.rings_verdicts, 8192);
	FP_ASSERT_EQ(c.mempool_mbufs, 65535);
	FP_ASSERT_EQ(c.mempool_cache, 256);
	FP_ASSERT_EQ(c.mempool_record_chunks, 262144);
	FP_ASSERT_EQ(c.rx_burst, 32);
	FP_ASSERT_EQ(c.rx_ring_size, 1024);
	FP_ASSERT_EQ(c.rx_promiscuous, 1);
	FP_ASSERT_STR_EQ(c.export_metrics, "127.0.0.1:9750");
	FP_ASSERT_STR_EQ(c.export_verdicts, "");
	FP_ASSERT_EQ(c.export_verdicts_max_bytes, 104857600);
	FP_ASSERT_STR_EQ(c.export_stats_json, "");
	FP_ASSERT_NEAR(c.stats_interval, 1.0, 0);
	FP_ASSERT_NEAR(c.log_summary_interval, 10.0, 0);
	FP_ASSERT_EQ(c.log_level, FP_CONF_LOG_INFO);
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		FP_ASSERT_EQ(c.mark[i].src, -1);
		FP_ASSERT_EQ(c.mark[i].line, 0);
	}
	FP_ASSERT_EQ(c.sources.n, 0);
	/* The defaults are consistent; without the port they cannot run. */
	FP_ASSERT_EQ(fp_conf_validate(&c, FP_CONF_CHECK_PORTS, &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[0000:03:00.0, 'net_pcap1,rx_pcap=x.pcap']", &e), 0);
	FP_ASSERT_EQ(fp_conf_clock_effective(&c), FP_CONF_CLOCK_TSC);
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[]", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, FP_CONF_CHECK_PORTS, &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "--set:1:7: ports: no ports (give a PCI address such as "
		"0000:03:00.0 or a vdev such as net_pcap0,rx_pcap=FILE)");
	fp_conf_free(&c);
	fp_conf_free(NULL);
	return 0;
}

static int
test_keys(void)
{
	FP_ASSERT_EQ(FP_CONF_NKEYS, 33);
	FP_ASSERT_EQ(fp_conf_key_find("flow.window"), FP_CONF_K_flow_window);
	FP_ASSERT_EQ(fp_conf_key_find("flow.idle_timeout.udp"), FP_CONF_K_flow_idle_udp);
	FP_ASSERT_EQ(fp_conf_key_find("flow"), -ENOENT);
	FP_ASSERT_EQ(fp_conf_key_find("flow.windwo"), -ENOENT);
	FP_ASSERT_EQ(fp_conf_key_find(NULL), -ENOENT);
	FP_ASSERT_STR_EQ(fp_conf_key_name(FP_CONF_K_log_level), "log.level");
	FP_ASSERT_STR_EQ(fp_conf_key_name(0), "eal.args");
	FP_ASSERT(fp_conf_key_name(FP_CONF_NKEYS) == NULL);
	FP_ASSERT(fp_conf_key_name(-1) == NULL);
	return 0;
}

/* Line and column (1-based) where needle first starts in text; 0 when absent. */
static int
find_pos(const char *text, const char *needle, uint32_t *line, uint32_t *col)
{
	const char *p = strstr(text, needle), *s;

	if (p == NULL)
		return 0;
	*line = 1;
	for (s = text; s < p; s++)
		if (*s == '\n')
			(*line)++;
	for (s = p; s > text && s[-1] != '\n'; s--)
		;
	*col = (uint32_t)(p - s) + 1;
	return 1;
}

static int
test_reference_file(void)
{
	struct fp_conf ref, def;
	struct fp_conf_err e;
	char *text;
	uint32_t line, col;
	int i;

	FP_ASSERT_EQ(fp_conf_defaults(&def), 0);
	FP_ASSERT_EQ(fp_conf_defaults(&ref), 0);
	if (fp_conf_load(&ref, REF_YAML, &e) != 0)
		FP_FAIL("%s", e.msg);
	/* The reference lists every key of the table, each with its default value. */
	for (i = 0; i < FP_CONF_NKEYS; i++) {
		if (ref.mark[i].src != 0 || ref.mark[i].line == 0)
			FP_FAIL("key %s is missing from %s", fp_conf_key_name(i), REF_YAML);
	}
	FP_ASSERT(fp_conf_equal(&ref, &def));
	FP_ASSERT_EQ(fp_conf_validate(&ref, 0, &e), 0);
	/* Without a port it cannot run: the error points at the "ports: []" value. */
	text = read_file(REF_YAML);
	FP_ASSERT(text != NULL);
	FP_ASSERT(find_pos(text, "\nports: [", &line, &col));
	free(text);
	line++;		/* the match starts on the newline before */
	FP_ASSERT_EQ(fp_conf_validate(&ref, FP_CONF_CHECK_PORTS, &e), 0);
	FP_ASSERT_EQ(fp_conf_load_string(&ref, REF_YAML, "ports: []\n", 10, &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&ref, FP_CONF_CHECK_PORTS, &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, REF_YAML ":1:8: ports: no ports (give a PCI address such as "
		"0000:03:00.0 or a vdev such as net_pcap0,rx_pcap=FILE)");
	/* With a port and a model file that exists, it is ready to run. */
	FP_ASSERT_EQ(fp_conf_set(&ref, "ports=[net_null0]", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&ref, "model.path=" REF_YAML, &e), 0);
	if (fp_conf_validate(&ref, FP_CONF_CHECK_RUN, &e) != 0)
		FP_FAIL("%s", e.msg);
	fp_conf_free(&ref);
	fp_conf_free(&def);
	return 0;
}

/* Everything a FILE * received, as a heap string. */
struct capture {
	char *buf;
	size_t size;
	FILE *f;
};

static int
test_reference_printers(void)
{
	struct capture t = { NULL, 0, NULL }, m = { NULL, 0, NULL };
	char *doc;

	t.f = open_memstream(&t.buf, &t.size);
	FP_ASSERT_EQ(fp_conf_print_reference(t.f), 0);
	fclose(t.f);
	FP_ASSERT_CONTAINS(t.buf, "flow.window: double, [1, 3600]; default 60\n"
		"    Length of a flow window (one FlowPic) in seconds.\n");
	FP_ASSERT_CONTAINS(t.buf, "rings.windows: uint, [64, 1048576], a power of two; "
		"default 4096\n");
	FP_ASSERT_CONTAINS(t.buf, "flow.clock: enum, one of auto, tsc, packet; default auto\n");
	FP_ASSERT_CONTAINS(t.buf, "lcores.rx: list of uints, items in [0, 127]; default [1]\n");
	FP_ASSERT_CONTAINS(t.buf, "export.verdicts: string, any; default ''\n");
	m.f = open_memstream(&m.buf, &m.size);
	FP_ASSERT_EQ(fp_conf_print_reference_md(m.f), 0);
	fclose(m.f);
	FP_ASSERT_CONTAINS(m.buf, "| `flowpic.resolution` | uint | [0, 1500], one of 0, 32, 64, "
		"1500 | `0` | FlowPic side R (R x R picture); 0 takes the model's |\n");
	/* docs/CONFIGURATION.md carries the table exactly as the code prints it. */
	doc = read_file(DOC_MD);
	FP_ASSERT(doc != NULL);
	if (strstr(doc, m.buf) == NULL)
		FP_FAIL("%s does not hold the key table of fp_conf_print_reference_md()", DOC_MD);
	free(doc);
	free(t.buf);
	free(m.buf);
	return 0;
}

static int
test_load_values(void)
{
	struct fp_conf c;
	struct fp_conf_err e;
	const char *text =
		"# a comment\n"
		"eal:\n"
		"  args: [--file-prefix, fp1, -n, '4']\n"
		"ports:\n"
		"  - 0000:03:00.0\n"
		"  - net_pcap0,rx_pcap=x.pcap\n"
		"lcores: {rx: [1, 3], workers: [2, 4], stats: 0}\n"
		"flow:\n"
		"  window: 30.5\n"
		"  idle_timeout:\n"
		"    udp: 45\n"
		"  clock: packet\n"
		"  table_size: 0x10000\n"
		"flow.min_packets: 5\n"
		"flowpic:\n"
		"  resolution: 1500\n"
		"  direction: up\n"
		"model:\n"
		"  path: \"m.fpm\"\n"
		"rx:\n"
		"  promiscuous: off\n"
		"export:\n"
		"  metrics: '[::1]:9000'\n"
		"  verdicts: ~\n"
		"  verdicts_max_bytes: 1099511627776\n"
		"log:\n"
		"  summary_interval: 0\n"
		"  level: debug\n";

	if (load_text(&c, text, &e) != 0)
		FP_FAIL("%s", e.msg);
	FP_ASSERT_EQ(c.eal_args.n, 4);
	FP_ASSERT_STR_EQ(c.eal_args.v[0], "--file-prefix");
	FP_ASSERT_STR_EQ(c.eal_args.v[3], "4");
	FP_ASSERT_EQ(c.ports.n, 2);
	FP_ASSERT_STR_EQ(c.ports.v[0], "0000:03:00.0");
	FP_ASSERT_STR_EQ(c.ports.v[1], "net_pcap0,rx_pcap=x.pcap");
	FP_ASSERT_EQ(c.lcores_rx.n, 2);
	FP_ASSERT_EQ(c.lcores_rx.v[1], 3);
	FP_ASSERT_EQ(c.lcores_workers.v[1], 4);
	FP_ASSERT_NEAR(c.flow_window, 30.5, 0);
	FP_ASSERT_NEAR(c.flow_idle_udp, 45.0, 0);
	FP_ASSERT_EQ(c.flow_table_size, 65536);
	FP_ASSERT_NEAR(c.flow_idle_tcp, 120.0, 0);
	FP_ASSERT_EQ(c.flow_clock, FP_CONF_CLOCK_PACKET);
	FP_ASSERT_EQ(c.flow_min_packets, 5);
	FP_ASSERT_EQ(c.flowpic_resolution, 1500);
	FP_ASSERT_EQ(c.flowpic_direction, FP_DIR_UP);
	FP_ASSERT_STR_EQ(c.model_path, "m.fpm");
	FP_ASSERT_EQ(c.rx_promiscuous, 0);
	FP_ASSERT_STR_EQ(c.export_metrics, "[::1]:9000");
	FP_ASSERT_STR_EQ(c.export_verdicts, "");
	FP_ASSERT_EQ(c.export_verdicts_max_bytes, 1099511627776ULL);
	FP_ASSERT_NEAR(c.log_summary_interval, 0.0, 0);
	FP_ASSERT_EQ(c.log_level, FP_CONF_LOG_DEBUG);
	/* Marks: where each value was written; untouched keys stay defaults. */
	FP_ASSERT_EQ(c.sources.n, 1);
	FP_ASSERT_STR_EQ(c.sources.v[0], "t.yaml");
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].src, 0);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].line, 9);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].col, 11);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_ports].line, 5);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_ports].col, 3);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_lcores_workers].line, 7);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_lcores_workers].col, 31);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_min_packets].line, 14);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_min_packets].col, 19);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_idle_tcp].src, -1);
	FP_ASSERT_EQ(fp_conf_validate(&c, FP_CONF_CHECK_PORTS, &e), 0);
	fp_conf_free(&c);

	/* An empty file, a file of comments and empty sections change nothing. */
	FP_ASSERT_EQ(load_text(&c, "", &e), 0);
	FP_ASSERT_EQ(c.sources.n, 1);
	fp_conf_free(&c);
	FP_ASSERT_EQ(load_text(&c, "# nothing\nflow:\nmodel: ~\n", &e), 0);
	FP_ASSERT_NEAR(c.flow_window, 60.0, 0);
	fp_conf_free(&c);
	return 0;
}

static int
test_load_twice(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	/* A second file goes over the first; marks name the file that set each key. */
	FP_ASSERT_EQ(load_text(&c, "flow:\n  window: 10\n  clock: packet\n", &e), 0);
	FP_ASSERT_EQ(write_str("u.yaml", "\nflow:\n  window: 20\n"), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "u.yaml", &e), 0);
	FP_ASSERT_NEAR(c.flow_window, 20.0, 0);
	FP_ASSERT_EQ(c.flow_clock, FP_CONF_CLOCK_PACKET);
	FP_ASSERT_EQ(c.sources.n, 2);
	FP_ASSERT_STR_EQ(c.sources.v[c.mark[FP_CONF_K_flow_window].src], "u.yaml");
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].line, 3);
	FP_ASSERT_STR_EQ(c.sources.v[c.mark[FP_CONF_K_flow_clock].src], "t.yaml");
	/* A failed load leaves everything as it was. */
	FP_ASSERT_EQ(write_str("u.yaml", "flow:\n  window: 25\n  clock: bad\n"), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "u.yaml", &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "u.yaml:3:10: flow.clock: 'bad' is not allowed (allowed: auto, tsc, "
		"packet)");
	FP_ASSERT_EQ(e.line, 3);
	FP_ASSERT_EQ(e.col, 10);
	FP_ASSERT_NEAR(c.flow_window, 20.0, 0);
	FP_ASSERT_EQ(c.sources.n, 2);
	fp_conf_free(&c);
	return 0;
}

static int
test_err_unknown_key(void)
{
	EXPECT_LOAD_ERR("flow:\n  windwo: 30\n",
		"t.yaml:2:3: unknown key 'flow.windwo' (did you mean 'flow.window'?)");
	EXPECT_LOAD_ERR("flow:\n  window: 30\nlcore:\n  rx: [1]\n",
		"t.yaml:3:1: unknown key 'lcore' (did you mean 'lcores'?)");
	EXPECT_LOAD_ERR("flow:\n  idle_timeout:\n    tpc: 5\n",
		"t.yaml:3:5: unknown key 'flow.idle_timeout.tpc' (did you mean "
		"'flow.idle_timeout.tcp'?)");
	EXPECT_LOAD_ERR("colour: blue\n", "t.yaml:1:1: unknown key 'colour'");
	EXPECT_LOAD_ERR("flow:\n  window: 30\n  window_size: 30\n",
		"t.yaml:3:3: unknown key 'flow.window_size'");
	EXPECT_LOAD_ERR("flow.windows: 30\n",
		"t.yaml:1:1: unknown key 'flow.windows' (did you mean 'flow.window'?)");
	return 0;
}

static int
test_err_wrong_type(void)
{
	EXPECT_LOAD_ERR("flow:\n  window: abc\n",
		"t.yaml:2:11: flow.window: expected a number, got 'abc'");
	EXPECT_LOAD_ERR("flow:\n  window: \"60\"\n",
		"t.yaml:2:11: flow.window: expected a number, got the quoted string \"60\"");
	EXPECT_LOAD_ERR("flow:\n  window:\n    a: 1\n",
		"t.yaml:3:5: flow.window: expected a number, got a mapping");
	EXPECT_LOAD_ERR("flow:\n  window:\n",
		"t.yaml:2:10: flow.window: expected a number, got an empty value");
	EXPECT_LOAD_ERR("model:\n  batch: [1, 2]\n",
		"t.yaml:2:10: model.batch: expected an unsigned integer, got a list");
	EXPECT_LOAD_ERR("model:\n  batch: 2.5\n",
		"t.yaml:2:10: model.batch: expected an unsigned integer, got '2.5'");
	EXPECT_LOAD_ERR("lcores:\n  rx: 1\n",
		"t.yaml:2:7: lcores.rx: expected a list of unsigned integers, got '1'");
	EXPECT_LOAD_ERR("lcores:\n  rx: [1, two]\n",
		"t.yaml:2:11: lcores.rx: item 2: expected an unsigned integer, got 'two'");
	EXPECT_LOAD_ERR("ports: [[net_null0]]\n",
		"t.yaml:1:9: ports: item 1: expected a string, got a list");
	EXPECT_LOAD_ERR("ports: [net_null0, ]\nports2: 1\n",
		"t.yaml:2:1: unknown key 'ports2' (did you mean 'ports'?)");
	EXPECT_LOAD_ERR("ports:\n  -\n",
		"t.yaml:2:4: ports: item 1: empty item");
	EXPECT_LOAD_ERR("flow: 5\n", "t.yaml:1:7: flow: expected a mapping of keys, got '5'");
	EXPECT_LOAD_ERR("flow: [window]\n",
		"t.yaml:1:7: flow: expected a mapping of keys, got a list");
	EXPECT_LOAD_ERR("model:\n  path: {a: b}\n",
		"t.yaml:2:9: model.path: expected a string, got a mapping");
	EXPECT_LOAD_ERR("rx:\n  promiscuous: maybe\n",
		"t.yaml:2:16: rx.promiscuous: expected true or false, got 'maybe'");
	EXPECT_LOAD_ERR("flow:\n  clock: [tsc]\n",
		"t.yaml:2:10: flow.clock: expected one of auto, tsc, packet, got a list");
	EXPECT_LOAD_ERR("flow:\n  window: .inf\n",
		"t.yaml:2:11: flow.window: expected a number, got '.inf'");
	EXPECT_LOAD_ERR("- flow\n- model\n",
		"t.yaml:1:1: the top level must be a mapping of keys, not a list");
	EXPECT_LOAD_ERR("hello\n",
		"t.yaml:1:1: the top level must be a mapping of keys, not a scalar");
	return 0;
}

static int
test_err_range(void)
{
	EXPECT_LOAD_ERR("flow:\n  window: 0\n",
		"t.yaml:2:11: flow.window: 0 is out of range [1, 3600]");
	EXPECT_LOAD_ERR("flow:\n  window: 3600.5\n",
		"t.yaml:2:11: flow.window: 3600.5 is out of range [1, 3600]");
	EXPECT_LOAD_ERR("rx:\n  burst: -1\n",
		"t.yaml:2:10: rx.burst: -1 is out of range [1, 512]");
	EXPECT_LOAD_ERR("flow:\n  table_size: 99999999999999999999999\n",
		"t.yaml:2:15: flow.table_size: 99999999999999999999999 is out of range "
		"[64, 67108864]");
	EXPECT_LOAD_ERR("lcores:\n  rx: [1, 200]\n",
		"t.yaml:2:11: lcores.rx: item 2: 200 is out of range [0, 127]");
	EXPECT_LOAD_ERR("model:\n  confidence: 1.01\n",
		"t.yaml:2:15: model.confidence: 1.01 is out of range [0, 1]");
	EXPECT_LOAD_ERR("stats:\n  interval: 0.05\n",
		"t.yaml:2:13: stats.interval: 0.05 is out of range [0.1, 3600]");
	EXPECT_LOAD_ERR("export:\n  verdicts_max_bytes: 1000\n",
		"t.yaml:2:23: export.verdicts_max_bytes: 1000 is out of range "
		"[1048576, 1099511627776]");
	return 0;
}

static int
test_err_not_allowed(void)
{
	EXPECT_LOAD_ERR("flow:\n  clock: wall\n",
		"t.yaml:2:10: flow.clock: 'wall' is not allowed (allowed: auto, tsc, packet)");
	EXPECT_LOAD_ERR("flowpic:\n  direction: BOTH\n",
		"t.yaml:2:14: flowpic.direction: 'BOTH' is not allowed (allowed: model, both, up, "
		"down)");
	EXPECT_LOAD_ERR("flowpic:\n  resolution: 48\n",
		"t.yaml:2:15: flowpic.resolution: 48 is not allowed (allowed: 0, 32, 64, 1500)");
	EXPECT_LOAD_ERR("rings:\n  windows: 5000\n",
		"t.yaml:2:12: rings.windows: 5000 is not a power of two");
	EXPECT_LOAD_ERR("rings:\n  verdicts: 32\n",
		"t.yaml:2:13: rings.verdicts: 32 is out of range [64, 1048576]");
	EXPECT_LOAD_ERR("ports: [eth0]\n",
		"t.yaml:1:9: ports: item 1: 'eth0' is neither a PCI address (0000:03:00.0) nor a "
		"vdev spec (net_pcap0,rx_pcap=FILE)");
	EXPECT_LOAD_ERR("ports: [\"0000:03:00.8\"]\n",
		"t.yaml:1:9: ports: item 1: '0000:03:00.8' is neither a PCI address (0000:03:00.0) "
		"nor a vdev spec (net_pcap0,rx_pcap=FILE)");
	EXPECT_LOAD_ERR("export:\n  metrics: localhost:9750\n",
		"t.yaml:2:12: export.metrics: 'localhost:9750' is not ADDR:PORT (IPv4 or [IPv6] "
		"address, port 1-65535) nor empty");
	EXPECT_LOAD_ERR("export:\n  metrics: 127.0.0.1:70000\n",
		"t.yaml:2:12: export.metrics: '127.0.0.1:70000' is not ADDR:PORT (IPv4 or [IPv6] "
		"address, port 1-65535) nor empty");
	return 0;
}

static int
test_port_specs(void)
{
	FP_ASSERT(fp_conf_port_is_pci("0000:03:00.0"));
	FP_ASSERT(fp_conf_port_is_pci("03:00.1"));
	FP_ASSERT(fp_conf_port_is_pci("0000:af:1f.7,rxq_cqe_comp_en=0"));
	FP_ASSERT(!fp_conf_port_is_pci("0000:03:00.8"));
	FP_ASSERT(!fp_conf_port_is_pci("0000:03:00"));
	FP_ASSERT(!fp_conf_port_is_pci("0000:03:00.0,"));
	FP_ASSERT(!fp_conf_port_is_pci("net_pcap0"));
	FP_ASSERT(!fp_conf_port_is_pci(NULL));
	return 0;
}

static int
test_err_duplicate(void)
{
	EXPECT_LOAD_ERR("flow:\n  window: 30\n  window: 40\n",
		"t.yaml:3:3: duplicate key 'flow.window' (first at 2:3)");
	EXPECT_LOAD_ERR("flow.window: 30\nflow:\n  window: 40\n",
		"t.yaml:3:3: duplicate key 'flow.window' (first at 1:1)");
	EXPECT_LOAD_ERR("flow:\n  window: 30\nmodel:\n  batch: 8\nflow:\n  clock: tsc\n",
		"t.yaml:5:1: duplicate key 'flow' (first at 1:1)");
	return 0;
}

static int
test_err_malformed(void)
{
	EXPECT_LOAD_ERR("flow:\n  window: 30\n clock: tsc\n",
		"t.yaml:3:2: invalid YAML: did not find expected key (while parsing a block "
		"mapping at 1:1)");
	EXPECT_LOAD_ERR("flow: [1, 2\n",
		"t.yaml:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
		"sequence at 1:7)");
	EXPECT_LOAD_ERR("flow:\n\twindow: 3\n",
		"t.yaml:2:1: invalid YAML: found character that cannot start any token (while "
		"scanning for the next token at 2:1)");
	EXPECT_LOAD_ERR("model:\n  path: \"abc\n",
		"t.yaml:3:1: invalid YAML: found unexpected end of stream (while scanning a quoted "
		"scalar at 2:9)");
	EXPECT_LOAD_ERR("flow: \xff\n",
		"t.yaml:1:7: invalid YAML: invalid leading UTF-8 octet (byte 0xFF)");
	EXPECT_LOAD_ERR("a: &x 1\nb: *x\n", "t.yaml:2:4: aliases (*x) are not supported");
	EXPECT_LOAD_ERR("flow:\n  window: 3\n---\nflow:\n  window: 4\n",
		"t.yaml:3:1: a second YAML document is not allowed");
	EXPECT_LOAD_ERR("? [a]\n: b\n", "t.yaml:1:3: a map key must be a plain name");
	EXPECT_LOAD_ERR("model:\n  path: \"a\\0b\"\n",
		"t.yaml:2:9: a value holds a NUL character");
	return 0;
}

static int
test_err_limits(void)
{
	struct fp_conf c, d;
	struct fp_conf_err e;
	char *big;
	size_t i;

	/* Nine levels of nesting: the ninth '[' is refused. */
	EXPECT_LOAD_ERR("x: [[[[[[[[1]]]]]]]]\n", "t.yaml:1:11: nesting is deeper than 8 levels");
	EXPECT_LOAD_ERR("a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n"
		"        i: 1\n",
		"t.yaml:9:9: nesting is deeper than 8 levels");
	/* One byte over 1 MiB is refused before parsing; exactly 1 MiB is read. */
	big = malloc(FP_CONF_MAX_FILE_SIZE + 1);
	FP_ASSERT(big != NULL);
	for (i = 0; i < FP_CONF_MAX_FILE_SIZE + 1; i++)
		big[i] = (i % 64) == 63 ? '\n' : '#';
	FP_ASSERT_EQ(write_file("big.yaml", big, FP_CONF_MAX_FILE_SIZE + 1), 0);
	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "big.yaml", &e), -EFBIG);
	FP_ASSERT_STR_EQ(e.msg, "big.yaml:0:0: file is larger than 1048576 bytes");
	FP_ASSERT_EQ(write_file("big.yaml", big, FP_CONF_MAX_FILE_SIZE), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "big.yaml", &e), 0);
	free(big);
	/* A list of 4097 items: the 4097th ("a" at column 10 + 3 x 4096) is refused. */
	big = malloc(3 * 4097 + 64);
	FP_ASSERT(big != NULL);
	i = (size_t)sprintf(big, "eal:\n  args: [a");
	for (size_t k = 1; k < 4097; k++)
		i += (size_t)sprintf(big + i, ", a");
	sprintf(big + i, "]\n");
	FP_ASSERT_EQ(fp_conf_defaults(&d), 0);
	FP_ASSERT_EQ(write_file("big.yaml", big, strlen(big)), 0);
	FP_ASSERT_EQ(fp_conf_load(&d, "big.yaml", &e), -E2BIG);
	FP_ASSERT_STR_EQ(e.msg, "big.yaml:2:12298: more than 4096 items in one list or map");
	free(big);
	fp_conf_free(&c);
	fp_conf_free(&d);
	return 0;
}

static int
test_err_files(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "missing.yaml", &e), -ENOENT);
	FP_ASSERT_STR_EQ(e.msg, "missing.yaml:0:0: cannot open: No such file or directory");
	FP_ASSERT_EQ(e.line, 0);
	FP_ASSERT_EQ(mkdir("adir", 0755), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, "adir", &e), -EISDIR);
	FP_ASSERT_STR_EQ(e.msg, "adir:0:0: cannot read: Is a directory");
	if (geteuid() != 0) {
		/* Permissions bind only a user without CAP_DAC_OVERRIDE. */
		FP_ASSERT_EQ(write_str("locked.yaml", "flow: {}\n"), 0);
		FP_ASSERT_EQ(chmod("locked.yaml", 0), 0);
		FP_ASSERT_EQ(fp_conf_load(&c, "locked.yaml", &e), -EACCES);
		FP_ASSERT_STR_EQ(e.msg, "locked.yaml:0:0: cannot open: Permission denied");
	}
	FP_ASSERT_EQ(c.sources.n, 0);
	fp_conf_free(&c);

	/* model.path must be a readable file: reported at its value with FP_CONF_CHECK_FILES. */
	EXPECT_VALIDATE_ERR("model:\n  batch: 8\n  path: no/such.fpm\n", FP_CONF_CHECK_FILES,
		"t.yaml:3:9: model.path: 'no/such.fpm' cannot be read: No such file or directory");
	EXPECT_VALIDATE_ERR("model:\n  path: adir\n", FP_CONF_CHECK_FILES,
		"t.yaml:2:9: model.path: 'adir' is not a regular file");
	EXPECT_VALIDATE_ERR("model:\n  path: ''\n", FP_CONF_CHECK_FILES,
		"t.yaml:2:9: model.path: empty (a file is needed)");
	EXPECT_VALIDATE_ERR("model:\n  path: t.yaml\nexport:\n  verdicts: no/dir/v.json\n",
		FP_CONF_CHECK_FILES, "t.yaml:4:13: export.verdicts: directory 'no/dir' of "
		"'no/dir/v.json' is not writable: No such file or directory");
	/* Without the flag, files are not looked at. */
	FP_ASSERT_EQ(load_text(&c, "model:\n  path: no/such.fpm\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "model.path=t.yaml", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "export.stats_json=out.json", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, FP_CONF_CHECK_FILES, &e), 0);
	fp_conf_free(&c);
	return 0;
}

static int
test_err_lcores(void)
{
	EXPECT_VALIDATE_ERR("lcores:\n  rx: [1]\n  workers: [3, 1]\n", 0,
		"t.yaml:3:12: lcores.workers: lcore 1 is both an RX and a worker lcore (an lcore "
		"has one role)");
	/* The default side of a conflict is not blamed: workers [2] is a default here. */
	EXPECT_VALIDATE_ERR("lcores:\n  rx: [2]\n", 0,
		"t.yaml:2:7: lcores.rx: lcore 2 is both an RX and a worker lcore (an lcore has one "
		"role)");
	EXPECT_VALIDATE_ERR("lcores:\n  workers: [0]\n", 0,
		"t.yaml:2:12: lcores.workers: lcore 0 is both the stats and a worker lcore (an "
		"lcore has one role)");
	EXPECT_VALIDATE_ERR("lcores:\n  stats: 2\n", 0,
		"t.yaml:2:10: lcores.stats: lcore 2 is both the stats and a worker lcore (an lcore "
		"has one role)");
	EXPECT_VALIDATE_ERR("lcores:\n  stats: 1\n", 0,
		"t.yaml:2:10: lcores.stats: lcore 1 is both the stats and an RX lcore (an lcore "
		"has one role)");
	EXPECT_VALIDATE_ERR("lcores:\n  rx: [1, 3, 1]\n", 0,
		"t.yaml:2:7: lcores.rx: lcore 1 is listed twice");
	EXPECT_VALIDATE_ERR("lcores:\n  rx: []\n", 0,
		"t.yaml:2:7: lcores.rx: no RX lcore (at least one is needed)");
	EXPECT_VALIDATE_ERR("lcores:\n  workers:\n", 0,
		"t.yaml:2:11: lcores.workers: no worker lcore (at least one is needed)");
	return 0;
}

static int
test_err_eal_lcores(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-2]\nlcores:\n  rx: [1]\n  workers: [2, 3]\n", 0,
		"t.yaml:5:12: lcores.workers: 1 RX + 2 worker + 1 stats lcores need 4 lcores, but "
		"eal.args '-l 0-2' gives 3");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-3]\nlcores:\n  workers: [5]\n", 0,
		"t.yaml:4:12: lcores.workers: lcore 5 is not in the EAL lcore set of eal.args "
		"'-l 0-3'");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-c, '0x13']\n", 0,
		"t.yaml:0:0: lcores.workers: lcore 2 is not in the EAL lcore set of eal.args "
		"'-c 0x13'");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-2]\nlcores:\n  stats: 2\n  workers: [0]\n", 0,
		"t.yaml:4:10: lcores.stats: 2 is not the EAL main lcore 0 of eal.args (add "
		"--main-lcore 2)");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-x]\n", 0,
		"t.yaml:2:9: eal.args: expected an lcore number at 'x'");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-2, -c, '7']\n", 0,
		"t.yaml:2:9: eal.args: only one of -l, -c and --lcores may be given");
	EXPECT_VALIDATE_ERR("eal:\n  args: ['--lcores=0-1@0,(2,3)@(0-1)', --main-lcore]\n", 0,
		"t.yaml:2:9: eal.args: '--main-lcore' needs a value");
	EXPECT_VALIDATE_ERR("eal:\n  args: [-l, 0-200]\n", 0,
		"t.yaml:2:9: eal.args: lcore 200 is beyond 127");
	/* Sets that fit. */
	FP_ASSERT_EQ(load_text(&c, "eal:\n  args: [-l0-2]\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), 0);
	fp_conf_free(&c);
	FP_ASSERT_EQ(load_text(&c, "eal:\n  args: [-c, '0x7', -n, '4']\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), 0);
	fp_conf_free(&c);
	FP_ASSERT_EQ(load_text(&c, "eal:\n  args: ['--lcores=(0-1)@0,2@1', --main-lcore, '1']\n"
		"lcores: {stats: 1, rx: [0], workers: [2]}\n", &e), 0);
	if (fp_conf_validate(&c, 0, &e) != 0)
		FP_FAIL("%s", e.msg);
	fp_conf_free(&c);
	/* "-a" takes the next word as its value: "-l" there is not an lcore option. */
	FP_ASSERT_EQ(load_text(&c, "eal:\n  args: [--vdev, -l, -n, '2']\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), 0);
	fp_conf_free(&c);
	return 0;
}

static int
test_err_sizes(void)
{
	EXPECT_VALIDATE_ERR("flow:\n  min_packets: 100\n  max_packets_per_window: 64\n", 0,
		"t.yaml:2:16: flow.min_packets: 100 is more than flow.max_packets_per_window 64");
	EXPECT_VALIDATE_ERR("flow:\n  max_packets_per_window: 16\n  min_packets: 17\n", 0,
		"t.yaml:3:16: flow.min_packets: 17 is more than flow.max_packets_per_window 16");
	EXPECT_VALIDATE_ERR("rx:\n  ring_size: 64\n  burst: 128\n", 0,
		"t.yaml:3:10: rx.burst: 128 is more than rx.ring_size 64");
	/* 2 ports x 1 RX x 1024 + 1 x (32 + 256) = 2336 mbufs. */
	EXPECT_VALIDATE_ERR("ports: [net_null0, net_null1]\nmempool:\n  mbufs: 2335\n", 0,
		"t.yaml:3:10: mempool.mbufs: 2 port(s) x 1 RX queue(s) x 1024 descriptors plus "
		"1 x (32 burst + 256 cache) need 2336 mbufs, more than mempool.mbufs 2335");
	EXPECT_VALIDATE_ERR("ports: [net_null0, net_null0]\n", 0,
		"t.yaml:1:8: ports: 'net_null0' is listed twice");
	return 0;
}

static int
test_err_mbufs_fit(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	FP_ASSERT_EQ(load_text(&c, "ports: [net_null0, net_null1]\nmempool:\n  mbufs: 2336\n",
		&e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, FP_CONF_CHECK_PORTS, &e), 0);
	fp_conf_free(&c);
	return 0;
}

static int
test_set(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	FP_ASSERT_EQ(load_text(&c, "flow:\n  window: 30\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "flow.window=45", &e), 0);
	FP_ASSERT_NEAR(c.flow_window, 45.0, 0);
	FP_ASSERT_STR_EQ(c.sources.v[c.mark[FP_CONF_K_flow_window].src], "--set");
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].line, 1);
	FP_ASSERT_EQ(c.mark[FP_CONF_K_flow_window].col, 13);
	FP_ASSERT_EQ(fp_conf_set(&c, " lcores.workers = [2, 3]", &e), 0);
	FP_ASSERT_EQ(c.lcores_workers.n, 2);
	FP_ASSERT_EQ(c.lcores_workers.v[1], 3);
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[net_pcap0,rx_pcap=a.pcap]", &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "--set:1:18: ports: item 2: 'rx_pcap=a.pcap' is neither a PCI "
		"address (0000:03:00.0) nor a vdev spec (net_pcap0,rx_pcap=FILE)");
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[\"net_pcap0,rx_pcap=a.pcap\"]", &e), 0);
	FP_ASSERT_STR_EQ(c.ports.v[0], "net_pcap0,rx_pcap=a.pcap");
	FP_ASSERT_EQ(fp_conf_set(&c, "export.metrics=", &e), 0);
	FP_ASSERT_STR_EQ(c.export_metrics, "");
	FP_ASSERT_EQ(fp_conf_set(&c, "export.verdicts=/var/log/v=1.json", &e), 0);
	FP_ASSERT_STR_EQ(c.export_verdicts, "/var/log/v=1.json");
	FP_ASSERT_EQ(fp_conf_set(&c, "log.level=warning", &e), 0);
	FP_ASSERT_EQ(c.log_level, FP_CONF_LOG_WARNING);
	FP_ASSERT_EQ(fp_conf_set(&c, "rx.promiscuous=false", &e), 0);
	FP_ASSERT_EQ(c.rx_promiscuous, 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "eal.args=[]", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "lcores.rx=", &e), 0);
	FP_ASSERT_EQ(c.lcores_rx.n, 0);
	/* A cross-key error points at the --set value of a key in conflict. */
	FP_ASSERT_EQ(fp_conf_set(&c, "lcores.rx=[3]", &e), 0);
	FP_ASSERT_EQ(fp_conf_validate(&c, 0, &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "--set:1:19: lcores.workers: lcore 3 is both an RX and a worker "
		"lcore (an lcore has one role)");
	FP_ASSERT_EQ(c.sources.n, 2);
	fp_conf_free(&c);
	return 0;
}

static int
test_set_errors(void)
{
	EXPECT_SET_ERR("flow.window=abc",
		"--set:1:13: flow.window: expected a number, got 'abc'");
	EXPECT_SET_ERR("flow.window=0", "--set:1:13: flow.window: 0 is out of range [1, 3600]");
	EXPECT_SET_ERR("flow.window=", "--set:1:13: flow.window: expected a number, got an empty "
		"value");
	EXPECT_SET_ERR("flow.windwo=3",
		"--set:1:1: unknown key 'flow.windwo' (did you mean 'flow.window'?)");
	EXPECT_SET_ERR("  nope=3", "--set:1:3: unknown key 'nope'");
	EXPECT_SET_ERR("flow.window", "--set:1:1: expected KEY=VALUE, got 'flow.window'");
	EXPECT_SET_ERR("=3", "--set:1:1: expected KEY=VALUE, got '=3'");
	EXPECT_SET_ERR("flow=3",
		"--set:1:1: 'flow' is a section: set one of its keys, such as 'flow.window'");
	EXPECT_SET_ERR("lcores.rx=[1, 200]",
		"--set:1:15: lcores.rx: item 2: 200 is out of range [0, 127]");
	EXPECT_SET_ERR("lcores.rx=1", "--set:1:11: lcores.rx: expected a list of unsigned "
		"integers, got '1'");
	EXPECT_SET_ERR("flow.window=[1",
		"--set:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
		"sequence at 1:13)");
	EXPECT_SET_ERR("flow.clock=a: b",
		"--set:1:12: flow.clock: expected one of auto, tsc, packet, got a mapping");
	EXPECT_SET_ERR("rings.windows=100", "--set:1:15: rings.windows: 100 is not a power of two");
	return 0;
}

static int
test_precedence(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	/* defaults < file < --set */
	FP_ASSERT_EQ(load_text(&c, "flow:\n  window: 30\n  min_packets: 3\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "flow.min_packets=4", &e), 0);
	FP_ASSERT_NEAR(c.flow_window, 30.0, 0);
	FP_ASSERT_EQ(c.flow_min_packets, 4);
	FP_ASSERT_EQ(c.flow_table_size, 262144);
	fp_conf_free(&c);
	return 0;
}

/* Dump c to text (heap string). */
static char *
dump_text(const struct fp_conf *c)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	if (fp_conf_dump(c, f) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static int
test_dump_round_trip(void)
{
	static const char *const sets[] = {
		"eal.args=[--file-prefix, \"a b\", '-l', '0-3']",
		"ports=[\"0000:03:00.0\", \"net_pcap0,rx_pcap=dir/it's \\\"x\\\".pcap\"]",
		"lcores.rx=[0, 2]",
		"lcores.workers=[1, 3]",
		"lcores.stats=0",
		"flow.window=0.1e2",
		"flow.idle_timeout.tcp=86400",
		"flow.idle_timeout.udp=1.25",
		"flow.idle_timeout.other=3.3333333333333335",
		"flow.clock=packet",
		"flowpic.resolution=64",
		"flowpic.direction=down",
		"model.path=\"m\\u00e9t\\u00e9o\\tx\\n.fpm\"",
		"model.confidence=0.1",
		"rings.windows=1048576",
		"mempool.cache=0",
		"rx.promiscuous=no",
		"export.metrics='[::1]:1'",
		"export.verdicts_max_bytes=1099511627776",
		"stats.interval=0.1",
		"log.summary_interval=0",
		"log.level=error",
	};
	struct fp_conf c, d, def;
	struct fp_conf_err e;
	char *t1, *t2;
	size_t i;

	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (fp_conf_set(&c, sets[i], &e) != 0)
			FP_FAIL("%s: %s", sets[i], e.msg);
	FP_ASSERT_STR_EQ(c.model_path, "m\xc3\xa9t\xc3\xa9o\tx\n.fpm");
	FP_ASSERT_STR_EQ(c.ports.v[1], "net_pcap0,rx_pcap=dir/it's \"x\".pcap");
	t1 = dump_text(&c);
	FP_ASSERT(t1 != NULL);
	FP_ASSERT_CONTAINS(t1, "\nflow:\n  window: 10\n  idle_timeout:\n    tcp: 86400\n"
		"    udp: 1.25\n    other: 3.3333333333333335\n");
	FP_ASSERT_CONTAINS(t1, "\n  path: \"m\xc3\xa9t\xc3\xa9o\\tx\\n.fpm\"\n");
	FP_ASSERT_CONTAINS(t1, "\nlcores:\n  rx: [0, 2]\n  workers: [1, 3]\n  stats: 0\n");
	FP_ASSERT_CONTAINS(t1, "\n  promiscuous: false\n");
	/* Read back over defaults: the same values. */
	FP_ASSERT_EQ(fp_conf_defaults(&d), 0);
	FP_ASSERT_EQ(fp_conf_defaults(&def), 0);
	FP_ASSERT(!fp_conf_equal(&c, &def));
	if (fp_conf_load_string(&d, "dump", t1, strlen(t1), &e) != 0)
		FP_FAIL("%s", e.msg);
	FP_ASSERT(fp_conf_equal(&c, &d));
	t2 = dump_text(&d);
	FP_ASSERT_STR_EQ(t2, t1);
	free(t2);
	/* The defaults' dump reads back to the defaults. */
	free(t1);
	t1 = dump_text(&def);
	FP_ASSERT_EQ(fp_conf_load_string(&c, "dump", t1, strlen(t1), &e), 0);
	FP_ASSERT(fp_conf_equal(&c, &def));
	free(t1);
	fp_conf_free(&c);
	fp_conf_free(&d);
	fp_conf_free(&def);
	return 0;
}

static int
test_copy(void)
{
	struct fp_conf c, d;
	struct fp_conf_err e;

	FP_ASSERT_EQ(load_text(&c, "ports: [net_null0]\nmodel: {path: a.fpm}\n", &e), 0);
	FP_ASSERT_EQ(fp_conf_copy(&d, &c), 0);
	FP_ASSERT(fp_conf_equal(&c, &d));
	FP_ASSERT(d.ports.v != c.ports.v);
	FP_ASSERT(d.model_path != c.model_path);
	FP_ASSERT_STR_EQ(d.sources.v[0], "t.yaml");
	fp_conf_free(&c);
	FP_ASSERT_STR_EQ(d.ports.v[0], "net_null0");
	fp_conf_free(&d);
	return 0;
}

/* argv as one string, words joined by '|'. */
static void
join(const struct fp_conf_strv *v, char *buf, size_t size)
{
	size_t n = 0;
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < v->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "|" : "", v->v[i]);
}

static int
test_eal_argv(void)
{
	struct fp_conf c;
	struct fp_conf_err e;
	struct fp_conf_strv argv;
	char buf[512];

	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[\"net_pcap0,rx_pcap=x.pcap\", 0000:03:00.0]", &e),
		0);
	FP_ASSERT_EQ(fp_conf_eal_argv(&c, "flowpicd", 2, &argv), 0);
	join(&argv, buf, sizeof(buf));
	FP_ASSERT_STR_EQ(buf, "flowpicd|--lcores|0,1,2@0|--main-lcore|0|--vdev|"
		"net_pcap0,rx_pcap=x.pcap|-a|0000:03:00.0");
	fp_conf_strv_free(&argv);
	FP_ASSERT_EQ(fp_conf_set(&c, "lcores.workers=[2, 5]", &e), 0);
	FP_ASSERT_EQ(fp_conf_set(&c, "ports=[net_null0]", &e), 0);
	FP_ASSERT_EQ(fp_conf_eal_argv(&c, "x", 0, &argv), 0);
	join(&argv, buf, sizeof(buf));
	FP_ASSERT_STR_EQ(buf, "x|--lcores|0,1,2,5|--main-lcore|0|--vdev|net_null0|--no-pci");
	fp_conf_strv_free(&argv);
	/* An lcore option in eal.args is used as it is. */
	FP_ASSERT_EQ(fp_conf_set(&c, "eal.args=[-l, 0-5, --in-memory]", &e), 0);
	FP_ASSERT_EQ(fp_conf_eal_argv(&c, "x", 2, &argv), 0);
	join(&argv, buf, sizeof(buf));
	FP_ASSERT_STR_EQ(buf, "x|-l|0-5|--in-memory|--vdev|net_null0|--no-pci");
	fp_conf_strv_free(&argv);
	FP_ASSERT_EQ(fp_conf_set(&c, "eal.args=[-a, '0000:01:00.0']", &e), 0);
	FP_ASSERT_EQ(fp_conf_eal_argv(&c, "x", 4, &argv), 0);
	join(&argv, buf, sizeof(buf));
	FP_ASSERT_STR_EQ(buf, "x|-a|0000:01:00.0|--lcores|0,1,2,5@1|--main-lcore|0|--vdev|"
		"net_null0");
	fp_conf_strv_free(&argv);
	FP_ASSERT_EQ(fp_conf_set(&c, "eal.args=[-l]", &e), 0);
	FP_ASSERT_EQ(fp_conf_eal_argv(&c, "x", 4, &argv), -EINVAL);
	FP_ASSERT_EQ(argv.n, 0);
	fp_conf_free(&c);
	return 0;
}

static int
test_bad_arguments(void)
{
	struct fp_conf c;
	struct fp_conf_err e;

	FP_ASSERT_EQ(fp_conf_defaults(&c), 0);
	FP_ASSERT_EQ(fp_conf_load(&c, NULL, &e), -EINVAL);
	FP_ASSERT_EQ(fp_conf_load(NULL, "t.yaml", &e), -EINVAL);
	FP_ASSERT_EQ(fp_conf_set(&c, NULL, &e), -EINVAL);
	FP_ASSERT_EQ(fp_conf_load_string(&c, "s", NULL, 3, &e), -EINVAL);
	FP_ASSERT_EQ(fp_conf_validate(NULL, 0, &e), -EINVAL);
	/* e may be NULL: the error is still returned. */
	FP_ASSERT_EQ(fp_conf_set(&c, "flow.window=0", NULL), -EINVAL);
	FP_ASSERT_EQ(fp_conf_load_string(&c, "s", "x: [", 4, NULL), -EINVAL);
	/* A message stays one line whatever the input holds. */
	FP_ASSERT_EQ(fp_conf_set(&c, "model.batch=\"a\\nb\"", &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "--set:1:13: model.batch: expected an unsigned integer, got the "
		"quoted string \"a?b\"");
	FP_ASSERT_EQ(fp_conf_set(&c, "model.batch=aaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaa", &e), -EINVAL);
	FP_ASSERT_STR_EQ(e.msg, "--set:1:13: model.batch: expected an unsigned integer, got "
		"'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	fp_conf_free(&c);
	return 0;
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0) {
		perror("test_conf: temporary directory");
		return 1;
	}
	FP_RUN(test_defaults);
	FP_RUN(test_keys);
	FP_RUN(test_reference_file);
	FP_RUN(test_reference_printers);
	FP_RUN(test_load_values);
	FP_RUN(test_load_twice);
	FP_RUN(test_err_unknown_key);
	FP_RUN(test_err_wrong_type);
	FP_RUN(test_err_range);
	FP_RUN(test_err_not_allowed);
	FP_RUN(test_port_specs);
	FP_RUN(test_err_duplicate);
	FP_RUN(test_err_malformed);
	FP_RUN(test_err_limits);
	FP_RUN(test_err_files);
	FP_RUN(test_err_lcores);
	FP_RUN(test_err_eal_lcores);
	FP_RUN(test_err_sizes);
	FP_RUN(test_err_mbufs_fit);
	FP_RUN(test_set);
	FP_RUN(test_set_errors);
	FP_RUN(test_precedence);
	FP_RUN(test_dump_round_trip);
	FP_RUN(test_copy);
	FP_RUN(test_eal_argv);
	FP_RUN(test_bad_arguments);
	if (chdir("/") != 0 || nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "test_conf: could not remove %s\n", tmpdir);
	return fp_test_report();
}

/* flowpicd: start-up (options, config, model, EAL), lcore launch, signals and the final report. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_cycles.h>

#include "conf.h"
#include "model.h"
#include "flowpicd.h"
#include "export.h"

RTE_LOG_REGISTER_DEFAULT(fpd_logtype, INFO);

static struct fpd_app fpd_app;
static char **fpd_sets;		/* --set assignments, each heap-owned */

/* atexit: free the --set list, whichever return main() leaves by. */
static void
fpd_sets_free(void)
{
	unsigned int i;

	for (i = 0; fpd_sets != NULL && fpd_sets[i] != NULL; i++)
		free(fpd_sets[i]);
	free(fpd_sets);
	fpd_sets = NULL;
}

enum {
	OPT_CHECK = 256, OPT_SET, OPT_PCAP, OPT_MODEL, OPT_STATS_JSON, OPT_VERDICTS,
	OPT_HELP_CONFIG, OPT_VERSION, OPT_DUMP_CONFIG, OPT_LINGER, OPT_SPEED,
};

static const struct option fpd_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "set", required_argument, NULL, OPT_SET },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
	{ "verdicts", required_argument, NULL, OPT_VERDICTS },
	{ "dump-config", no_argument, NULL, OPT_DUMP_CONFIG },
	{ "linger", no_argument, NULL, OPT_LINGER },
	{ "speed", required_argument, NULL, OPT_SPEED },
	{ "help-config", no_argument, NULL, OPT_HELP_CONFIG },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
fpd_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s -c FILE [--check] [--set KEY=VALUE]... [--stats-json PATH] [--verdicts PATH]\n"
		"       %s --pcap FILE [-c FILE] [--model FILE] [--set KEY=VALUE]... [...]\n"
		"  -c, --config FILE   configuration (YAML; see config/flowpicd.yaml)\n"
		"      --check         validate the configuration and the model, then exit 0 or 1\n"
		"      --set KEY=VALUE override one configuration key (repeatable)\n"
		"      --pcap FILE     replay a capture through DPDK's net_pcap with the packet clock,\n"
		"                      no hugepages, then flush, report and exit\n"
		"      --model FILE    model file (same as --set model.path=FILE)\n"
		"      --stats-json P  write the final counters as JSON to P\n"
		"      --verdicts P    write one JSON line per classified window to P\n"
		"      --speed X       replay at X times the capture's own pace (1 = real time;\n"
		"                      default: as fast as possible); results do not change\n"
		"      --linger        after the capture ends and the report is out, keep /metrics\n"
		"                      and telemetry serving the final counters until SIGINT/SIGTERM\n"
		"      --dump-config   print the effective configuration as YAML and exit\n"
		"      --help-config   print every configuration key and exit\n"
		"      --version       print the version and exit\n"
		"signals: SIGINT/SIGTERM stop RX, flush every open window, report and exit 0\n"
		"         (a second one exits at once); SIGHUP reloads model.path: a model that\n"
		"         fails to load or reads other pictures or classes is rejected, the\n"
		"         running one stays\n", prog, prog);
}

static void
fpd_signal(int sig)
{
	if (sig == SIGHUP) {
		atomic_store(&fpd_app.reload, 1);
		return;
	}
	if (atomic_exchange(&fpd_app.stop, 1) != 0)
		atomic_store(&fpd_app.quit, 1);
}

/* Count the frames of a capture and check it reads to the end; -1 with a message if not. */
static int64_t
fpd_pcap_count(const char *path, uint32_t *snaplen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	int64_t n = 0;
	pcap_t *p;
	int ret;

	p = pcap_open_offline(path, errbuf);
	if (p == NULL) {
		fprintf(stderr, "flowpicd: %s: %s\n", path, errbuf);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "flowpicd: %s: link type %s is not Ethernet; net_pcap replays "
			"Ethernet captures only\n", path,
			pcap_datalink_val_to_name(pcap_datalink(p)) ?: "?");
		pcap_close(p);
		return -1;
	}
	*snaplen = (uint32_t)pcap_snapshot(p);
	while ((ret = pcap_next_ex(p, &h, &data)) == 1)
		n++;
	if (ret == PCAP_ERROR)
		fprintf(stderr, "flowpicd: %s: warning: capture ends early after %" PRId64
			" frames: %s (the frames before are replayed)\n", path, n, pcap_geterr(p));
	pcap_close(p);
	return n;
}

/*
 * When every port replays a capture (net_pcap with rx_pcap=, not infinite), flowpicd runs as an
 * offline replay: it counts each capture's frames first (so it knows when a port is done and
 * can say at once when a file is unreadable), ends when all are replayed, and RX waits for room
 * in full rings instead of dropping, so the speed of the replay cannot change the results.
 */
static int
fpd_replay_init(struct fpd_app *app, const struct fp_conf *c)
{
	uint32_t i;

	if (fp_conf_clock_effective(c) != FP_CONF_CLOCK_PACKET)
		return 0;
	for (i = 0; i < c->ports.n; i++) {
		const char *spec = c->ports.v[i], *f = strstr(spec, "rx_pcap=");
		char path[PATH_MAX];
		size_t len;
		int64_t n;

		if (strncmp(spec, "net_pcap", 8) != 0 || f == NULL ||
				strstr(spec, "infinite_rx=1") != NULL)
			return 0;	/* a live port: not an offline replay */
		f += strlen("rx_pcap=");
		len = strcspn(f, ",");
		if (len >= sizeof(path) || i >= FPD_MAX_PORTS)
			return -ENAMETOOLONG;
		memcpy(path, f, len);
		path[len] = '\0';
		n = fpd_pcap_count(path, &app->replay[i].snaplen);
		if (n < 0)
			return -EINVAL;
		len = strcspn(spec, ",");
		snprintf(app->replay[i].name, sizeof(app->replay[i].name), "%.*s", (int)len, spec);
		app->replay[i].frames = (uint64_t)n;
	}
	app->n_replay = c->ports.n;
	app->offline = 1;
	app->set.backpressure = 1;
	return 0;
}

static int
fpd_conf_fail(const struct fp_conf_err *e)
{
	fprintf(stderr, "%s\n", e->msg);
	return 1;
}

/* Copy the configuration into the settings the pipeline reads. */
static void
fpd_settings_from_conf(struct fpd_app *app, const struct fp_conf *c)
{
	struct fpd_settings *s = &app->set;
	struct fp_conf_flow f;

	fp_conf_flow_settings(c, &f);
	s->rx_desc = (uint16_t)c->rx_ring_size;
	s->burst = (uint16_t)c->rx_burst;
	s->clock_packet = fp_conf_clock_effective(c) == FP_CONF_CLOCK_PACKET;
	s->window_us = f.window_us;
	memcpy(s->idle_us, f.idle_us, sizeof(s->idle_us));
	s->min_packets = c->flow_min_packets;
	s->table_size = c->flow_table_size;
	s->max_recs = f.max_records;
	s->batch = c->model_batch;
	s->confidence = (float)c->model_confidence;
	s->ring_windows = c->rings_windows;
	s->ring_verdicts = c->rings_verdicts;
	s->mbufs = c->mempool_mbufs;
	s->mbuf_cache = c->mempool_cache;
	s->chunks = c->mempool_record_chunks;
	s->stats_interval = c->stats_interval;
	s->summary_interval = c->log_summary_interval;
	s->promiscuous = c->rx_promiscuous;
}

/*
 * The model decides resolution and direction unless the configuration pins them, in which case
 * they must agree with it: a model only understands pictures like those it was trained on.
 */
static int
fpd_model_check(struct fpd_app *app, const struct fp_conf *c)
{
	const struct fp_model *m = app->model;

	if (c->flowpic_resolution != 0 && c->flowpic_resolution != m->resolution) {
		fprintf(stderr, "flowpicd: flowpic.resolution is %u but model %s takes %ux%u "
			"pictures (set flowpic.resolution: 0 to follow the model)\n",
			c->flowpic_resolution, c->model_path, m->resolution, m->resolution);
		return -EINVAL;
	}
	if (c->flowpic_direction != FP_CONF_DIR_MODEL &&
			(enum fp_dir_mode)c->flowpic_direction != m->direction) {
		fprintf(stderr, "flowpicd: flowpic.direction is %s but model %s was trained on "
			"'%s' pictures\n", fp_dir_name(c->flowpic_direction), c->model_path,
			fp_dir_name(m->direction));
		return -EINVAL;
	}
	if (m->window_us != app->set.window_us)
		fprintf(stderr, "flowpicd: warning: flow.window is %.3f s but model %s was "
			"trained on %.3f s windows\n", (double)app->set.window_us / 1e6,
			c->model_path, (double)m->window_us / 1e6);
	app->set.resolution = m->resolution;
	app->set.direction = m->direction;
	app->n_classes = m->n_classes;
	return 0;
}

static void
fpd_categories_init(struct fpd_app *app)
{
	uint32_t i;

	for (i = 0; i < app->n_classes; i++)
		app->cat_names[i] = app->model->class_names[i];
	app->cat_names[FPD_CAT_UNKNOWN(app)] = "unknown";
	app->cat_names[FPD_CAT_UNCLASSIFIED(app)] = "unclassified";
	app->cat_names[FPD_CAT_OTHER(app)] = "other";
	app->n_cats = app->n_classes + 3;
}

static int
fpd_pools_create(struct fpd_app *app)
{
	unsigned int socket = rte_socket_id();

	app->mbuf_pool = rte_pktmbuf_pool_create("fpd_mbufs", app->set.mbufs,
		app->set.mbuf_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (app->mbuf_pool == NULL) {
		FPD_LOG(ERR, "cannot create the mbuf pool of %u mbufs: %s (lower "
			"mempool.mbufs or give EAL more memory with -m)\n", app->set.mbufs,
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	app->chunk_pool = rte_mempool_create("fpd_chunks", app->set.chunks, FP_FLOW_CHUNK_SIZE,
		app->set.chunks >= 4096 ? 256 : 0, 0, NULL, NULL, NULL, NULL, socket, 0);
	if (app->chunk_pool == NULL) {
		FPD_LOG(ERR, "cannot create the record pool of %u chunks: %s (lower "
			"mempool.record_chunks or give EAL more memory with -m)\n",
			app->set.chunks, rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* --linger: keep /metrics and telemetry up with the final counters until SIGINT/SIGTERM. */
static void
fpd_linger(struct fpd_app *app)
{
	if (atomic_load(&app->stop))
		return;		/* stopped by a signal already */
	FPD_LOG(NOTICE, "lingering: final counters stay readable until SIGINT/SIGTERM\n");
	while (!atomic_load(&app->stop))
		rte_delay_us_sleep(100 * 1000);
}

static int
fpd_launch(struct fpd_app *app)
{
	unsigned int i;
	int ret;

	for (i = 0; i < app->n_workers; i++) {
		ret = rte_eal_remote_launch(fpd_worker_main, &app->workers[i], app->workers[i].lcore);
		if (ret != 0) {
			FPD_LOG(ERR, "cannot launch worker on lcore %u: %s\n", app->workers[i].lcore,
				strerror(-ret));
			return ret;
		}
	}
	for (i = 0; i < app->n_rx; i++) {
		ret = rte_eal_remote_launch(fpd_rx_main, &app->rx[i], app->rx[i].lcore);
		if (ret != 0) {
			FPD_LOG(ERR, "cannot launch RX on lcore %u: %s\n", app->rx[i].lcore,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	/*
	 * Static: an early return (bad configuration, --check, a port or EAL that fails) leaves
	 * these reachable until exit rather than leaked; the normal end frees them.
	 */
	static struct fp_conf conf;
	static struct fp_conf_strv eal;
	static char **eal_argv;
	struct fpd_app *app = &fpd_app;
	struct fp_conf_err e;
	const char *conf_path = NULL, *pcap_path = NULL;
	char **sets;
	char err[512], set_buf[4200];
	int n_sets = 0, check = 0, dump = 0, linger = 0, opt, ret, i, rc = 0;
	double speed = 0;
	char *end;
	long ncpu;

	fpd_sets = calloc((size_t)argc + 1, sizeof(char *));
	sets = fpd_sets;
	if (sets == NULL)
		return 1;
	atexit(fpd_sets_free);
	while ((opt = getopt_long(argc, argv, "c:h", fpd_opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case OPT_CHECK: check = 1; break;
		case OPT_SET: sets[n_sets++] = strdup(optarg); break;
		case OPT_PCAP: pcap_path = optarg; break;
		case OPT_MODEL:
			snprintf(set_buf, sizeof(set_buf), "model.path=%s", optarg);
			sets[n_sets++] = strdup(set_buf);
			break;
		case OPT_STATS_JSON:
			snprintf(set_buf, sizeof(set_buf), "export.stats_json=%s", optarg);
			sets[n_sets++] = strdup(set_buf);
			break;
		case OPT_VERDICTS:
			snprintf(set_buf, sizeof(set_buf), "export.verdicts=%s", optarg);
			sets[n_sets++] = strdup(set_buf);
			break;
		case OPT_DUMP_CONFIG: dump = 1; break;
		case OPT_LINGER: linger = 1; break;
		case OPT_SPEED:
			speed = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(speed > 0 && speed <= 1e6)) {
				fprintf(stderr, "flowpicd: --speed %s: need a number above 0 and "
					"at most 1000000\n", optarg);
				return 2;
			}
			break;
		case OPT_HELP_CONFIG: fp_conf_print_reference(stdout); return 0;
		case OPT_VERSION: printf("flowpicd %s\n", FLOWPIC_VERSION); return 0;
		case 'h': fpd_usage(stdout, argv[0]); return 0;
		default: fpd_usage(stderr, argv[0]); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flowpicd: unexpected argument '%s' (EAL arguments go in "
			"eal.args of the configuration)\n", argv[optind]);
		return 2;
	}
	if (conf_path == NULL && pcap_path == NULL) {
		fpd_usage(stderr, argv[0]);
		return 2;
	}

	/* Configuration: defaults < --pcap's settings < file < --set. */
	if (fp_conf_defaults(&conf) != 0)
		return 1;
	if (pcap_path != NULL) {
		static const char *const offline[] = {
			"flow.clock=packet",
			"eal.args=[--no-huge, --no-shconf, -m, '1024', --log-level, 'lib.eal:error']",
			"export.metrics=''",
		};
		for (i = 0; i < (int)RTE_DIM(offline); i++)
			if (fp_conf_set(&conf, offline[i], &e) != 0)
				return fpd_conf_fail(&e);
	}
	if (conf_path != NULL && fp_conf_load(&conf, conf_path, &e) != 0)
		return fpd_conf_fail(&e);
	if (pcap_path != NULL) {
		if (strchr(pcap_path, ',') != NULL || strchr(pcap_path, ']') != NULL) {
			fprintf(stderr, "flowpicd: --pcap %s: the path may not contain ',' or ']'\n",
				pcap_path);
			return 1;
		}
		snprintf(set_buf, sizeof(set_buf), "ports=['net_pcap0,rx_pcap=%s']", pcap_path);
		if (fp_conf_set(&conf, set_buf, &e) != 0)
			return fpd_conf_fail(&e);
	}
	for (i = 0; i < n_sets; i++)
		if (sets[i] == NULL) {
			fprintf(stderr, "flowpicd: out of memory\n");
			return 1;
		}
	for (i = 0; i < n_sets; i++)
		if (fp_conf_set(&conf, sets[i], &e) != 0)
			return fpd_conf_fail(&e);
	if (dump) {
		fp_conf_dump(&conf, stdout);
		return 0;
	}
	if (fp_conf_validate(&conf, FP_CONF_CHECK_RUN, &e) != 0)
		return fpd_conf_fail(&e);
	fpd_settings_from_conf(app, &conf);

	app->model_path = strdup(conf.model_path);
	app->model = fp_model_load(conf.model_path, err, sizeof(err));
	if (app->model == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (fpd_model_check(app, &conf) != 0)
		return 1;
	fpd_categories_init(app);
	if (fpd_replay_init(app, &conf) != 0)
		return 1;
	if (speed > 0 && !app->offline) {
		fprintf(stderr, "flowpicd: --speed paces an offline replay only (--pcap, or net_pcap "
			"ports with rx_pcap= and the packet clock)\n");
		return 2;
	}
	app->speed = speed;
	if (check) {
		fp_model_describe(app->model, err, sizeof(err));
		printf("flowpicd: configuration %s ok; model %s\n",
			conf_path != NULL ? conf_path : "(defaults)", err);
		return 0;
	}
	/* Bind the metrics address now: a bad or busy one stops start-up before EAL. */
	if (fpd_metrics_open(app, conf.export_metrics) != 0)
		return 1;

	/* EAL */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	ret = fp_conf_eal_argv(&conf, argv[0], ncpu > 0 ? (unsigned int)ncpu : 0, &eal);
	if (ret != 0) {
		fprintf(stderr, "flowpicd: cannot build EAL arguments: %s\n", strerror(-ret));
		return 1;
	}
	/* EAL permutes and rewrites argv entries: give it a copy of the array. */
	eal_argv = calloc(eal.n + 1, sizeof(char *));
	if (eal_argv == NULL)
		return 1;
	memcpy(eal_argv, eal.v, eal.n * sizeof(char *));
	ret = rte_eal_init((int)eal.n, eal_argv);
	if (ret < 0) {
		fprintf(stderr, "flowpicd: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	rte_log_set_level(fpd_logtype, (uint32_t)conf.log_level);
	app->tsc_hz = rte_get_tsc_hz();
	app->stats_lcore = rte_get_main_lcore();
	signal(SIGINT, fpd_signal);
	signal(SIGTERM, fpd_signal);
	signal(SIGHUP, fpd_signal);
	if (fpd_telemetry_init(app) != 0)
		FPD_LOG(WARNING, "telemetry commands /flowpic/... unavailable\n");

	if (conf.export_verdicts[0] != '\0' && fpd_verdict_log_open(app, conf.export_verdicts,
			conf.export_verdicts_max_bytes) != 0) {
		rc = 1;
		goto out;
	}
	app->n_rx = conf.lcores_rx.n;
	for (i = 0; i < (int)app->n_rx; i++)
		app->rx[i].lcore = conf.lcores_rx.v[i];
	app->n_workers = conf.lcores_workers.n;
	for (i = 0; i < (int)app->n_workers; i++)
		app->workers[i].lcore = conf.lcores_workers.v[i];
	if (app->n_rx > FPD_MAX_RX || app->n_workers > FPD_MAX_WORKERS) {
		FPD_LOG(ERR, "at most %d RX lcores and %d workers\n", FPD_MAX_RX, FPD_MAX_WORKERS);
		rc = 1;
		goto out;
	}

	if (fpd_pools_create(app) != 0 || fpd_ports_init(app) != 0 ||
			fpd_worker_setup(app) != 0 || fpd_rx_setup(app) != 0) {
		rc = 1;
		goto out;
	}
	FPD_LOG(INFO, "%u RX lcore(s), %u worker(s), stats on lcore %u; model %s; %ux%u %s "
		"FlowPics, window %.1f s, clock %s\n", app->n_rx, app->n_workers,
		app->stats_lcore, app->model->name, app->set.resolution, app->set.resolution,
		fp_dir_name(app->set.direction), (double)app->set.window_us / 1e6,
		app->set.clock_packet ? "packet" : "tsc");
	if (fpd_metrics_start(app) != 0) {
		rc = 1;
		goto out;
	}
	app->start_tsc = rte_get_tsc_cycles();
	if (fpd_launch(app) != 0) {
		atomic_store(&app->stop, 1);
		rc = 1;
	}
	fpd_stats_main(app);
	rte_eal_mp_wait_lcore();
	fpd_stats_final(app);

	printf("\n");
	if (fpd_report_text(app, stdout) != 0)
		rc = 3;
	fflush(stdout);
	if (conf.export_stats_json[0] != '\0' &&
			fpd_report_json(app, conf.export_stats_json) != 0)
		rc = 1;
	if (linger)
		fpd_linger(app);
out:
	fpd_metrics_stop(app);
	fpd_verdict_log_close(app);
	fpd_worker_teardown(app);
	fpd_ports_stop(app);
	rte_eal_cleanup();
	fp_model_free(app->model);
	fp_model_free(app->old_model);
	free(app->model_path);
	fp_conf_strv_free(&eal);
	free(eal_argv);
	fp_conf_free(&conf);
	return rc;
}

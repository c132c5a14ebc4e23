/* flowpicd internals: the application state shared by its pipeline stages. */
#ifndef FLOWPICD_H
#define FLOWPICD_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_mempool.h>

#include "fp_reasons.h"
#include "fp_rec.h"
#include "pkt.h"
#include "flow.h"
#include "snapshot.h"

struct fp_infer;
struct fp_model;

extern int fpd_logtype;
#define FPD_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, fpd_logtype, "flowpicd: " fmt, ##__VA_ARGS__)

#define FPD_MAX_PORTS 16
#define FPD_MAX_RX 32
#define FPD_MAX_WORKERS 64
#define FPD_MAX_CATEGORIES (256 + 3)
#define FPD_LAT_BUCKETS 16
#define FPD_RATE_POINTS 64		/* history kept for category rates */

/* Settings the pipeline reads, taken from the configuration once at start. */
struct fpd_settings {
	uint16_t rx_desc;
	uint16_t burst;
	int clock_packet;		/* 1: mbuf Rx timestamp (us); 0: TSC */
	int promiscuous;
	int backpressure;		/* offline replay: wait on full rings instead of dropping */
	uint64_t window_us;
	uint64_t idle_us[3];		/* tcp, udp, other */
	uint32_t min_packets;
	uint32_t table_size;
	uint32_t max_recs;
	uint32_t resolution;
	enum fp_dir_mode direction;
	uint32_t batch;
	float confidence;
	uint32_t ring_windows;
	uint32_t ring_verdicts;
	uint32_t mbufs;
	uint32_t mbuf_cache;
	uint32_t chunks;
	double stats_interval;
	double summary_interval;
};

struct fpd_port {
	uint16_t port_id;
	uint16_t n_queues;
	int rss;
	uint64_t frames;		/* offline replay: frames in its capture */
	char name[RTE_ETH_NAME_MAX_LEN];
};

/* Per-category counters: packets, bytes, flows (first windows), windows. */
struct fpd_cat_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t flows;
	uint64_t windows;
};

/* What a worker sends to the stats lcore for each classified window (ring element). */
struct fpd_verdict {
	struct fp_flow_key key;
	uint64_t start_us;
	uint64_t packets;
	uint64_t bytes;
	uint32_t index;
	int32_t category;		/* model class, or FPD_CAT_UNKNOWN(app) */
	float confidence;
	uint8_t init_swapped;		/* initiator is the key's hi side */
	uint8_t pad[3];
};

/* One RX lcore: its queue(s), flow table and counters; written only by its lcore. */
struct fpd_rx {
	unsigned int idx;
	unsigned int lcore;
	struct fpd_app *app;
	struct fp_flow_table *table;
	uint16_t port_idx[FPD_MAX_PORTS];	/* ports this lcore polls */
	uint16_t queue[FPD_MAX_PORTS];
	unsigned int n_polls;
	uint64_t q_packets[FPD_MAX_PORTS];	/* per polled queue, counted before processing */
	uint64_t q_bytes[FPD_MAX_PORTS];
	struct fp_flow_table_ops ops;
	struct rte_ring *dist_in;		/* mbufs handed over by RX lcore 0 (no RSS) */
	int dist_needed;			/* some port has one queue: lcore 0 spreads it */
	uint64_t now_us;			/* latest time seen (packet clock) or TSC time */
	uint64_t flows_active;
	struct rte_ring *win_out[FPD_MAX_WORKERS];
	unsigned int next_worker;
	/* counters (single writer) */
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t parse[FP_PARSE_REASON_MAX];
	uint64_t pipe[FP_PIPE_REASON_MAX];
	struct fpd_cat_counters other;
	struct fpd_cat_counters unclassified;
	struct fpd_cat_counters unclassified_no_mem;	/* mirrored from the table's counters */
	uint64_t windows_sent;
	uint64_t run_cycles;			/* TSC cycles from start to the end of polling */
	uint64_t flows_at_stop;			/* flows in the table when polling ended */
	uint64_t pace_t0_us;			/* --speed: first replayed packet's time */
	uint64_t pace_t0_tsc;			/* ... and when it was polled */
	int pace_started;
	uint64_t cpu_ns;			/* CPU time of the RX loop (thread clock) */
	uint64_t busy_cycles;			/* cycles of loop passes that received packets */
	uint64_t driver_cycles;			/* ... of which inside rte_eth_rx_burst() */
	_Atomic int polling_done;		/* no more packets from the ports */
	_Atomic int done;			/* flushed: no more windows */
} __rte_cache_aligned;

/* One worker lcore: its FlowPic builder, inference context and counters. */
struct fpd_worker {
	unsigned int idx;
	unsigned int lcore;
	struct fpd_app *app;
	struct rte_ring *verdict_out;
	void *priv;				/* worker.c's state */
	uint64_t windows;
	uint64_t batches;
	uint64_t infer_ns;
	uint64_t lat_hist[FPD_LAT_BUCKETS];	/* per-batch latency, bucket i: < 2^i * 10 us */
	uint64_t busy_cycles;
	uint64_t total_cycles;
	uint64_t snap_busy, snap_total;		/* stats lcore's last look at the two above */
	struct fpd_cat_counters unclassified;	/* verdicts lost on a full stats ring */
	struct fp_infer *_Atomic next_infer;	/* set by a model reload, taken by the worker */
	struct fp_infer *_Atomic retired;	/* the worker's previous context, to free */
	uint64_t swapped;			/* reloads this worker has installed */
	uint64_t verdict_drops;
	_Atomic int done;
} __rte_cache_aligned;

struct fpd_app {
	struct fpd_settings set;
	const char *conf_path;
	struct fp_model *model;
	struct fp_model *old_model;		/* until every worker has left it (reload.c) */
	char *model_path;
	uint64_t reloads;
	uint64_t reload_failures;
	_Atomic int reload;			/* SIGHUP seen */
	uint32_t n_classes;
	const char *cat_names[FPD_MAX_CATEGORIES];
	uint32_t n_cats;			/* n_classes + unknown, unclassified, other */
	struct fpd_port ports[FPD_MAX_PORTS];
	unsigned int n_ports;
	struct rte_mempool *mbuf_pool;
	struct rte_mempool *chunk_pool;
	int ts_offset;
	uint64_t ts_flag;
	uint64_t tsc_hz;
	unsigned int n_rx;
	unsigned int n_workers;
	struct fpd_rx rx[FPD_MAX_RX];
	struct fpd_worker workers[FPD_MAX_WORKERS];
	unsigned int stats_lcore;
	/* stats lcore state */
	struct fpd_cat_counters cats[FPD_MAX_CATEGORIES];
	FILE *verdict_log;
	const char *stats_json;
	/* offline replay (every port a net_pcap capture): frames each capture holds */
	int offline;
	double speed;				/* --speed: replay pace, 0 = as fast as possible */
	unsigned int n_replay;
	struct {
		char name[RTE_DEV_NAME_MAX_LEN];
		uint64_t frames;
		uint32_t snaplen;
	} replay[FPD_MAX_PORTS];
	uint32_t snaplen[RTE_MAX_ETHPORTS];	/* replayed capture's snap length, by port id */
	uint64_t start_tsc;
	/* published counter snapshots (snapshot.c) */
	struct fpd_snapshot snap[2];
	/* category counters at earlier snapshots, for rates over two windows (snapshot.c) */
	struct fpd_rate_point {
		double t;
		uint64_t packets[FPD_MAX_CATEGORIES], bytes[FPD_MAX_CATEGORIES];
	} rate_hist[FPD_RATE_POINTS];
	unsigned int rate_head, rate_n;
	_Atomic uint64_t snap_seq;
	_Atomic uint64_t snap_writing;
	_Atomic int stop;			/* set by a signal: stop RX, flush */
	_Atomic int quit;			/* set by a second signal: leave now */
};

#define FPD_CAT_UNKNOWN(app) ((app)->n_classes)
#define FPD_CAT_UNCLASSIFIED(app) ((app)->n_classes + 1)
#define FPD_CAT_OTHER(app) ((app)->n_classes + 2)

int fpd_ports_init(struct fpd_app *app);
void fpd_ports_stop(struct fpd_app *app);
int fpd_rx_setup(struct fpd_app *app);
int fpd_rx_main(void *arg);
int fpd_worker_setup(struct fpd_app *app);
int fpd_worker_main(void *arg);
void fpd_worker_teardown(struct fpd_app *app);
int fpd_stats_main(struct fpd_app *app);
void fpd_stats_final(struct fpd_app *app);
void fpd_stats_totals(const struct fpd_app *app, struct fpd_cat_counters *cats,
		uint64_t *rx_packets, uint64_t *rx_bytes);
int fpd_reload_model(struct fpd_app *app);
void fpd_reload_poll(struct fpd_app *app);
int fpd_report_text(const struct fpd_app *app, FILE *f);
int fpd_report_json(const struct fpd_app *app, const char *path);

#endif /* FLOWPICD_H */

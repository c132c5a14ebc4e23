/* flowpicd's configuration keys: the one table behind parsing, defaults, checks and docs. */
#ifndef FP_CONF_KEYS_H
#define FP_CONF_KEYS_H

/**
 * @file
 * Every configuration key is one row of FP_CONF_KEYS:
 *
 *   X(name, type, field, min, max, default, vals, rule, description)
 *
 *  - name: dotted path of the key in the YAML file ("flow.idle_timeout.tcp" is the key tcp
 *    of the map idle_timeout of the map flow);
 *  - type: BOOL, U32, U64, DBL (double), STR, ENUM (stored as int), STRV (list of strings),
 *    U32V (list of unsigned integers);
 *  - field: the member of struct fp_conf that holds the value;
 *  - min, max: range of a number, or of each item of a U32V list; 0, 0 for other types;
 *  - default: the default written as YAML text, read by the same rules as the file;
 *  - vals: for ENUM, the allowed names and their values; NULL otherwise;
 *  - rule: NULL or an extra check with its one-phrase description (power of two, ...);
 *  - description: one line for the reference.
 *
 * struct fp_conf's members, the key ids (FP_CONF_K_<field>), the parser, the defaults, the
 * reference printers and the dump are all generated from this table. The vals and rule
 * columns name lib/conf internals and are expanded only inside lib/conf.
 * Keys of one section stay adjacent: the dump nests them in table order.
 */

/** Highest lcore id + 1 (RTE_MAX_LCORE of Debian 12's DPDK 22.11). */
#define FP_CONF_MAX_LCORE 128

/** Allowed names of an ENUM key and the int stored for each. */
#define FP_CONF_ENUM_VALS(...) \
	((const struct conf_enum_val[]){ __VA_ARGS__, { NULL, 0 } })

#define FP_CONF_KEYS(X) \
X("eal.args", STRV, eal_args, 0, 0, "[]", NULL, NULL, \
	"Extra EAL arguments, one argv word per item; an lcore option (-l, -c or --lcores) " \
	"here fixes the lcore set that lcores.* must use") \
X("ports", STRV, ports, 0, 0, "['net_pcap0,rx_pcap=models/samples/sample.pcap']", NULL, \
	&conf_rule_port, \
	"Ports to receive from: PCI addresses of NICs bound to a DPDK driver, or vdev specs; " \
	"at least one is needed to run (the default replays the shipped sample capture)") \
X("lcores.rx", U32V, lcores_rx, 0, FP_CONF_MAX_LCORE - 1, "[1]", NULL, NULL, \
	"RX lcores: each polls one queue of every port and owns a flow table") \
X("lcores.workers", U32V, lcores_workers, 0, FP_CONF_MAX_LCORE - 1, "[2]", NULL, NULL, \
	"Worker lcores: each builds FlowPics and runs the CNN") \
X("lcores.stats", U32, lcores_stats, 0, FP_CONF_MAX_LCORE - 1, "0", NULL, NULL, \
	"Stats lcore: the EAL main lcore; counts verdicts and writes logs and exports") \
X("flow.window", DBL, flow_window, 1, 3600, "60", NULL, NULL, \
	"Length of a flow window (one FlowPic) in seconds") \
X("flow.idle_timeout.tcp", DBL, flow_idle_tcp, 1, 86400, "120", NULL, NULL, \
	"A TCP flow idle this many seconds is closed and its last window classified") \
X("flow.idle_timeout.udp", DBL, flow_idle_udp, 1, 86400, "60", NULL, NULL, \
	"A UDP flow idle this many seconds is closed and its last window classified") \
X("flow.idle_timeout.other", DBL, flow_idle_other, 1, 86400, "30", NULL, NULL, \
	"A flow of another IP protocol idle this many seconds is closed") \
X("flow.min_packets", U32, flow_min_packets, 1, 1000000, "10", NULL, NULL, \
	"Windows with fewer packets are not classified (counted as unclassified)") \
X("flow.table_size", U32, flow_table_size, 64, 67108864, "262144", NULL, NULL, \
	"Flows each RX lcore can track at once") \
X("flow.max_packets_per_window", U32, flow_max_packets, 16, 1048576, "16384", NULL, NULL, \
	"Packet records kept per window; past it the records are thinned to every 2nd, 4th, ... packet, drawn with that weight") \
X("flow.clock", ENUM, flow_clock, 0, 0, "auto", \
	FP_CONF_ENUM_VALS({ "auto", FP_CONF_CLOCK_AUTO }, { "tsc", FP_CONF_CLOCK_TSC }, \
		{ "packet", FP_CONF_CLOCK_PACKET }), NULL, \
	"Packet times: tsc = arrival on this host, packet = the NIC's or capture's Rx " \
	"timestamp, auto = packet when every port replays a capture (net_pcap rx_pcap), else tsc") \
X("flowpic.resolution", U32, flowpic_resolution, 0, 1500, "0", NULL, &conf_rule_resolution, \
	"FlowPic side R (R x R picture); 0 takes the model's") \
X("flowpic.direction", ENUM, flowpic_direction, 0, 0, "model", \
	FP_CONF_ENUM_VALS({ "model", FP_CONF_DIR_MODEL }, { "both", FP_DIR_BOTH }, \
		{ "up", FP_DIR_UP }, { "down", FP_DIR_DOWN }), NULL, \
	"Packets drawn: model = as the model was trained, both, up (initiator's) or down") \
X("model.path", STR, model_path, 0, 0, "models/flowpic-32.fpm", NULL, NULL, \
	"Model file; a relative path is taken from the current working directory") \
X("model.confidence", DBL, model_confidence, 0, 1, "0.5", NULL, NULL, \
	"Verdicts whose top class probability is below this are reported as unknown") \
X("model.batch", U32, model_batch, 1, 1024, "32", NULL, NULL, \
	"FlowPics a worker classifies in one inference call at most") \
X("rings.windows", U32, rings_windows, 64, 1048576, "4096", NULL, &conf_rule_pow2, \
	"Slots of each RX-to-worker ring of completed windows") \
X("rings.verdicts", U32, rings_verdicts, 64, 1048576, "8192", NULL, &conf_rule_pow2, \
	"Slots of each worker-to-stats ring of verdicts") \
X("mempool.mbufs", U32, mempool_mbufs, 1024, 67108864, "65535", NULL, NULL, \
	"Packet buffers in the mbuf pool (2^n - 1 is the most memory-efficient)") \
X("mempool.cache", U32, mempool_cache, 0, 512, "256", NULL, NULL, \
	"Per-lcore cache of the mbuf pool") \
X("mempool.record_chunks", U32, mempool_record_chunks, 1024, 268435456, "262144", NULL, NULL, \
	"Chunks of packet-record storage shared by all open windows") \
X("rx.burst", U32, rx_burst, 1, 512, "32", NULL, NULL, \
	"Packets an RX lcore asks a queue for in one call") \
X("rx.ring_size", U32, rx_ring_size, 64, 16384, "1024", NULL, NULL, \
	"RX descriptors per queue (lowered to the NIC's maximum)") \
X("rx.promiscuous", BOOL, rx_promiscuous, 0, 0, "true", NULL, NULL, \
	"Put ports in promiscuous mode (needed for mirrored traffic)") \
X("export.metrics", STR, export_metrics, 0, 0, "127.0.0.1:9750", NULL, &conf_rule_endpoint, \
	"Serve Prometheus metrics over HTTP on ADDR:PORT; empty = off") \
X("export.verdicts", STR, export_verdicts, 0, 0, "''", NULL, NULL, \
	"Append one JSON line per classified window to this file; empty = off") \
X("export.verdicts_max_bytes", U64, export_verdicts_max_bytes, 1048576, 1099511627776.0, \
	"104857600", NULL, NULL, \
	"When the verdict file reaches this size it is renamed to PATH.1 and a new one begun") \
X("export.stats_json", STR, export_stats_json, 0, 0, "''", NULL, NULL, \
	"Write the final counters as JSON to this file at exit; empty = off") \
X("stats.interval", DBL, stats_interval, 0.1, 3600, "1", NULL, NULL, \
	"Seconds between two updates of the counters and metrics") \
X("log.summary_interval", DBL, log_summary_interval, 0, 86400, "10", NULL, NULL, \
	"Seconds between two one-line summaries in the log; 0 = off") \
X("log.level", ENUM, log_level, 0, 0, "info", \
	FP_CONF_ENUM_VALS({ "error", FP_CONF_LOG_ERROR }, { "warning", FP_CONF_LOG_WARNING }, \
		{ "notice", FP_CONF_LOG_NOTICE }, { "info", FP_CONF_LOG_INFO }, \
		{ "debug", FP_CONF_LOG_DEBUG }), NULL, \
	"Log verbosity")

#endif /* FP_CONF_KEYS_H */

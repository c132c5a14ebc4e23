/* Counter snapshots: the stats lcore publishes them; exporters (metrics, telemetry) read them. */
#ifndef FPD_SNAPSHOT_H
#define FPD_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "fp_reasons.h"

#define FPD_SNAP_MAX_CATS (256 + 3)
#define FPD_SNAP_MAX_QUEUES 64
#define FPD_SNAP_MAX_WORKERS 64
#define FPD_SNAP_LAT_BUCKETS 16

/** DPDK mempools shown by the exporters. */
enum fpd_snap_pool {
	FPD_POOL_MBUFS = 0,		/**< packet buffers (mempool.mbufs) */
	FPD_POOL_RECORD_CHUNKS,		/**< packet-record chunks (mempool.record_chunks) */
	FPD_POOL_MAX
};

/** One RX queue (port, queue) as polled by an RX lcore. */
struct fpd_snap_queue {
	uint16_t port;
	uint16_t queue;
	uint64_t packets;
	uint64_t bytes;
};

/**
 * Everything an exporter shows, as of one pass of the stats lcore. Counters are cumulative
 * since start (monotonic); rx_*_rate fields are per second over the last interval, the
 * categories' over the last cat_rate_span_s (two windows, see snapshot.c).
 *
 * The RX and worker counters are read while those lcores run, so a live snapshot is not one
 * instant of the whole pipeline, but it keeps one promise exactly: the categories never hold
 * more than was received. RX counts a burst's packets and bytes in its queue counters before
 * it accounts any of them anywhere else (release fence), and the snapshot reads every category
 * counter before the queue counters (acquire fence), so in every snapshot
 * sum(cat[].packets) <= rx_packets = sum(queue[].packets), and the same for bytes. The
 * difference is what is in flight: packets in open windows of the flow tables, in windows on
 * the rings and in workers' batches, verdicts not yet counted, and packets received while the
 * snapshot was taken. Once finished is 1 the two are equal.
 */
struct fpd_snapshot {
	uint64_t seq;			/**< publication number, 1 for the first */
	double uptime_s;		/**< seconds since the data path started */
	double interval_s;		/**< span of the rx rates */
	double cat_rate_span_s;		/**< span of the category rates */
	double window_s;		/**< flow.window, seconds */
	uint32_t n_cats;
	struct {
		uint64_t packets, bytes, flows, windows;
		double packets_rate, bits_rate;
	} cat[FPD_SNAP_MAX_CATS];
	uint64_t rx_packets, rx_bytes;	/**< sums of queue[] */
	double rx_packets_rate, rx_bits_rate;
	uint32_t n_queues;
	struct fpd_snap_queue queue[FPD_SNAP_MAX_QUEUES];
	uint64_t parse_drops[FP_PARSE_REASON_MAX];	/**< packets by parse reason ([0] unused) */
	uint64_t pipe_drops[FP_PIPE_REASON_MAX];	/**< packets by pipeline reason */
	uint64_t nic_imissed, nic_ierrors, nic_rx_nombuf;
	uint64_t flows_active;
	uint64_t windows_sent;
	/** Objects taken from each mempool and not given back (per-lcore caches count as free). */
	struct {
		uint64_t in_use, size;
	} pool[FPD_POOL_MAX];
	uint32_t n_workers;
	struct {
		uint64_t windows, batches;
		double busy;			/**< share of the last interval spent working, 0..1 */
		uint32_t ring_used;		/**< windows waiting in this worker's input rings */
		uint32_t ring_size;		/**< their total capacity */
	} worker[FPD_SNAP_MAX_WORKERS];
	/** Inference latency per batch: lat_count[i] batches took < lat_le_s[i] (cumulative). */
	double lat_le_s[FPD_SNAP_LAT_BUCKETS];
	uint64_t lat_count[FPD_SNAP_LAT_BUCKETS];
	uint64_t lat_total;		/**< batches */
	double lat_sum_s;		/**< seconds spent in inference, all batches */
	int finished;			/**< 1 once the data path has stopped (final counters) */
};

struct fpd_app;

/**
 * Copy the latest snapshot into out. Safe from any thread, lock-free (seqlock over two
 * buffers; retries while the stats lcore is mid-publication). Returns 0, or -EAGAIN before
 * the first publication.
 */
int fpd_snapshot_read(const struct fpd_app *app, struct fpd_snapshot *out);

/** Stats lcore only: build and publish a new snapshot from every stage's counters. */
void fpd_snapshot_publish(struct fpd_app *app, int finished);

#endif /* FPD_SNAPSHOT_H */

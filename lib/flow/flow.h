/* Per-RX-core flow table: cuts each flow into fixed time windows of packet records. */
#ifndef FP_FLOW_H
#define FP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "fp_rec.h"
#include "pkt.h"

/**
 * @file
 * One table per RX core, used by that core's thread only: no locks, no atomics, no allocation
 * per packet except record chunks taken from the owner's allocator.
 *
 * Windows. A flow's windows are consecutive spans of window_us from the flow's first packet:
 * window k covers [start + k * W, start + (k + 1) * W). A packet at time t belongs to window
 * floor((t - start) / W); windows without packets are never emitted, so indices may skip. A
 * window is emitted (handed to ops.emit) when:
 *  - a packet of the flow arrives at or past its end (FP_WIN_END_TIME);
 *  - the sweep finds its end has passed (FP_WIN_END_TIME);
 *  - the flow goes idle: no packet for the protocol class's idle timeout. The window's reason
 *    is FP_WIN_END_TIME if its end came no later than last packet + timeout, else
 *    FP_WIN_END_IDLE, so the reason does not depend on when the sweep ran;
 *  - the table is full and the flow is the longest idle one, to within 1/256 of the shortest
 *    idle timeout (FP_WIN_END_EVICT, or TIME if its end had already passed);
 *  - fp_flow_table_flush() (FP_WIN_END_FLUSH, or TIME / IDLE as above at the flush time).
 * A packet of a flow idle for its timeout or longer ends that flow and starts a new one (new
 * start, window 0), whether or not a sweep has expired it yet.
 *
 * Time. Times are microseconds from any origin, given by the caller. Time going backwards is
 * tolerated: a packet earlier than its flow's current window start counts as arriving at that
 * start (record t_us 0); it never reopens an emitted window. Idle time is measured from the
 * latest packet seen.
 *
 * Records. Each packet of a window becomes one struct fp_pkt_rec (t_us from the window start,
 * size = IP total length saturated at 65535, dir 0 when it goes the same way as the flow's
 * first packet, flags = the parser's FP_PKT_F_* flags), up to max_records per window. Past the
 * cap the window is sampled, not cut: when a packet would be record max_records + 1, every
 * other record is dropped (positions 0, 2, 4, ... stay) and the window's shift grows by one;
 * from then on only packets whose index in the window is a multiple of 2^shift are recorded.
 * So each record stands for 2^shift packets, the records keep covering the whole window, and
 * a picture drawn with weight 2^shift (fp_flowpic_add_weighted()) estimates the histogram of
 * all the packets. Thinning costs O(max_records) and happens log2(packets / max_records) times
 * per window at most. Packets not recorded this way count in packets and bytes (sampled_out);
 * shift stops at FP_WIN_SHIFT_MAX (later packets are then counted only). Records live in
 * FP_FLOW_CHUNK_SIZE-byte chunks from ops.alloc_chunk; the first chunk of a window holds the struct fp_window header
 * followed by FP_WIN_HEAD_RECS records, later ones a struct fp_rec_chunk header and
 * FP_CHUNK_RECS records. If the allocator returns NULL the packet is counted but not recorded
 * (window flag FP_WIN_F_NO_MEM, counter recs_no_mem), and so are the window's later packets
 * without asking the allocator again: the records stay a gap-free prefix of the window, as
 * with the cap, and an exhausted pool costs one failed call per window, not one per packet.
 * If no chunk at all could be had for a
 * window, a last attempt is made when it is emitted, and if that fails too the window is
 * dropped and counted in windows_no_mem.
 */

/** Size of one record chunk: what ops.alloc_chunk must return, 8-byte aligned at least. */
#define FP_FLOW_CHUNK_SIZE 512u

/** Why a window was emitted. */
enum fp_win_end {
	FP_WIN_END_TIME = 0,	/**< the window's time span ended */
	FP_WIN_END_IDLE,	/**< the flow went idle before the window's end */
	FP_WIN_END_EVICT,	/**< the flow was evicted from a full table */
	FP_WIN_END_FLUSH,	/**< fp_flow_table_flush() */
	FP_WIN_END_MAX
};

/** Protocol classes with their own idle timeout. */
enum fp_flow_class {
	FP_FLOW_CLASS_TCP = 0,
	FP_FLOW_CLASS_UDP,
	FP_FLOW_CLASS_OTHER,
	FP_FLOW_CLASS_MAX
};

/* Window flags (struct fp_window.flags). */
#define FP_WIN_F_SAMPLED	0x01	/**< the window passed max_records: records are sampled */
#define FP_WIN_F_NO_MEM	0x02	/**< packets were not recorded for lack of chunks */

/** Header of a record chunk; cap records follow it (use fp_rec_chunk_recs()). */
struct fp_rec_chunk {
	struct fp_rec_chunk *next;	/**< next chunk of the window, NULL for the last */
	uint32_t n;			/**< records used */
	uint32_t cap;			/**< records that fit */
};

/**
 * A completed window, as ops.emit receives it. It lives at the start of the window's first
 * chunk; its records follow in chunk order, oldest first. Whoever holds it frees it with
 * fp_window_free(), from any thread, as long as ops.free_chunk may be called from there.
 */
struct fp_window {
	struct fp_flow_key key;	/**< the flow's canonical key */
	uint64_t start_us;	/**< absolute start of this window: flow start + index * W */
	uint64_t bytes;		/**< wire bytes (frame lengths) of its packets */
	uint32_t index;		/**< window number from the flow's first packet */
	uint32_t packets;	/**< packets in the window, recorded or not (saturates) */
	uint32_t n_records;	/**< records in the chunk chain */
	uint32_t sampled_out;	/**< packets not recorded by sampling (saturates) */
	uint32_t no_mem;	/**< packets not recorded because the allocator failed */
	uint8_t end_reason;	/**< enum fp_win_end */
	uint8_t init_swapped;	/**< 1 when the flow's first packet went from hi to lo */
	uint8_t flags;		/**< FP_WIN_F_* */
	uint8_t shift;		/**< each record stands for 2^shift packets */
	struct fp_rec_chunk chunk;	/**< first chunk's header; its records follow */
};

/** Largest struct fp_window.shift: a record then stands for 2^31 packets. */
#define FP_WIN_SHIFT_MAX 31u

/** Records that fit after the window header in the first chunk. */
#define FP_WIN_HEAD_RECS \
	((FP_FLOW_CHUNK_SIZE - sizeof(struct fp_window)) / sizeof(struct fp_pkt_rec))
/** Records that fit in a later chunk. */
#define FP_CHUNK_RECS \
	((FP_FLOW_CHUNK_SIZE - sizeof(struct fp_rec_chunk)) / sizeof(struct fp_pkt_rec))

/** The records of a chunk (c->n of them are valid). */
static inline struct fp_pkt_rec *
fp_rec_chunk_recs(struct fp_rec_chunk *c)
{
	return (struct fp_pkt_rec *)(c + 1);
}

/** First chunk of a window; walk the others with ->next. */
static inline struct fp_rec_chunk *
fp_window_chunks(struct fp_window *w)
{
	return &w->chunk;
}

/** Callbacks supplied by the table's owner. */
struct fp_flow_table_ops {
	/** One FP_FLOW_CHUNK_SIZE-byte chunk, or NULL when none is left. */
	void *(*alloc_chunk)(void *ctx);
	/** Give back a chunk from alloc_chunk; may run on another thread (a worker). */
	void (*free_chunk)(void *ctx, void *chunk);
	/** Take ownership of a completed window (enqueue it, or fp_window_free() it). */
	void (*emit)(void *ctx, struct fp_window *w);
	void *ctx;		/**< passed to each callback */
};

/** Table settings. */
struct fp_flow_table_conf {
	uint32_t capacity;	/**< most flows, a power of two, 16 .. 2^26 */
	uint64_t window_us;	/**< window length W, 1 us .. 3600 s */
	uint64_t idle_us[FP_FLOW_CLASS_MAX];	/**< idle timeout per class, >= 1 us */
	uint32_t max_records;	/**< records kept per window before sampling, 1 .. 2^24 */
	struct fp_flow_table_ops ops;	/**< all three callbacks are required */
};

/** Counters of one table; written by its owner thread only. */
struct fp_flow_counters {
	uint64_t packets;		/**< packets added */
	uint64_t bytes;			/**< wire bytes added */
	uint64_t flows_created;
	uint64_t flows_active;		/**< flows in the table now */
	uint64_t flows_idle;		/**< flows removed after their idle timeout */
	uint64_t flows_evicted;		/**< flows removed to make room (TABLE_EVICT) */
	uint64_t flows_flushed;		/**< flows removed by fp_flow_table_flush() */
	uint64_t windows[FP_WIN_END_MAX];	/**< windows emitted, by end reason */
	uint64_t windows_no_mem;	/**< windows dropped: no chunk for the header */
	uint64_t packets_no_mem;	/**< packets of the dropped windows */
	uint64_t bytes_no_mem;		/**< wire bytes of the dropped windows */
	uint64_t recs_sampled_out;	/**< packets not recorded by sampling (WINDOW_SAMPLED) */
	uint64_t recs_no_mem;		/**< packets not recorded, allocator empty (NO_RECORD_MEM) */
	uint64_t chunks_alloc_failed;	/**< alloc_chunk calls that returned NULL */
};

struct fp_flow_table;

/**
 * Create a table. Returns NULL with errno = EINVAL for a NULL conf, a capacity that is not a
 * power of two in 16 .. 2^26, a window_us of 0 or above 3600 s, an idle timeout of 0, a
 * max_records outside 1 .. 2^24 or a missing callback; ENOMEM when out of memory. The caller
 * frees it with fp_flow_table_free().
 */
struct fp_flow_table *
fp_flow_table_create(const struct fp_flow_table_conf *conf);

/**
 * Free a table and the chunks of its open windows (nothing is emitted; flush first to get
 * them). NULL is a no-op.
 */
void
fp_flow_table_free(struct fp_flow_table *t);

/**
 * Add n parsed packets (metas from fp_pkt_parse() that returned FP_PARSE_OK), packet i at
 * time t_us[i]. Looks up the burst's index slots and entries with prefetches before updating
 * them in order. May call ops.emit (windows that end) and ops.alloc_chunk. Returns n.
 */
uint32_t
fp_flow_table_add_burst(struct fp_flow_table *t, const struct fp_pkt_meta *metas, uint32_t n,
		const uint64_t *t_us);

/** Add one packet; same as a burst of one. */
void
fp_flow_table_add(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint64_t t_us);

/**
 * Periodic housekeeping at time now_us, doing at most budget units of work: expire flows idle
 * for their timeout (oldest first, O(1) each, from per-class lists ordered by last packet to
 * within 1/256 of the shortest idle timeout, see docs/FLOWS.md), then advance a cursor over
 * the table emitting the open windows whose end has passed. Returns the number of windows
 * emitted plus flows removed.
 */
uint32_t
fp_flow_table_sweep(struct fp_flow_table *t, uint64_t now_us, uint32_t budget);

/**
 * Emit every open window and remove every flow, at time now_us (the reason is TIME or IDLE
 * when that already holds at now_us, else FLUSH). Returns the number of windows emitted.
 */
uint32_t
fp_flow_table_flush(struct fp_flow_table *t, uint64_t now_us);

/** The table's counters (valid until fp_flow_table_free()). */
const struct fp_flow_counters *
fp_flow_table_counters(const struct fp_flow_table *t);

/** Bytes of table state per flow: entry (key included) plus its share of the index. */
size_t
fp_flow_table_bytes_per_flow(void);

/**
 * Free a window's chunks through ops->free_chunk, the header's chunk last. NULL w is a no-op.
 */
void
fp_window_free(const struct fp_flow_table_ops *ops, struct fp_window *w);

/**
 * Copy up to max of a window's records, in order, into out. Returns how many were copied
 * (min(max, w->n_records)).
 */
uint32_t
fp_window_copy_records(struct fp_window *w, struct fp_pkt_rec *out, uint32_t max);

/** Protocol class of an IP protocol number (TCP, UDP, everything else). */
static inline enum fp_flow_class
fp_flow_class_of(uint8_t proto)
{
	return proto == 6 ? FP_FLOW_CLASS_TCP :
		proto == 17 ? FP_FLOW_CLASS_UDP : FP_FLOW_CLASS_OTHER;
}

/** Label of an end reason ("time", "idle", "evict", "flush"), "invalid" otherwise. */
const char *
fp_win_end_label(unsigned int reason);

#endif /* FP_FLOW_H */

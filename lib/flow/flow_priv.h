/* Flow table internals shared by table.c (index, lists, API) and window.c (records, emit). */
#ifndef FP_FLOW_PRIV_H
#define FP_FLOW_PRIV_H

#include <stdint.h>

#include "flow.h"

#define FLOW_NIL UINT32_MAX
#define FLOW_CLS_FREE 0xff

/*
 * One flow, 112 bytes: key, open window state and LRU links. The window's record count is
 * n_records; packets not recorded are sampled out (past the cap) or missing for lack of chunks
 * (packets - n_records - sampled_out); each record stands for 2^shift packets.
 */
struct flow_entry {
	struct fp_flow_key key;
	struct fp_window *head;		/* first chunk of the open window, NULL before any */
	struct fp_rec_chunk *tail;	/* chunk records are appended to */
	uint64_t win_start;		/* absolute start of the open window */
	uint64_t last_seen;		/* latest packet time of the flow */
	uint64_t bytes;			/* wire bytes in the open window */
	uint32_t lru_prev;		/* per-class list by last packet; free list uses next */
	uint32_t lru_next;
	uint32_t win_index;		/* index of the open window */
	uint32_t packets;		/* packets in the open window */
	uint32_t n_records;
	uint32_t sampled_out;
	uint8_t init_swapped;		/* the first packet went hi -> lo */
	uint8_t cls;			/* enum fp_flow_class, FLOW_CLS_FREE when unused */
	uint8_t flags;			/* FP_WIN_F_* of the open window */
	uint8_t shift;			/* records stand for 2^shift packets */
	uint32_t lru_tick;		/* last_seen >> lru_shift when last moved to its list's tail */
};

_Static_assert(sizeof(struct flow_entry) <= 112, "flow entry must stay within 112 bytes");

/* Index slot: the key's hash and the entry's position; idx FLOW_NIL marks an empty slot. */
struct flow_slot {
	uint32_t hash;
	uint32_t idx;
};

struct flow_list {
	uint32_t head;			/* oldest */
	uint32_t tail;			/* newest */
};

struct fp_flow_table {
	struct flow_entry *entries;	/* capacity entries */
	struct flow_slot *slots;	/* 2 * capacity slots, linear probing */
	uint32_t capacity;
	uint32_t slot_mask;
	uint32_t free_head;		/* free entries, linked by lru_next */
	uint32_t cursor;		/* sweep position in entries */
	uint32_t gen;			/* bumped on every insert and removal */
	uint32_t max_records;
	uint32_t lru_shift;		/* LRU grain: 2^lru_shift us, see table.c */
	uint64_t window_us;
	uint64_t idle_us[FP_FLOW_CLASS_MAX];
	struct flow_list lru[FP_FLOW_CLASS_MAX];
	struct fp_flow_table_ops ops;
	struct fp_flow_counters cnt;
};

/* window.c */
void flow_window_record(struct fp_flow_table *t, struct flow_entry *e,
		const struct fp_pkt_meta *m, uint32_t t_rel);
void flow_window_emit(struct fp_flow_table *t, struct flow_entry *e, enum fp_win_end reason);
void flow_window_discard(struct fp_flow_table *t, struct flow_entry *e);

#endif /* FP_FLOW_PRIV_H */

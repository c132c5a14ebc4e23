/* Flow windows: append packet records to chunk chains, hand completed windows over, free them. */
#include <string.h>

#include "flow_priv.h"

/* Reset the open-window state of an entry (its chunks already given away or freed). */
static inline void
window_clear(struct flow_entry *e)
{
	e->head = NULL;
	e->tail = NULL;
	e->bytes = 0;
	e->packets = 0;
	e->n_records = 0;
	e->sampled_out = 0;
	e->shift = 0;
	e->flags = 0;
}

/* Start a chunk chain with p as the window header chunk. */
static inline struct fp_rec_chunk *
window_head_init(struct flow_entry *e, void *p)
{
	struct fp_window *w = p;

	w->chunk.next = NULL;
	w->chunk.n = 0;
	w->chunk.cap = (uint32_t)FP_WIN_HEAD_RECS;
	e->head = w;
	return &w->chunk;
}

/* Get a chunk with room for one more record, or NULL when the allocator is empty. */
static inline struct fp_rec_chunk *
window_room(struct fp_flow_table *t, struct flow_entry *e)
{
	struct fp_rec_chunk *c = e->tail, *nc;
	void *p;

	if (c != NULL && c->n < c->cap)
		return c;
	p = t->ops.alloc_chunk(t->ops.ctx);
	if (p == NULL) {
		t->cnt.chunks_alloc_failed++;
		return NULL;
	}
	if (c == NULL) {
		nc = window_head_init(e, p);
	} else {
		nc = p;
		nc->next = NULL;
		nc->n = 0;
		nc->cap = (uint32_t)FP_CHUNK_RECS;
		c->next = nc;
	}
	e->tail = nc;
	return nc;
}

/* Count n packets of the open window as sampled out. */
static inline void
window_sample_out(struct fp_flow_table *t, struct flow_entry *e, uint32_t n)
{
	e->sampled_out = e->sampled_out > UINT32_MAX - n ? UINT32_MAX : e->sampled_out + n;
	t->cnt.recs_sampled_out += n;
}

/* Whether the packet of index idx in the window falls on the sampling stride 2^shift. */
static inline int
window_due(const struct flow_entry *e, uint32_t idx)
{
	return (idx & ((1u << e->shift) - 1)) == 0;
}

/*
 * Halve a full window's records: keep positions 0, 2, 4, ... (packet indices that are
 * multiples of 2^(shift + 1)), compacting them in place towards the head, free the chunks left
 * empty and bump the shift. The write position never passes the read position.
 */
static void
window_thin(struct fp_flow_table *t, struct flow_entry *e)
{
	struct fp_rec_chunk *wc = fp_window_chunks(e->head), *c, *next;
	struct fp_pkt_rec *wr = fp_rec_chunk_recs(wc);
	uint32_t pos = 0, wi = 0, kept;

	for (c = wc; c != NULL; c = c->next) {
		const struct fp_pkt_rec *rr = fp_rec_chunk_recs(c);

		for (uint32_t i = 0; i < c->n; i++, pos++) {
			if (pos & 1)
				continue;
			if (wi == wc->cap) {
				wc->n = wi;
				wc = wc->next;
				wr = fp_rec_chunk_recs(wc);
				wi = 0;
			}
			wr[wi++] = rr[i];
		}
	}
	for (c = wc->next; c != NULL; c = next) {
		next = c->next;
		t->ops.free_chunk(t->ops.ctx, c);
	}
	wc->n = wi;
	wc->next = NULL;
	e->tail = wc;
	kept = (pos + 1) / 2;
	window_sample_out(t, e, pos - kept);
	e->n_records = kept;
	e->shift++;
	e->flags |= FP_WIN_F_SAMPLED;
}

/*
 * Count a packet in the open window and record it when the sampling stride, the cap and the
 * allocator allow (see "Records" in flow.h).
 */
void
flow_window_record(struct fp_flow_table *t, struct flow_entry *e, const struct fp_pkt_meta *m,
		uint32_t t_rel)
{
	const uint32_t idx = e->packets;	/* this packet's index in the window */
	struct fp_rec_chunk *c;
	struct fp_pkt_rec *r;

	e->packets += e->packets != UINT32_MAX;	/* saturates: ~1.2 Mpps for an hour */
	e->bytes += m->frame_len;
	/* a packet due at the stride into a full window thins it first (the stride doubles) */
	if (window_due(e, idx) && e->n_records >= t->max_records && e->shift < FP_WIN_SHIFT_MAX)
		window_thin(t, e);
	if (!window_due(e, idx) || e->n_records >= t->max_records) {
		window_sample_out(t, e, 1);
		return;
	}
	if (e->flags & FP_WIN_F_NO_MEM) {
		/* the allocator failed earlier in this window: no holes, no retry per packet */
		t->cnt.recs_no_mem++;
		return;
	}
	c = window_room(t, e);
	if (c == NULL) {
		e->flags |= FP_WIN_F_NO_MEM;
		t->cnt.recs_no_mem++;
		return;
	}
	r = fp_rec_chunk_recs(c) + c->n++;
	r->t_us = t_rel;
	r->size = m->ip_len > UINT16_MAX ? UINT16_MAX : (uint16_t)m->ip_len;
	r->dir = m->swapped ^ e->init_swapped;
	r->flags = m->flags;
	e->n_records++;
}

/*
 * Hand the open window to ops.emit (when it has packets) and clear it. A window that never got
 * a chunk gets its header chunk now; without one it is dropped and counted.
 */
void
flow_window_emit(struct fp_flow_table *t, struct flow_entry *e, enum fp_win_end reason)
{
	struct fp_window *w = e->head;

	if (e->packets == 0)
		return;
	if (w == NULL) {
		void *p = t->ops.alloc_chunk(t->ops.ctx);

		if (p == NULL) {
			t->cnt.chunks_alloc_failed++;
			t->cnt.windows_no_mem++;
			t->cnt.packets_no_mem += e->packets;
			t->cnt.bytes_no_mem += e->bytes;
			window_clear(e);
			return;
		}
		window_head_init(e, p);
		w = e->head;
	}
	w->key = e->key;
	w->start_us = e->win_start;
	w->bytes = e->bytes;
	w->index = e->win_index;
	w->packets = e->packets;
	w->n_records = e->n_records;
	w->sampled_out = e->sampled_out;
	w->no_mem = e->packets - e->n_records >= e->sampled_out ?
		e->packets - e->n_records - e->sampled_out : 0;
	w->end_reason = (uint8_t)reason;
	w->init_swapped = e->init_swapped;
	w->flags = e->flags;
	w->shift = e->shift;
	t->cnt.windows[reason]++;
	window_clear(e);
	t->ops.emit(t->ops.ctx, w);
}

/* Free the open window's chunks without emitting it. */
void
flow_window_discard(struct fp_flow_table *t, struct flow_entry *e)
{
	if (e->head != NULL)
		fp_window_free(&t->ops, e->head);
	window_clear(e);
}

void
fp_window_free(const struct fp_flow_table_ops *ops, struct fp_window *w)
{
	struct fp_rec_chunk *c, *next;

	if (w == NULL)
		return;
	for (c = w->chunk.next; c != NULL; c = next) {
		next = c->next;
		ops->free_chunk(ops->ctx, c);
	}
	ops->free_chunk(ops->ctx, w);
}

uint32_t
fp_window_copy_records(struct fp_window *w, struct fp_pkt_rec *out, uint32_t max)
{
	struct fp_rec_chunk *c;
	uint32_t n = 0, k;

	for (c = fp_window_chunks(w); c != NULL && n < max; c = c->next) {
		k = c->n < max - n ? c->n : max - n;
		memcpy(out + n, fp_rec_chunk_recs(c), (size_t)k * sizeof(*out));
		n += k;
	}
	return n;
}

const char *
fp_win_end_label(unsigned int reason)
{
	static const char *const labels[FP_WIN_END_MAX] = {
		[FP_WIN_END_TIME] = "time",
		[FP_WIN_END_IDLE] = "idle",
		[FP_WIN_END_EVICT] = "evict",
		[FP_WIN_END_FLUSH] = "flush",
	};

	return reason < FP_WIN_END_MAX ? labels[reason] : "invalid";
}

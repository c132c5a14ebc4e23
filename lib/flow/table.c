/* Flow table: open-addressing index, per-class LRU lists, packet bursts, sweep and flush. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_priv.h"

#define FLOW_CAPACITY_MIN 16u
#define FLOW_CAPACITY_MAX (1u << 26)
#define FLOW_WINDOW_MAX_US 3600000000ull
#define FLOW_MAX_RECORDS (1u << 24)
#define FLOW_BURST 32u

static void *
zalloc_aligned(size_t size)
{
	size_t sz = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, sz);

	if (p != NULL)
		memset(p, 0, sz);
	return p;
}

static int
conf_valid(const struct fp_flow_table_conf *c)
{
	if (c == NULL)
		return 0;
	if (c->capacity < FLOW_CAPACITY_MIN || c->capacity > FLOW_CAPACITY_MAX ||
			(c->capacity & (c->capacity - 1)) != 0)
		return 0;
	if (c->window_us == 0 || c->window_us > FLOW_WINDOW_MAX_US)
		return 0;
	for (int i = 0; i < FP_FLOW_CLASS_MAX; i++)
		if (c->idle_us[i] == 0)
			return 0;
	if (c->max_records == 0 || c->max_records > FLOW_MAX_RECORDS)
		return 0;
	return c->ops.alloc_chunk != NULL && c->ops.free_chunk != NULL && c->ops.emit != NULL;
}

/*
 * LRU grain. Moving a flow to its list's tail on every packet costs three cache lines (the
 * flow's neighbours and the old tail); a flow is moved only when its packet falls in a later
 * grain of 2^lru_shift us than its last move. The lists stay ordered by last move, and a
 * flow's last packet is less than one grain after its last move, so the head is the longest
 * idle flow to within one grain: 1/256 of the shortest idle timeout or less (65 ms for the
 * default 30 s), which bounds how late an idle flow can be found by the sweep and how far
 * from the true longest-idle flow an eviction can be.
 */
static uint32_t
lru_shift_of(const uint64_t *idle_us)
{
	uint64_t g = idle_us[0];
	uint32_t s = 0;

	for (int i = 1; i < FP_FLOW_CLASS_MAX; i++)
		if (idle_us[i] < g)
			g = idle_us[i];
	g /= 256;
	while (s < 31 && (2ull << s) <= g)
		s++;
	return g == 0 ? 0 : s;
}

struct fp_flow_table *
fp_flow_table_create(const struct fp_flow_table_conf *conf)
{
	struct fp_flow_table *t;
	uint32_t i, nslots;

	if (!conf_valid(conf)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	nslots = conf->capacity * 2;
	t->entries = zalloc_aligned((size_t)conf->capacity * sizeof(*t->entries));
	t->slots = zalloc_aligned((size_t)nslots * sizeof(*t->slots));
	if (t->entries == NULL || t->slots == NULL)
		goto nomem;
	t->capacity = conf->capacity;
	t->slot_mask = nslots - 1;
	for (i = 0; i < nslots; i++)
		t->slots[i].idx = FLOW_NIL;
	for (i = 0; i < conf->capacity; i++) {
		t->entries[i].cls = FLOW_CLS_FREE;
		t->entries[i].lru_next = i + 1 < conf->capacity ? i + 1 : FLOW_NIL;
	}
	t->free_head = 0;
	t->window_us = conf->window_us;
	memcpy(t->idle_us, conf->idle_us, sizeof(t->idle_us));
	t->max_records = conf->max_records;
	t->lru_shift = lru_shift_of(conf->idle_us);
	for (i = 0; i < FP_FLOW_CLASS_MAX; i++)
		t->lru[i].head = t->lru[i].tail = FLOW_NIL;
	t->ops = conf->ops;
	return t;
nomem:
	if (t != NULL) {
		free(t->entries);
		free(t->slots);
		free(t);
	}
	errno = ENOMEM;
	return NULL;
}

void
fp_flow_table_free(struct fp_flow_table *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->capacity; i++)
		if (t->entries[i].cls != FLOW_CLS_FREE)
			flow_window_discard(t, &t->entries[i]);
	free(t->entries);
	free(t->slots);
	free(t);
}

const struct fp_flow_counters *
fp_flow_table_counters(const struct fp_flow_table *t)
{
	return &t->cnt;
}

size_t
fp_flow_table_bytes_per_flow(void)
{
	return sizeof(struct flow_entry) + 2 * sizeof(struct flow_slot);
}

/* ---- LRU lists (one per protocol class, oldest last packet at the head) ---- */

static inline void
lru_unlink(struct fp_flow_table *t, uint32_t idx)
{
	struct flow_entry *e = &t->entries[idx];
	struct flow_list *l = &t->lru[e->cls];

	if (e->lru_prev != FLOW_NIL)
		t->entries[e->lru_prev].lru_next = e->lru_next;
	else
		l->head = e->lru_next;
	if (e->lru_next != FLOW_NIL)
		t->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		l->tail = e->lru_prev;
}

static inline void
lru_push(struct fp_flow_table *t, uint32_t idx)
{
	struct flow_entry *e = &t->entries[idx];
	struct flow_list *l = &t->lru[e->cls];

	e->lru_next = FLOW_NIL;
	e->lru_prev = l->tail;
	if (l->tail != FLOW_NIL)
		t->entries[l->tail].lru_next = idx;
	else
		l->head = idx;
	l->tail = idx;
}

/* 1 when a packet at now moves e to its list's tail: it falls in a later LRU grain. */
static inline int
lru_due(const struct fp_flow_table *t, const struct flow_entry *e, uint64_t now)
{
	return (int32_t)((uint32_t)(now >> t->lru_shift) - e->lru_tick) > 0;
}

static inline void
lru_touch(struct fp_flow_table *t, uint32_t idx, uint64_t now)
{
	struct flow_entry *e = &t->entries[idx];

	if (!lru_due(t, e, now))
		return;
	e->lru_tick = (uint32_t)(now >> t->lru_shift);
	if (t->lru[e->cls].tail != idx) {
		lru_unlink(t, idx);
		lru_push(t, idx);
	}
}

/* ---- index: linear probing over 2 * capacity slots, backward-shift deletion ---- */

static inline uint32_t
index_find(const struct fp_flow_table *t, uint32_t hash, const struct fp_flow_key *key)
{
	uint32_t i = hash & t->slot_mask;

	for (;;) {
		const struct flow_slot *s = &t->slots[i];

		if (s->idx == FLOW_NIL)
			return FLOW_NIL;
		if (s->hash == hash && fp_flow_key_equal(&t->entries[s->idx].key, key))
			return s->idx;
		i = (i + 1) & t->slot_mask;
	}
}

static inline void
index_insert(struct fp_flow_table *t, uint32_t hash, uint32_t idx)
{
	uint32_t i = hash & t->slot_mask;

	while (t->slots[i].idx != FLOW_NIL)
		i = (i + 1) & t->slot_mask;
	t->slots[i].hash = hash;
	t->slots[i].idx = idx;
}

/* Remove entry idx's slot and shift later members of its probe run back (no tombstones). */
static void
index_remove(struct fp_flow_table *t, uint32_t idx)
{
	uint32_t mask = t->slot_mask;
	uint32_t i = fp_flow_key_hash(&t->entries[idx].key) & mask, j, home;

	while (t->slots[i].idx != idx)
		i = (i + 1) & mask;
	for (j = (i + 1) & mask; t->slots[j].idx != FLOW_NIL; j = (j + 1) & mask) {
		home = t->slots[j].hash & mask;
		/* slot j may move to the hole at i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i].idx = FLOW_NIL;
}

/* ---- flow life ---- */

/*
 * Reason for emitting e's window at time now, when now is not the window's natural end:
 * TIME if the window's end came first (no later than the idle point), IDLE if the idle
 * point came first, otherwise (neither has come) the caller's reason.
 */
static inline enum fp_win_end
end_reason(const struct fp_flow_table *t, const struct flow_entry *e, uint64_t now,
		enum fp_win_end early)
{
	uint64_t win_end = e->win_start + t->window_us;
	uint64_t idle_at = e->last_seen + t->idle_us[e->cls];

	if (win_end <= idle_at)
		return win_end <= now ? FP_WIN_END_TIME : early;
	return idle_at <= now ? FP_WIN_END_IDLE : early;
}

/* Emit e's window and remove the flow. */
static void
flow_remove(struct fp_flow_table *t, uint32_t idx, enum fp_win_end reason)
{
	struct flow_entry *e = &t->entries[idx];

	flow_window_emit(t, e, reason);
	index_remove(t, idx);
	lru_unlink(t, idx);
	e->cls = FLOW_CLS_FREE;
	e->lru_next = t->free_head;
	t->free_head = idx;
	t->cnt.flows_active--;
	t->gen++;
}

static inline int
flow_idle(const struct fp_flow_table *t, const struct flow_entry *e, uint64_t now)
{
	return now > e->last_seen && now - e->last_seen >= t->idle_us[e->cls];
}

/* Free one entry: expire an idle class head if any, else evict the longest idle flow. */
static void
flow_make_room(struct fp_flow_table *t, uint64_t now)
{
	uint32_t victim = FLOW_NIL;
	int c;

	for (c = 0; c < FP_FLOW_CLASS_MAX; c++) {
		uint32_t h = t->lru[c].head;

		if (h != FLOW_NIL && flow_idle(t, &t->entries[h], now)) {
			flow_remove(t, h, end_reason(t, &t->entries[h], now, FP_WIN_END_IDLE));
			t->cnt.flows_idle++;
			return;
		}
		if (h != FLOW_NIL && (victim == FLOW_NIL ||
				t->entries[h].last_seen < t->entries[victim].last_seen))
			victim = h;
	}
	flow_remove(t, victim, end_reason(t, &t->entries[victim], now, FP_WIN_END_EVICT));
	t->cnt.flows_evicted++;
}

static uint32_t
flow_create(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint32_t hash, uint64_t now)
{
	struct flow_entry *e;
	uint32_t idx;

	if (t->free_head == FLOW_NIL)
		flow_make_room(t, now);
	idx = t->free_head;
	e = &t->entries[idx];
	t->free_head = e->lru_next;
	e->key = m->key;
	e->head = NULL;
	e->tail = NULL;
	e->win_start = now;
	e->last_seen = now;
	e->bytes = 0;
	e->win_index = 0;
	e->packets = 0;
	e->n_records = 0;
	e->sampled_out = 0;
	e->shift = 0;
	e->init_swapped = m->swapped;
	e->cls = (uint8_t)fp_flow_class_of(m->key.proto);
	e->flags = 0;
	e->lru_tick = (uint32_t)(now >> t->lru_shift);
	index_insert(t, hash, idx);
	lru_push(t, idx);
	t->cnt.flows_created++;
	t->cnt.flows_active++;
	t->gen++;
	return idx;
}

/* Account one packet to flow idx (FLOW_NIL: not in the table) at time now. */
static inline void
flow_packet(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint32_t hash, uint32_t idx,
		uint64_t now)
{
	struct flow_entry *e;
	uint64_t rel;

	if (idx != FLOW_NIL && flow_idle(t, &t->entries[idx], now)) {
		flow_remove(t, idx, end_reason(t, &t->entries[idx], now, FP_WIN_END_IDLE));
		t->cnt.flows_idle++;
		idx = FLOW_NIL;
	}
	if (idx == FLOW_NIL)
		idx = flow_create(t, m, hash, now);
	e = &t->entries[idx];
	if (now < e->win_start) {
		rel = 0;	/* reordered: counts at the window start */
	} else {
		rel = now - e->win_start;
		if (rel >= t->window_us) {
			/* past the window's end: emit it, jump to the packet's window */
			uint64_t flow_start = e->win_start - (uint64_t)e->win_index * t->window_us;
			uint64_t k = (now - flow_start) / t->window_us;

			flow_window_emit(t, e, FP_WIN_END_TIME);
			if (k > UINT32_MAX) {
				/* 2^32 windows into the flow: number them again from here */
				e->win_index = 0;
				e->win_start = now;
			} else {
				e->win_index = (uint32_t)k;
				e->win_start = flow_start + k * t->window_us;
			}
			rel = now - e->win_start;
		}
	}
	flow_window_record(t, e, m, (uint32_t)rel);
	if (now > e->last_seen)
		e->last_seen = now;
	lru_touch(t, idx, now);
	t->cnt.packets++;
	t->cnt.bytes += m->frame_len;
}

/* First entry whose slot carries this hash (a likely match; the key is not compared). */
static inline uint32_t
index_peek(const struct fp_flow_table *t, uint32_t hash)
{
	uint32_t i = hash & t->slot_mask;

	while (t->slots[i].idx != FLOW_NIL && t->slots[i].hash != hash)
		i = (i + 1) & t->slot_mask;
	return t->slots[i].idx;
}

static inline void
prefetch_entry(const struct fp_flow_table *t, uint32_t idx)
{
	const char *p = (const char *)&t->entries[idx];

	__builtin_prefetch(p, 1, 3);
	__builtin_prefetch(p + 64, 1, 3);
}

uint32_t
fp_flow_table_add_burst(struct fp_flow_table *t, const struct fp_pkt_meta *metas, uint32_t n,
		const uint64_t *t_us)
{
	uint32_t hash[FLOW_BURST], idx[FLOW_BURST];
	uint32_t base, k, i, gen;

	/*
	 * Four passes over up to FLOW_BURST packets, so the cache misses of one pass overlap
	 * instead of following each other: index slots, entries, then what the update touches
	 * (the tail chunk and the LRU neighbours), then the updates in packet order.
	 */
	for (base = 0; base < n; base += k) {
		k = n - base < FLOW_BURST ? n - base : FLOW_BURST;
		for (i = 0; i < k; i++) {
			hash[i] = fp_flow_key_hash(&metas[base + i].key);
			__builtin_prefetch(&t->slots[hash[i] & t->slot_mask], 0, 3);
		}
		for (i = 0; i < k; i++) {
			idx[i] = index_peek(t, hash[i]);
			if (idx[i] != FLOW_NIL)
				prefetch_entry(t, idx[i]);
		}
		for (i = 0; i < k; i++) {
			const struct flow_entry *e;

			/* the peeked entry is the flow unless two keys share the hash */
			if (idx[i] == FLOW_NIL || !fp_flow_key_equal(&t->entries[idx[i]].key,
					&metas[base + i].key))
				idx[i] = index_find(t, hash[i], &metas[base + i].key);
			if (idx[i] == FLOW_NIL)
				continue;
			e = &t->entries[idx[i]];
			if (e->tail != NULL)
				__builtin_prefetch(e->tail, 1, 3);
			if (!lru_due(t, e, t_us[base + i]))
				continue;
			if (e->lru_prev != FLOW_NIL)
				__builtin_prefetch(&t->entries[e->lru_prev], 1, 3);
			if (e->lru_next != FLOW_NIL)
				__builtin_prefetch(&t->entries[e->lru_next], 1, 3);
		}
		/* an insert or removal makes the remaining lookups stale */
		gen = t->gen;
		for (i = 0; i < k; i++) {
			const struct fp_pkt_meta *m = &metas[base + i];

			if (t->gen != gen)
				idx[i] = index_find(t, hash[i], &m->key);
			flow_packet(t, m, hash[i], idx[i], t_us[base + i]);
		}
	}
	return n;
}

void
fp_flow_table_add(struct fp_flow_table *t, const struct fp_pkt_meta *m, uint64_t t_us)
{
	uint32_t hash = fp_flow_key_hash(&m->key);

	flow_packet(t, m, hash, index_find(t, hash, &m->key), t_us);
}

uint32_t
fp_flow_table_sweep(struct fp_flow_table *t, uint64_t now_us, uint32_t budget)
{
	uint32_t work = 0, done = 0, scanned = 0;
	int c;

	/* idle flows, oldest first in each class */
	for (c = 0; c < FP_FLOW_CLASS_MAX; c++) {
		while (work < budget && t->lru[c].head != FLOW_NIL) {
			uint32_t h = t->lru[c].head;

			if (!flow_idle(t, &t->entries[h], now_us))
				break;
			flow_remove(t, h, end_reason(t, &t->entries[h], now_us, FP_WIN_END_IDLE));
			t->cnt.flows_idle++;
			work++;
			done++;
		}
	}
	/* windows whose end has passed, a slice of the table per call */
	while (work < budget && scanned < t->capacity) {
		struct flow_entry *e = &t->entries[t->cursor];

		t->cursor = (t->cursor + 1) & (t->capacity - 1);
		work++;
		scanned++;
		if (e->cls == FLOW_CLS_FREE)
			continue;
		if (flow_idle(t, e, now_us)) {
			/* idle but not yet at its list's head (reordered times) */
			flow_remove(t, (uint32_t)(e - t->entries),
				end_reason(t, e, now_us, FP_WIN_END_IDLE));
			t->cnt.flows_idle++;
			done++;
			continue;
		}
		if (e->packets == 0 || now_us < e->win_start + t->window_us)
			continue;
		flow_window_emit(t, e, FP_WIN_END_TIME);
		e->win_index++;
		e->win_start += t->window_us;
		done++;
	}
	return done;
}

uint32_t
fp_flow_table_flush(struct fp_flow_table *t, uint64_t now_us)
{
	uint64_t before = 0, after = 0;
	int r;

	for (r = 0; r < FP_WIN_END_MAX; r++)
		before += t->cnt.windows[r];
	for (uint32_t i = 0; i < t->capacity; i++) {
		struct flow_entry *e = &t->entries[i];

		if (e->cls == FLOW_CLS_FREE)
			continue;
		flow_remove(t, i, end_reason(t, e, now_us, FP_WIN_END_FLUSH));
		t->cnt.flows_flushed++;
	}
	t->cursor = 0;
	for (r = 0; r < FP_WIN_END_MAX; r++)
		after += t->cnt.windows[r];
	return (uint32_t)(after - before);
}

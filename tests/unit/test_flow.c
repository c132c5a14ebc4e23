/* Unit tests of lib/flow: window cutting, timeouts, sweep, eviction, caps, allocator failure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "flow.h"

#define S 1000000ull	/* one second in microseconds */

/* ---- owner callbacks: malloc'd chunks, emitted windows copied into a list ---- */

struct got {
	struct fp_window w;	/* header copy (chunk field meaningless) */
	struct fp_pkt_rec *recs;
};

struct harness {
	long live_chunks;
	long alloc_left;	/* chunks the allocator still gives; < 0: unlimited */
	struct got *got;
	size_t n_got;
	size_t cap_got;
	uint64_t emitted_packets;
	struct fp_flow_table_ops ops;
};

static void *
h_alloc(void *ctx)
{
	struct harness *h = ctx;
	void *p;

	if (h->alloc_left == 0)
		return NULL;
	p = malloc(FP_FLOW_CHUNK_SIZE);
	if (p == NULL)
		return NULL;
	memset(p, 0x5a, FP_FLOW_CHUNK_SIZE);	/* the table must set every field it uses */
	if (h->alloc_left > 0)
		h->alloc_left--;
	h->live_chunks++;
	return p;
}

static void
h_free(void *ctx, void *chunk)
{
	struct harness *h = ctx;

	h->live_chunks--;
	free(chunk);
}

static void
h_emit(void *ctx, struct fp_window *w)
{
	struct harness *h = ctx;
	struct got *g;

	if (h->n_got == h->cap_got) {
		h->cap_got = h->cap_got ? h->cap_got * 2 : 64;
		h->got = realloc(h->got, h->cap_got * sizeof(*h->got));
	}
	g = &h->got[h->n_got++];
	g->w = *w;
	g->recs = malloc((w->n_records + 1) * sizeof(*g->recs));
	if (fp_window_copy_records(w, g->recs, w->n_records) != w->n_records)
		abort();
	h->emitted_packets += w->packets;
	fp_window_free(&h->ops, w);
}

static void
h_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	h->alloc_left = -1;
	h->ops.alloc_chunk = h_alloc;
	h->ops.free_chunk = h_free;
	h->ops.emit = h_emit;
	h->ops.ctx = h;
}

static void
h_clear(struct harness *h)
{
	for (size_t i = 0; i < h->n_got; i++)
		free(h->got[i].recs);
	h->n_got = 0;
}

static void
h_fini(struct harness *h)
{
	h_clear(h);
	free(h->got);
}

static struct fp_flow_table *
table(struct harness *h, uint32_t capacity, uint64_t window_us, uint64_t idle_tcp,
		uint64_t idle_udp, uint64_t idle_other, uint32_t max_records)
{
	struct fp_flow_table_conf c = {
		.capacity = capacity,
		.window_us = window_us,
		.idle_us = { idle_tcp, idle_udp, idle_other },
		.max_records = max_records,
		.ops = h->ops,
	};

	return fp_flow_table_create(&c);
}

/* A parsed packet from (a, ap) to (b, bp), IPv4 host-order addresses, canonical like fp_pkt. */
static struct fp_pkt_meta
pkt(uint32_t a, uint16_t ap, uint32_t b, uint16_t bp, uint8_t proto, uint32_t ip_len)
{
	struct fp_pkt_meta m;
	int swap = a > b || (a == b && ap > bp);
	uint32_t lo = swap ? b : a, hi = swap ? a : b;

	memset(&m, 0, sizeof(m));
	m.key.family = FP_AF_IPV4;
	m.key.proto = proto;
	for (int i = 0; i < 4; i++) {
		m.key.addr_lo[i] = (uint8_t)(lo >> (24 - 8 * i));
		m.key.addr_hi[i] = (uint8_t)(hi >> (24 - 8 * i));
	}
	m.key.port_lo = swap ? bp : ap;
	m.key.port_hi = swap ? ap : bp;
	m.swapped = (uint8_t)swap;
	m.ip_len = ip_len;
	m.frame_len = ip_len + 14;
	return m;
}

#define HA 0x0a000001u	/* 10.0.0.1 */
#define HB 0x0a000002u	/* 10.0.0.2 */

static int
check_rec(const struct fp_pkt_rec *r, uint32_t t_us, uint16_t size, uint8_t dir)
{
	FP_ASSERT_EQ(r->t_us, t_us);
	FP_ASSERT_EQ(r->size, size);
	FP_ASSERT_EQ(r->dir, dir);
	return 0;
}

static int
test_one_flow_windows(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;

	h_init(&h);
	t = table(&h, 64, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	FP_ASSERT(t != NULL);
	/* the initiator is B (the key's hi side): init_swapped 1, B->A packets have dir 0 */
	m = pkt(HB, 443, HA, 40000, 6, 60);
	fp_flow_table_add(t, &m, 1 * S);
	m = pkt(HA, 40000, HB, 443, 6, 1500);
	fp_flow_table_add(t, &m, 1 * S + 500000);
	m = pkt(HB, 443, HA, 40000, 6, 100);
	fp_flow_table_add(t, &m, 30 * S);
	m = pkt(HA, 40000, HB, 443, 6, 40);
	fp_flow_table_add(t, &m, 61 * S - 1);		/* last microsecond of window 0 */
	FP_ASSERT_EQ(h.n_got, 0);
	m = pkt(HB, 443, HA, 40000, 6, 52);
	fp_flow_table_add(t, &m, 61 * S);		/* exactly at W: window 1 */
	FP_ASSERT_EQ(h.n_got, 1);
	m = pkt(HA, 40000, HB, 443, 6, 70000);		/* size saturates at 65535 */
	fp_flow_table_add(t, &m, 200 * S);		/* (200 - 1) / 60 = 3: window 3 */
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 200 * S + 1), 1);
	FP_ASSERT_EQ(h.n_got, 3);

	struct got *g = h.got;
	FP_ASSERT_EQ(g[0].w.index, 0);
	FP_ASSERT_EQ(g[0].w.start_us, 1 * S);
	FP_ASSERT_EQ(g[0].w.packets, 4);
	FP_ASSERT_EQ(g[0].w.bytes, 74 + 1514 + 114 + 54);
	FP_ASSERT_EQ(g[0].w.n_records, 4);
	FP_ASSERT_EQ(g[0].w.sampled_out, 0);
	FP_ASSERT_EQ(g[0].w.no_mem, 0);
	FP_ASSERT_EQ(g[0].w.flags, 0);
	FP_ASSERT_EQ(g[0].w.end_reason, FP_WIN_END_TIME);
	FP_ASSERT_EQ(g[0].w.init_swapped, 1);
	FP_ASSERT(fp_flow_key_equal(&g[0].w.key, &m.key));
	FP_ASSERT_EQ(check_rec(&g[0].recs[0], 0, 60, 0), 0);
	FP_ASSERT_EQ(check_rec(&g[0].recs[1], 500000, 1500, 1), 0);
	FP_ASSERT_EQ(check_rec(&g[0].recs[2], 29 * S, 100, 0), 0);
	FP_ASSERT_EQ(check_rec(&g[0].recs[3], 60 * S - 1, 40, 1), 0);

	FP_ASSERT_EQ(g[1].w.index, 1);
	FP_ASSERT_EQ(g[1].w.start_us, 61 * S);
	FP_ASSERT_EQ(g[1].w.packets, 1);
	FP_ASSERT_EQ(g[1].w.bytes, 66);
	FP_ASSERT_EQ(g[1].w.end_reason, FP_WIN_END_TIME);
	FP_ASSERT_EQ(check_rec(&g[1].recs[0], 0, 52, 0), 0);

	FP_ASSERT_EQ(g[2].w.index, 3);
	FP_ASSERT_EQ(g[2].w.start_us, 181 * S);
	FP_ASSERT_EQ(g[2].w.packets, 1);
	FP_ASSERT_EQ(g[2].w.bytes, 70014);
	FP_ASSERT_EQ(g[2].w.end_reason, FP_WIN_END_FLUSH);
	FP_ASSERT_EQ(g[2].w.init_swapped, 1);
	FP_ASSERT_EQ(check_rec(&g[2].recs[0], 19 * S, 65535, 1), 0);

	const struct fp_flow_counters *c = fp_flow_table_counters(t);
	FP_ASSERT_EQ(c->packets, 6);
	FP_ASSERT_EQ(c->bytes, 74 + 1514 + 114 + 54 + 66 + 70014);
	FP_ASSERT_EQ(c->flows_created, 1);
	FP_ASSERT_EQ(c->flows_active, 0);
	FP_ASSERT_EQ(c->flows_flushed, 1);
	FP_ASSERT_EQ(c->windows[FP_WIN_END_TIME], 2);
	FP_ASSERT_EQ(c->windows[FP_WIN_END_FLUSH], 1);
	FP_ASSERT_EQ(h.live_chunks, 0);
	fp_flow_table_free(t);
	h_fini(&h);
	return 0;
}

static int
test_idle_per_protocol(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta tcp, udp, icmp;
	const struct fp_flow_counters *c;

	h_init(&h);
	t = table(&h, 64, 60 * S, 100 * S, 30 * S, 10 * S, 100);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	tcp = pkt(HA, 1000, HB, 80, 6, 40);
	udp = pkt(HA, 1000, HB, 53, 17, 40);
	icmp = pkt(HA, 0, HB, 0, 1, 84);

	fp_flow_table_add(t, &tcp, 0);
	fp_flow_table_add(t, &udp, 0);
	fp_flow_table_add(t, &icmp, 0);
	/* ICMP: 10 s - 1 us later is the same flow, a further 10 s later a new one */
	fp_flow_table_add(t, &icmp, 10 * S - 1);
	FP_ASSERT_EQ(c->flows_created, 3);
	fp_flow_table_add(t, &icmp, 20 * S - 1);
	FP_ASSERT_EQ(c->flows_created, 4);
	FP_ASSERT_EQ(c->flows_idle, 1);
	FP_ASSERT_EQ(h.n_got, 1);
	FP_ASSERT_EQ(h.got[0].w.key.proto, 1);
	FP_ASSERT_EQ(h.got[0].w.packets, 2);
	FP_ASSERT_EQ(h.got[0].w.end_reason, FP_WIN_END_IDLE);	/* idle at 20 s - 1 < 60 s */
	/* UDP: 29 s later same flow; then 30 s after that a new one */
	fp_flow_table_add(t, &udp, 29 * S);
	FP_ASSERT_EQ(c->flows_created, 4);
	fp_flow_table_add(t, &udp, 59 * S);
	FP_ASSERT_EQ(c->flows_created, 5);
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(h.got[1].w.key.proto, 17);
	FP_ASSERT_EQ(h.got[1].w.packets, 2);
	FP_ASSERT_EQ(h.got[1].w.end_reason, FP_WIN_END_IDLE);
	/* TCP: 99 s later is still the same flow (window 1), the first window ends by time */
	fp_flow_table_add(t, &tcp, 99 * S);
	FP_ASSERT_EQ(c->flows_created, 5);
	FP_ASSERT_EQ(h.n_got, 3);
	FP_ASSERT_EQ(h.got[2].w.key.proto, 6);
	FP_ASSERT_EQ(h.got[2].w.index, 0);
	FP_ASSERT_EQ(h.got[2].w.end_reason, FP_WIN_END_TIME);
	/* new UDP flow started at 59 s: a fresh window 0 */
	FP_ASSERT_EQ(fp_flow_table_flush(t, 100 * S), 3);
	for (size_t i = 3; i < h.n_got; i++) {
		if (h.got[i].w.key.proto == 17) {
			FP_ASSERT_EQ(h.got[i].w.start_us, 59 * S);
			FP_ASSERT_EQ(h.got[i].w.index, 0);
			FP_ASSERT_EQ(h.got[i].w.packets, 1);
			/* idle at 89 s, before its window's end at 119 s */
			FP_ASSERT_EQ(h.got[i].w.end_reason, FP_WIN_END_IDLE);
		}
		if (h.got[i].w.key.proto == 6) {
			FP_ASSERT_EQ(h.got[i].w.index, 1);
			FP_ASSERT_EQ(h.got[i].w.end_reason, FP_WIN_END_FLUSH);
		}
		if (h.got[i].w.key.proto == 1) {
			FP_ASSERT_EQ(h.got[i].w.start_us, 20 * S - 1);
			/* idle at 30 s - 1, before its window's end at 80 s - 1 */
			FP_ASSERT_EQ(h.got[i].w.end_reason, FP_WIN_END_IDLE);
		}
	}
	FP_ASSERT_EQ(c->flows_active, 0);
	FP_ASSERT_EQ(h.live_chunks, 0);
	fp_flow_table_free(t);
	h_fini(&h);
	return 0;
}

static int
test_sweep(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;
	const struct fp_flow_counters *c;

	h_init(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 100);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	m = pkt(HA, 1000, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, 0);
	fp_flow_table_add(t, &m, 10 * S);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 60 * S - 1, 1000), 0);
	FP_ASSERT_EQ(h.n_got, 0);
	/* the silent flow's window ends at 60 s: emitted, flow kept */
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 60 * S, 1000), 1);
	FP_ASSERT_EQ(h.n_got, 1);
	FP_ASSERT_EQ(h.got[0].w.packets, 2);
	FP_ASSERT_EQ(h.got[0].w.end_reason, FP_WIN_END_TIME);
	FP_ASSERT_EQ(c->flows_active, 1);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 200 * S, 1000), 0);	/* empty window: nothing */
	/* a packet in window 3 after the sweep */
	fp_flow_table_add(t, &m, 200 * S);
	FP_ASSERT_EQ(c->flows_created, 1);
	/* idle 300 s after the last packet: expired by the sweep, window 3 ends by time */
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 500 * S - 1, 1000), 1);	/* window 3 ends 240 s */
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(h.got[1].w.index, 3);
	FP_ASSERT_EQ(h.got[1].w.start_us, 180 * S);
	FP_ASSERT_EQ(h.got[1].w.end_reason, FP_WIN_END_TIME);
	FP_ASSERT_EQ(c->flows_active, 1);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 500 * S, 1000), 1);
	FP_ASSERT_EQ(c->flows_active, 0);
	FP_ASSERT_EQ(c->flows_idle, 1);
	FP_ASSERT_EQ(h.n_got, 2);
	fp_flow_table_free(t);

	/* UDP with idle 30 s and W 60 s: a lone packet's window ends idle, at 30 s */
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 100);
	m = pkt(HA, 1000, HB, 53, 17, 40);
	fp_flow_table_add(t, &m, 5 * S);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 35 * S - 1, 1000), 0);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 35 * S, 1000), 1);
	FP_ASSERT_EQ(h.n_got, 3);
	FP_ASSERT_EQ(h.got[2].w.end_reason, FP_WIN_END_IDLE);
	fp_flow_table_free(t);

	/* W 20 s, idle 30 s: a sweep that only comes at 100 s still says TIME */
	t = table(&h, 16, 20 * S, 300 * S, 30 * S, 10 * S, 100);
	fp_flow_table_add(t, &m, 5 * S);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 100 * S, 1000), 1);
	FP_ASSERT_EQ(h.n_got, 4);
	FP_ASSERT_EQ(h.got[3].w.end_reason, FP_WIN_END_TIME);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->flows_idle, 1);
	fp_flow_table_free(t);

	/* budget: 16 silent flows, 4 units per call; the cursor reaches them all */
	h_clear(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 100);
	for (uint16_t i = 0; i < 16; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 6, 40);
		fp_flow_table_add(t, &m, i);
	}
	uint32_t total = 0, calls = 0;
	while (total < 16 && calls < 100) {
		uint32_t k = fp_flow_table_sweep(t, 61 * S, 4);

		FP_ASSERT(k <= 4);
		total += k;
		calls++;
	}
	FP_ASSERT_EQ(total, 16);
	FP_ASSERT_EQ(calls, 4);
	FP_ASSERT_EQ(h.n_got, 16);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->flows_active, 16);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->windows[FP_WIN_END_TIME], 16);
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	h_fini(&h);
	return 0;
}

static int
test_table_full(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;
	const struct fp_flow_counters *c;

	h_init(&h);
	t = table(&h, 16, 60 * S, 300 * S, 300 * S, 300 * S, 100);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	/* 16 flows: 8 TCP, 8 UDP, flow i last seen at i seconds */
	for (uint16_t i = 0; i < 16; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, i < 8 ? 6 : 17, 40);
		fp_flow_table_add(t, &m, i * S);
	}
	FP_ASSERT_EQ(c->flows_active, 16);
	/* touch the TCP flows at 20..27 s: UDP flow 8 (last seen 8 s) is now the longest idle */
	for (uint16_t i = 0; i < 8; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 6, 40);
		fp_flow_table_add(t, &m, (20 + i) * S);
	}
	FP_ASSERT_EQ(c->flows_created, 16);
	FP_ASSERT_EQ(h.n_got, 0);
	m = pkt(HA, 2000, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, 30 * S);
	FP_ASSERT_EQ(c->flows_created, 17);
	FP_ASSERT_EQ(c->flows_evicted, 1);
	FP_ASSERT_EQ(c->flows_active, 16);
	FP_ASSERT_EQ(h.n_got, 1);
	FP_ASSERT_EQ(h.got[0].w.key.port_lo, 1008);
	FP_ASSERT_EQ(h.got[0].w.end_reason, FP_WIN_END_EVICT);
	FP_ASSERT_EQ(c->windows[FP_WIN_END_EVICT], 1);
	/* next victim: UDP flow 9 */
	m = pkt(HA, 2001, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, 31 * S);
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(h.got[1].w.key.port_lo, 1009);
	/* the TCP flows are all still there */
	for (uint16_t i = 0; i < 8; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 6, 40);
		fp_flow_table_add(t, &m, 32 * S);
	}
	FP_ASSERT_EQ(c->flows_created, 18);
	/* at 310 s UDP flow 10 (last seen 10 s) is idle: its slot goes as an expiry */
	m = pkt(HA, 2002, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, 310 * S);
	FP_ASSERT_EQ(c->flows_evicted, 2);
	FP_ASSERT_EQ(c->flows_idle, 1);
	FP_ASSERT_EQ(h.n_got, 3);
	FP_ASSERT_EQ(h.got[2].w.key.port_lo, 1010);
	FP_ASSERT_EQ(h.got[2].w.end_reason, FP_WIN_END_TIME);	/* ended at 70 s, idle at 310 s */
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	h_fini(&h);
	return 0;
}

static int
test_window_cap(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;

	h_init(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 3);
	m = pkt(HA, 1000, HB, 80, 6, 100);
	for (int i = 0; i < 5; i++)
		fp_flow_table_add(t, &m, (uint64_t)i * 1000);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 1 * S), 1);
	/* packet 3 would be record 4: records 0, 2 stay, the stride is 2, packet 4 is recorded */
	FP_ASSERT_EQ(h.got[0].w.packets, 5);
	FP_ASSERT_EQ(h.got[0].w.bytes, 5 * 114);
	FP_ASSERT_EQ(h.got[0].w.n_records, 3);
	FP_ASSERT_EQ(h.got[0].w.sampled_out, 2);
	FP_ASSERT_EQ(h.got[0].w.shift, 1);
	FP_ASSERT_EQ(h.got[0].w.flags, FP_WIN_F_SAMPLED);
	FP_ASSERT_EQ(check_rec(&h.got[0].recs[0], 0, 100, 0), 0);
	FP_ASSERT_EQ(check_rec(&h.got[0].recs[1], 2000, 100, 0), 0);
	FP_ASSERT_EQ(check_rec(&h.got[0].recs[2], 4000, 100, 0), 0);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->recs_sampled_out, 2);
	fp_flow_table_free(t);

	/* records across chunks stay in order: 52 + 62 + 62 + 24 = 200 */
	FP_ASSERT_EQ(FP_WIN_HEAD_RECS, 52);
	FP_ASSERT_EQ(FP_CHUNK_RECS, 62);
	h_clear(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	for (uint32_t i = 0; i < 200; i++) {
		m = pkt(i % 3 ? HA : HB, i % 3 ? 1000 : 80, i % 3 ? HB : HA, i % 3 ? 80 : 1000, 6,
			40 + i);
		fp_flow_table_add(t, &m, 7 * S + i * 10);
	}
	FP_ASSERT_EQ(h.live_chunks, 4);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 8 * S), 1);
	FP_ASSERT_EQ(h.got[0].w.n_records, 200);
	FP_ASSERT_EQ(h.got[0].w.init_swapped, 1);	/* first packet B -> A */
	for (uint32_t i = 0; i < 200; i++)
		FP_ASSERT_EQ(check_rec(&h.got[0].recs[i], i * 10, (uint16_t)(40 + i), i % 3 ? 1 : 0),
			0);
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	h_fini(&h);
	return 0;
}

/* Chunks a window of n records occupies. */
static long
chunks_for(uint32_t n)
{
	if (n <= FP_WIN_HEAD_RECS)
		return 1;
	return 1 + (long)((n - FP_WIN_HEAD_RECS + FP_CHUNK_RECS - 1) / FP_CHUNK_RECS);
}

/*
 * Sampling past the cap, against its closed form: after n packets with cap c, the records are
 * exactly the packets whose index is a multiple of 2^k, k the smallest with ceil(n / 2^k) <= c,
 * in order; the chunks left empty by thinning are back with the allocator.
 */
static int
test_window_sampling(void)
{
	static const uint32_t caps[] = { 1, 2, 3, 7, 52, 53, 114, 115, 200, 4096 };
	static const uint32_t counts[] = { 1, 2, 5, 52, 53, 115, 116, 229, 1000, 3001, 20000 };
	struct harness h;

	h_init(&h);
	for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
		for (size_t ni = 0; ni < sizeof(counts) / sizeof(counts[0]); ni++) {
			uint32_t cap = caps[ci], n = counts[ni], k = 0, want;
			struct fp_flow_table *t;
			struct fp_pkt_meta m;
			const struct got *g;

			while (((uint64_t)n + (1u << k) - 1) >> k > cap)
				k++;
			want = (uint32_t)(((uint64_t)n + (1u << k) - 1) >> k);
			h_clear(&h);
			t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, cap);
			FP_ASSERT(t != NULL);
			for (uint32_t i = 0; i < n; i++) {
				m = pkt(HA, 1000, HB, 80, 17, 40 + i % 1400);
				fp_flow_table_add(t, &m, (uint64_t)i * 2000);
			}
			FP_ASSERT_EQ(h.live_chunks, chunks_for(want));
			FP_ASSERT_EQ(fp_flow_table_flush(t, 50 * S), 1);
			g = &h.got[0];
			FP_ASSERT_EQ(g->w.packets, n);
			FP_ASSERT_EQ(g->w.shift, k);
			FP_ASSERT_EQ(g->w.n_records, want);
			FP_ASSERT_EQ(g->w.sampled_out, n - want);
			FP_ASSERT_EQ(g->w.no_mem, 0);
			FP_ASSERT_EQ(g->w.flags, k > 0 ? FP_WIN_F_SAMPLED : 0);
			FP_ASSERT_EQ(fp_flow_table_counters(t)->recs_sampled_out, n - want);
			for (uint32_t j = 0; j < want; j++) {
				uint32_t i = j << k;

				FP_ASSERT_EQ(check_rec(&g->recs[j], i * 2000,
					(uint16_t)(40 + i % 1400), 0), 0);
			}
			fp_flow_table_free(t);
			FP_ASSERT_EQ(h.live_chunks, 0);
		}
	}
	h_fini(&h);
	return 0;
}

/*
 * The LRU grain: a packet moves its flow to its list's tail only in a later grain, 2^k us with
 * 2^k the largest power of two <= the shortest idle timeout / 256 (here 256 s / 256 -> 2^19 us).
 */
static int
test_lru_grain(void)
{
	const uint64_t g = 1u << 19;
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta a = pkt(HA, 1000, HB, 80, 6, 40), m;
	const struct fp_flow_counters *c;

	h_init(&h);
	t = table(&h, 16, 600 * S, 256 * S, 256 * S, 256 * S, 100);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	/* 16 TCP flows at 1 us apart; flow A (port 1000) is the oldest */
	for (uint16_t i = 0; i < 16; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 6, 40);
		fp_flow_table_add(t, &m, i);
	}
	/* A again within the same grain: not moved, so still evicted first though idle 1 us less
	 * than flow 1001 */
	fp_flow_table_add(t, &a, g - 1);
	m = pkt(HA, 2000, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, g - 1);
	FP_ASSERT_EQ(c->flows_evicted, 1);
	FP_ASSERT_EQ(h.got[0].w.key.port_lo, 1000);
	FP_ASSERT_EQ(h.got[0].w.packets, 2);
	/* flow 1001 seen in the next grain moves to the tail: 1002 goes next, not 1001 */
	m = pkt(HA, 1001, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, g);
	m = pkt(HA, 2001, HB, 80, 6, 40);
	fp_flow_table_add(t, &m, g + 1);
	FP_ASSERT_EQ(c->flows_evicted, 2);
	FP_ASSERT_EQ(h.got[1].w.key.port_lo, 1002);
	fp_flow_table_free(t);
	h_fini(&h);
	return 0;
}

static int
test_alloc_failure(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;
	const struct fp_flow_counters *c;

	/* one chunk only: 52 records, then 8 packets counted without records */
	h_init(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	c = fp_flow_table_counters(t);
	h.alloc_left = 1;
	m = pkt(HA, 1000, HB, 80, 6, 100);
	for (int i = 0; i < 60; i++)
		fp_flow_table_add(t, &m, (uint64_t)i);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 1 * S), 1);
	FP_ASSERT_EQ(h.got[0].w.packets, 60);
	FP_ASSERT_EQ(h.got[0].w.n_records, 52);
	FP_ASSERT_EQ(h.got[0].w.no_mem, 8);
	FP_ASSERT_EQ(h.got[0].w.sampled_out, 0);
	FP_ASSERT_EQ(h.got[0].w.flags, FP_WIN_F_NO_MEM);
	FP_ASSERT_EQ(c->recs_no_mem, 8);
	/* one failed call: the window's later packets do not ask again */
	FP_ASSERT_EQ(c->chunks_alloc_failed, 1);
	fp_flow_table_free(t);

	/* memory back in the middle of a window: its records stay a prefix; the next window records */
	h_clear(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	c = fp_flow_table_counters(t);
	h.alloc_left = 1;
	for (int i = 0; i < 60; i++)
		fp_flow_table_add(t, &m, (uint64_t)i);
	h.alloc_left = -1;
	for (int i = 60; i < 70; i++)
		fp_flow_table_add(t, &m, (uint64_t)i);
	fp_flow_table_add(t, &m, 60 * S + 5);	/* ends window 0 */
	FP_ASSERT_EQ(fp_flow_table_flush(t, 61 * S), 1);
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(h.got[0].w.packets, 70);
	FP_ASSERT_EQ(h.got[0].w.n_records, 52);
	FP_ASSERT_EQ(h.got[0].w.no_mem, 18);
	FP_ASSERT_EQ(h.got[0].w.flags, FP_WIN_F_NO_MEM);
	FP_ASSERT_EQ(h.got[1].w.packets, 1);
	FP_ASSERT_EQ(h.got[1].w.n_records, 1);
	FP_ASSERT_EQ(h.got[1].w.flags, 0);
	FP_ASSERT_EQ(c->recs_no_mem, 18);
	FP_ASSERT_EQ(c->chunks_alloc_failed, 1);
	fp_flow_table_free(t);

	/* no chunk during the window, one at emit time: header only, no records */
	h_clear(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	h.alloc_left = 0;
	for (int i = 0; i < 3; i++)
		fp_flow_table_add(t, &m, (uint64_t)i);
	h.alloc_left = -1;
	FP_ASSERT_EQ(fp_flow_table_flush(t, 1 * S), 1);
	FP_ASSERT_EQ(h.got[0].w.packets, 3);
	FP_ASSERT_EQ(h.got[0].w.n_records, 0);
	FP_ASSERT_EQ(h.got[0].w.no_mem, 3);
	FP_ASSERT_EQ(h.got[0].w.bytes, 3 * 114);
	fp_flow_table_free(t);

	/* no chunk at all: the window is dropped and counted */
	h_clear(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	c = fp_flow_table_counters(t);
	h.alloc_left = 0;
	for (int i = 0; i < 3; i++)
		fp_flow_table_add(t, &m, (uint64_t)i);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 1 * S), 0);
	FP_ASSERT_EQ(h.n_got, 0);
	FP_ASSERT_EQ(c->windows_no_mem, 1);
	FP_ASSERT_EQ(c->packets_no_mem, 3);
	FP_ASSERT_EQ(c->packets, 3);
	FP_ASSERT_EQ(c->flows_active, 0);
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	h_fini(&h);
	return 0;
}

static int
test_flush_and_free(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;

	h_init(&h);
	t = table(&h, 32, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	for (uint16_t i = 0; i < 20; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 17, 40);
		for (int k = 0; k <= i; k++)
			fp_flow_table_add(t, &m, (uint64_t)k * S);
	}
	FP_ASSERT_EQ(fp_flow_table_flush(t, 100 * S), 20);
	uint64_t sum = 0;
	for (size_t i = 0; i < h.n_got; i++) {
		sum += h.got[i].w.packets;
		FP_ASSERT_EQ(h.got[i].w.packets, h.got[i].w.key.port_lo - 1000 + 1);
		/* last packet at (n - 1) s: idle at n + 29 s, before the window end at 60 s */
		FP_ASSERT_EQ(h.got[i].w.end_reason, FP_WIN_END_IDLE);
	}
	FP_ASSERT_EQ(sum, 210);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->flows_flushed, 20);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 100 * S), 0);
	/* free with open windows releases their chunks without emitting */
	for (uint16_t i = 0; i < 5; i++) {
		m = pkt(HA, (uint16_t)(1000 + i), HB, 80, 17, 40);
		fp_flow_table_add(t, &m, 200 * S);
	}
	FP_ASSERT_EQ(h.live_chunks, 5);
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	FP_ASSERT_EQ(h.n_got, 20);
	h_fini(&h);
	return 0;
}

static int
test_time_backwards(void)
{
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;

	h_init(&h);
	t = table(&h, 16, 60 * S, 300 * S, 30 * S, 10 * S, 1000);
	m = pkt(HA, 1000, HB, 80, 6, 100);
	fp_flow_table_add(t, &m, 10 * S);
	fp_flow_table_add(t, &m, 5 * S);	/* before the window start: t_us 0 */
	fp_flow_table_add(t, &m, 70 * S);	/* window 1 */
	fp_flow_table_add(t, &m, 65 * S);	/* before window 1's start: t_us 0, no new window */
	fp_flow_table_add(t, &m, 20 * S);	/* far back: still window 1, not idle */
	fp_flow_table_add(t, &m, 71 * S);
	FP_ASSERT_EQ(fp_flow_table_counters(t)->flows_created, 1);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 72 * S), 1);
	FP_ASSERT_EQ(h.n_got, 2);
	FP_ASSERT_EQ(h.got[0].w.packets, 2);
	FP_ASSERT_EQ(h.got[0].recs[1].t_us, 0);
	FP_ASSERT_EQ(h.got[1].w.index, 1);
	FP_ASSERT_EQ(h.got[1].w.start_us, 70 * S);
	FP_ASSERT_EQ(h.got[1].w.packets, 4);
	FP_ASSERT_EQ(h.got[1].recs[1].t_us, 0);
	FP_ASSERT_EQ(h.got[1].recs[2].t_us, 0);
	FP_ASSERT_EQ(h.got[1].recs[3].t_us, 1 * S);
	/* a sweep ahead of the packets closes window 2; a late packet goes to window 3 */
	h_clear(&h);
	fp_flow_table_add(t, &m, 10 * S);
	fp_flow_table_add(t, &m, 15 * S);
	FP_ASSERT_EQ(fp_flow_table_sweep(t, 75 * S, 100), 1);
	fp_flow_table_add(t, &m, 50 * S);
	FP_ASSERT_EQ(fp_flow_table_flush(t, 80 * S), 1);
	FP_ASSERT_EQ(h.got[1].w.index, 1);
	FP_ASSERT_EQ(h.got[1].w.start_us, 70 * S);
	FP_ASSERT_EQ(h.got[1].recs[0].t_us, 0);
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h.live_chunks, 0);
	h_fini(&h);
	return 0;
}

/* xorshift64* */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* Feed the same random traffic one packet at a time or in bursts; return emitted windows. */
static int
churn(struct harness *h, int burst, uint64_t *packets_added)
{
	enum { NFLOWS = 100000, NPKTS = 400000, B = 32 };
	struct fp_flow_table *t;
	struct fp_pkt_meta metas[B];
	uint64_t ts[B], seed = 12345, now = 0;
	const struct fp_flow_counters *c;
	uint32_t nb = 0;

	t = table(h, 1u << 16, 2 * S, 5 * S, 3 * S, 1 * S, 40);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	for (uint32_t i = 0; i < NPKTS; i++) {
		uint64_t r = rnd(&seed);
		uint32_t f = (uint32_t)(r % NFLOWS);
		int rev = (r >> 20) & 1;
		uint8_t proto = f % 3 == 0 ? 6 : f % 3 == 1 ? 17 : 47;
		uint32_t a = 0x0a000000u + f, b = 0xc0a80001u;

		now += (r >> 40) % 40;		/* ~20 us apart: 8 s of traffic */
		if ((r >> 33) % 50 == 0 && now > 100)
			ts[nb] = now - 100;	/* a few reordered packets */
		else
			ts[nb] = now;
		metas[nb] = rev ? pkt(b, 443, a, (uint16_t)(1024 + f % 5000), proto, 64 + f % 1400) :
			pkt(a, (uint16_t)(1024 + f % 5000), b, 443, proto, 64 + f % 1400);
		nb++;
		if (nb == B || i + 1 == NPKTS) {
			if (burst) {
				FP_ASSERT_EQ(fp_flow_table_add_burst(t, metas, nb, ts), nb);
			} else {
				for (uint32_t k = 0; k < nb; k++)
					fp_flow_table_add(t, &metas[k], ts[k]);
			}
			nb = 0;
		}
		if (i % 1000 == 999)
			fp_flow_table_sweep(t, now, 256);
		FP_ASSERT_EQ(c->flows_created - c->flows_idle - c->flows_evicted - c->flows_flushed,
			c->flows_active);
		FP_ASSERT(c->flows_active <= (1u << 16));
	}
	FP_ASSERT(c->flows_evicted > 0);
	FP_ASSERT(c->flows_idle > 0);
	fp_flow_table_flush(t, now);
	FP_ASSERT_EQ(c->flows_active, 0);
	FP_ASSERT_EQ(c->packets, NPKTS);
	FP_ASSERT_EQ(h->emitted_packets + c->packets_no_mem, c->packets);
	uint64_t nwin = 0;
	for (int r = 0; r < FP_WIN_END_MAX; r++)
		nwin += c->windows[r];
	FP_ASSERT_EQ(nwin, h->n_got);
	*packets_added = c->packets;
	fp_flow_table_free(t);
	FP_ASSERT_EQ(h->live_chunks, 0);
	return 0;
}

static int
test_many_flows(void)
{
	struct harness one, bur;
	uint64_t p1, p2;

	h_init(&one);
	h_init(&bur);
	FP_ASSERT_EQ(churn(&one, 0, &p1), 0);
	FP_ASSERT_EQ(churn(&bur, 1, &p2), 0);
	FP_ASSERT_EQ(p1, p2);
	/* bursts and single adds give exactly the same windows in the same order */
	FP_ASSERT_EQ(one.n_got, bur.n_got);
	for (size_t i = 0; i < one.n_got; i++) {
		struct got *a = &one.got[i], *b = &bur.got[i];

		FP_ASSERT(fp_flow_key_equal(&a->w.key, &b->w.key));
		FP_ASSERT_EQ(a->w.start_us, b->w.start_us);
		FP_ASSERT_EQ(a->w.packets, b->w.packets);
		FP_ASSERT_EQ(a->w.end_reason, b->w.end_reason);
		FP_ASSERT(memcmp(a->recs, b->recs, a->w.n_records * sizeof(*a->recs)) == 0);
	}
	h_fini(&one);
	h_fini(&bur);
	return 0;
}

/*
 * A small, nearly full index under random inserts and removals: the test models which flows
 * are alive (last packet within the idle timeout), so every lookup that misses shows up as an
 * extra flow created, and a lost slot as an eviction.
 */
static int
test_index_churn(void)
{
	enum { NKEYS = 40, STEPS = 50000 };
	struct harness h;
	struct fp_flow_table *t;
	struct fp_pkt_meta m;
	uint64_t last[NKEYS], seed = 777, now = 10 * S, created = 0;
	const struct fp_flow_counters *c;

	h_init(&h);
	t = table(&h, 16, 3600 * S, 1 * S, 1 * S, 1 * S, 4);
	FP_ASSERT(t != NULL);
	c = fp_flow_table_counters(t);
	for (int k = 0; k < NKEYS; k++)
		last[k] = 0;
	for (int i = 0; i < STEPS; i++) {
		uint64_t r = rnd(&seed);
		int k = (int)(r % NKEYS), live = 0;

		now += (r >> 32) % (S / 8);
		for (int j = 0; j < NKEYS; j++)
			live += last[j] != 0 && now - last[j] < S;
		if (!(last[k] != 0 && now - last[k] < S)) {
			if (live >= 16)
				continue;
			created++;
		}
		m = pkt(HA + (uint32_t)(k % 3), (uint16_t)(1000 + k), HB, 80,
			k % 3 == 0 ? 6 : k % 3 == 1 ? 17 : 1, 40);
		fp_flow_table_add(t, &m, now);
		last[k] = now;
		if ((r >> 16) % 7 == 0)
			fp_flow_table_sweep(t, now, (uint32_t)((r >> 8) % 8));
		FP_ASSERT_EQ(c->flows_created, created);
	}
	FP_ASSERT_EQ(c->flows_evicted, 0);
	FP_ASSERT(c->flows_idle > 1000);
	fp_flow_table_flush(t, now);
	FP_ASSERT_EQ(h.emitted_packets, c->packets);
	fp_flow_table_free(t);
	h_fini(&h);
	return 0;
}

static int
test_conf_and_size(void)
{
	struct harness h;
	struct fp_flow_table_conf c;

	h_init(&h);
	FP_ASSERT(fp_flow_table_bytes_per_flow() <= 128);
	errno = 0;
	FP_ASSERT(fp_flow_table_create(NULL) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	memset(&c, 0, sizeof(c));
	c.capacity = 1024;
	c.window_us = 60 * S;
	c.idle_us[0] = c.idle_us[1] = c.idle_us[2] = S;
	c.max_records = 100;
	c.ops = h.ops;
	struct fp_flow_table *t = fp_flow_table_create(&c);
	FP_ASSERT(t != NULL);
	fp_flow_table_free(t);
	c.capacity = 1000;
	errno = 0;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	c.capacity = 8;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	c.capacity = 1024;
	c.window_us = 0;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	c.window_us = 3601 * S;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	c.window_us = 60 * S;
	c.idle_us[2] = 0;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	c.idle_us[2] = S;
	c.max_records = 0;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	c.max_records = 100;
	c.ops.emit = NULL;
	FP_ASSERT(fp_flow_table_create(&c) == NULL);
	FP_ASSERT_EQ(errno, EINVAL);
	FP_ASSERT_STR_EQ(fp_win_end_label(FP_WIN_END_EVICT), "evict");
	FP_ASSERT_STR_EQ(fp_win_end_label(9), "invalid");
	fp_flow_table_free(NULL);
	fp_window_free(&h.ops, NULL);
	h_fini(&h);
	return 0;
}

int
main(void)
{
	FP_RUN(test_one_flow_windows);
	FP_RUN(test_idle_per_protocol);
	FP_RUN(test_sweep);
	FP_RUN(test_table_full);
	FP_RUN(test_window_cap);
	FP_RUN(test_window_sampling);
	FP_RUN(test_lru_grain);
	FP_RUN(test_alloc_failure);
	FP_RUN(test_flush_and_free);
	FP_RUN(test_time_backwards);
	FP_RUN(test_many_flows);
	FP_RUN(test_index_churn);
	FP_RUN(test_conf_and_size);
	return fp_test_report();
}

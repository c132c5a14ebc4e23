/* Flow path benchmark: parser and flow table cycles per packet, without DPDK or a driver. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "flow.h"
#include "pkt.h"

/*
 * What flowpicd's RX lcore does to a burst after the driver has handed it over, split in
 * stages and timed on one thread (CPU time): the same 64-byte UDP frames as
 * tools/bench/bench_rx.py (flows cycling over n 5-tuples; max(200k, n) frames), copied burst by
 * burst from that pool into 32 hot frame buffers as a driver would write them, then
 *   copy    the copy alone (the floor every other line includes),
 *   parse   copy + fp_pkt_parse() of each frame,
 *   table   copy + parse + fp_flow_table_add_burst() (index, entry, window record),
 * with the table sized and fed as bench_rx.py configures flowpicd (capacity 2 x flows, record
 * chunks 1.5 x flows + 4096, flowpicd's default window, idle timeouts and record cap, packet times
 * advancing 0.1 us a packet, windows freed as soon as they are emitted). The differences between
 * lines are what parsing and the table cost per packet; no driver, mbuf or ring is involved, so
 * the figures isolate the code that flowpicd adds to a bare receive loop.
 * Usage: bench_flow [seconds per line, default 1] [flow counts, default 100,10000,1000000]
 */

#define BURST 32u
#define FRAME 60u
#define POOL_MIN 200000u

static double seconds = 1.0;

/* ---- record chunks: a free list over one array, as the chunk mempool gives them ---- */

struct chunk_pool {
	void **free;
	uint32_t n_free;
	char *mem;
	struct fp_flow_table_ops ops;	/* the table's callbacks, ctx = this pool */
};

static void *
c_alloc(void *ctx)
{
	struct chunk_pool *p = ctx;

	return p->n_free > 0 ? p->free[--p->n_free] : NULL;
}

static void
c_free(void *ctx, void *c)
{
	struct chunk_pool *p = ctx;

	p->free[p->n_free++] = c;
}

/* A completed window goes straight back to the pool, as a worker frees it once classified. */
static void
c_emit(void *ctx, struct fp_window *w)
{
	struct chunk_pool *p = ctx;

	fp_window_free(&p->ops, w);
}

/* A flow table as bench_rx.py configures flowpicd for n_flows, its chunks from cp. */
static struct fp_flow_table *
table_new(uint32_t n_flows, struct chunk_pool *cp)
{
	uint32_t chunks = n_flows + n_flows / 2 + 4096, cap = 64, i;
	struct fp_flow_table_conf tc;
	struct fp_conf_flow def;
	struct fp_flow_table *t;

	while (cap < 2 * n_flows)
		cap <<= 1;
	cp->mem = aligned_alloc(64, (size_t)chunks * FP_FLOW_CHUNK_SIZE);
	cp->free = malloc((size_t)chunks * sizeof(*cp->free));
	if (cp->mem == NULL || cp->free == NULL || fp_conf_flow_defaults(&def) != 0) {
		fprintf(stderr, "bench_flow: out of memory\n");
		exit(1);
	}
	/* touched now, as a mempool is populated before traffic: no page faults timed */
	memset(cp->mem, 0, (size_t)chunks * FP_FLOW_CHUNK_SIZE);
	for (i = chunks; i-- > 0;)
		cp->free[cp->n_free++] = cp->mem + (size_t)i * FP_FLOW_CHUNK_SIZE;
	cp->ops.alloc_chunk = c_alloc;
	cp->ops.free_chunk = c_free;
	cp->ops.emit = c_emit;
	cp->ops.ctx = cp;
	memset(&tc, 0, sizeof(tc));
	tc.capacity = cap;
	tc.window_us = def.window_us;
	memcpy(tc.idle_us, def.idle_us, sizeof(tc.idle_us));
	tc.max_records = def.max_records;
	tc.ops = cp->ops;
	t = fp_flow_table_create(&tc);
	if (t == NULL) {
		fprintf(stderr, "bench_flow: table: %s\n", strerror(errno));
		exit(1);
	}
	return t;
}

/* ---- frames ---- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One 60-byte Ethernet / IPv4 / UDP frame of flow fl (as bench_rx.py's capture). */
static void
make_frame(uint8_t *f, uint32_t fl)
{
	memset(f, 0, FRAME);
	f[5] = 2;
	f[11] = 1;
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	put16(f + 16, FRAME - 14);
	f[22] = 64;
	f[23] = 17;
	f[26] = 10;
	f[27] = (uint8_t)(fl >> 16);
	f[28] = (uint8_t)(fl >> 8);
	f[29] = (uint8_t)fl;
	f[30] = 192;
	f[32] = 2;
	f[33] = 1;
	put16(f + 34, (uint16_t)(1024 + fl % 50000));
	put16(f + 36, 443);
	put16(f + 38, FRAME - 34);
}

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU cycles per second, from the TSC over 200 ms (what DPDK reports as the TSC rate). */
static double
tsc_hz(void)
{
	double t0 = clock_s(CLOCK_MONOTONIC), t1;
	uint64_t c0 = __builtin_ia32_rdtsc(), c1;

	do
		t1 = clock_s(CLOCK_MONOTONIC);
	while (t1 - t0 < 0.2);
	c1 = __builtin_ia32_rdtsc();
	return (double)(c1 - c0) / (t1 - t0);
}

enum stage { ST_COPY, ST_PARSE, ST_TABLE };

static const char *const stage_names[] = { "copy", "parse", "table" };

/* Run one stage for `seconds`; returns nanoseconds of CPU time per packet. */
static double
run_stage(enum stage st, const uint8_t *pool, uint32_t pool_frames, uint32_t n_flows,
		double *flows_out)
{
	static uint8_t hot[BURST][64] __attribute__((aligned(64)));
	struct fp_pkt_meta metas[BURST];
	uint64_t times[BURST];
	struct chunk_pool cp = { 0 };
	struct fp_flow_table *t = st == ST_TABLE ? table_new(n_flows, &cp) : NULL;
	uint64_t packets = 0, sink = 0, now = 0;
	uint32_t pos = 0, i;
	double c0, c1;

	c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (int rep = 0; rep < 256; rep++) {
			uint32_t nf = 0;

			for (i = 0; i < BURST; i++) {
				memcpy(hot[i], pool + (size_t)pos * FRAME, FRAME);
				pos = pos + 1 < pool_frames ? pos + 1 : 0;
			}
			if (st == ST_COPY) {
				sink += hot[pos & (BURST - 1)][29];
			} else {
				for (i = 0; i < BURST; i++) {
					if (fp_pkt_parse(hot[i], FRAME, &metas[nf]) != FP_PARSE_OK)
						continue;
					metas[nf].frame_len = FRAME;
					times[nf++] = now / 10;
					now++;
				}
				if (st == ST_TABLE)
					fp_flow_table_add_burst(t, metas, nf, times);
				else
					sink += metas[nf - 1].key.port_lo;
			}
			packets += BURST;
		}
		c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	} while (c1 - c0 < seconds);
	*flows_out = t != NULL ? (double)fp_flow_table_counters(t)->flows_active : 0;
	if (t != NULL)
		fp_flow_table_free(t);
	free(cp.mem);
	free(cp.free);
	if (sink == 42)
		fputc(' ', stderr);	/* keeps the copy and parse results live */
	return (c1 - c0) * 1e9 / (double)packets;
}

int
main(int argc, char **argv)
{
	const char *flows_arg = argc > 2 ? argv[2] : "100,10000,1000000";
	uint8_t *pool = NULL;
	double hz, flows;
	char *list, *tok, *save = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0) {
		fprintf(stderr, "usage: bench_flow [seconds > 0] [flow counts]\n");
		return 2;
	}
	hz = tsc_hz();
	printf("bench_flow: %.1f s per line, TSC %.3f GHz; cycles/packet = CPU ns/packet x TSC GHz\n",
		seconds, hz / 1e9);
	printf("%-8s %-6s %10s %10s %12s %12s\n", "flows", "stage", "ns/pkt", "cyc/pkt",
		"stage c/p", "flows@end");
	list = strdup(flows_arg);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		uint32_t n_flows = (uint32_t)strtoul(tok, NULL, 10), pool_frames;
		double prev = 0;

		if (n_flows == 0 || n_flows > (1u << 24)) {
			fprintf(stderr, "bench_flow: bad flow count %s\n", tok);
			return 2;
		}
		/* max(POOL_MIN, flows) frames, as bench_rx.py's capture */
		pool_frames = n_flows > POOL_MIN ? n_flows : POOL_MIN;
		free(pool);
		pool = malloc((size_t)pool_frames * FRAME);
		if (pool == NULL) {
			fprintf(stderr, "bench_flow: out of memory\n");
			return 1;
		}
		for (uint32_t i = 0; i < pool_frames; i++)
			make_frame(pool + (size_t)i * FRAME, i % n_flows);
		for (int st = ST_COPY; st <= ST_TABLE; st++) {
			double ns = run_stage((enum stage)st, pool, pool_frames, n_flows, &flows);
			double cyc = ns * hz / 1e9;

			printf("%-8u %-6s %10.2f %10.1f %12.1f %12.0f\n", n_flows, stage_names[st],
				ns, cyc, cyc - prev, flows);
			prev = cyc;
		}
	}
	free(list);
	free(pool);
	return 0;
}

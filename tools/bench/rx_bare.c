/* bench-rx-bare: the RX baseline, a bare rx_burst-and-free loop on one port for a fixed time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define BURST 32

/*
 * usage: bench-rx-bare EAL-ARGS -- SECONDS MBUFS
 * Polls queue 0 of port 0 on the main lcore for SECONDS, frees every mbuf, and prints one JSON
 * line: packets, TSC cycles (in all, and inside rte_eth_rx_burst() calls that returned packets),
 * tsc_hz and the loop thread's CPU time. The same measurement
 * flowpicd's RX lcore reports, minus everything flowpicd does with a packet.
 */
int
main(int argc, char **argv)
{
	struct rte_eth_conf conf;
	struct rte_mempool *mp;
	struct rte_mbuf *pkts[BURST];
	struct timespec cpu0, cpu1;
	struct rusage ru;
	uint64_t packets = 0, driver = 0, t0, t_poll, end, hz;
	double seconds;
	unsigned int mbufs;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bench-rx-bare: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	if (argc != 3) {
		fprintf(stderr, "usage: bench-rx-bare EAL-ARGS -- SECONDS MBUFS\n");
		return 2;
	}
	seconds = atof(argv[1]);
	mbufs = (unsigned int)strtoul(argv[2], NULL, 10);
	mp = rte_pktmbuf_pool_create("bare", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
		rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "bench-rx-bare: mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(0, 1, 0, &conf) != 0 ||
			rte_eth_rx_queue_setup(0, 0, 1024, rte_socket_id(), NULL, mp) != 0 ||
			rte_eth_dev_start(0) != 0) {
		fprintf(stderr, "bench-rx-bare: port 0 set-up failed\n");
		return 1;
	}
	hz = rte_get_tsc_hz();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	t0 = rte_get_tsc_cycles();
	end = t0 + (uint64_t)(seconds * (double)hz);
	while ((t_poll = rte_get_tsc_cycles()) < end) {
		uint16_t n = rte_eth_rx_burst(0, 0, pkts, BURST);

		/* as flowpicd counts its driver cycles: one more TSC read per non-empty poll */
		if (n > 0)
			driver += rte_get_tsc_cycles() - t_poll;
		rte_pktmbuf_free_bulk(pkts, n);
		packets += n;
	}
	t0 = rte_get_tsc_cycles() - t0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"packets\": %" PRIu64 ", \"cycles\": %" PRIu64 ", \"driver_cycles\": %" PRIu64
		", \"tsc_hz\": %" PRIu64 ", \"cpu_ns\": %" PRIu64 ", \"max_rss_kb\": %ld}\n",
		packets, t0, driver, hz,
		(uint64_t)((cpu1.tv_sec - cpu0.tv_sec) * 1000000000ll + cpu1.tv_nsec -
		cpu0.tv_nsec), ru.ru_maxrss);
	rte_eth_dev_stop(0);
	rte_eal_cleanup();
	return 0;
}

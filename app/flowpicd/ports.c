/* Port set-up: probe NICs and vdevs, RX queues only, symmetric RSS where the NIC has it. */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_mbuf_dyn.h>

#include "flowpicd.h"

/* Symmetric Toeplitz key: 0x6d5a repeated makes hash(a->b) == hash(b->a). */
static uint8_t fpd_rss_key[52] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d,
	0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/*
 * Decide how many RX queues a port gets. A port that offers at least n_rx queues and RSS gets
 * one queue per RX lcore; otherwise it gets one queue, polled by the first RX lcore, which
 * spreads packets to the others by a software symmetric hash (see rx.c).
 */
static int
fpd_port_configure(struct fpd_app *app, struct fpd_port *p)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nq = 1;
	uint16_t nb_rxd = app->set.rx_desc;
	int ret;
	unsigned int q;

	ret = rte_eth_dev_info_get(p->port_id, &info);
	if (ret != 0) {
		FPD_LOG(ERR, "port %u (%s): cannot read device info: %s\n", p->port_id,
			p->name, strerror(-ret));
		return ret;
	}
	memset(&conf, 0, sizeof(conf));
	p->rss = 0;
	if (app->n_rx > 1 && info.max_rx_queues >= app->n_rx &&
			(info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
				RTE_ETH_RSS_UDP)) != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = fpd_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len =
			info.hash_key_size > 0 && info.hash_key_size <= sizeof(fpd_rss_key) ?
			info.hash_key_size : 40;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
			RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		nq = app->n_rx;
		p->rss = 1;
	}
	if (info.rx_desc_lim.nb_max > 0 && nb_rxd > info.rx_desc_lim.nb_max)
		nb_rxd = info.rx_desc_lim.nb_max;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP && app->set.clock_packet)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;

	ret = rte_eth_dev_configure(p->port_id, nq, 0, &conf);
	if (ret != 0 && p->rss) {
		FPD_LOG(WARNING, "port %u (%s): RSS set-up failed (%s); falling back to one queue "
			"and software distribution\n", p->port_id, p->name, strerror(-ret));
		memset(&conf.rx_adv_conf, 0, sizeof(conf.rx_adv_conf));
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
		nq = 1;
		p->rss = 0;
		ret = rte_eth_dev_configure(p->port_id, nq, 0, &conf);
	}
	if (ret != 0) {
		FPD_LOG(ERR, "port %u (%s): configure failed: %s\n", p->port_id, p->name,
			strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, NULL);
	if (ret != 0)
		return ret;
	for (q = 0; q < nq; q++) {
		ret = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd,
			rte_eth_dev_socket_id(p->port_id), NULL, app->mbuf_pool);
		if (ret != 0) {
			FPD_LOG(ERR, "port %u (%s): RX queue %u set-up failed: %s\n", p->port_id,
				p->name, q, strerror(-ret));
			return ret;
		}
	}
	p->n_queues = nq;
	return 0;
}

int
fpd_ports_init(struct fpd_app *app)
{
	uint16_t port_id;
	unsigned int i;
	int ret;

	app->n_ports = 0;
	RTE_ETH_FOREACH_DEV(port_id) {
		struct fpd_port *p;

		if (app->n_ports == FPD_MAX_PORTS) {
			FPD_LOG(ERR, "more than %d ports\n", FPD_MAX_PORTS);
			return -E2BIG;
		}
		p = &app->ports[app->n_ports++];
		memset(p, 0, sizeof(*p));
		p->port_id = port_id;
		rte_eth_dev_get_name_by_port(port_id, p->name);
		for (i = 0; i < app->n_replay; i++)
			if (strcmp(app->replay[i].name, p->name) == 0) {
				p->frames = app->replay[i].frames;
				app->snaplen[port_id] = app->replay[i].snaplen;
			}
		ret = fpd_port_configure(app, p);
		if (ret != 0)
			return ret;
		ret = app->set.promiscuous ? rte_eth_promiscuous_enable(port_id) : 0;
		if (ret != 0 && ret != -ENOTSUP)
			FPD_LOG(WARNING, "port %u (%s): promiscuous mode: %s\n", port_id, p->name,
				strerror(-ret));
		ret = rte_eth_dev_start(port_id);
		if (ret != 0) {
			FPD_LOG(ERR, "port %u (%s): start failed: %s\n", port_id, p->name,
				strerror(-ret));
			return ret;
		}
		FPD_LOG(INFO, "port %u (%s): %u RX queue(s), %s, no TX\n", port_id, p->name,
			p->n_queues, p->rss ? "symmetric RSS" : "software distribution");
	}
	if (app->n_ports == 0) {
		FPD_LOG(ERR, "no ports: give a PCI NIC bound to vfio-pci or a vdev in 'ports'\n");
		return -ENODEV;
	}
	ret = rte_mbuf_dyn_rx_timestamp_register(&app->ts_offset, &app->ts_flag);
	if (ret != 0 && app->set.clock_packet) {
		FPD_LOG(ERR, "flow.clock is 'packet' but the Rx timestamp field cannot be "
			"registered: %s\n", strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

void
fpd_ports_stop(struct fpd_app *app)
{
	unsigned int i;

	for (i = 0; i < app->n_ports; i++) {
		rte_eth_dev_stop(app->ports[i].port_id);
		rte_eth_dev_close(app->ports[i].port_id);
	}
}

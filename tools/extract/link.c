/* Link-layer decoding for fp-extract: Ethernet, Linux cooked (SLL, SLL2), raw IP, loopback. */
#include <pcap/dlt.h>

#include "extract.h"

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define NULL_HLEN 4

int
fpx_link_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

static inline uint16_t
rd16be(const uint8_t *p)
{
	return (uint16_t)((unsigned int)p[0] << 8 | p[1]);
}

/* BSD loopback: a 4-byte address family in the capturing host's order (DLT_NULL) or big-endian
 * (DLT_LOOP); AF_INET is 2 everywhere, AF_INET6 is 10, 24, 28 or 30 depending on the OS. */
static uint16_t
loop_ethertype(int dlt, const uint8_t *p)
{
	uint32_t be = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	uint32_t le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	uint32_t af = dlt == DLT_LOOP ? be : (be < le ? be : le);

	if (af == 2)
		return 0x0800;
	if (af == 10 || af == 24 || af == 28 || af == 30)
		return 0x86dd;
	return 0;
}

enum fp_parse_reason
fpx_link_parse(int dlt, const uint8_t *data, uint32_t caplen, uint32_t wire_len,
		struct fp_pkt_meta *m)
{
	enum fp_parse_reason r;
	uint32_t hlen;

	switch (dlt) {
	case DLT_EN10MB:
		r = fp_pkt_parse(data, caplen, m);
		hlen = ETH_HLEN;	/* wire_len is already an Ethernet frame length */
		break;
	case DLT_LINUX_SLL:
		hlen = SLL_HLEN;
		if (caplen < hlen)
			return FP_PARSE_TRUNC_ETH;
		r = fp_pkt_parse_l3(data, caplen, hlen, rd16be(data + 14), m);
		break;
	case DLT_LINUX_SLL2:
		hlen = SLL2_HLEN;
		if (caplen < hlen)
			return FP_PARSE_TRUNC_ETH;
		r = fp_pkt_parse_l3(data, caplen, hlen, rd16be(data), m);
		break;
	case DLT_NULL:
	case DLT_LOOP:
		hlen = NULL_HLEN;
		if (caplen < hlen)
			return FP_PARSE_TRUNC_ETH;
		r = fp_pkt_parse_l3(data, caplen, hlen, loop_ethertype(dlt, data), m);
		break;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		hlen = 0;
		r = fp_pkt_parse_ip(data, caplen, m);
		break;
	default:
		return FP_PARSE_NON_IP;
	}
	if (r != FP_PARSE_OK)
		return r;
	if (dlt == DLT_EN10MB)
		m->frame_len = wire_len;
	else
		m->frame_len = (wire_len > hlen ? wire_len - hlen : 0) + ETH_HLEN;
	return FP_PARSE_OK;
}

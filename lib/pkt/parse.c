/* Frame parsing: Ethernet/VLAN, IPv4, IPv6 extension chain, TCP/UDP ports -> flow key. */
#include <string.h>

#include "pkt.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned int)p[0] << 8 | p[1]);
}

static inline int
is_vlan_tpid(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

/* Load big-endian: compares as the byte string does. */
static inline uint64_t
rd64be(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

static inline uint32_t
rd32be(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

/* memcmp()'s sign for a 4- or 16-byte address, without the library call per packet. */
static inline int
addr_cmp(const uint8_t *a, const uint8_t *b, size_t alen)
{
	uint64_t x, y;

	if (alen == 4) {
		x = rd32be(a);
		y = rd32be(b);
	} else {
		x = rd64be(a);
		y = rd64be(b);
		if (x == y) {
			x = rd64be(a + 8);
			y = rd64be(b + 8);
		}
	}
	return (x > y) - (x < y);
}

/*
 * Fill the key's endpoints in canonical order (lower address, then lower port, first) and
 * set m->swapped when the packet's source is the higher endpoint.
 */
static inline void
set_endpoints(struct fp_pkt_meta *m, const uint8_t *src, const uint8_t *dst, size_t alen,
		uint16_t sport, uint16_t dport)
{
	struct fp_flow_key *k = &m->key;
	int c = addr_cmp(src, dst, alen);
	int swap = c > 0 || (c == 0 && sport > dport);

	if (alen == 4) {	/* constant sizes: inline copies, no library call */
		memcpy(k->addr_lo, swap ? dst : src, 4);
		memcpy(k->addr_hi, swap ? src : dst, 4);
	} else {
		memcpy(k->addr_lo, swap ? dst : src, 16);
		memcpy(k->addr_hi, swap ? src : dst, 16);
	}
	k->port_lo = swap ? dport : sport;
	k->port_hi = swap ? sport : dport;
	m->swapped = (uint8_t)swap;
}

/*
 * Read the L4 ports at offset l4 (datagram/frame end at end) and finish the key.
 * later: the packet is a non-first fragment (no L4 header).
 */
static inline enum fp_parse_reason
parse_l4(const uint8_t *f, uint32_t l4, uint32_t end, uint8_t proto, int later,
		const uint8_t *src, const uint8_t *dst, size_t alen, struct fp_pkt_meta *m)
{
	uint16_t sport = 0, dport = 0;

	m->key.proto = proto;
	m->l4_off = (uint16_t)l4;
	m->tcp_flags = 0;
	if (!later) {
		if (proto == IPPROTO_TCP_) {
			if (end - l4 < TCP_HLEN)
				return FP_PARSE_TRUNC_L4;
			m->tcp_flags = f[l4 + 13];
		} else if (proto == IPPROTO_UDP_) {
			if (end - l4 < UDP_HLEN)
				return FP_PARSE_TRUNC_L4;
		}
		if (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) {
			sport = rd16(f + l4);
			dport = rd16(f + l4 + 2);
		}
	}
	set_endpoints(m, src, dst, alen, sport, dport);
	return FP_PARSE_OK;
}

static enum fp_parse_reason
parse_ipv4(const uint8_t *f, uint32_t len, uint32_t off, struct fp_pkt_meta *m)
{
	const uint8_t *ip = f + off;
	uint32_t hl, tot, end, frag;
	uint8_t flags = 0;
	int later;

	if (len - off < IPV4_HLEN)
		return FP_PARSE_TRUNC_IP;
	if ((ip[0] >> 4) != 4)
		return FP_PARSE_BAD_IP_VERSION;
	hl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hl < IPV4_HLEN || hl > len - off)
		return FP_PARSE_BAD_IP_HLEN;
	tot = rd16(ip + 2);
	if (tot < hl)
		return FP_PARSE_BAD_IP_LEN;
	m->ip_len = tot;
	m->key.family = FP_AF_IPV4;
	if (hl > IPV4_HLEN)
		flags |= FP_PKT_F_IP_OPTIONS;
	end = off + tot;
	if (end > len) {
		end = len;
		flags |= FP_PKT_F_SHORT_FRAME;
	}
	frag = rd16(ip + 6);
	later = (frag & 0x1fff) != 0;
	if (frag & 0x3fff)
		flags |= FP_PKT_F_FRAG;
	if (later)
		flags |= FP_PKT_F_FRAG_LATER;
	m->flags = flags;
	return parse_l4(f, off + hl, end, ip[9], later, ip + 12, ip + 16, 4, m);
}

static enum fp_parse_reason
parse_ipv6(const uint8_t *f, uint32_t len, uint32_t off, struct fp_pkt_meta *m)
{
	const uint8_t *ip = f + off;
	uint32_t plen, end, p, hlen;
	uint8_t nh, flags = 0;
	int later = 0, n;

	if (len - off < IPV6_HLEN)
		return FP_PARSE_TRUNC_IP;
	if ((ip[0] >> 4) != 6)
		return FP_PARSE_BAD_IP_VERSION;
	plen = rd16(ip + 4);
	m->ip_len = IPV6_HLEN + plen;
	m->key.family = FP_AF_IPV6;
	if (plen == 0) {
		/* jumbogram (or an empty datagram): the frame bounds it */
		end = len;
	} else {
		end = off + IPV6_HLEN + plen;
		if (end > len) {
			end = len;
			flags |= FP_PKT_F_SHORT_FRAME;
		}
	}
	nh = ip[6];
	p = off + IPV6_HLEN;
	for (n = 0; !later; n++) {
		if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_) {
			if (end - p < 2)
				return FP_PARSE_BAD_IPV6_EXT;
			hlen = ((uint32_t)f[p + 1] + 1) * 8;
		} else if (nh == IPPROTO_AH_) {
			if (end - p < 2)
				return FP_PARSE_BAD_IPV6_EXT;
			hlen = ((uint32_t)f[p + 1] + 2) * 4;
		} else if (nh == IPPROTO_FRAGMENT_) {
			hlen = 8;
			if (end - p < hlen)
				return FP_PARSE_BAD_IPV6_EXT;
			flags |= FP_PKT_F_FRAG;
			if ((rd16(f + p + 2) & 0xfff8) != 0) {
				later = 1;
				flags |= FP_PKT_F_FRAG_LATER;
			}
		} else {
			break;
		}
		if (n == FP_PKT_IPV6_EXT_MAX || hlen > end - p)
			return FP_PARSE_BAD_IPV6_EXT;
		flags |= FP_PKT_F_IPV6_EXT;
		nh = f[p];
		p += hlen;
	}
	m->flags = flags;
	return parse_l4(f, p, end, nh, later, ip + 8, ip + 24, 16, m);
}

/* Clear everything the L3/L4 parsers fill, keeping what L2 found. */
static inline void
meta_reset_l3(struct fp_pkt_meta *m, uint32_t l3_off)
{
	uint16_t vlan = m->key.vlan;

	memset(&m->key, 0, sizeof(m->key));
	m->key.vlan = vlan;
	m->l3_off = (uint16_t)l3_off;
	m->l4_off = 0;
	m->ip_len = 0;
	m->flags = 0;
	m->swapped = 0;
	m->tcp_flags = 0;
}

static inline enum fp_parse_reason
parse_l3(const uint8_t *f, uint32_t len, uint32_t off, uint16_t et, struct fp_pkt_meta *m)
{
	meta_reset_l3(m, off);
	if (et == ETHERTYPE_IPV4)
		return parse_ipv4(f, len, off, m);
	if (et == ETHERTYPE_IPV6)
		return parse_ipv6(f, len, off, m);
	return FP_PARSE_NON_IP;
}

enum fp_parse_reason
fp_pkt_parse(const uint8_t *frame, uint32_t len, struct fp_pkt_meta *m)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;

	m->frame_len = len;
	m->vlan_count = 0;
	m->vlan_inner = 0;
	m->key.vlan = 0;
	if (len < ETH_HLEN)
		return FP_PARSE_TRUNC_ETH;
	et = rd16(frame + 12);
	while (is_vlan_tpid(et)) {
		uint16_t vid;

		if (m->vlan_count == FP_PKT_VLAN_MAX)
			return FP_PARSE_VLAN_DEPTH;
		if (len - off < VLAN_HLEN)
			return FP_PARSE_TRUNC_ETH;
		vid = rd16(frame + off) & 0x0fff;
		if (m->vlan_count == 0)
			m->key.vlan = vid;
		else
			m->vlan_inner = vid;
		m->vlan_count++;
		et = rd16(frame + off + 2);
		off += VLAN_HLEN;
	}
	return parse_l3(frame, len, off, et, m);
}

enum fp_parse_reason
fp_pkt_parse_l3(const uint8_t *frame, uint32_t len, uint32_t l3_off, uint16_t ethertype,
		struct fp_pkt_meta *m)
{
	m->frame_len = len;
	m->vlan_count = 0;
	m->vlan_inner = 0;
	m->key.vlan = 0;
	if (l3_off > len || l3_off > UINT16_MAX)
		return FP_PARSE_TRUNC_ETH;
	return parse_l3(frame, len, l3_off, ethertype, m);
}

enum fp_parse_reason
fp_pkt_parse_ip(const uint8_t *pkt, uint32_t len, struct fp_pkt_meta *m)
{
	uint16_t et;

	m->frame_len = len;
	m->vlan_count = 0;
	m->vlan_inner = 0;
	m->key.vlan = 0;
	if (len == 0)
		return FP_PARSE_TRUNC_IP;
	switch (pkt[0] >> 4) {
	case 4:
		et = ETHERTYPE_IPV4;
		break;
	case 6:
		et = ETHERTYPE_IPV6;
		break;
	default:
		return FP_PARSE_BAD_IP_VERSION;
	}
	return parse_l3(pkt, len, 0, et, m);
}

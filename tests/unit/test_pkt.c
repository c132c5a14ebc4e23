/* Unit tests of lib/pkt: frame parsing, reasons, canonical keys, hashes and text forms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "pkt.h"

/* Frame under construction. */
struct frame {
	uint8_t b[512];
	uint32_t len;
};

static void
put(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void
put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 2);
}

static void
eth(struct frame *f, uint16_t ethertype)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	f->len = 0;
	put(f, macs, 12);
	put16(f, ethertype);
}

static void
vlan(struct frame *f, uint16_t tci, uint16_t next)
{
	put16(f, tci);
	put16(f, next);
}

/* IPv4 header: ihl in 32-bit words (options zero-filled), total length, frag field, proto. */
static void
ipv4(struct frame *f, unsigned int ihl, uint16_t tot, uint16_t frag, uint8_t proto,
		const uint8_t src[4], const uint8_t dst[4])
{
	uint8_t h[60] = { 0 };

	h[0] = (uint8_t)(0x40 | ihl);
	h[2] = (uint8_t)(tot >> 8);
	h[3] = (uint8_t)tot;
	h[6] = (uint8_t)(frag >> 8);
	h[7] = (uint8_t)frag;
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	put(f, h, ihl * 4);
}

static void
ipv6(struct frame *f, uint16_t plen, uint8_t nh, const uint8_t src[16], const uint8_t dst[16])
{
	uint8_t h[40] = { 0 };

	h[0] = 0x60;
	h[4] = (uint8_t)(plen >> 8);
	h[5] = (uint8_t)plen;
	h[6] = nh;
	h[7] = 64;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	put(f, h, 40);
}

static void
tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint8_t h[20] = { 0 };

	h[0] = (uint8_t)(sport >> 8);
	h[1] = (uint8_t)sport;
	h[2] = (uint8_t)(dport >> 8);
	h[3] = (uint8_t)dport;
	h[12] = 0x50;
	h[13] = flags;
	put(f, h, 20);
}

static void
udp(struct frame *f, uint16_t sport, uint16_t dport, uint16_t ulen)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, ulen);
	put16(f, 0);
}

static void
payload(struct frame *f, uint32_t n)
{
	memset(f->b + f->len, 0xab, n);
	f->len += n;
}

static const uint8_t A4[4] = { 10, 0, 0, 1 };
static const uint8_t B4[4] = { 10, 0, 0, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* Parse from a heap copy of exactly len bytes, so a read past len shows under valgrind. */
static enum fp_parse_reason
parse_exact(const uint8_t *b, uint32_t len, struct fp_pkt_meta *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum fp_parse_reason r;

	memcpy(copy, b, len);
	r = fp_pkt_parse(copy, len, m);
	free(copy);
	return r;
}

/* 10.0.0.1:40000 -> 10.0.0.2:443 TCP, 100 bytes of payload. */
static void
build_tcp4(struct frame *f, int reverse)
{
	eth(f, 0x0800);
	ipv4(f, 5, 20 + 20 + 100, 0x4000, 6, reverse ? B4 : A4, reverse ? A4 : B4);
	tcp(f, reverse ? 443 : 40000, reverse ? 40000 : 443, 0x18);
	payload(f, 100);
}

static int
test_ipv4_tcp(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	build_tcp4(&f, 0);
	FP_ASSERT_EQ(f.len, 154);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.family, 4);
	FP_ASSERT_EQ(m.key.proto, 6);
	FP_ASSERT_EQ(m.key.port_lo, 40000);
	FP_ASSERT_EQ(m.key.port_hi, 443);
	FP_ASSERT(memcmp(m.key.addr_lo, A4, 4) == 0);
	FP_ASSERT(memcmp(m.key.addr_hi, B4, 4) == 0);
	for (int i = 4; i < 16; i++)
		FP_ASSERT_EQ(m.key.addr_lo[i] | m.key.addr_hi[i], 0);
	FP_ASSERT_EQ(m.key.vlan, 0);
	FP_ASSERT_EQ(m.swapped, 0);
	FP_ASSERT_EQ(m.ip_len, 140);
	FP_ASSERT_EQ(m.frame_len, 154);
	FP_ASSERT_EQ(m.l3_off, 14);
	FP_ASSERT_EQ(m.l4_off, 34);
	FP_ASSERT_EQ(m.flags, 0);	/* DF set, not a fragment */
	FP_ASSERT_EQ(m.tcp_flags, 0x18);
	FP_ASSERT_EQ(m.vlan_count, 0);
	return 0;
}

static int
test_both_directions(void)
{
	struct frame f, g;
	struct fp_pkt_meta m, n;

	build_tcp4(&f, 0);
	build_tcp4(&g, 1);
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(fp_pkt_parse(g.b, g.len, &n), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_equal(&m.key, &n.key));
	FP_ASSERT(memcmp(&m.key, &n.key, sizeof(m.key)) == 0);
	FP_ASSERT_EQ(fp_flow_key_hash(&m.key), fp_flow_key_hash(&n.key));
	FP_ASSERT_EQ(m.swapped, 0);
	FP_ASSERT_EQ(n.swapped, 1);

	/* same address both sides: the ports decide; 443 < 40000 so 443 is lo */
	eth(&f, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, A4);
	tcp(&f, 40000, 443, 0x02);
	eth(&g, 0x0800);
	ipv4(&g, 5, 40, 0, 6, A4, A4);
	tcp(&g, 443, 40000, 0x12);
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(fp_pkt_parse(g.b, g.len, &n), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_equal(&m.key, &n.key));
	FP_ASSERT_EQ(m.key.port_lo, 443);
	FP_ASSERT_EQ(m.swapped, 1);
	FP_ASSERT_EQ(n.swapped, 0);

	/* IPv6 both ways */
	eth(&f, 0x86dd);
	ipv6(&f, 20, 6, B6, A6);
	tcp(&f, 443, 50000, 0x10);
	eth(&g, 0x86dd);
	ipv6(&g, 20, 6, A6, B6);
	tcp(&g, 50000, 443, 0x10);
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(fp_pkt_parse(g.b, g.len, &n), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_equal(&m.key, &n.key));
	FP_ASSERT_EQ(fp_flow_key_hash(&m.key), fp_flow_key_hash(&n.key));
	FP_ASSERT_EQ(m.swapped, 1);
	FP_ASSERT_EQ(n.swapped, 0);
	FP_ASSERT(memcmp(m.key.addr_lo, A6, 16) == 0);

	/* a different flow (other port) has another key and, here, another hash */
	eth(&g, 0x86dd);
	ipv6(&g, 20, 6, A6, B6);
	tcp(&g, 50001, 443, 0x10);
	FP_ASSERT_EQ(fp_pkt_parse(g.b, g.len, &n), FP_PARSE_OK);
	FP_ASSERT(!fp_flow_key_equal(&m.key, &n.key));
	FP_ASSERT_NE(fp_flow_key_hash(&m.key), fp_flow_key_hash(&n.key));
	return 0;
}

static int
test_udp_icmp(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	eth(&f, 0x0800);
	ipv4(&f, 5, 20 + 8 + 32, 0, 17, B4, A4);
	udp(&f, 53, 5353, 40);
	payload(&f, 32);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 17);
	FP_ASSERT_EQ(m.key.port_lo, 5353);	/* A4 < B4: A4's port is lo */
	FP_ASSERT_EQ(m.key.port_hi, 53);
	FP_ASSERT_EQ(m.swapped, 1);
	FP_ASSERT_EQ(m.ip_len, 60);
	FP_ASSERT_EQ(m.tcp_flags, 0);

	/* ICMP echo: ports 0, proto 1 */
	eth(&f, 0x0800);
	ipv4(&f, 5, 20 + 8 + 56, 0, 1, A4, B4);
	put16(&f, 0x0800);
	put16(&f, 0);
	put16(&f, 0x1234);
	put16(&f, 1);
	payload(&f, 56);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 1);
	FP_ASSERT_EQ(m.key.port_lo, 0);
	FP_ASSERT_EQ(m.key.port_hi, 0);
	FP_ASSERT_EQ(m.ip_len, 84);
	FP_ASSERT_EQ(m.l4_off, 34);

	/* GRE with only its IP header in the frame is fine: no L4 header needed */
	eth(&f, 0x0800);
	ipv4(&f, 5, 20, 0, 47, A4, B4);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 47);
	FP_ASSERT_EQ(m.ip_len, 20);

	/* Ethernet padding: a 60-byte frame carrying a 40-byte datagram */
	eth(&f, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1, 2, 0x10);
	payload(&f, 6);
	FP_ASSERT_EQ(f.len, 60);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.ip_len, 40);
	FP_ASSERT_EQ(m.frame_len, 60);
	FP_ASSERT_EQ(m.flags, 0);
	return 0;
}

static int
test_ipv4_options(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	eth(&f, 0x0800);
	ipv4(&f, 8, 32 + 8 + 10, 0, 17, A4, B4);	/* 12 bytes of options */
	udp(&f, 1000, 2000, 18);
	payload(&f, 10);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.l4_off, 14 + 32);
	FP_ASSERT_EQ(m.key.port_lo, 1000);
	FP_ASSERT_EQ(m.key.port_hi, 2000);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_IP_OPTIONS);
	FP_ASSERT_EQ(m.ip_len, 50);
	return 0;
}

static int
test_ipv4_fragments(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	/* first fragment: MF set, offset 0: ports present */
	eth(&f, 0x0800);
	ipv4(&f, 5, 20 + 8 + 1472 - 8, 0x2000, 17, A4, B4);
	udp(&f, 4000, 4500, 3000);
	payload(&f, 100);	/* snapped: the datagram is longer than the frame */
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.port_lo, 4000);
	FP_ASSERT_EQ(m.key.port_hi, 4500);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_FRAG | FP_PKT_F_SHORT_FRAME);
	FP_ASSERT_EQ(m.ip_len, 1492);

	/* later fragment: offset 185 (1480 bytes): no ports, proto kept */
	eth(&f, 0x0800);
	ipv4(&f, 5, 20 + 40, 185, 17, B4, A4);
	payload(&f, 40);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 17);
	FP_ASSERT_EQ(m.key.port_lo, 0);
	FP_ASSERT_EQ(m.key.port_hi, 0);
	FP_ASSERT_EQ(m.swapped, 1);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_FRAG | FP_PKT_F_FRAG_LATER);
	FP_ASSERT_EQ(m.ip_len, 60);

	/* last fragment with too few bytes for a UDP header is still fine (no L4 header) */
	eth(&f, 0x0800);
	ipv4(&f, 5, 20 + 4, 370, 17, A4, B4);
	payload(&f, 4);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_FRAG | FP_PKT_F_FRAG_LATER);
	return 0;
}

static int
test_vlan(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	/* 802.1Q, PCP 5, VID 100 */
	eth(&f, 0x8100);
	vlan(&f, (5 << 13) | 100, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1234, 80, 0x02);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.vlan, 100);
	FP_ASSERT_EQ(m.vlan_count, 1);
	FP_ASSERT_EQ(m.vlan_inner, 0);
	FP_ASSERT_EQ(m.l3_off, 18);
	FP_ASSERT_EQ(m.l4_off, 38);
	FP_ASSERT_EQ(m.key.port_lo, 1234);

	/* QinQ with each outer TPID: outer VID 200 in the key, inner 300 in the meta */
	static const uint16_t outer[] = { 0x88a8, 0x9100, 0x8100 };
	for (unsigned int i = 0; i < 3; i++) {
		eth(&f, outer[i]);
		vlan(&f, 200, 0x8100);
		vlan(&f, 300, 0x86dd);
		ipv6(&f, 8, 17, A6, B6);
		udp(&f, 5000, 6000, 8);
		FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
		FP_ASSERT_EQ(m.key.vlan, 200);
		FP_ASSERT_EQ(m.vlan_inner, 300);
		FP_ASSERT_EQ(m.vlan_count, 2);
		FP_ASSERT_EQ(m.l3_off, 22);
		FP_ASSERT_EQ(m.key.family, 6);
		FP_ASSERT_EQ(m.key.port_hi, 6000);
	}

	/* three tags */
	eth(&f, 0x88a8);
	vlan(&f, 1, 0x8100);
	vlan(&f, 2, 0x8100);
	vlan(&f, 3, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1, 2, 0);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_VLAN_DEPTH);

	/* tag cut short */
	eth(&f, 0x8100);
	put16(&f, 100);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_TRUNC_ETH);

	/* same flow on another VLAN is another key */
	struct fp_pkt_meta a, b;
	eth(&f, 0x8100);
	vlan(&f, 10, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1, 2, 0);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &a), FP_PARSE_OK);
	eth(&f, 0x8100);
	vlan(&f, 11, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1, 2, 0);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &b), FP_PARSE_OK);
	FP_ASSERT(!fp_flow_key_equal(&a.key, &b.key));
	return 0;
}

static int
test_non_ip(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	eth(&f, 0x0806);	/* ARP request */
	put16(&f, 1);
	put16(&f, 0x0800);
	payload(&f, 24);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_NON_IP);
	FP_ASSERT_EQ(m.frame_len, 42);

	eth(&f, 0x0026);	/* 802.3 length field (STP/LLC) */
	payload(&f, 38);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_NON_IP);

	eth(&f, 0x8100);	/* LLDP behind a VLAN tag */
	vlan(&f, 5, 0x88cc);
	payload(&f, 30);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_NON_IP);
	return 0;
}

static int
test_ipv4_malformed(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	/* IHL 4 (16 bytes) */
	build_tcp4(&f, 0);
	f.b[14] = 0x44;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IP_HLEN);

	/* IHL 15 (60 bytes) in a 40-byte frame payload */
	eth(&f, 0x0800);
	ipv4(&f, 5, 40, 0, 6, A4, B4);
	tcp(&f, 1, 2, 0);
	f.b[14] = 0x4f;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IP_HLEN);

	/* total length 19 < 20-byte header */
	build_tcp4(&f, 0);
	f.b[16] = 0;
	f.b[17] = 19;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IP_LEN);

	/* total length 30: header fits but TCP header does not fit in the datagram */
	build_tcp4(&f, 0);
	f.b[16] = 0;
	f.b[17] = 30;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_TRUNC_L4);

	/* EtherType IPv4, version 6 */
	build_tcp4(&f, 0);
	f.b[14] = 0x65;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IP_VERSION);

	/* EtherType IPv6, version 4 */
	eth(&f, 0x86dd);
	ipv6(&f, 20, 6, A6, B6);
	tcp(&f, 1, 2, 0);
	f.b[14] = 0x45;
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IP_VERSION);
	return 0;
}

/* Expected reason of an Ethernet/IPv4/TCP (54 + 100 bytes) frame cut to len bytes. */
static enum fp_parse_reason
tcp4_trunc_reason(uint32_t len)
{
	if (len < 14)
		return FP_PARSE_TRUNC_ETH;
	if (len < 34)
		return FP_PARSE_TRUNC_IP;
	if (len < 54)
		return FP_PARSE_TRUNC_L4;
	return FP_PARSE_OK;
}

static int
test_truncation_ipv4(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	build_tcp4(&f, 0);
	for (uint32_t len = 0; len <= f.len; len++) {
		enum fp_parse_reason r = parse_exact(f.b, len, &m);

		if (r != tcp4_trunc_reason(len))
			FP_FAIL("len %u: reason %s, expected %s", len, fp_parse_reason_label(r),
				fp_parse_reason_label(tcp4_trunc_reason(len)));
		FP_ASSERT_EQ(m.frame_len, len);
		if (r == FP_PARSE_OK) {
			FP_ASSERT_EQ(m.ip_len, 140);
			FP_ASSERT_EQ(!!(m.flags & FP_PKT_F_SHORT_FRAME), len < 154);
		}
	}
	return 0;
}

/* 2001:db8::1:40000 -> 2001:db8::2:443, TCP with 60 payload bytes: 14 + 40 + 20 + 60 = 134. */
static void
build_tcp6(struct frame *f)
{
	eth(f, 0x86dd);
	ipv6(f, 80, 6, A6, B6);
	tcp(f, 40000, 443, 0x10);
	payload(f, 60);
}

static int
test_ipv6_tcp_truncation(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	build_tcp6(&f);
	FP_ASSERT_EQ(f.len, 134);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.family, 6);
	FP_ASSERT_EQ(m.key.proto, 6);
	FP_ASSERT_EQ(m.ip_len, 120);
	FP_ASSERT_EQ(m.l4_off, 54);
	FP_ASSERT_EQ(m.key.port_lo, 40000);
	FP_ASSERT_EQ(m.key.port_hi, 443);
	FP_ASSERT(memcmp(m.key.addr_lo, A6, 16) == 0);
	FP_ASSERT(memcmp(m.key.addr_hi, B6, 16) == 0);
	FP_ASSERT_EQ(m.flags, 0);

	for (uint32_t len = 0; len <= f.len; len++) {
		enum fp_parse_reason want = len < 14 ? FP_PARSE_TRUNC_ETH :
			len < 54 ? FP_PARSE_TRUNC_IP :
			len < 74 ? FP_PARSE_TRUNC_L4 : FP_PARSE_OK;
		enum fp_parse_reason r = parse_exact(f.b, len, &m);

		if (r != want)
			FP_FAIL("len %u: reason %s, expected %s", len, fp_parse_reason_label(r),
				fp_parse_reason_label(want));
		if (r == FP_PARSE_OK) {
			FP_ASSERT_EQ(m.ip_len, 120);
			FP_ASSERT_EQ(!!(m.flags & FP_PKT_F_SHORT_FRAME), len < 134);
		}
	}
	return 0;
}

/*
 * IPv6 + hop-by-hop (8 bytes) + destination options (16 bytes) + fragment (first, MF) +
 * UDP 7000 -> 53 with 12 payload bytes: payload length 8 + 16 + 8 + 8 + 12 = 52.
 */
static void
build_ext6(struct frame *f, uint16_t frag_off_mf)
{
	uint8_t hbh[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };		/* next: dst opts, PadN */
	uint8_t dst[16] = { 44, 1, 1, 12 };			/* next: fragment, PadN */
	uint8_t frag[8] = { 17, 0, (uint8_t)(frag_off_mf >> 8), (uint8_t)frag_off_mf,
		0, 0, 0, 7 };

	eth(f, 0x86dd);
	ipv6(f, 52, 0, B6, A6);
	put(f, hbh, 8);
	put(f, dst, 16);
	put(f, frag, 8);
	udp(f, 7000, 53, 20);
	payload(f, 12);
}

static int
test_ipv6_ext(void)
{
	struct frame f;
	struct fp_pkt_meta m;

	build_ext6(&f, 0x0001);		/* offset 0, MF */
	FP_ASSERT_EQ(f.len, 106);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 17);
	FP_ASSERT_EQ(m.l4_off, 14 + 40 + 32);
	FP_ASSERT_EQ(m.ip_len, 92);
	FP_ASSERT_EQ(m.key.port_lo, 53);	/* A6 (dst) is lo */
	FP_ASSERT_EQ(m.key.port_hi, 7000);
	FP_ASSERT_EQ(m.swapped, 1);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_IPV6_EXT | FP_PKT_F_FRAG);

	/* later fragment (offset 1480 = 185 * 8): ports 0 */
	build_ext6(&f, 185 << 3);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 17);
	FP_ASSERT_EQ(m.key.port_lo, 0);
	FP_ASSERT_EQ(m.key.port_hi, 0);
	FP_ASSERT_EQ(m.flags, FP_PKT_F_IPV6_EXT | FP_PKT_F_FRAG | FP_PKT_F_FRAG_LATER);

	/* every truncation: inside the chain -> BAD_IPV6_EXT, inside UDP -> TRUNC_L4 */
	build_ext6(&f, 0x0001);
	for (uint32_t len = 0; len <= f.len; len++) {
		enum fp_parse_reason want = len < 14 ? FP_PARSE_TRUNC_ETH :
			len < 54 ? FP_PARSE_TRUNC_IP :
			len < 86 ? FP_PARSE_BAD_IPV6_EXT :
			len < 94 ? FP_PARSE_TRUNC_L4 : FP_PARSE_OK;
		enum fp_parse_reason r = parse_exact(f.b, len, &m);

		if (r != want)
			FP_FAIL("len %u: reason %s, expected %s", len, fp_parse_reason_label(r),
				fp_parse_reason_label(want));
	}

	/* chain longer than the payload length says */
	build_ext6(&f, 0x0001);
	f.b[18] = 0;
	f.b[19] = 20;	/* payload length 20: dst opts end at 24 */
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IPV6_EXT);

	/* AH (len 4 -> 24 bytes) then TCP: ports found past AH */
	uint8_t ah[24] = { 6, 4 };
	eth(&f, 0x86dd);
	ipv6(&f, 24 + 20, 51, A6, B6);
	put(&f, ah, 24);
	tcp(&f, 22, 60000, 0x10);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 6);
	FP_ASSERT_EQ(m.key.port_lo, 22);
	FP_ASSERT_EQ(m.l4_off, 14 + 40 + 24);

	/* routing header then ESP: protocol 50, ports 0 */
	uint8_t rh[8] = { 50, 0, 0, 0 };
	eth(&f, 0x86dd);
	ipv6(&f, 8 + 16, 43, A6, B6);
	put(&f, rh, 8);
	payload(&f, 16);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.proto, 50);
	FP_ASSERT_EQ(m.key.port_lo, 0);

	/* nine destination-options headers: past FP_PKT_IPV6_EXT_MAX */
	eth(&f, 0x86dd);
	ipv6(&f, 9 * 8 + 8, 60, A6, B6);
	for (int i = 0; i < 9; i++) {
		uint8_t d[8] = { (uint8_t)(i < 8 ? 60 : 17), 0, 1, 4 };

		put(&f, d, 8);
	}
	udp(&f, 1, 2, 8);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_BAD_IPV6_EXT);
	/* eight are accepted */
	eth(&f, 0x86dd);
	ipv6(&f, 8 * 8 + 8, 60, A6, B6);
	for (int i = 0; i < 8; i++) {
		uint8_t d[8] = { (uint8_t)(i < 7 ? 60 : 17), 0, 1, 4 };

		put(&f, d, 8);
	}
	udp(&f, 1, 2, 8);
	FP_ASSERT_EQ(parse_exact(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(m.key.port_hi, 2);
	return 0;
}

static int
test_parse_ip_and_l3(void)
{
	struct frame f;
	struct fp_pkt_meta m, e;

	build_tcp4(&f, 0);
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &e), FP_PARSE_OK);
	FP_ASSERT_EQ(fp_pkt_parse_ip(f.b + 14, f.len - 14, &m), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_equal(&m.key, &e.key));
	FP_ASSERT_EQ(m.l3_off, 0);
	FP_ASSERT_EQ(m.ip_len, 140);
	FP_ASSERT_EQ(m.frame_len, 140);
	FP_ASSERT_EQ(fp_pkt_parse_ip(f.b, 0, &m), FP_PARSE_TRUNC_IP);
	FP_ASSERT_EQ(fp_pkt_parse_ip(f.b, f.len, &m), FP_PARSE_BAD_IP_VERSION); /* MAC byte 0x02 */
	FP_ASSERT_EQ(fp_pkt_parse_l3(f.b, f.len, 14, 0x0800, &m), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_equal(&m.key, &e.key));
	FP_ASSERT_EQ(fp_pkt_parse_l3(f.b, f.len, 14, 0x0806, &m), FP_PARSE_NON_IP);
	FP_ASSERT_EQ(fp_pkt_parse_l3(f.b, 10, 14, 0x0800, &m), FP_PARSE_TRUNC_ETH);
	return 0;
}

static int
test_format(void)
{
	struct frame f;
	struct fp_pkt_meta m;
	char buf[128], src[64], dst[64];
	uint16_t sp, dp;

	build_tcp4(&f, 1);	/* 10.0.0.2:443 -> 10.0.0.1:40000 */
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT_EQ(fp_flow_key_format(&m.key, 0, buf, sizeof(buf)),
		strlen("tcp 10.0.0.1:40000 > 10.0.0.2:443"));
	FP_ASSERT_STR_EQ(buf, "tcp 10.0.0.1:40000 > 10.0.0.2:443");
	FP_ASSERT(fp_flow_key_format(&m.key, m.swapped, buf, sizeof(buf)) > 0);
	FP_ASSERT_STR_EQ(buf, "tcp 10.0.0.2:443 > 10.0.0.1:40000");
	FP_ASSERT_EQ(fp_flow_key_endpoints(&m.key, 1, src, sizeof(src), &sp, dst, sizeof(dst),
		&dp), 0);
	FP_ASSERT_STR_EQ(src, "10.0.0.2");
	FP_ASSERT_STR_EQ(dst, "10.0.0.1");
	FP_ASSERT_EQ(sp, 443);
	FP_ASSERT_EQ(dp, 40000);
	FP_ASSERT_EQ(fp_flow_key_format(&m.key, 0, buf, 10), -ENOSPC);
	FP_ASSERT_EQ(fp_flow_key_endpoints(&m.key, 0, src, 4, &sp, dst, sizeof(dst), &dp),
		-ENOSPC);
	FP_ASSERT_EQ(fp_flow_key_endpoints(NULL, 0, src, 4, &sp, dst, sizeof(dst), &dp),
		-EINVAL);

	eth(&f, 0x8100);
	vlan(&f, 7, 0x86dd);
	ipv6(&f, 8, 17, B6, A6);
	udp(&f, 53, 5353, 8);
	FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
	FP_ASSERT(fp_flow_key_format(&m.key, m.swapped, buf, sizeof(buf)) > 0);
	FP_ASSERT_STR_EQ(buf, "udp [2001:db8::2]:53 > [2001:db8::1]:5353 vlan 7");

	m.key.proto = 253;
	FP_ASSERT(fp_flow_key_format(&m.key, 0, buf, sizeof(buf)) > 0);
	FP_ASSERT_STR_EQ(buf, "proto 253 [2001:db8::1]:5353 > [2001:db8::2]:53 vlan 7");
	m.key.family = 5;
	FP_ASSERT_EQ(fp_flow_key_format(&m.key, 0, buf, sizeof(buf)), -EINVAL);
	FP_ASSERT_STR_EQ(fp_ip_proto_name(58), "icmpv6");
	FP_ASSERT(fp_ip_proto_name(254) == NULL);
	return 0;
}

static int
test_hash_spread(void)
{
	/* 4096 UDP flows differing in the source port fill 1024 buckets fairly evenly */
	static uint16_t hist[1024];
	struct frame f;
	struct fp_pkt_meta m;
	unsigned int maxb = 0;

	for (uint32_t i = 0; i < 4096; i++) {
		eth(&f, 0x0800);
		ipv4(&f, 5, 28, 0, 17, A4, B4);
		udp(&f, (uint16_t)(10000 + i), 53, 8);
		FP_ASSERT_EQ(fp_pkt_parse(f.b, f.len, &m), FP_PARSE_OK);
		hist[fp_flow_key_hash(&m.key) & 1023]++;
	}
	for (int i = 0; i < 1024; i++)
		if (hist[i] > maxb)
			maxb = hist[i];
	/* mean 4; a uniform hash gives a maximum around 12 */
	FP_ASSERT(maxb <= 16);
	return 0;
}

int
main(void)
{
	FP_RUN(test_ipv4_tcp);
	FP_RUN(test_both_directions);
	FP_RUN(test_udp_icmp);
	FP_RUN(test_ipv4_options);
	FP_RUN(test_ipv4_fragments);
	FP_RUN(test_vlan);
	FP_RUN(test_non_ip);
	FP_RUN(test_ipv4_malformed);
	FP_RUN(test_truncation_ipv4);
	FP_RUN(test_ipv6_tcp_truncation);
	FP_RUN(test_ipv6_ext);
	FP_RUN(test_parse_ip_and_l3);
	FP_RUN(test_format);
	FP_RUN(test_hash_spread);
	return fp_test_report();
}

/* Fuzz target: the packet parser on raw frames, with layout, key and hash invariants. */
#include <errno.h>
#include <string.h>

#include "pkt.h"
#include "fuzz.h"

#define TCP_PROTO 6
#define UDP_PROTO 17

/* Offsets and lengths a successful parse must agree with, for any link layer. */
static void
check_meta(const uint8_t *f, uint32_t len, const struct fp_pkt_meta *m)
{
	const struct fp_flow_key *k = &m->key;
	uint32_t l3 = m->l3_off, l4 = m->l4_off, end;
	int c;

	FP_FUZZ_CHECK(m->frame_len == len);
	FP_FUZZ_CHECK(l3 < l4 && l4 <= len);
	FP_FUZZ_CHECK(k->family == FP_AF_IPV4 || k->family == FP_AF_IPV6);
	if (k->family == FP_AF_IPV4) {
		FP_FUZZ_CHECK(f[l3] >> 4 == 4);
		FP_FUZZ_CHECK(l4 - l3 == (uint32_t)(f[l3] & 0x0f) * 4);
		FP_FUZZ_CHECK(m->ip_len == ((uint32_t)f[l3 + 2] << 8 | f[l3 + 3]));
		FP_FUZZ_CHECK(m->ip_len >= l4 - l3);
		FP_FUZZ_CHECK(((m->flags & FP_PKT_F_IP_OPTIONS) != 0) == (l4 - l3 > 20));
		FP_FUZZ_CHECK(((m->flags & FP_PKT_F_SHORT_FRAME) != 0) == (l3 + m->ip_len > len));
		FP_FUZZ_CHECK(memcmp(k->addr_lo + 4, (const uint8_t[12]){ 0 }, 12) == 0);
		FP_FUZZ_CHECK(memcmp(k->addr_hi + 4, (const uint8_t[12]){ 0 }, 12) == 0);
	} else {
		FP_FUZZ_CHECK(f[l3] >> 4 == 6);
		FP_FUZZ_CHECK(l4 - l3 >= 40);
		FP_FUZZ_CHECK(m->ip_len >= 40 && m->ip_len <= 40 + 65535);
		if (m->ip_len > 40)
			FP_FUZZ_CHECK(l4 - l3 <= m->ip_len);
		FP_FUZZ_CHECK(((m->flags & FP_PKT_F_IPV6_EXT) != 0) == (l4 - l3 > 40));
	}
	/* the end of the datagram as far as the frame holds it */
	end = m->ip_len > 40 || k->family == FP_AF_IPV4 ? l3 + m->ip_len : len;
	if (end > len)
		end = len;
	if ((m->flags & FP_PKT_F_FRAG_LATER) == 0) {
		if (k->proto == TCP_PROTO) {
			FP_FUZZ_CHECK(l4 + 20 <= end);
			FP_FUZZ_CHECK(m->tcp_flags == f[l4 + 13]);
		}
		if (k->proto == UDP_PROTO)
			FP_FUZZ_CHECK(l4 + 8 <= end);
	} else {
		FP_FUZZ_CHECK(m->flags & FP_PKT_F_FRAG);
		FP_FUZZ_CHECK(k->port_lo == 0 && k->port_hi == 0);
	}
	if (k->proto != TCP_PROTO && k->proto != UDP_PROTO)
		FP_FUZZ_CHECK(k->port_lo == 0 && k->port_hi == 0);
	/* canonical order */
	c = memcmp(k->addr_lo, k->addr_hi, 16);
	FP_FUZZ_CHECK(c < 0 || (c == 0 && k->port_lo <= k->port_hi));
}

/* The key's text fits the documented 128 bytes and names its protocol. */
static void
check_text(const struct fp_pkt_meta *m)
{
	char buf[128], src[46], dst[46];
	uint16_t sp, dp;
	int n;

	n = fp_flow_key_format(&m->key, m->swapped, buf, sizeof(buf));
	FP_FUZZ_CHECK(n > 0 && (size_t)n < sizeof(buf) && strlen(buf) == (size_t)n);
	FP_FUZZ_CHECK(fp_flow_key_endpoints(&m->key, !m->swapped, src, sizeof(src), &sp, dst,
		sizeof(dst), &dp) == 0);
	FP_FUZZ_CHECK(fp_flow_key_format(&m->key, m->swapped, buf, 8) == -ENOSPC);
}

/*
 * The other direction of the same packet: swap the addresses (and the ports when the parser
 * read them) and parse again; the key and its hash must not change and swapped must flip
 * unless both endpoints are equal.
 */
static void
check_reverse(const uint8_t *f, uint32_t len, const struct fp_pkt_meta *m,
		enum fp_parse_reason (*parse)(const uint8_t *, uint32_t, struct fp_pkt_meta *))
{
	uint32_t alen = m->key.family == FP_AF_IPV4 ? 4 : 16;
	uint32_t a = m->l3_off + (m->key.family == FP_AF_IPV4 ? 12 : 8);
	uint8_t *r = malloc(len), tmp[16];
	struct fp_pkt_meta m2;
	int same;

	if (r == NULL)
		return;
	memcpy(r, f, len);
	memcpy(tmp, r + a, alen);
	memcpy(r + a, r + a + alen, alen);
	memcpy(r + a + alen, tmp, alen);
	if ((m->key.proto == TCP_PROTO || m->key.proto == UDP_PROTO) &&
			(m->flags & FP_PKT_F_FRAG_LATER) == 0) {
		uint32_t p = m->l4_off;

		memcpy(tmp, r + p, 2);
		memcpy(r + p, r + p + 2, 2);
		memcpy(r + p + 2, tmp, 2);
	}
	FP_FUZZ_CHECK(parse(r, len, &m2) == FP_PARSE_OK);
	FP_FUZZ_CHECK(fp_flow_key_equal(&m->key, &m2.key));
	FP_FUZZ_CHECK(memcmp(&m->key, &m2.key, sizeof(m->key)) == 0);
	FP_FUZZ_CHECK(fp_flow_key_hash(&m->key) == fp_flow_key_hash(&m2.key));
	same = memcmp(m->key.addr_lo, m->key.addr_hi, 16) == 0 &&
		m->key.port_lo == m->key.port_hi;
	FP_FUZZ_CHECK(same ? m2.swapped == m->swapped : m2.swapped == !m->swapped);
	FP_FUZZ_CHECK(m2.ip_len == m->ip_len && m2.l4_off == m->l4_off && m2.flags == m->flags);
	free(r);
}

static enum fp_parse_reason
parse_eth(const uint8_t *f, uint32_t len, struct fp_pkt_meta *m)
{
	return fp_pkt_parse(f, len, m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	struct fp_pkt_meta m;
	enum fp_parse_reason r;

	/* Ethernet */
	memset(&m, 0xa5, sizeof(m));
	r = fp_pkt_parse(len ? data : NULL, len, &m);
	FP_FUZZ_CHECK((unsigned int)r < FP_PARSE_REASON_MAX);
	FP_FUZZ_CHECK(m.frame_len == len);
	if (r == FP_PARSE_OK) {
		FP_FUZZ_CHECK(m.vlan_count <= FP_PKT_VLAN_MAX);
		FP_FUZZ_CHECK(m.l3_off == 14 + 4u * m.vlan_count);
		check_meta(data, len, &m);
		check_text(&m);
		check_reverse(data, len, &m, parse_eth);
	}

	/* raw IP */
	if (len > 0) {
		memset(&m, 0xa5, sizeof(m));
		r = fp_pkt_parse_ip(data, len, &m);
		FP_FUZZ_CHECK((unsigned int)r < FP_PARSE_REASON_MAX);
		if (r == FP_PARSE_OK) {
			FP_FUZZ_CHECK(m.l3_off == 0 && m.vlan_count == 0 && m.key.vlan == 0);
			check_meta(data, len, &m);
			check_text(&m);
			check_reverse(data, len, &m, fp_pkt_parse_ip);
		}
	}

	/* another link layer: the IP header at an offset given by the first byte */
	if (len > 0) {
		uint32_t off = data[0] % 24;
		uint16_t et = data[0] & 0x80 ? 0x86dd : 0x0800;

		memset(&m, 0xa5, sizeof(m));
		r = fp_pkt_parse_l3(data, len, off, et, &m);
		FP_FUZZ_CHECK((unsigned int)r < FP_PARSE_REASON_MAX);
		if (off > len)
			FP_FUZZ_CHECK(r == FP_PARSE_TRUNC_ETH);
		if (r == FP_PARSE_OK) {
			FP_FUZZ_CHECK(m.l3_off == off);
			check_meta(data, len, &m);
			check_text(&m);
		}
	}
	return 0;
}

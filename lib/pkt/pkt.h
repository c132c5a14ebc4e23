/* Packet parser and canonical bidirectional flow key, on plain byte buffers (no DPDK). */
#ifndef FP_PKT_H
#define FP_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#include "fp_reasons.h"

/**
 * @file
 * fp_pkt_parse() reads one Ethernet frame and fills a struct fp_pkt_meta: the flow key, the
 * packet's direction relative to the key, the sizes a flow window counts, and a few flags.
 *
 * Layers understood:
 *  - Ethernet II; up to two VLAN tags, each with TPID 0x8100, 0x88a8 or 0x9100 (so 802.1Q,
 *    802.1ad QinQ and the older 0x9100 QinQ). A third tag gives FP_PARSE_VLAN_DEPTH. An
 *    EtherType below 0x0600 (802.3 length field, LLC) or any EtherType other than IPv4/IPv6
 *    gives FP_PARSE_NON_IP.
 *  - IPv4 with options. Fragments: the first fragment (offset 0, MF set) carries the L4
 *    header, so it gets its ports; a later fragment (offset != 0) has no L4 header and gets
 *    ports 0, so its key is (addresses, protocol, ports 0, VLAN): later fragments of a TCP/UDP
 *    flow are counted in that separate key, never guessed into the 5-tuple. Both carry
 *    FP_PKT_F_FRAG, later ones also FP_PKT_F_FRAG_LATER.
 *  - IPv6 with extension headers hop-by-hop (0), routing (43), fragment (44), destination
 *    options (60) and AH (51), at most FP_PKT_IPV6_EXT_MAX of them; a longer or truncated
 *    chain gives FP_PARSE_BAD_IPV6_EXT. A fragment header with a non-zero offset makes the
 *    packet a later fragment as for IPv4. ESP (50) and No Next Header (59) end the chain and
 *    are the protocol.
 *  - TCP and UDP: ports, which must lie inside the frame and inside the IP datagram (else
 *    FP_PARSE_TRUNC_L4; 20 bytes needed for TCP, 8 for UDP). Every other protocol (ICMP,
 *    ICMPv6, GRE, ESP, IPv4 AH, SCTP, ...) keys on (addresses, protocol) with ports 0.
 *
 * Sizes: ip_len is the IP total length from the header (IPv6: 40 + payload length; a jumbogram
 * with payload length 0 counts 40), which is what a FlowPic draws. frame_len is the frame
 * length given by the caller (wire bytes, what byte counters add). A frame shorter than the IP
 * total length (a capture with a snap length) is accepted and flagged FP_PKT_F_SHORT_FRAME as
 * long as the headers the parser reads are all inside it; a frame longer than the datagram
 * (Ethernet padding) is normal.
 *
 * The parser never reads past len bytes of frame, never allocates, and takes no lock.
 */

/** Most IPv6 extension headers walked before giving up with FP_PARSE_BAD_IPV6_EXT. */
#define FP_PKT_IPV6_EXT_MAX 8

/** Most VLAN tags accepted. */
#define FP_PKT_VLAN_MAX 2

/* Meta flags (struct fp_pkt_meta.flags); they fit in a packet record's 8-bit flags. */
#define FP_PKT_F_FRAG		0x01	/**< IP fragment (first or later) */
#define FP_PKT_F_FRAG_LATER	0x02	/**< non-first fragment: no L4 header, ports 0 */
#define FP_PKT_F_IP_OPTIONS	0x04	/**< IPv4 header longer than 20 bytes */
#define FP_PKT_F_IPV6_EXT	0x08	/**< IPv6 extension header(s) walked */
#define FP_PKT_F_SHORT_FRAME	0x10	/**< frame ends before the IP datagram does */

/** Address families of a key (the IP version number). */
#define FP_AF_IPV4 4
#define FP_AF_IPV6 6

/**
 * Canonical bidirectional flow key, 40 bytes, with no padding (so it can be hashed and
 * compared as raw bytes; always build it with fp_pkt_parse() or zero it first).
 *
 * The two endpoints are ordered so that (addr_lo, port_lo) <= (addr_hi, port_hi), comparing
 * the addresses as big-endian byte strings and then the ports: both directions of a
 * conversation give the same key. IPv4 addresses take the first 4 bytes of the 16-byte fields,
 * the other 12 bytes are zero. Addresses are in network byte order, ports in host byte order.
 * vlan is the VID (12 bits) of the outermost tag, 0 for an untagged frame; the inner tag of a
 * QinQ frame is reported in fp_pkt_meta.vlan_inner but is not part of the key.
 */
struct fp_flow_key {
	uint8_t addr_lo[16];
	uint8_t addr_hi[16];
	uint16_t port_lo;
	uint16_t port_hi;
	uint16_t vlan;
	uint8_t family;		/**< FP_AF_IPV4 or FP_AF_IPV6 */
	uint8_t proto;		/**< IP protocol number (after IPv6 extension headers) */
};

_Static_assert(sizeof(struct fp_flow_key) == 40, "flow key must stay 40 bytes");

/** What the parser learns about one frame. */
struct fp_pkt_meta {
	struct fp_flow_key key;
	uint32_t frame_len;	/**< len given to the parser: wire bytes */
	uint32_t ip_len;	/**< IP total length (IPv6: 40 + payload length), up to 65575 */
	uint16_t l3_off;	/**< offset of the IP header in the frame */
	uint16_t l4_off;	/**< offset of the L4 header (after options/extensions) */
	uint16_t vlan_inner;	/**< VID of the inner tag of a QinQ frame, else 0 */
	uint8_t vlan_count;	/**< VLAN tags seen: 0, 1 or 2 */
	uint8_t swapped;	/**< 1 when the packet went from the hi endpoint to the lo one */
	uint8_t flags;		/**< FP_PKT_F_* */
	uint8_t tcp_flags;	/**< TCP flags byte, 0 for other protocols */
	uint8_t pad[2];
};

/**
 * Parse one Ethernet frame of len bytes into m.
 *
 * Returns FP_PARSE_OK with m fully set, or the reason the frame is not a flow packet
 * (m->frame_len is always set; other fields are unspecified then). frame may be NULL only when
 * len is 0. Never reads frame[len] or beyond.
 */
enum fp_parse_reason
fp_pkt_parse(const uint8_t *frame, uint32_t len, struct fp_pkt_meta *m);

/**
 * Parse a frame that starts at the IP header (raw IP link types). Same contract as
 * fp_pkt_parse(); the IP version selects IPv4 or IPv6 (else FP_PARSE_BAD_IP_VERSION), and
 * the frame has no VLAN tags.
 */
enum fp_parse_reason
fp_pkt_parse_ip(const uint8_t *pkt, uint32_t len, struct fp_pkt_meta *m);

/**
 * Parse from an IP header at offset l3_off of frame, announced by EtherType ethertype
 * (0x0800 or 0x86dd; anything else gives FP_PARSE_NON_IP). The frame counts as untagged
 * (VLAN fields 0). Used for link layers other than Ethernet (Linux cooked capture). An
 * l3_off past len gives FP_PARSE_TRUNC_ETH. Same contract as fp_pkt_parse().
 */
enum fp_parse_reason
fp_pkt_parse_l3(const uint8_t *frame, uint32_t len, uint32_t l3_off, uint16_t ethertype,
		struct fp_pkt_meta *m);

/**
 * Symmetric hash of a key: both directions of a flow have the same key, hence the same hash.
 * CRC32C (SSE4.2) when the build targets it, a multiplicative mix otherwise; values are for
 * in-process tables only and are not stable across builds. Inline: the RX path hashes every
 * packet.
 */
static inline uint32_t
fp_flow_key_hash(const struct fp_flow_key *k)
{
	uint64_t w[5];
	uint64_t h;

	memcpy(w, k, sizeof(w));
#ifdef __SSE4_2__
	h = 0xffffffffu;
	h = _mm_crc32_u64(h, w[0]);
	h = _mm_crc32_u64(h, w[1]);
	h = _mm_crc32_u64(h, w[2]);
	h = _mm_crc32_u64(h, w[3]);
	h = _mm_crc32_u64(h, w[4]);
	/* CRC is linear: a multiply (keeping the high half) mixes every bit into the result */
	h = (uint64_t)(uint32_t)h * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32);
#else
	h = 0x243f6a8885a308d3ull;
	for (int i = 0; i < 5; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
#endif
}

/** 1 when the two keys are equal, else 0 (five 8-byte words, no branch per byte). */
static inline int
fp_flow_key_equal(const struct fp_flow_key *a, const struct fp_flow_key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

/** Conventional short name of an IP protocol ("tcp", "udp", "icmp", ...), NULL if unknown. */
const char *
fp_ip_proto_name(uint8_t proto);

/**
 * Text of both endpoints of a key as seen by one side: when swapped is 0, src is the lo
 * endpoint and dst the hi one; when swapped is 1 the other way round (pass a window's
 * init_swapped to get the flow initiator as src). Addresses are written as in inet_ntop()
 * into src (srclen bytes) and dst (dstlen bytes); ports go to *sport and *dport (either may
 * be NULL). Returns 0, or -EINVAL for a NULL key/buffer or an unknown family, -ENOSPC when a
 * buffer is too small (46 bytes always suffice).
 */
int
fp_flow_key_endpoints(const struct fp_flow_key *k, int swapped, char *src, size_t srclen,
		uint16_t *sport, char *dst, size_t dstlen, uint16_t *dport);

/**
 * One-line text of a key, e.g. "tcp 10.0.0.1:40000 > 10.0.0.2:443 vlan 7" or
 * "udp [2001:db8::1]:5353 > [2001:db8::2]:53" ("proto 132" for protocols without a name;
 * " vlan N" only when tagged), oriented as fp_flow_key_endpoints(). Writes at most size bytes
 * including the NUL. Returns the length written (without NUL), or -EINVAL / -ENOSPC as
 * fp_flow_key_endpoints() and when the text does not fit (128 bytes always suffice).
 */
int
fp_flow_key_format(const struct fp_flow_key *k, int swapped, char *buf, size_t size);

#endif /* FP_PKT_H */

/* Flow key helpers: protocol names and text forms (hash and equality are inline in pkt.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"

const char *
fp_ip_proto_name(uint8_t proto)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 2:
		return "igmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 41:
		return "ipv6";
	case 47:
		return "gre";
	case 50:
		return "esp";
	case 51:
		return "ah";
	case 58:
		return "icmpv6";
	case 89:
		return "ospf";
	case 103:
		return "pim";
	case 112:
		return "vrrp";
	case 132:
		return "sctp";
	default:
		return NULL;
	}
}

/* inet_ntop() of one 16-byte key address; returns 0 or a negative errno. */
static int
addr_text(const struct fp_flow_key *k, const uint8_t *addr, char *buf, size_t size)
{
	int af;

	if (k->family == FP_AF_IPV4)
		af = AF_INET;
	else if (k->family == FP_AF_IPV6)
		af = AF_INET6;
	else
		return -EINVAL;
	if (size > INT32_MAX)
		size = INT32_MAX;
	if (inet_ntop(af, addr, buf, (socklen_t)size) == NULL)
		return -ENOSPC;
	return 0;
}

int
fp_flow_key_endpoints(const struct fp_flow_key *k, int swapped, char *src, size_t srclen,
		uint16_t *sport, char *dst, size_t dstlen, uint16_t *dport)
{
	int rc;

	if (k == NULL || src == NULL || dst == NULL)
		return -EINVAL;
	rc = addr_text(k, swapped ? k->addr_hi : k->addr_lo, src, srclen);
	if (rc == 0)
		rc = addr_text(k, swapped ? k->addr_lo : k->addr_hi, dst, dstlen);
	if (rc != 0)
		return rc;
	if (sport != NULL)
		*sport = swapped ? k->port_hi : k->port_lo;
	if (dport != NULL)
		*dport = swapped ? k->port_lo : k->port_hi;
	return 0;
}

int
fp_flow_key_format(const struct fp_flow_key *k, int swapped, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], proto[16];
	const char *name, *lb, *rb;
	uint16_t sport, dport;
	int rc, n;

	if (buf == NULL || size == 0)
		return -EINVAL;
	rc = fp_flow_key_endpoints(k, swapped, src, sizeof(src), &sport, dst, sizeof(dst),
		&dport);
	if (rc != 0)
		return rc;
	name = fp_ip_proto_name(k->proto);
	if (name != NULL)
		snprintf(proto, sizeof(proto), "%s", name);
	else
		snprintf(proto, sizeof(proto), "proto %u", k->proto);
	lb = k->family == FP_AF_IPV6 ? "[" : "";
	rb = k->family == FP_AF_IPV6 ? "]" : "";
	if (k->vlan != 0)
		n = snprintf(buf, size, "%s %s%s%s:%u > %s%s%s:%u vlan %u", proto, lb, src, rb,
			sport, lb, dst, rb, dport, k->vlan);
	else
		n = snprintf(buf, size, "%s %s%s%s:%u > %s%s%s:%u", proto, lb, src, rb, sport,
			lb, dst, rb, dport);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOSPC;
	return n;
}

/* Extra value rules of the key table: powers of two, resolutions, port specs, endpoints. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf_private.h"

static int
rule_pow2(uint64_t v, char *why, size_t len)
{
	if (v != 0 && (v & (v - 1)) == 0)
		return 0;
	snprintf(why, len, "is not a power of two");
	return -EINVAL;
}

const struct conf_rule conf_rule_pow2 = {
	.check_u64 = rule_pow2,
	.text = "a power of two",
};

static int
rule_resolution(uint64_t v, char *why, size_t len)
{
	if (v == 0 || v == 32 || v == 64 || v == 1500)
		return 0;
	snprintf(why, len, "is not allowed (allowed: 0, 32, 64, 1500)");
	return -EINVAL;
}

const struct conf_rule conf_rule_resolution = {
	.check_u64 = rule_resolution,
	.text = "one of 0, 32, 64, 1500",
};

static size_t
hex_run(const char *s)
{
	size_t n = 0;

	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
			(s[n] >= 'A' && s[n] <= 'F'))
		n++;
	return n;
}

/* [DOMAIN:]BB:DD.F with optional ",devargs". */
int
fp_conf_port_is_pci(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = hex_run(s);
	if (n >= 1 && n <= 8 && s[n] == ':' && hex_run(s + n + 1) == 2 && s[n + 3] == ':')
		s += n + 1;	/* a domain */
	if (hex_run(s) != 2 || s[2] != ':' || hex_run(s + 3) != 2 || s[5] != '.' ||
			s[6] < '0' || s[6] > '7')
		return 0;
	return s[7] == '\0' || (s[7] == ',' && s[8] != '\0');
}

/* net_NAME with optional ",key=value,...". */
static int
port_is_vdev(const char *s)
{
	size_t n;

	if (strncmp(s, "net_", 4) != 0)
		return 0;
	n = strspn(s + 4, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (n == 0)
		return 0;
	s += 4 + n;
	return *s == '\0' || (*s == ',' && s[1] != '\0');
}

static int
rule_port(const char *s, char *why, size_t len)
{
	if (fp_conf_port_is_pci(s) || port_is_vdev(s))
		return 0;
	snprintf(why, len, "is neither a PCI address (0000:03:00.0) nor a vdev spec "
		"(net_pcap0,rx_pcap=FILE)");
	return -EINVAL;
}

const struct conf_rule conf_rule_port = {
	.check_str = rule_port,
	.text = "PCI address or net_* vdev spec",
};

/* "" or ADDR:PORT, ADDR an IPv4 address or a bracketed IPv6 address. */
static int
rule_endpoint(const char *s, char *why, size_t len)
{
	const char *colon = strrchr(s, ':');
	char addr[64];
	unsigned char buf[16];
	uint64_t port;
	size_t alen;
	int ok = 0;

	if (*s == '\0')
		return 0;
	if (colon != NULL && colon[1] != '\0' && strlen(colon + 1) <= 5 &&
			strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
			conf_parse_u64(colon + 1, &port) == 0 && port >= 1 && port <= 65535) {
		alen = (size_t)(colon - s);
		if (alen >= 2 && alen < sizeof(addr) && s[0] == '[' && s[alen - 1] == ']') {
			memcpy(addr, s + 1, alen - 2);
			addr[alen - 2] = '\0';
			ok = inet_pton(AF_INET6, addr, buf) == 1;
		} else if (alen > 0 && alen < sizeof(addr)) {
			memcpy(addr, s, alen);
			addr[alen] = '\0';
			ok = inet_pton(AF_INET, addr, buf) == 1;
		}
	}
	if (ok)
		return 0;
	snprintf(why, len, "is not ADDR:PORT (IPv4 or [IPv6] address, port 1-65535) "
		"nor empty");
	return -EINVAL;
}

const struct conf_rule conf_rule_endpoint = {
	.check_str = rule_endpoint,
	.text = "ADDR:PORT (IPv4 or [IPv6]) or empty",
};

/* A net_pcap vdev that reads a capture file: "net_pcapN,...rx_pcap=FILE...". */
static int
port_replays_capture(const char *s)
{
	return strncmp(s, "net_pcap", 8) == 0 &&
		(strstr(s, ",rx_pcap=") != NULL) && strstr(s, "infinite_rx=1") == NULL;
}

enum fp_conf_clock
fp_conf_clock_effective(const struct fp_conf *c)
{
	uint32_t i;

	if (c->flow_clock != FP_CONF_CLOCK_AUTO)
		return (enum fp_conf_clock)c->flow_clock;
	if (c->ports.n == 0)
		return FP_CONF_CLOCK_TSC;
	for (i = 0; i < c->ports.n; i++)
		if (!port_replays_capture(c->ports.v[i]))
			return FP_CONF_CLOCK_TSC;
	return FP_CONF_CLOCK_PACKET;
}

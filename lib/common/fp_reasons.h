/* The one table of packet outcomes and drop reasons: enum, counter names and help text. */
#ifndef FP_REASONS_H
#define FP_REASONS_H

/*
 * Every packet that does not end up in a classified flow window is counted under exactly one
 * reason from this table. X(enum suffix, metric label, help text). Adding a reason here adds
 * its enum value, its Prometheus label and its description everywhere.
 *
 * Parse reasons (the packet becomes category "other"):
 */
#define FP_PARSE_REASONS(X) \
	X(NON_IP,          "non_ip",          "not IPv4/IPv6 (ARP, LLDP, STP, ...)") \
	X(TRUNC_ETH,       "trunc_eth",       "frame shorter than its Ethernet/VLAN header") \
	X(VLAN_DEPTH,      "vlan_depth",      "more than two VLAN tags") \
	X(TRUNC_IP,        "trunc_ip",        "frame shorter than its IP header") \
	X(BAD_IP_VERSION,  "bad_ip_version",  "IP version field does not match the EtherType") \
	X(BAD_IP_HLEN,     "bad_ip_hlen",     "IPv4 header length below 20 bytes or past the frame") \
	X(BAD_IP_LEN,      "bad_ip_len",      "IP total length smaller than its header") \
	X(BAD_IPV6_EXT,    "bad_ipv6_ext",    "IPv6 extension header chain truncated or too long") \
	X(TRUNC_L4,        "trunc_l4",        "frame shorter than its TCP/UDP header")

/*
 * Pipeline reasons (the packet was parsed as part of a flow but its window was not classified;
 * such packets count in category "unclassified", or are kept for information only when marked):
 */
#define FP_PIPE_REASONS(X) \
	X(SHORT_WINDOW,    "short_window",    "window had fewer than min_packets packets") \
	X(RING_FULL,       "ring_full",       "worker ring full, window dropped") \
	X(NO_RECORD_MEM,   "no_record_mem",   "no record memory for the window, window dropped") \
	X(WINDOW_SAMPLED,  "window_sampled",  "packets past the per-window record cap, left out by record sampling (counted and drawn by weight)") \
	X(TABLE_EVICT,     "table_evict",     "flow evicted from a full table (window finished early)") \
	X(VERDICT_RING_FULL, "verdict_ring_full", "stats ring full, verdict lost (packets unclassified)") \
	X(DIST_RING_FULL,  "dist_ring_full",  "software RSS ring to another RX lcore full (packet unclassified)")

enum fp_parse_reason {
	FP_PARSE_OK = 0,
#define FP_X_ENUM(e, label, help) FP_PARSE_##e,
	FP_PARSE_REASONS(FP_X_ENUM)
#undef FP_X_ENUM
	FP_PARSE_REASON_MAX
};

enum fp_pipe_reason {
#define FP_X_ENUM(e, label, help) FP_PIPE_##e,
	FP_PIPE_REASONS(FP_X_ENUM)
#undef FP_X_ENUM
	FP_PIPE_REASON_MAX
};

/** Label of a parse reason (FP_PARSE_OK gives "ok"); never NULL. */
static inline const char *
fp_parse_reason_label(unsigned int r)
{
	static const char *const labels[] = {
		"ok",
#define FP_X_LABEL(e, label, help) label,
		FP_PARSE_REASONS(FP_X_LABEL)
#undef FP_X_LABEL
	};
	return r < FP_PARSE_REASON_MAX ? labels[r] : "invalid";
}

/** Label of a pipeline reason; never NULL. */
static inline const char *
fp_pipe_reason_label(unsigned int r)
{
	static const char *const labels[] = {
#define FP_X_LABEL(e, label, help) label,
		FP_PIPE_REASONS(FP_X_LABEL)
#undef FP_X_LABEL
	};
	return r < FP_PIPE_REASON_MAX ? labels[r] : "invalid";
}

#endif /* FP_REASONS_H */

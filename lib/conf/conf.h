/* flowpicd configuration: YAML file and --set overrides -> one validated struct fp_conf. */
#ifndef FP_CONF_H
#define FP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fp_rec.h"
#include "keys.h"

/**
 * @file
 * Precedence: fp_conf_defaults(), then fp_conf_load() of a file, then fp_conf_set() for each
 * --set KEY=VALUE, each over the values already there; then fp_conf_validate().
 *
 * Errors are one line in struct fp_conf_err: "SOURCE:LINE:COLUMN: what is wrong", where
 * SOURCE is the file name as given, "--set" for an override, or "<defaults>"; LINE and COLUMN
 * are 1-based (for --set: line 1, column within the KEY=VALUE text) and 0:0 when there is no
 * position (the file cannot be read, or the key was left at its default).
 *
 * Strings and lists in a struct fp_conf are heap-owned by it: release them with
 * fp_conf_free(). A struct fp_conf must be initialised with fp_conf_defaults() (or
 * fp_conf_copy()) before any other call.
 */

/** Values of flow.clock. */
enum fp_conf_clock {
	FP_CONF_CLOCK_TSC = 0,		/**< time of arrival on this host (TSC) */
	FP_CONF_CLOCK_PACKET = 1,	/**< the mbuf's Rx timestamp (NIC or pcap) */
	FP_CONF_CLOCK_AUTO = 2,		/**< packet if every port replays a capture, else tsc */
};

struct fp_conf;

/**
 * The clock a configuration runs with: flow.clock, with auto resolved to packet when every
 * port is a net_pcap vdev reading a capture (rx_pcap=), tsc otherwise.
 */
enum fp_conf_clock
fp_conf_clock_effective(const struct fp_conf *c);

/** flowpic.direction: take the model's direction mode; the others are enum fp_dir_mode. */
#define FP_CONF_DIR_MODEL (-1)

/** Values of log.level: the same numbers as DPDK's RTE_LOG_ERR .. RTE_LOG_DEBUG. */
enum fp_conf_log_level {
	FP_CONF_LOG_ERROR = 4,
	FP_CONF_LOG_WARNING = 5,
	FP_CONF_LOG_NOTICE = 6,
	FP_CONF_LOG_INFO = 7,
	FP_CONF_LOG_DEBUG = 8,
};

/** A list of strings; v[0..n-1] and the array itself are heap-owned. */
struct fp_conf_strv {
	char **v;
	uint32_t n;
};

/** A list of unsigned integers; the array is heap-owned. */
struct fp_conf_u32v {
	uint32_t *v;
	uint32_t n;
};

/** Where a key's value came from. */
struct fp_conf_mark {
	int32_t src;		/**< index in fp_conf.sources; -1 = default */
	uint32_t line;		/**< 1-based line of the value (0 for a default) */
	uint32_t col;		/**< 1-based column of the value (0 for a default) */
};

/* C type of each key type of keys.h. */
#define FP_CONF_CTYPE_BOOL bool
#define FP_CONF_CTYPE_U32 uint32_t
#define FP_CONF_CTYPE_U64 uint64_t
#define FP_CONF_CTYPE_DBL double
#define FP_CONF_CTYPE_STR char *
#define FP_CONF_CTYPE_ENUM int
#define FP_CONF_CTYPE_STRV struct fp_conf_strv
#define FP_CONF_CTYPE_U32V struct fp_conf_u32v

#define FP_CONF_KEY_ID_(name, type, field, ...) FP_CONF_K_ ## field,
/** Key ids, in table order: FP_CONF_K_flow_window etc. */
enum fp_conf_key_id {
	FP_CONF_KEYS(FP_CONF_KEY_ID_)
	FP_CONF_NKEYS
};
#undef FP_CONF_KEY_ID_

#define FP_CONF_FIELD_(name, type, field, ...) FP_CONF_CTYPE_ ## type field;
/**
 * The effective configuration. One member per key of keys.h, named by its field column
 * (flow.window is c->flow_window, a double in seconds; lcores.rx is c->lcores_rx, a
 * struct fp_conf_u32v); ENUM keys hold the int of their value (enum fp_conf_clock,
 * enum fp_conf_log_level, FP_CONF_DIR_MODEL or enum fp_dir_mode).
 */
struct fp_conf {
	FP_CONF_KEYS(FP_CONF_FIELD_)
	struct fp_conf_mark mark[FP_CONF_NKEYS];	/**< where each value came from */
	struct fp_conf_strv sources;			/**< names of the files and "--set" */
};
#undef FP_CONF_FIELD_

/** Longest error message, NUL included. */
#define FP_CONF_ERR_LEN 512

/** Error report of a failed call: one line, no trailing newline. */
struct fp_conf_err {
	char msg[FP_CONF_ERR_LEN];	/**< "SOURCE:LINE:COLUMN: what is wrong" */
	uint32_t line;			/**< LINE of msg */
	uint32_t col;			/**< COLUMN of msg */
};

/** Largest configuration file accepted, in bytes. */
#define FP_CONF_MAX_FILE_SIZE (1024 * 1024)
/** Deepest nesting of maps and lists accepted in a file or a --set value. */
#define FP_CONF_MAX_DEPTH 8
/** Most items of one list, or entries of one map. */
#define FP_CONF_MAX_ITEMS 4096

/** fp_conf_validate() flag: require at least one port ("no ports"). */
#define FP_CONF_CHECK_PORTS 0x1u
/** fp_conf_validate() flag: require a readable model.path and writable export directories. */
#define FP_CONF_CHECK_FILES 0x2u
/** fp_conf_validate() flags for a configuration about to run (flowpicd, flowpicd --check). */
#define FP_CONF_CHECK_RUN (FP_CONF_CHECK_PORTS | FP_CONF_CHECK_FILES)

/**
 * Set every key of c to its default. c's previous content is not freed (use fp_conf_free()
 * first on an initialised struct). Returns 0, or -ENOMEM (c is then freed and zeroed).
 */
int
fp_conf_defaults(struct fp_conf *c);

/** The flow table settings of a configuration, in the units lib/flow takes. */
struct fp_conf_flow {
	uint64_t window_us;	/**< flow.window */
	uint64_t idle_us[3];	/**< flow.idle_timeout.tcp, .udp, .other (lib/flow's class order) */
	uint32_t max_records;	/**< flow.max_packets_per_window */
};

/** The flow table settings of c (seconds rounded to microseconds). */
void
fp_conf_flow_settings(const struct fp_conf *c, struct fp_conf_flow *f);

/**
 * The flow table settings flowpicd runs with by default, for tools that cut windows as it
 * does (fp-extract, flowpic-render, bench_flow). Returns 0, or -ENOMEM.
 */
int
fp_conf_flow_defaults(struct fp_conf_flow *f);

/** Free the strings and lists of c and zero it; NULL is a no-op. */
void
fp_conf_free(struct fp_conf *c);

/**
 * Deep copy src into dst (dst's previous content is not freed). Returns 0, or -ENOMEM with
 * dst zeroed.
 */
int
fp_conf_copy(struct fp_conf *dst, const struct fp_conf *src);

/** Non-zero when every key of a and b has the same value (marks and sources ignored). */
int
fp_conf_equal(const struct fp_conf *a, const struct fp_conf *b);

/**
 * Read the YAML file path (at most FP_CONF_MAX_FILE_SIZE bytes) over the values of c: keys
 * in the file replace their current value, others keep it. All or nothing: on error c is
 * unchanged. Returns 0, or a negative errno with e filled (e may be NULL):
 * -ENOENT/-EACCES/-EISDIR... when the file cannot be read, -EFBIG when it is too large,
 * -EINVAL for malformed YAML, an unknown or duplicate key or a bad value, -ENOMEM.
 */
int
fp_conf_load(struct fp_conf *c, const char *path, struct fp_conf_err *e);

/**
 * As fp_conf_load() for YAML text in memory; name is the SOURCE of error messages and of
 * c->mark. text need not be NUL-terminated.
 */
int
fp_conf_load_string(struct fp_conf *c, const char *name, const char *text, size_t len,
		struct fp_conf_err *e);

/**
 * Apply one override "KEY=VALUE" (the argument of --set). KEY is a full dotted key name;
 * VALUE is read as YAML text by the same rules as the file ("30", "tsc", "[1, 2]", "''").
 * An empty VALUE is an empty value (an empty string or list). On error c is unchanged and
 * e holds "--set:1:COLUMN: ...", COLUMN counting in the KEY=VALUE text. Returns 0,
 * -EINVAL or -ENOMEM.
 */
int
fp_conf_set(struct fp_conf *c, const char *assignment, struct fp_conf_err *e);

/**
 * Cross-key checks: lcore roles (an lcore has one role; at least one RX lcore and one
 * worker; every lcore within the EAL lcore set when eal.args has -l, -c or --lcores, and
 * lcores.stats its main lcore), duplicate ports, flow.min_packets against
 * flow.max_packets_per_window, rx.burst against rx.ring_size, the mbuf pool against its cache
 * and the RX descriptors. flags add FP_CONF_CHECK_PORTS and FP_CONF_CHECK_FILES checks.
 * Errors point at the value of the key at fault. Returns 0 or -EINVAL with e filled.
 */
int
fp_conf_validate(const struct fp_conf *c, unsigned int flags, struct fp_conf_err *e);

/**
 * Write the effective configuration as YAML that fp_conf_load() reads back to an equal
 * configuration. Returns 0 or -EIO.
 */
int
fp_conf_dump(const struct fp_conf *c, FILE *f);

/**
 * Write the key reference as text (for flowpicd --help-config): every key with its type,
 * range or allowed values, default and description. Returns 0 or -EIO.
 */
int
fp_conf_print_reference(FILE *f);

/** The same reference as a Markdown table (docs/CONFIGURATION.md). Returns 0 or -EIO. */
int
fp_conf_print_reference_md(FILE *f);

/** Id of the key named name ("flow.window"), or -ENOENT. */
int
fp_conf_key_find(const char *name);

/** Dotted name of key id, or NULL when id is not a key id. */
const char *
fp_conf_key_name(int id);

/** Non-zero when a ports entry is a PCI address (possibly with ",devargs"), 0 for a vdev. */
int
fp_conf_port_is_pci(const char *spec);

/**
 * Build EAL's argv: prog, then eal.args, then, when eal.args has no -l, -c or --lcores,
 * "--lcores" with every lcore of lcores.* (an lcore id >= n_cpus runs on CPU id % n_cpus;
 * n_cpus 0 = no remapping) and "--main-lcore" lcores.stats; then "-a ADDR" for each PCI port
 * and "--vdev SPEC" for each vdev port, and "--no-pci" when no port is PCI and eal.args has
 * no -a, -b, --allow, --block or --no-pci. out is overwritten and owned by the caller (free
 * with fp_conf_strv_free()). Returns 0, -EINVAL (unreadable lcore option in eal.args) or
 * -ENOMEM.
 */
int
fp_conf_eal_argv(const struct fp_conf *c, const char *prog, unsigned int n_cpus,
		struct fp_conf_strv *out);

/** Free a list's strings and array and zero it; NULL is a no-op. */
void
fp_conf_strv_free(struct fp_conf_strv *v);

#endif /* FP_CONF_H */

/* lib/conf internals shared by its files: key descriptors, YAML node tree, error helpers. */
#ifndef FP_CONF_PRIVATE_H
#define FP_CONF_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum conf_type {
	CONF_T_BOOL,
	CONF_T_U32,
	CONF_T_U64,
	CONF_T_DBL,
	CONF_T_STR,
	CONF_T_ENUM,
	CONF_T_STRV,
	CONF_T_U32V,
};

/* One allowed name of an ENUM key; a list ends with name NULL. */
struct conf_enum_val {
	const char *name;
	int value;
};

/*
 * An extra check of a key's value (or of each item of a list). A check returns 0 when the
 * value is acceptable, else -EINVAL with a phrase in why that follows the shown value
 * ("is not a power of two").
 */
struct conf_rule {
	int (*check_u64)(uint64_t v, char *why, size_t len);
	int (*check_str)(const char *s, char *why, size_t len);
	const char *text;	/* the rule in a few words, for the reference */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;
	double min;
	double max;
	const char *def;
	const struct conf_enum_val *vals;
	const struct conf_rule *rule;
	const char *desc;
};

extern const struct conf_key conf_keys[FP_CONF_NKEYS];
extern const struct conf_rule conf_rule_pow2;
extern const struct conf_rule conf_rule_resolution;
extern const struct conf_rule conf_rule_port;
extern const struct conf_rule conf_rule_endpoint;

/* A YAML node: a scalar, a list (kid[0..n-1]) or a map (kid[2i] key, kid[2i+1] value). */
enum conf_node_kind {
	CONF_N_SCALAR,
	CONF_N_SEQ,
	CONF_N_MAP,
};

struct conf_node {
	enum conf_node_kind kind;
	uint32_t line;		/* 1-based */
	uint32_t col;		/* 1-based */
	bool plain;		/* scalar written plain and untagged: numbers, bools, null apply */
	char *text;		/* scalar, NUL-terminated, no NUL inside */
	size_t len;
	struct conf_node **kid;
	uint32_t n;
	uint32_t cap;
};

/*
 * Parse YAML text into a tree (NULL for an empty stream). Marks on the first line get
 * col0 added to their column (for --set values). Returns 0 or -EINVAL/-ENOMEM with e filled.
 */
int
conf_tree_parse(const char *src, const char *text, size_t len, uint32_t col0,
		struct conf_node **root, struct fp_conf_err *e);

void
conf_tree_free(struct conf_node *n);

/* A plain scalar that YAML reads as null: "", "~", "null", "Null", "NULL". */
bool
conf_node_is_null(const struct conf_node *n);

/* Fill e with "src:line:col: " and the formatted message, made one line. */
int
conf_err(struct fp_conf_err *e, const char *src, uint32_t line, uint32_t col,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

int
conf_verr(struct fp_conf_err *e, const char *src, uint32_t line, uint32_t col,
		const char *fmt, va_list ap);

/* Copy s (len bytes) for a message: at most 40 characters, control characters as '?'. */
const char *
conf_show(const char *s, size_t len, char *buf, size_t size);

/* Apply node v to key id of c (marking it from source src); c is unchanged on error. */
int
conf_apply(struct fp_conf *c, int id, const struct conf_node *v, int32_t src,
		const char *src_name, struct fp_conf_err *e);

/* Index of name in c->sources, appended when new; negative errno on failure. */
int
conf_source(struct fp_conf *c, const char *name);

/* Non-zero when name + "." starts some key (a section such as "flow.idle_timeout"). */
int
conf_is_section(const char *name, size_t len);

/*
 * The key or section nearest to name by edit distance, written to buf (at least 129 bytes);
 * returns buf, or NULL when none is near.
 */
const char *
conf_suggest(const char *name, char *buf, size_t size);

/* Parse a uint as YAML plain text: 0 ok, -ERANGE (negative or too big), -EINVAL. */
int
conf_parse_u64(const char *s, uint64_t *out);

/*
 * EAL lcore set from eal.args: returns 1 and fills set/main/opt when -l, -c or --lcores is
 * given, 0 when none is, -EINVAL with why filled when an option cannot be read. opt gets the
 * option as written ("-l 0-3").
 */
int
conf_eal_lcores(const struct fp_conf_strv *args, bool set[FP_CONF_MAX_LCORE], int *main_lcore,
		char *opt, size_t optlen, char *why, size_t whylen);

#endif /* FP_CONF_PRIVATE_H */

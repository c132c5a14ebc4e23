/* Internal: a small YAML tree (scalars, sequences, mappings) with line numbers, built by libyaml. */
#ifndef MODEL_YAML_H
#define MODEL_YAML_H

#include <stddef.h>

#define YTREE_MAX_DEPTH 8	/**< deepest nesting accepted */
#define YTREE_MAX_NODES 100000	/**< most nodes in one document */

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_kind kind;
	unsigned int line;		/**< 1-based line where the node starts */
	int plain;			/**< scalar written without quotes */
	char *str;			/**< scalar value (NUL-terminated) */
	struct ynode **kids;		/**< seq: items; map: key, value, key, value, ... */
	size_t n_kids;
	size_t cap;
};

/**
 * Parse one YAML document of len bytes. Returns the root node (freed with ytree_free()), or
 * NULL with a message in err (syntax errors carry the line and column, aliases, more than one
 * document, nesting deeper than YTREE_MAX_DEPTH and duplicate keys are rejected).
 */
struct ynode *
ytree_parse(const char *text, size_t len, char *err, size_t errlen);

/** Free a tree; NULL is a no-op. */
void
ytree_free(struct ynode *n);

/** Value of key in a mapping, or NULL when absent (or when map is not a mapping). */
const struct ynode *
ytree_get(const struct ynode *map, const char *key);

#endif /* MODEL_YAML_H */

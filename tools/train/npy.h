/* Writer of 1-D NumPy .npy arrays of fixed-size records, count patched in on close. */
#ifndef FPT_NPY_H
#define FPT_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** An .npy file being written; records are appended, the shape is written on close. */
struct fpt_npy {
	FILE *f;
	char *path;		/**< final path */
	char *tmp;		/**< path written to, renamed on close */
	const char *descr;	/**< numpy dtype descr, e.g. "[('a', '<u4'), ('b', '<f4')]" */
	size_t rec_size;	/**< bytes per record, must match descr */
	uint64_t count;		/**< records written */
	int err;		/**< first errno seen, 0 if none */
};

/**
 * Create path's temporary sibling "<path>.tmp.<pid>" and reserve the header. descr must stay
 * valid until close. Returns 0 or a negative errno (nothing left behind).
 */
int
fpt_npy_open(struct fpt_npy *n, const char *path, const char *descr, size_t rec_size);

/** Append one record of rec_size bytes (already little-endian). Errors are kept for close. */
void
fpt_npy_put(struct fpt_npy *n, const void *rec);

/**
 * Write the final header, close and rename into place; with abort_write set or after any
 * write error, remove the temporary file instead. Returns 0 or a negative errno.
 */
int
fpt_npy_close(struct fpt_npy *n, int abort_write);

#endif /* FPT_NPY_H */

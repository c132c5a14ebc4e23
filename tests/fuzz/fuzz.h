/* Fuzz targets: the libFuzzer entry point every target defines and the invariant check. */
#ifndef FP_FUZZ_H
#define FP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/**
 * Run one input through the target. Called by libFuzzer (fuzz_<name> binaries built with
 * clang) or by replay.c's main() (fuzz_replay_<name>, built always). Returns 0;
 * a broken invariant aborts through FP_FUZZ_CHECK().
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Abort with file, line and the condition when an invariant does not hold. */
#define FP_FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif /* FP_FUZZ_H */

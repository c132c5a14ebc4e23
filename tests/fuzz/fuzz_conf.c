/* Fuzz target: YAML configuration text and --set overrides through load, set, validate, dump. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

/* Most --set assignments taken from one input. */
#define FUZZ_CONF_MAX_SETS 8

/* A failed call leaves c as it was and says why in one line. */
static void
check_failed(const struct fp_conf *before, const struct fp_conf *c, const struct fp_conf_err *e,
		int ret)
{
	FP_FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM || ret == -EFBIG);
	FP_FUZZ_CHECK(e->msg[0] != '\0' && strchr(e->msg, '\n') == NULL);
	FP_FUZZ_CHECK(fp_conf_equal(before, c));
}

/* Whatever was loaded dumps to YAML that loads back to an equal configuration. */
static void
check_dump(const struct fp_conf *c)
{
	struct fp_conf back;
	struct fp_conf_err e;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&text, &len);
	if (f == NULL)
		return;
	ret = fp_conf_dump(c, f);
	FP_FUZZ_CHECK(fclose(f) == 0);
	FP_FUZZ_CHECK(ret == 0);
	FP_FUZZ_CHECK(fp_conf_defaults(&back) == 0);
	ret = fp_conf_load_string(&back, "dump", text, len, &e);
	if (ret != 0)
		fprintf(stderr, "dump does not load back: %s\n%s\n", e.msg, text);
	FP_FUZZ_CHECK(ret == 0);
	FP_FUZZ_CHECK(fp_conf_equal(c, &back));
	fp_conf_free(&back);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t ylen = nul != NULL ? (size_t)(nul - data) : size, off;
	struct fp_conf c, before;
	struct fp_conf_strv argv;
	struct fp_conf_err e;
	int ret, n;

	FP_FUZZ_CHECK(fp_conf_defaults(&c) == 0);
	FP_FUZZ_CHECK(fp_conf_copy(&before, &c) == 0);
	memset(&e, 0, sizeof(e));
	ret = fp_conf_load_string(&c, "fuzz.yaml", text, ylen, &e);
	if (ret != 0)
		check_failed(&before, &c, &e, ret);

	/* the rest: NUL-terminated KEY=VALUE overrides */
	off = ylen + 1;
	for (n = 0; n < FUZZ_CONF_MAX_SETS && off < size; n++) {
		const uint8_t *end = memchr(data + off, 0, size - off);
		size_t alen = end != NULL ? (size_t)(end - (data + off)) : size - off;
		char *a = malloc(alen + 1);

		if (a == NULL)
			break;
		memcpy(a, data + off, alen);
		a[alen] = '\0';
		fp_conf_free(&before);
		FP_FUZZ_CHECK(fp_conf_copy(&before, &c) == 0);
		memset(&e, 0, sizeof(e));
		ret = fp_conf_set(&c, a, &e);
		if (ret != 0) {
			check_failed(&before, &c, &e, ret);
			FP_FUZZ_CHECK(strncmp(e.msg, "--set:", 6) == 0);
		}
		free(a);
		off += alen + 1;
	}

	memset(&e, 0, sizeof(e));
	ret = fp_conf_validate(&c, FP_CONF_CHECK_PORTS, &e);
	FP_FUZZ_CHECK(ret == 0 || (ret == -EINVAL && e.msg[0] != '\0'));
	FP_FUZZ_CHECK((unsigned int)fp_conf_clock_effective(&c) <= FP_CONF_CLOCK_AUTO);
	check_dump(&c);
	memset(&argv, 0, sizeof(argv));
	ret = fp_conf_eal_argv(&c, "flowpicd", 2, &argv);
	FP_FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret == 0)
		FP_FUZZ_CHECK(argv.n >= 1 && strcmp(argv.v[0], "flowpicd") == 0);
	fp_conf_strv_free(&argv);
	fp_conf_free(&before);
	fp_conf_free(&c);
	return 0;
}

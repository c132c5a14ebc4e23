/* Tiny header-only assertion helper for flowpic's unit tests (no EAL needed). */
#ifndef FP_TEST_H
#define FP_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Usage:
 *   static int test_x(void) { FP_ASSERT_EQ(1 + 1, 2); return 0; }
 *   int main(void) { FP_RUN(test_x); return fp_test_report(); }
 * A failed assertion prints file:line, the expression, expected and actual values, and makes
 * the current test return -1. fp_test_report() prints "N passed, N failed" and returns the
 * process exit code.
 */

static int fp_test_passed;
static int fp_test_failed;

#define FP_FAIL(fmt, ...) do { \
	fprintf(stderr, "%s:%d: FAIL: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
	return -1; \
} while (0)

#define FP_ASSERT(cond) do { \
	if (!(cond)) \
		FP_FAIL("%s", #cond); \
} while (0)

#define FP_ASSERT_EQ(actual, expected) do { \
	long long a_ = (long long)(actual), e_ = (long long)(expected); \
	if (a_ != e_) \
		FP_FAIL("%s == %s: expected %lld, actual %lld", #actual, #expected, e_, a_); \
} while (0)

#define FP_ASSERT_NE(actual, unexpected) do { \
	long long a_ = (long long)(actual), e_ = (long long)(unexpected); \
	if (a_ == e_) \
		FP_FAIL("%s != %s: both are %lld", #actual, #unexpected, a_); \
} while (0)

#define FP_ASSERT_NEAR(actual, expected, tol) do { \
	double a_ = (double)(actual), e_ = (double)(expected); \
	if (!(fabs(a_ - e_) <= (tol))) \
		FP_FAIL("%s ~= %s: expected %.9g, actual %.9g (tolerance %g)", \
			#actual, #expected, e_, a_, (double)(tol)); \
} while (0)

#define FP_ASSERT_STR_EQ(actual, expected) do { \
	const char *a_ = (actual), *e_ = (expected); \
	if (a_ == NULL || e_ == NULL || strcmp(a_, e_) != 0) \
		FP_FAIL("%s == %s: expected \"%s\", actual \"%s\"", #actual, #expected, \
			e_ ? e_ : "(null)", a_ ? a_ : "(null)"); \
} while (0)

#define FP_ASSERT_CONTAINS(haystack, needle) do { \
	const char *h_ = (haystack), *n_ = (needle); \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		FP_FAIL("%s contains \"%s\": actual \"%s\"", #haystack, n_, h_ ? h_ : "(null)"); \
} while (0)

#define FP_RUN(fn) do { \
	if ((fn)() == 0) { \
		fp_test_passed++; \
		printf("ok   %s\n", #fn); \
	} else { \
		fp_test_failed++; \
		printf("FAIL %s\n", #fn); \
	} \
	fflush(stdout); \
} while (0)

static inline int
fp_test_report(void)
{
	printf("%d passed, %d failed\n", fp_test_passed, fp_test_failed);
	return fp_test_failed == 0 && fp_test_passed > 0 ? 0 : 1;
}

#endif /* FP_TEST_H */

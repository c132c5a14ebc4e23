/* Sequential reader of fp-extract's .windows files: header, then window by window. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "winread.h"

#define FPT_MAGIC "FPWIN1\0\0"
#define FPT_FILE_HDR 24
#define FPT_WIN_HDR 80
#define FPT_MAX_RECORDS (1u << 24)
#define FPT_MAX_WINDOW_US 3600000000ull
#define FPT_MAX_SHIFT 31u	/* lib/flow's FP_WIN_SHIFT_MAX */

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

int
fpt_winread_open(struct fpt_winread *r, const char *path, char *err, size_t errlen)
{
	uint8_t hdr[FPT_FILE_HDR];
	int e;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->f = fopen(path, "rb");
	if (r->f == NULL) {
		e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	if (fread(hdr, 1, sizeof(hdr), r->f) != sizeof(hdr) ||
			memcmp(hdr, FPT_MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s: not a .windows file (bad magic)", path);
		goto bad;
	}
	r->window_us = get_u64(hdr + 8);
	r->count = get_u64(hdr + 16);
	if (r->window_us == 0 || r->window_us > FPT_MAX_WINDOW_US) {
		snprintf(err, errlen, "%s: window length %llu us out of range 1..%llu", path,
			(unsigned long long)r->window_us, FPT_MAX_WINDOW_US);
		goto bad;
	}
	return 0;
bad:
	fclose(r->f);
	r->f = NULL;
	return -EINVAL;
}

int
fpt_winread_next(struct fpt_winread *r, struct fpt_window *w, char *err, size_t errlen)
{
	uint8_t hdr[FPT_WIN_HDR];
	uint8_t *raw;
	uint32_t i, n;

	if (r->done == r->count) {
		if (fgetc(r->f) != EOF) {
			snprintf(err, errlen, "%s: data after the last of %llu windows", r->path,
				(unsigned long long)r->count);
			return -EINVAL;
		}
		return 0;
	}
	if (fread(hdr, 1, sizeof(hdr), r->f) != sizeof(hdr)) {
		snprintf(err, errlen, "%s: cut short in window %llu of %llu", r->path,
			(unsigned long long)r->done, (unsigned long long)r->count);
		return -EINVAL;
	}
	w->proto = hdr[1];
	w->start_us = get_u64(hdr + 40);
	w->index = get_u32(hdr + 48);
	w->packets = get_u32(hdr + 52);
	n = get_u32(hdr + 64);
	w->shift = hdr[78];
	if (w->shift > FPT_MAX_SHIFT) {
		snprintf(err, errlen, "%s: window %llu has record shift %u (at most %u)", r->path,
			(unsigned long long)r->done, w->shift, FPT_MAX_SHIFT);
		return -EINVAL;
	}
	if (n > FPT_MAX_RECORDS) {
		snprintf(err, errlen, "%s: window %llu claims %u records (at most %u)", r->path,
			(unsigned long long)r->done, n, FPT_MAX_RECORDS);
		return -EINVAL;
	}
	if (n > r->cap) {
		struct fp_pkt_rec *p = realloc(r->recs, (size_t)n * sizeof(*p));

		if (p == NULL) {
			snprintf(err, errlen, "%s: out of memory", r->path);
			return -ENOMEM;
		}
		r->recs = p;
		r->cap = n;
	}
	/* Records are read as bytes and decoded, so the file's byte order is what counts. */
	raw = (uint8_t *)r->recs;
	if (n > 0 && fread(raw, 8, n, r->f) != n) {
		snprintf(err, errlen, "%s: records of window %llu cut short", r->path,
			(unsigned long long)r->done);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *b = raw + (size_t)i * 8;
		struct fp_pkt_rec rec;

		rec.t_us = get_u32(b);
		rec.size = get_u16(b + 4);
		rec.dir = b[6];
		rec.flags = b[7];
		r->recs[i] = rec;
	}
	w->n_records = n;
	r->done++;
	return 1;
}

void
fpt_winread_close(struct fpt_winread *r)
{
	if (r->f != NULL)
		fclose(r->f);
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

int
fpt_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int
fpt_parse_f64(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

int
fpt_opt_u32(const char *tool, const char *opt, const char *arg, uint32_t lo, uint32_t hi,
		uint32_t *out)
{
	if (fpt_parse_u32(arg, lo, hi, out) == 0)
		return 0;
	fprintf(stderr, "%s: --%s '%s' is not in %u..%u\n", tool, opt, arg, lo, hi);
	return -EINVAL;
}

int
fpt_opt_f64(const char *tool, const char *opt, const char *arg, double lo, double hi,
		double *out)
{
	if (fpt_parse_f64(arg, lo, hi, out) == 0)
		return 0;
	fprintf(stderr, "%s: --%s '%s' is not in %g..%g\n", tool, opt, arg, lo, hi);
	return -EINVAL;
}

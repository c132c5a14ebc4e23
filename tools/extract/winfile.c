/* The .windows file writer: little-endian file header, window headers and packet records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract.h"

static uint8_t *
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static void
writer_put(struct fpx_writer *w, const void *buf, size_t n)
{
	if (w->err == 0 && fwrite(buf, 1, n, w->f) != n)
		w->err = errno ? errno : EIO;
}

int
fpx_writer_open(struct fpx_writer *w, const char *path, uint64_t window_us)
{
	uint8_t hdr[FPX_FILE_HDR_SIZE], *p = hdr;
	size_t n = strlen(path);

	memset(w, 0, sizeof(*w));
	w->path = strdup(path);
	w->tmp = malloc(n + 5);
	if (w->path == NULL || w->tmp == NULL) {
		free(w->path);
		free(w->tmp);
		return -ENOMEM;
	}
	memcpy(w->tmp, path, n);
	memcpy(w->tmp + n, ".tmp", 5);
	w->f = fopen(w->tmp, "wb");
	if (w->f == NULL) {
		int e = errno;

		free(w->path);
		free(w->tmp);
		return -e;
	}
	memcpy(p, FPX_MAGIC, 8);
	p = put_u64(p + 8, window_us);
	put_u64(p, 0);		/* count, patched by fpx_writer_close() */
	writer_put(w, hdr, sizeof(hdr));
	return 0;
}

void
fpx_writer_window(struct fpx_writer *w, struct fp_window *win)
{
	uint8_t hdr[FPX_WIN_HDR_SIZE], rec[8 * 64], *p = hdr;
	const struct fp_flow_key *k = &win->key;
	int sw = win->init_swapped;
	struct fp_rec_chunk *c;

	memset(hdr, 0, sizeof(hdr));
	*p++ = k->family;
	*p++ = k->proto;
	p = put_u16(p, k->vlan);
	p = put_u16(p, sw ? k->port_hi : k->port_lo);
	p = put_u16(p, sw ? k->port_lo : k->port_hi);
	memcpy(p, sw ? k->addr_hi : k->addr_lo, 16);
	memcpy(p + 16, sw ? k->addr_lo : k->addr_hi, 16);
	p = put_u64(p + 32, win->start_us);
	p = put_u32(p, win->index);
	p = put_u32(p, win->packets);
	p = put_u64(p, win->bytes);
	p = put_u32(p, win->n_records);
	p = put_u32(p, win->sampled_out);
	p = put_u32(p, win->no_mem);
	*p++ = win->end_reason;
	*p++ = win->flags;
	*p++ = win->shift;
	writer_put(w, hdr, sizeof(hdr));
	for (c = fp_window_chunks(win); c != NULL; c = c->next) {
		const struct fp_pkt_rec *r = fp_rec_chunk_recs(c);

		for (uint32_t i = 0; i < c->n; i += 64) {
			uint32_t m = c->n - i < 64 ? c->n - i : 64;

			p = rec;
			for (uint32_t j = 0; j < m; j++) {
				p = put_u32(p, r[i + j].t_us);
				p = put_u16(p, r[i + j].size);
				*p++ = r[i + j].dir;
				*p++ = r[i + j].flags;
			}
			writer_put(w, rec, (size_t)m * 8);
		}
	}
	w->count++;
	w->records += win->n_records;
}

int
fpx_writer_close(struct fpx_writer *w, int abort_write)
{
	uint8_t cnt[8];
	int err = w->err;

	if (!abort_write && err == 0) {
		put_u64(cnt, w->count);
		if (fseek(w->f, 16, SEEK_SET) != 0)
			err = errno;
		else
			writer_put(w, cnt, sizeof(cnt));
		if (err == 0)
			err = w->err;
		if (err == 0 && fflush(w->f) != 0)
			err = errno;
	}
	if (fclose(w->f) != 0 && err == 0)
		err = errno;
	if (!abort_write && err == 0 && rename(w->tmp, w->path) != 0)
		err = errno;
	if (abort_write || err != 0)
		unlink(w->tmp);
	free(w->path);
	free(w->tmp);
	w->f = NULL;
	return -err;
}

/* .npy writer: version 1.0 header of fixed 128 bytes, records appended, shape patched last. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

#define FPT_NPY_HDR 128u

/* Write the magic, version, header length and the dict padded with spaces to 128 bytes. */
static int
npy_header(struct fpt_npy *n)
{
	char hdr[FPT_NPY_HDR];
	int len;

	memset(hdr, ' ', sizeof(hdr));
	memcpy(hdr, "\x93NUMPY\x01\x00", 8);
	hdr[8] = (char)((FPT_NPY_HDR - 10) & 0xff);
	hdr[9] = (char)((FPT_NPY_HDR - 10) >> 8);
	len = snprintf(hdr + 10, sizeof(hdr) - 10,
		"{'descr': %s, 'fortran_order': False, 'shape': (%llu,), }", n->descr,
		(unsigned long long)n->count);
	if (len < 0 || (size_t)len >= sizeof(hdr) - 11)
		return -EOVERFLOW;
	hdr[10 + len] = ' ';
	hdr[FPT_NPY_HDR - 1] = '\n';
	if (fseek(n->f, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof(hdr), n->f) != sizeof(hdr))
		return -(errno != 0 ? errno : EIO);
	return 0;
}

int
fpt_npy_open(struct fpt_npy *n, const char *path, const char *descr, size_t rec_size)
{
	int ret;

	memset(n, 0, sizeof(*n));
	n->descr = descr;
	n->rec_size = rec_size;
	n->path = strdup(path);
	n->tmp = malloc(strlen(path) + 32);
	if (n->path == NULL || n->tmp == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	/* One temporary name per process, so concurrent writers of one path never mix. */
	sprintf(n->tmp, "%s.tmp.%ld", path, (long)getpid());
	n->f = fopen(n->tmp, "wb");
	if (n->f == NULL) {
		ret = -errno;
		goto fail;
	}
	ret = npy_header(n);
	if (ret < 0) {
		fclose(n->f);
		unlink(n->tmp);
		goto fail;
	}
	return 0;
fail:
	free(n->path);
	free(n->tmp);
	memset(n, 0, sizeof(*n));
	return ret;
}

void
fpt_npy_put(struct fpt_npy *n, const void *rec)
{
	if (n->err != 0)
		return;
	if (fwrite(rec, 1, n->rec_size, n->f) != n->rec_size)
		n->err = errno != 0 ? errno : EIO;
	else
		n->count++;
}

int
fpt_npy_close(struct fpt_npy *n, int abort_write)
{
	int ret = -n->err;

	if (n->f == NULL)
		return -EBADF;
	if (ret == 0 && !abort_write)
		ret = npy_header(n);
	if (fclose(n->f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && !abort_write) {
		if (rename(n->tmp, n->path) != 0)
			ret = -errno;
	}
	if (ret != 0 || abort_write)
		unlink(n->tmp);
	free(n->path);
	free(n->tmp);
	memset(n, 0, sizeof(*n));
	return ret;
}

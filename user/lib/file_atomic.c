// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Replacing a small file so that a crash leaves the old content or the new, never a mix. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/file_atomic.h"

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int replace(const char *path, const void *data, size_t len, bool sync)
{
	struct buf tmp = { 0 };
	int fd = -1, ret;

	ret = buf_printf(&tmp, "%s.tmp", path);
	if (ret)
		goto cleanup;
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	ret = write_all(fd, data, len);
	if (ret)
		goto cleanup;
	/* fsync before rename: the rename must not reach the disk before the data. */
	if (sync && fsync(fd)) {
		ret = -errno;
		goto cleanup;
	}
	ret = close(fd) ? -errno : 0;
	fd = -1;
	if (!ret && rename(tmp.data, path))
		ret = -errno;
cleanup:
	if (fd >= 0)
		close(fd);
	if (ret && tmp.data)
		unlink(tmp.data);
	buf_free(&tmp);
	return ret;
}

int file_write_atomic(const char *path, const void *data, size_t len)
{
	return replace(path, data, len, true);
}

int file_write_atomic_nosync(const char *path, const void *data, size_t len)
{
	return replace(path, data, len, false);
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Replacing a small file so that a crash leaves the old content or the new, never a mix. */
#ifndef MP_FILE_ATOMIC_H
#define MP_FILE_ATOMIC_H

#include <stddef.h>

/*
 * Writes data to PATH.tmp (mode 0600), fsyncs it and renames it over path. Returns 0 or
 * -errno; on failure the temporary file is removed and path is untouched.
 */
int file_write_atomic(const char *path, const void *data, size_t len);

/*
 * The same without the fsync: a crash of the process still leaves the old content or the new
 * (the page cache holds it), a crash of the host may leave the old one or an empty file. For
 * files whose loss a host's restart makes harmless, where an fsync's wait (seconds behind a
 * database's dirty pages) would cost more than it protects.
 */
int file_write_atomic_nosync(const char *path, const void *data, size_t len);

#endif /* MP_FILE_ATOMIC_H */

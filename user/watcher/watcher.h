/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watcher thread: reads the local server's PROCESSLIST through libmariadb into a procs. */
#ifndef MP_WATCHER_H
#define MP_WATCHER_H

#include <stdint.h>

#include "watcher/procs.h"

struct watcher_config {
	const char *host;     /* TCP host; NULL or "" with socket set: the Unix socket */
	unsigned port;	      /* TCP port */
	const char *socket;   /* Unix socket path, or NULL/"" */
	const char *user;     /* the watcher account */
	const char *password; /* its password (secret: never logged) */
	unsigned interval_s;  /* between two reads (>= 1) */
	unsigned timeout_s;   /* connect, read and write timeout (>= 1) */
};

/* Counters since the start, readable from any thread. */
struct watcher_stats {
	uint64_t polls;		   /* PROCESSLIST reads that succeeded */
	uint64_t poll_errors;	   /* reads that failed (the connection is then re-opened) */
	uint64_t connect_errors;   /* connection attempts that failed (server down, password) */
	uint64_t privilege_errors; /* reads done without the PROCESS privilege */
	uint64_t connections;	   /* gauge: server connections in the last read */
	uint64_t connected;	   /* gauge: 1 while the watcher's connection is open */
};

struct watcher;

/*
 * Starts the thread; it connects and reads at once, then every interval_s, into procs (which
 * must outlive the watcher). Failures are logged at most once a minute per kind, with the
 * server's message, and counted; the thread keeps trying. The strings of cfg are copied.
 * Returns NULL with errno set (EINVAL, ENOMEM, or pthread_create's error).
 */
struct watcher *watcher_start(const struct watcher_config *cfg, struct procs *procs);

void watcher_get_stats(const struct watcher *w, struct watcher_stats *out);

/* Stops the thread (waits at most for one timeout_s) and frees. Accepts NULL. */
void watcher_stop(struct watcher *w);

#endif /* MP_WATCHER_H */

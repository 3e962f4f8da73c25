/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The server's connection list as the watcher last read it: client address -> id, user, db. */
#ifndef MP_PROCS_H
#define MP_PROCS_H

#include <stddef.h>
#include <stdint.h>

/* Longest names kept: MariaDB's user names are at most 80 characters (128 bytes in
 * information_schema), schema names 64 characters (256 bytes in UTF-8). */
#define PROCS_USER_MAX 128
#define PROCS_DB_MAX 256

/* One server connection, keyed by its client's address as the server sees it. */
struct proc_entry {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
	uint16_t port;	  /* host order */
	uint8_t family;	  /* 4 or 6, as in struct qe_addr */
	uint8_t db_null;  /* no default database */
	uint64_t id;	  /* the server's connection (thread) id */
	uint16_t user_len, db_len;
	char user[PROCS_USER_MAX];
	char db[PROCS_DB_MAX];
};

/*
 * Shared by one writer (the watcher thread) and any number of readers (workers). A reader
 * holds a mutex only to copy one entry out, the writer only to swap a snapshot in: neither
 * ever waits on the database.
 */
struct procs;

/* Returns NULL with errno set (ENOMEM). */
struct procs *procs_new(void);
/* Accepts NULL. */
void procs_free(struct procs *p);

/*
 * Replaces the snapshot with n entries (copied; order does not matter) read from the server
 * at taken_ns (CLOCK_REALTIME, the live capture's clock) and bumps the generation. Returns 0
 * or -ENOMEM (the previous snapshot stays).
 */
int procs_publish(struct procs *p, const struct proc_entry *v, size_t n, uint64_t taken_ns);

/* The watcher's own connection (its client end): its statements are nobody's statistics.
 * family 0 clears it. Bumps the generation. */
void procs_set_self(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port);

/* Changes whenever a snapshot or the watcher's own address changes: a reader that saw the
 * same generation before has nothing new to look up. Lock-free. */
uint64_t procs_gen(const struct procs *p);

/* Copies the entry of (addr, family, port) into *out and its snapshot's time into *taken_ns.
 * Returns 0, or -ENOENT. */
int procs_lookup(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port,
		 struct proc_entry *out, uint64_t *taken_ns);

/* Whether (addr, family, port) is the watcher's own connection. */
int procs_is_self(struct procs *p, const uint8_t *addr, uint8_t family, uint16_t port);

/*
 * Reads a PROCESSLIST HOST value, "ip:port" ("[ip]:port" or "ip6:port" for IPv6, an IPv4-mapped
 * address as IPv4) into *e's address. Returns 0, or -EINVAL (a Unix socket's "localhost", a
 * host name, anything else).
 */
int procs_parse_host(const char *host, size_t len, struct proc_entry *e);

#endif /* MP_PROCS_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A node's address as users write it: HOST:PORT, [IPv6]:PORT. */
#ifndef MP_ADDR_H
#define MP_ADDR_H

#include <stddef.h>

#define ADDR_HOST_MAX 254 /* a DNS name is at most 253 bytes */

/*
 * Splits s into host (brackets of an IPv6 address removed) and port. The host is a DNS
 * name, an IPv4 or an IPv6 address; the port 1..65535 in decimal. Returns 0 or -EINVAL with
 * a reason in *why (a static string).
 */
int addr_parse(const char *s, char host[ADDR_HOST_MAX], int *port, const char **why);

#endif /* MP_ADDR_H */

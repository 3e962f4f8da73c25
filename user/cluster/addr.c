// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A node's address as users write it: HOST:PORT, [IPv6]:PORT. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "cluster/addr.h"

static int fail(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

int addr_parse(const char *s, char host[ADDR_HOST_MAX], int *port, const char **why)
{
	const char *colon, *h = s, *p;
	unsigned char v6[16];
	size_t hlen;
	long n = 0;

	if (!s || !*s)
		return fail(why, "empty (expected HOST:PORT)");
	if (*s == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return fail(why, "an IPv6 address is written [ADDR]:PORT");
		h = s + 1;
		hlen = (size_t)(colon - h);
		p = colon + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail(why, "no port (expected HOST:PORT)");
		hlen = (size_t)(colon - s);
		p = colon + 1;
		if (memchr(s, ':', hlen))
			return fail(why, "an IPv6 address is written [ADDR]:PORT");
	}
	if (!hlen || hlen >= ADDR_HOST_MAX)
		return fail(why, "host empty or too long");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (*s == '[') {
		if (inet_pton(AF_INET6, host, v6) != 1)
			return fail(why, "not an IPv6 address between the brackets");
	} else {
		for (size_t i = 0; i < hlen; i++)
			if (!is_name_char(host[i]))
				return fail(why, "host has a character no name or address has");
		if (host[0] == '-' || host[0] == '.')
			return fail(why, "host has a character no name or address has");
	}
	if (!*p)
		return fail(why, "no port (expected HOST:PORT)");
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || n > 65535)
			return fail(why, "port must be a number from 1 to 65535");
		n = n * 10 + (*p - '0');
	}
	if (n < 1 || n > 65535)
		return fail(why, "port must be a number from 1 to 65535");
	*port = (int)n;
	return 0;
}

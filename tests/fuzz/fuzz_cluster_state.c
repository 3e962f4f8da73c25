// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for what a master reads from others: its state file and node addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/addr.h"
#include "cluster/state_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_state st = { 0 };
	char err[128], host[ADDR_HOST_MAX], *s;
	const char *why;
	int port;

	if (!state_parse((const char *)data, size, &st, err, sizeof(err))) {
		/* What was accepted names valid addresses only. */
		for (size_t i = 0; i < st.nslaves; i++)
			if (addr_parse(st.slaves[i].addr, host, &port, &why))
				abort();
		cluster_state_free(&st);
	}
	/* The same bytes as a /cluster/join?addr= value. */
	s = strndup((const char *)data, size);
	if (s && !addr_parse(s, host, &port, &why) && (port < 1 || port > 65535 || !*host))
		abort();
	free(s);
	return 0;
}

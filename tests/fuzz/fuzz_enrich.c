// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for enrich.file and the POST /enrich/update body (report/enrich.h). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "report/enrich.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every answer is one of the table's apps: non-empty, bounded, no space. */
static void check_lookup(const struct enrich *e, uint8_t family, const uint8_t *addr)
{
	size_t len = 0;
	const char *app = enrich_lookup(e, family, addr, &len);

	if (app && (len == 0 || len > ENRICH_APP_MAX || memchr(app, ' ', len)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct enrich *file = NULL, *patch = NULL, *both = NULL;
	const char *text = (const char *)data;
	uint8_t addr[16] = { 0 };
	char err[256];
	int r1, r2;

	r1 = enrich_parse(text, size, "f", 0, &file, err, sizeof(err));
	r2 = enrich_parse(text, size, "body", 1, &patch, err, sizeof(err));
	if (r1 && r1 != -EINVAL && r1 != -ENOMEM)
		abort();
	/* An error names its line: "body:N: reason". */
	if (r2 && r2 != -EINVAL && r2 != -ENOMEM)
		abort();
	if (r2 == -EINVAL && strncmp(err, "body:", 5))
		abort();
	/* A valid file is a valid patch. */
	if (!r1 && r2)
		abort();
	/* Lookups of addresses taken from the input, both families. */
	memcpy(addr, data, size < 16 ? size : 16);
	check_lookup(file, AF_INET, addr);
	check_lookup(file, AF_INET6, addr);
	check_lookup(patch, AF_INET6, addr);
	if (!r2 && !enrich_apply(file, patch, &both)) {
		check_lookup(both, AF_INET, addr);
		check_lookup(both, AF_INET6, addr);
		if (enrich_count(both) > enrich_count(file) + enrich_count(patch))
			abort();
	}
	enrich_put(both);
	enrich_put(file);
	enrich_put(patch);
	return 0;
}

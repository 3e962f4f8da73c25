// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for reading reports back (a master parses what slaves send). */
#include <stddef.h>
#include <stdint.h>

#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agg_config cfg = {
		.max_keys = 4, .max_slow = 2, .slow_threshold_us = 1,
		.template_max_len = 64, .sql_max_len = 64,
	};
	struct report_header h;
	struct report_capture c = { 0 };
	struct agg *a = agg_new(&cfg);
	struct jbuf b;

	if (!a)
		return 0;
	if (report_parse(a, &h, &c, (const char *)data, size) == 0) {
		/* What was accepted must serialise again. */
		jbuf_init(&b);
		if (report_write(&b, &h, &c, a, NULL) != 0)
			__builtin_trap();
		jbuf_free(&b);
	}
	agg_free(a);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the YAML config loader and the config_set text parsers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], value[256];
	struct mp_config c;
	struct jbuf b;
	size_t i, n;

	if (config_init(&c))
		return 0;
	config_load_buffer(&c, "fuzz.yaml", (const char *)data, size, err, sizeof(err));
	/* The same bytes as a command-line value for every key. */
	n = size < sizeof(value) - 1 ? size : sizeof(value) - 1;
	memcpy(value, data, n);
	value[n] = '\0';
	for (i = 0; i < config_options_count; i++)
		config_set(&c, config_options[i].name, value, err, sizeof(err));
	/* Whatever was loaded must serialise and load back. */
	jbuf_init(&b);
	config_to_yaml(&c, &b, false);
	if (!jbuf_error(&b) &&
	    config_load_buffer(&c, "dump.yaml", b.out.data, b.out.len, err, sizeof(err)) != 0)
		__builtin_trap();
	jbuf_free(&b);
	config_free(&c);
	return 0;
}

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target: the pusher's reading of a receiver's "ack SEQ", against strtoull. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/pusher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], *end;
	uint64_t seq = 0;
	unsigned long long ref;
	int ret = pusher_parse_ack(data, size, &seq), want = 0;

	/* Reference: "ack " then 1..36 decimal digits whose value fits in 64 bits. */
	if (size < 5 || size > 40 || memcmp(data, "ack ", 4))
		want = -EINVAL;
	for (size_t i = 4; !want && i < size; i++)
		if (data[i] < '0' || data[i] > '9')
			want = -EINVAL;
	if (!want) {
		memcpy(s, data + 4, size - 4);
		s[size - 4] = '\0';
		errno = 0;
		ref = strtoull(s, &end, 10);
		if (errno == ERANGE)
			want = -EINVAL;
	}
	if (ret != want || (!ret && seq != ref))
		abort();
	return 0;
}

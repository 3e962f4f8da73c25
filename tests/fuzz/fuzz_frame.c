// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for frame_parse(): any bytes, any supported link type. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/frame.h"

static const int linktypes[] = { PKT_LINK_NULL, PKT_LINK_ETHERNET, PKT_LINK_RAW, PKT_LINK_LOOP,
				 PKT_LINK_SLL,	PKT_LINK_IPV4,	   PKT_LINK_IPV6, PKT_LINK_SLL2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct port_filter pf = { .ports = { 3306, 0 }, .nports = 2, .snaplen = 0 };
	struct mp_seg_hdr h;
	const __u8 *payload;
	int lt, r;

	if (size < 2)
		return 0;
	lt = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
	pf.snaplen = data[1] & 0x80 ? data[1] : 0;
	data += 2;
	size -= 2;
	r = frame_parse(lt, data, size, &pf, &h, &payload);
	if (r < 0 || r >= MP_CNT_MAX)
		__builtin_trap();
	if (r == MP_CNT_KEPT) {
		/* The payload must lie inside the frame and never exceed what was on the wire. */
		if (h.caplen > h.len || payload < data || payload + h.caplen > data + size)
			__builtin_trap();
		if (pf.snaplen && h.caplen > pf.snaplen)
			__builtin_trap();
	}
	return 0;
}

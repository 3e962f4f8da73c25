// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for frame_parse(): any bytes, any supported link type. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/frame.h"
#include "fuzz/frame_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct port_filter pf;
	struct mp_seg_hdr h;
	const __u8 *payload, *frame;
	size_t len;
	int lt, r;

	if (frame_input(data, size, &lt, &pf, &frame, &len))
		return 0;
	r = frame_parse(lt, frame, len, len, &pf, &h, &payload);
	if (r < 0 || r >= MP_CNT_MAX)
		__builtin_trap();
	if (r == MP_CNT_KEPT) {
		/* The payload must lie inside the frame and never exceed what was on the wire. */
		if (h.caplen > h.len || payload < frame || payload + h.caplen > frame + len)
			__builtin_trap();
		if (pf.snaplen && h.caplen > pf.snaplen)
			__builtin_trap();
	}
	return 0;
}

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* How a frame fuzz input reads: link type, snap length, then the frame. */
#ifndef MP_FUZZ_FRAME_INPUT_H
#define MP_FUZZ_FRAME_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/frame.h"

static const int frame_input_linktypes[] = { PKT_LINK_NULL, PKT_LINK_ETHERNET, PKT_LINK_RAW,
					     PKT_LINK_LOOP, PKT_LINK_SLL,      PKT_LINK_IPV4,
					     PKT_LINK_IPV6, PKT_LINK_SLL2 };

/*
 * data[0] picks the link type, data[1] the snap length (its value when the top bit is set,
 * else none), the rest is the frame; the ports are 3306 and 0. Returns 0, or -1 for an input
 * too short to say.
 */
static inline int frame_input(const uint8_t *data, size_t size, int *lt, struct port_filter *pf,
			      const uint8_t **frame, size_t *len)
{
	const size_t nlt = sizeof(frame_input_linktypes) / sizeof(frame_input_linktypes[0]);

	if (size < 2)
		return -1;
	memset(pf, 0, sizeof(*pf));
	pf->ports[0] = 3306;
	pf->nports = 2;
	pf->snaplen = data[1] & 0x80 ? data[1] : 0;
	*lt = frame_input_linktypes[data[0] % nlt];
	*frame = data + 2;
	*len = size - 2;
	return 0;
}

#endif /* MP_FUZZ_FRAME_INPUT_H */

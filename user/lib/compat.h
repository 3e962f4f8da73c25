/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The kernel's fixed-width type names for userspace, also where <linux/types.h> is absent. */
#ifndef MP_COMPAT_H
#define MP_COMPAT_H

#ifdef __linux__
#include <linux/types.h>
#else
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
#endif

#endif /* MP_COMPAT_H */

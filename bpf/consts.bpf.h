/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Constants that are macros in the UAPI headers and therefore absent from BTF/vmlinux.h. */
#ifndef MP_CONSTS_BPF_H
#define MP_CONSTS_BPF_H

#define TC_ACT_UNSPEC (-1)

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_DSTOPTS 60

/* Extension headers walked before giving up on an IPv6 packet (bounded loop). */
#define MP_MAX_V6_EXT 4

#endif /* MP_CONSTS_BPF_H */

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The program's version, shown by --version and /status. */
#ifndef MP_VERSION_H
#define MP_VERSION_H

#define MP_VERSION "0.2.0"

#endif /* MP_VERSION_H */

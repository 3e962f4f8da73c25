#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Writes the files given as C arrays and a table of them, { name, bytes, length }, for
# user/web/assets.c (make runs it; od is in coreutils, so the build needs nothing new).
set -e
i=0
for f in "$@"; do
	printf 'static const unsigned char web_asset_%d[] = {\n' "$i"
	od -An -v -tx1 "$f" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
	printf '};\n'
	i=$((i + 1))
done
printf 'static const struct web_file web_files[] = {\n'
i=0
for f in "$@"; do
	printf '\t{ "%s", web_asset_%d, sizeof(web_asset_%d) },\n' "$(basename "$f")" "$i" "$i"
	i=$((i + 1))
done
printf '};\n'

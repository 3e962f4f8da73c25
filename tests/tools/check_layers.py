#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks that user/ keeps its stages in data-flow order (make check-layers).

user/ holds one folder per stage; STAGES lists them earliest first. A file in
stage S may include headers of S and of earlier stages, written as
"stage/name.h"; main.c on top may include any stage. Headers from include/
(the BPF ABI) and the generated skeleton are below every stage. Anything else
is a violation: a later stage's header, a bare "name.h" that hides which stage
it comes from, a header that does not exist, a source file outside a stage.
Prints one line per violation (file:line: why) and exits 1 if there is any.
"""
import argparse
import os
import re
import sys

INC_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
# Below every stage: the kernel/user ABI in include/ and the generated BPF skeleton.
BASE_HEADERS = ('capture.skel.h',)


def check(root, stages, include_dir):
    order = {s: i for i, s in enumerate(stages)}
    base = set(BASE_HEADERS)
    if include_dir and os.path.isdir(include_dir):
        base |= {f for f in os.listdir(include_dir) if f.endswith('.h')}
    errors = []
    for dirpath, _, files in os.walk(root):
        for fn in sorted(files):
            if not fn.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            parts = rel.split(os.sep)
            if len(parts) == 1:
                if rel != 'main.c':
                    errors.append(f'{path}:0: only main.c lives at the top of {root}; '
                                  'put this file in its stage folder')
                    continue
                level = len(stages)
            elif parts[0] in order:
                level = order[parts[0]]
                if len(parts) > 2:
                    # Generator scripts and word lists may sit below a stage, C may not.
                    errors.append(f'{path}:0: C files sit directly in their stage folder')
                    continue
            else:
                errors.append(f'{path}:0: folder {parts[0]!r} is not a stage '
                              f'(stages: {" ".join(stages)})')
                continue
            with open(path, errors='replace') as f:
                for n, line in enumerate(f, 1):
                    m = INC_RE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    if inc in base:
                        continue
                    ip = inc.split('/')
                    if len(ip) != 2 or ip[0] not in order:
                        errors.append(f'{path}:{n}: "{inc}" names no stage; write "stage/name.h"')
                    elif not os.path.isfile(os.path.join(root, inc)):
                        errors.append(f'{path}:{n}: "{inc}" does not exist')
                    elif order[ip[0]] > level:
                        errors.append(f'{path}:{n}: stage {parts[0]!r} includes "{inc}" of '
                                      f'the later stage {ip[0]!r}')
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--stages', required=True, help='stage folders, earliest first')
    ap.add_argument('--include', default='include', help='the ABI headers folder')
    ap.add_argument('root', help='the user/ folder')
    a = ap.parse_args()
    errors = check(a.root, a.stages.split(), a.include)
    for e in errors:
        print(e)
    if errors:
        print(f'check-layers: {len(errors)} violation(s)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

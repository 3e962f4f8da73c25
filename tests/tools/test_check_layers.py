#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The layer checker passes on the real tree and fails on planted violations (TAP)."""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(ROOT, 'tests/tools/check_layers.py')
n = 0


def tap(cond, name, why=''):
    global n
    n += 1
    print(f'{"ok" if cond else "not ok"} {n} - {name}')
    if not cond and why:
        print('# ' + why.replace('\n', '\n# '))


def stages():
    out = subprocess.run(['make', '-s', '--no-print-directory', '-C', ROOT,
                          '-f', 'Makefile', '-f', '-', 'print-stages'],
                         input='print-stages:\n\t@echo $(STAGES)\n', text=True,
                         capture_output=True)
    return out.stdout.split()


def run(tree, st):
    return subprocess.run([sys.executable, CHECKER, '--stages', ' '.join(st),
                           '--include', os.path.join(ROOT, 'include'), tree],
                          capture_output=True, text=True)


def main():
    st = stages()
    tap(len(st) >= 5 and st[0] == 'lib', 'STAGES read from the Makefile', repr(st))
    r = run(os.path.join(ROOT, 'user'), st)
    tap(r.returncode == 0, 'the real tree keeps its layers', r.stdout)
    tmp = tempfile.mkdtemp(prefix='mp-layers-')
    try:
        tree = os.path.join(tmp, 'user')
        shutil.copytree(os.path.join(ROOT, 'user'), tree)
        # A backward include: the lowest stage reaches for the roles on top.
        victim = os.path.join(tree, 'lib/buf.c')
        with open(victim, 'a') as f:
            f.write('#include "roles/slave.h"\n')
        r = run(tree, st)
        tap(r.returncode == 1 and 'lib/buf.c' in r.stdout and 'roles/slave.h' in r.stdout
            and 'later stage' in r.stdout, 'a planted backward include fails, naming file and header',
            r.stdout + r.stderr)
        shutil.copy(os.path.join(ROOT, 'user/lib/buf.c'), victim)
        with open(os.path.join(tree, 'flow/flow.c'), 'a') as f:
            f.write('#include "buf.h"\n')
        r = run(tree, st)
        tap(r.returncode == 1 and '"buf.h" names no stage' in r.stdout,
            'a bare include that hides its stage fails', r.stdout)
        shutil.copy(os.path.join(ROOT, 'user/flow/flow.c'), os.path.join(tree, 'flow/flow.c'))
        with open(os.path.join(tree, 'stray.c'), 'w') as f:
            f.write('int x;\n')
        r = run(tree, st)
        tap(r.returncode == 1 and 'stray.c' in r.stdout, 'a file outside every stage fails', r.stdout)
        os.unlink(os.path.join(tree, 'stray.c'))
        r = run(tree, st)
        tap(r.returncode == 0, 'the restored copy passes again', r.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'1..{n}')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs a command on a new pseudo-terminal and answers its prompts, as a
person at the terminal would.

usage: pty-answer.py LOG PROMPT=FILE... -- COMMAND [ARG...]

Everything the command writes to the terminal goes to LOG (carriage returns
dropped). Each PROMPT, in order, is answered with the first line of FILE
once the command has shown it and turned the terminal's echo off (the
answer is never sent to a terminal that would echo it). SIGINT and SIGTERM
are passed on to the command; the exit status is the command's (128 + N
when signal N ended it). Answers that were never asked for make the status
3 when the command itself succeeded, and the missing prompts are named on
stderr."""
import os
import pty
import select
import signal
import sys
import termios


def main():
    args = sys.argv[1:]
    if '--' not in args or args.index('--') < 1:
        sys.exit(__doc__)
    sep = args.index('--')
    log_path, pairs, cmd = args[0], args[1:sep], args[sep + 1:]
    answers = []
    for pair in pairs:
        prompt, _, path = pair.partition('=')
        with open(path, 'rb') as f:
            answers.append((prompt.encode(), f.readline().rstrip(b'\n')))

    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda n, _f: os.kill(pid, n))

    seen = b''
    with open(log_path, 'wb', buffering=0) as log:
        while True:
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
            except InterruptedError:
                continue
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the command closed the terminal
                    data = b''
                if not data:
                    break
                log.write(data.replace(b'\r', b''))
                seen += data
            if answers and answers[0][0] in seen:
                # the prompt is shown; answer once echo is off
                if not termios.tcgetattr(master)[3] & termios.ECHO:
                    os.write(master, answers[0][1] + b'\n')
                    seen = seen[seen.index(answers[0][0]) + len(answers[0][0]):]
                    answers.pop(0)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    rc = os.waitstatus_to_exitcode(status)
    rc = 128 - rc if rc < 0 else rc
    if answers:
        print('pty-answer: never asked: ' + ', '.join(p.decode() for p, _ in answers),
              file=sys.stderr)
        if rc == 0:
            rc = 3
    sys.exit(rc)


if __name__ == '__main__':
    main()

"""The README's ``console`` blocks show what the CLI prints: each ``$ symroof ...`` command is run and its
output compared line by line with the block (so an example cannot drift from the program)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _examples() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    examples = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        command, output = None, []
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                if command is not None:
                    examples.append((command, "\n".join(output)))
                command, output = line[2:], []
                while command.endswith("\\"):
                    i += 1
                    command = command[:-1] + " " + lines[i].strip()
            else:
                output.append(line)
            i += 1
        if command is not None:
            examples.append((command, "\n".join(output)))
    return examples


EXAMPLES = _examples()


def test_the_readme_has_console_examples():
    assert len(EXAMPLES) >= 8 and all(c.startswith("symroof ") for c, _ in EXAMPLES)


@pytest.mark.parametrize("command,expected", EXAMPLES, ids=[c[:70] for c, _ in EXAMPLES])
def test_readme_console_example(command, expected):
    python = shlex.quote(sys.executable)
    shell = re.sub(r"^symroof ", f"{python} -m symroof ", command).replace("| python ", f"| {python} ")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", COLUMNS="200")
    done = subprocess.run(shell, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n").splitlines() == expected.rstrip("\n").splitlines()

"""``python -m runyard._envs.build_main DEFINITION.json HOME``: builds (or reuses) an
environment from its v1 definition under ``HOME/envs`` and prints its interpreter.

What a remote node runs to get a run's environment in its own cache (the Ray backend's
node actor starts it; ``_compute`` does not import ``_envs``). The build log goes to stdout
as it is written; the last line is ``{"python": "<interpreter>"}``. Exit status 1 with the
builder's message on stderr when the definition is bad or the build failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runyard._envs.build_settings import default_build_settings
from runyard._envs.builder import ensure_env
from runyard._envs.spec import resolve_spec
from runyard.exceptions import RunyardError

RESULT_KEY = "python"


def build(definition_file: Path, home: Path) -> str:
    """The interpreter of the built environment.

    Raises:
        RunyardError: a bad definition, or the build failed (uv's output in the message).
    """
    definition = json.loads(definition_file.read_text())

    def line(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    resolved = resolve_spec(definition)
    for note in resolved.notes:
        line(note)
    settings = default_build_settings(home, host_python=sys.executable)
    return ensure_env(resolved.spec, settings, log=line).python


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write("usage: python -m runyard._envs.build_main DEFINITION.json HOME\n")
        return 2
    try:
        python = build(Path(argv[1]), Path(argv[2]))
    except RunyardError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(json.dumps({RESULT_KEY: python}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

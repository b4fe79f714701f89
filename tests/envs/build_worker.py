"""Run by test_envs_builder: builds one spec and writes its build log to a file.

argv: <home> <uv cache dir> <log file>. Started by the start_together fixture through
tests/barrier.py: both workers have done their imports before either builds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runyard._envs import EnvSpec, default_build_settings, ensure_env


def main() -> None:
    home, cache, log_file = sys.argv[1:4]
    settings = default_build_settings(
        Path(home), host_python=sys.executable, uv_cache_dir=Path(cache)
    )
    spec = EnvSpec(python_version=None, requirements=("idna", "six"))
    lines: list[str] = []
    built = ensure_env(spec, settings, lines.append)
    Path(log_file).write_text("\n".join(lines) + f"\ncached={built.cached}\n")


if __name__ == "__main__":
    main()

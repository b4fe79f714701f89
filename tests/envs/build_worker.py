"""Run by test_envs_builder: builds one spec and writes its build log to a file.

argv: <home> <uv cache dir> <log file> <start-at (epoch seconds)>
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runyard._envs import EnvSpec, default_build_settings, ensure_env


def main() -> None:
    home, cache, log_file, start_at = sys.argv[1:5]
    settings = default_build_settings(
        Path(home), host_python=sys.executable, uv_cache_dir=Path(cache)
    )
    spec = EnvSpec(python_version=None, requirements=("idna", "six"))
    lines: list[str] = []
    time.sleep(max(0.0, float(start_at) - time.time()))
    built = ensure_env(spec, settings, lines.append)
    Path(log_file).write_text("\n".join(lines) + f"\ncached={built.cached}\n")


if __name__ == "__main__":
    main()

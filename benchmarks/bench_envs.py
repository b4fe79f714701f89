"""Environment cache hit time and the Chainer environment's build time with a warm uv cache.

- cache hit: resolve_spec + ensure_env on an already built environment, median of 20
  (target <= 50 ms); what the agent's Preparing phase pays on every run after the first.
- Chainer build: the curated AzureML-Chainer-7.8.1-CPU environment with the tutorial's
  pip_packages; built once to warm uv's cache, its folder deleted, then timed again.
uv's cache lives in ~/.cache/runyard-bench/uv-cache (reused between bench runs).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import print_figures  # noqa: E402

from runyard._envs import default_build_settings, ensure_env, resolve_spec  # noqa: E402
from runyard.core.environment import curated_environment  # noqa: E402

UV_CACHE = Path.home() / ".cache" / "runyard-bench" / "uv-cache"
HIT_TARGET_S = 0.050


def _chainer_definition() -> dict:
    env, _ = curated_environment("Chainer", "7.8.1", use_gpu=False)
    for package in ["numpy", "pytest"]:
        env.python.conda_dependencies.add_pip_package(package)
    return env._serialize_to_dict()


def main() -> dict:
    UV_CACHE.mkdir(parents=True, exist_ok=True)
    definition = _chainer_definition()
    with tempfile.TemporaryDirectory() as d:
        settings = default_build_settings(
            Path(d), host_python=sys.executable, uv_cache_dir=UV_CACHE
        )
        lines: list[str] = []
        built = ensure_env(resolve_spec(definition).spec, settings, lines.append)  # warms uv
        assert built.path is not None
        shutil.rmtree(built.path)
        started = time.perf_counter()
        rebuilt = ensure_env(resolve_spec(definition).spec, settings, lines.append)
        build_s = time.perf_counter() - started
        assert not rebuilt.cached
        hits = []
        for _ in range(20):
            started = time.perf_counter()
            hit = ensure_env(resolve_spec(definition).spec, settings, lambda _line: None)
            hits.append(time.perf_counter() - started)
            assert hit.cached
    hit_s = statistics.median(hits)
    figures = {
        "cache hit, ms (median of 20, target <= 50)": hit_s * 1000,
        "cache hit max, ms": max(hits) * 1000,
        "meets <= 50 ms": "yes" if hit_s <= HIT_TARGET_S else "NO",
        "Chainer 7.8.1 env build, warm uv cache, s": build_s,
    }
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()

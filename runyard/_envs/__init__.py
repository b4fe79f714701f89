"""The environment builder: an Environment definition -> a cached uv virtualenv.

The agent's Preparing phase calls::

    resolved = resolve_spec(env._serialize_to_dict())   # or the run definition's dict
    build = default_build_settings(settings.home, host_python=sys.executable)
    built = ensure_env(resolved.spec, build, log=line_callback)
    # run the job with built.python
"""

import importlib
from typing import Any

# Lazy: the SDK's services import runyard._envs.curated, gpu and registry in job processes
# too, so the package itself must not pull in the builder (uv) or the spec (packaging).
_HOMES = {
    "BuildSettings": "builder",
    "BuiltEnv": "builder",
    "default_build_settings": "builder",
    "ensure_env": "builder",
    "lookup": "builder",
    "CachedEnv": "cache",
    "list_envs": "cache",
    "prune": "cache",
    "EnvSpec": "spec",
    "ResolvedSpec": "spec",
    "docker_notice": "spec",
    "resolve_spec": "spec",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'runyard._envs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"runyard._envs.{home}"), name)


__all__ = [
    "BuildSettings",
    "BuiltEnv",
    "CachedEnv",
    "EnvSpec",
    "ResolvedSpec",
    "default_build_settings",
    "docker_notice",
    "ensure_env",
    "list_envs",
    "lookup",
    "prune",
    "resolve_spec",
]

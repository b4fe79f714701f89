"""The environment builder: an Environment definition -> a cached uv virtualenv.

The agent's Preparing phase calls::

    resolved = resolve_spec(env._serialize_to_dict())   # or the run definition's dict
    build = default_build_settings(settings.home, host_python=sys.executable)
    built = ensure_env(resolved.spec, build, log=line_callback)
    # run the job with built.python
"""

from runyard._envs.builder import (
    BuildSettings,
    BuiltEnv,
    default_build_settings,
    ensure_env,
    lookup,
)
from runyard._envs.cache import CachedEnv, list_envs, prune
from runyard._envs.spec import EnvSpec, ResolvedSpec, docker_notice, resolve_spec

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

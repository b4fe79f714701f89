"""The machine's pip configuration, read the way pip reads it, as uv options.

uv reads none of pip's files or ``PIP_*`` variables, so without this a private index or a
local wheel folder that pip uses is invisible to environment builds (on these machines the
CPU torch wheel lies in such a folder, and uv would fetch the multi-GB CUDA build instead).

pip's rules (``pip/_internal/configuration.py``), followed here:
- Files, each overriding the ones before: global (``$XDG_CONFIG_DIRS/pip/pip.conf`` ...,
  then ``/etc/pip.conf``), user (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``;
  skipped when ``PIP_CONFIG_FILE`` names an existing file), site (``$VIRTUAL_ENV/pip.conf``,
  else the host Python's prefix), then ``PIP_CONFIG_FILE``. ``PIP_CONFIG_FILE=/dev/null``
  loads no file.
- A key's value is its ``PIP_<KEY>`` variable, else the last file's ``[install]`` value,
  else the last file's ``[global]`` value. Empty values are ignored. List options are
  whitespace-separated, and a later source replaces the whole list.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from runyard.exceptions import PipConfigError

# pip option -> its config keys (long option names, normalized as pip does).
_LIST_KEYS = ("extra-index-url", "find-links", "constraint", "trusted-host")
_KEYS = {
    "index-url": ("index-url", "pypi-url"),
    "extra-index-url": ("extra-index-url",),
    "find-links": ("find-links",),
    "constraint": ("constraint",),
    "no-index": ("no-index",),
    "pre": ("pre",),
    "trusted-host": ("trusted-host",),
    "cert": ("cert",),
    "timeout": ("timeout", "default-timeout"),
}
_TRUE = ("1", "yes", "true", "on", "y", "t")
_FALSE = ("0", "no", "false", "off", "n", "f")
# uv's own variables that change what a build resolves to (uv reads them itself).
_UV_VARIABLES = (
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_INDEX_STRATEGY",
    "UV_PRERELEASE",
    "UV_EXCLUDE_NEWER",
    "UV_NO_BINARY",
    "UV_ONLY_BINARY",
)


@dataclass(frozen=True, slots=True)
class PipConfig:
    """pip's effective install options; ``sources`` says where each came from."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    timeout: str | None = None
    sources: tuple[tuple[str, str], ...] = ()  # (key, "PIP_FIND_LINKS" or "<file> [global]")
    skipped: tuple[str, ...] = ()  # lines for the build log (missing find-links folders)
    uv_variables: tuple[tuple[str, str], ...] = ()

    def uv_args(self, *, own_index: bool = False) -> list[str]:
        """uv pip options; ``own_index``: the environment names its own --index-url."""
        args: list[str] = []
        if self.index_url and not own_index:
            args += ["--default-index", self.index_url]
        for url in self.extra_index_urls:
            args += ["--index", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.no_index and not own_index:
            args.append("--no-index")
        for path in self.constraints:
            args += ["--constraint", path]
        if self.pre:
            args += ["--prerelease", "allow"]
        for host in self.trusted_hosts:
            args += ["--allow-insecure-host", host]
        if self.index_url or self.extra_index_urls or self.find_links:
            # pip takes the best version across all its indexes and links; uv's default
            # (first-index) would stop at the first index that has the name.
            args += ["--index-strategy", "unsafe-best-match"]
        return args

    def uv_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Variables for the uv process: pip's cert and timeout, unless uv's own are set."""
        extra: dict[str, str] = {}
        if self.cert and "SSL_CERT_FILE" not in environ:
            extra["SSL_CERT_FILE"] = self.cert
        if self.timeout and "UV_HTTP_TIMEOUT" not in environ:
            extra["UV_HTTP_TIMEOUT"] = self.timeout
        return extra

    def describe(self) -> str | None:
        """The build log's line saying what of pip's configuration uv is given."""
        if not self.sources:
            return None
        parts = [f"{key} from {where}" for key, where in self.sources]
        return "pip configuration passed to uv: " + "; ".join(parts) + "."


def config_files(environ: Mapping[str, str], *, site_prefix: str, system_dir: Path) -> list[Path]:
    """pip's configuration files in load order (later ones override), existing or not."""
    config_file = environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(system_dir / "pip.conf")
    if not (config_file and Path(config_file).exists()):
        home = Path(environ.get("HOME") or Path.home())
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    files.append(Path(environ.get("VIRTUAL_ENV") or site_prefix) / "pip.conf")
    if config_file:
        files.append(Path(config_file))
    return files


def read_pip_config(
    environ: Mapping[str, str],
    *,
    site_prefix: str,
    system_dir: Path = Path("/etc"),
    cwd: Path | None = None,
) -> PipConfig:
    """pip's effective install options on this machine.

    Raises:
        PipConfigError: a pip.conf cannot be parsed, a boolean is not one, or a constraint
            file does not exist (pip would fail on each too).
    """
    base = cwd or Path.cwd()
    sections: dict[str, dict[str, tuple[str, str]]] = {"global": {}, "install": {}}
    for path in config_files(environ, site_prefix=site_prefix, system_dir=system_dir):
        for section, values in _read_file(path).items():
            for key, value in values.items():
                sections[section][key] = (value, f"{path} [{section}]")
    env_values = {
        _normalize(name[4:]): (value, name)
        for name, value in environ.items()
        if name.startswith("PIP_") and value
    }
    chosen: dict[str, tuple[str, str]] = {}
    for option, keys in _KEYS.items():
        for layer in (sections["global"], sections["install"], env_values):
            for key in keys:
                if key in layer:
                    chosen[option] = layer[key]
    return _build(chosen, base, environ)


def _build(chosen: dict[str, tuple[str, str]], base: Path, environ: Mapping[str, str]) -> PipConfig:
    def many(option: str) -> tuple[str, ...]:
        return tuple(chosen[option][0].split()) if option in chosen else ()

    skipped: list[str] = []
    find_links: list[str] = []
    for link in many("find-links"):
        local = _local_path(link, base)
        if local is not None and not local.exists():
            # pip ignores such a location with a warning; uv would refuse the whole build.
            skipped.append(
                f"WARNING: find-links location {link!r} ({chosen['find-links'][1]}) does not "
                "exist; it is skipped, as pip skips it."
            )
            continue
        find_links.append(str(local) if local is not None and "://" not in link else link)
    constraints: list[str] = []
    for item in many("constraint"):
        path = _local_path(item, base) or Path(item)
        if not path.is_file():
            raise PipConfigError(
                f"pip's constraint file {item!r} (set by {chosen['constraint'][1]}) does not "
                "exist, so pip and Runyard's uv builds cannot use it. Create the file, or "
                "remove the constraint setting from that pip.conf / environment variable."
            )
        constraints.append(str(path))
    return PipConfig(
        index_url=chosen["index-url"][0].strip() if "index-url" in chosen else None,
        extra_index_urls=many("extra-index-url"),
        find_links=tuple(find_links),
        constraints=tuple(constraints),
        no_index=_flag(chosen, "no-index"),
        pre=_flag(chosen, "pre"),
        trusted_hosts=many("trusted-host"),
        cert=chosen["cert"][0] if "cert" in chosen else None,
        timeout=chosen["timeout"][0] if "timeout" in chosen else None,
        sources=tuple((key, where) for key, (_, where) in chosen.items()),
        skipped=tuple(skipped),
        uv_variables=tuple((n, environ[n]) for n in _UV_VARIABLES if environ.get(n)),
    )


def _read_file(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise PipConfigError(
            f"pip configuration file {str(path)!r} cannot be parsed ({exc}); pip refuses it "
            "too. Fix its syntax (INI sections such as [global] with key = value lines) or "
            "remove the file."
        ) from None
    return {
        section: {_normalize(k): v for k, v in parser.items(section) if v.strip()}
        for section in ("global", "install")
        if parser.has_section(section)
    }


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").removeprefix("--")


def _flag(chosen: dict[str, tuple[str, str]], option: str) -> bool:
    if option not in chosen:
        return False
    value, where = chosen[option]
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise PipConfigError(
        f"pip setting {option}={value!r} (from {where}) is not a boolean; pip refuses it too. "
        "Use 1/true/yes or 0/false/no."
    )


def _local_path(item: str, base: Path) -> Path | None:
    """The local path a find-links entry, index URL or constraint names, else None."""
    if item.startswith("file:"):
        return Path(url2pathname(urlparse(item).path))
    if "://" in item:
        return None
    path = Path(item).expanduser()
    return path if path.is_absolute() else base / path


def pip_identity(config: PipConfig) -> str:
    """What the cache key needs of pip's configuration: the options, and the contents of
    the local files and folders they name (a wheel added to a find-links folder changes
    what resolves)."""
    base = Path("/")
    listing: dict[str, object] = {"args": config.uv_args(), "uv": list(config.uv_variables)}
    for path in config.constraints:
        listing[f"constraint:{path}"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    for link in config.find_links:
        local = _local_path(link, base)
        if local is not None:
            listing[f"find-links:{link}"] = _tree_identity(local, depth=1)
    for url in (config.index_url, *config.extra_index_urls):
        local = _local_path(url, base) if url else None
        if local is not None:
            # Like a remote index, only its top: a project page rewritten in place is not
            # seen (walking every project page costs ~0.1 s per run on these machines).
            listing[f"index:{url}"] = _tree_identity(local / "index.html", depth=0)
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest()


def _tree_identity(path: Path, *, depth: int) -> list[tuple[str, int, int]]:
    """(name, size, mtime_ns) of ``path`` and of its entries, ``depth`` levels down."""
    found: list[tuple[str, int, int]] = []
    try:
        st = path.stat()
    except OSError:
        return found
    found.append((".", st.st_size, st.st_mtime_ns))
    if not path.is_dir() or depth == 0:
        return found
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        try:
            est = entry.stat()
        except OSError:
            continue
        found.append((entry.name, est.st_size, est.st_mtime_ns))
        if entry.is_dir() and depth > 1:
            for name, size, mtime in _tree_identity(Path(entry.path), depth=depth - 1)[1:]:
                found.append((f"{entry.name}/{name}", size, mtime))
    return found


def own_index(pip_options: Sequence[str]) -> bool:
    """True when an environment's own pip options set the index (pip lets them win)."""
    names = [o.split("=", 1)[0].split()[0] for o in pip_options if o.strip()]
    return any(n in ("--index-url", "-i", "--no-index") for n in names)

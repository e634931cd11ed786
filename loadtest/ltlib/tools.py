"""Finding the programs the load tests drive, and what this machine offers (io_uring).

Reports what is missing with the command that installs it; does not install anything.
"""
import ctypes
import glob
import json
import os
import shutil

from . import servers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_tool(given, rel):
    """The --flag path, else the best build*/REL in the repository, else PATH."""
    if given:
        return os.path.abspath(given) if os.access(given, os.X_OK) else None
    built = [p for p in glob.glob(os.path.join(REPO, "build*", rel)) if os.access(p, os.X_OK)]
    if built:
        return max(built, key=_build_rank)
    return shutil.which(os.path.basename(rel))


def _build_rank(binary):
    """Prefer builds without sanitizers (they measure the sanitizer, and leak checks can turn a
    clean exit into a failure), then optimized ones, then the newest."""
    build_dir = binary
    for _ in range(2):  # build*/server/echod -> build*
        build_dir = os.path.dirname(build_dir)
    opts = {}
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sanitize = opts.get("b_sanitize", "none")  # a string, or a list since meson 1.8
    return (sanitize in ("none", "", [], ["none"]),
            opts.get("buildtype") in ("release", "debugoptimized", "plain"),
            os.path.getmtime(binary))


def discover(echod=None, echoload=None, need_wrk=True):
    """(tools dict, None) or (None, what is missing and how to get it)."""
    tools = {"echod": find_tool(echod, "server/echod"),
             "echoload": find_tool(echoload, "client/echoload"),
             "wrk": shutil.which("wrk"), "nginx": servers.nginx_binary()}
    needs = [("echod", "give --echod PATH, or build: meson setup build && ninja -C build"),
             ("echoload", "give --echoload PATH, or build it with echod")]
    if need_wrk:
        needs.append(("wrk", "apt-get install wrk"))
    for name, hint in needs:
        if not tools[name]:
            return None, f"{name} not found ({hint})"
    return tools, None


def kernel_has_io_uring():
    """io_uring_setup(2) with a zeroed params struct: fails with ENOSYS/EPERM when the kernel
    lacks or forbids io_uring. Asked of the kernel, not of echod, so an echod that wrongly
    refuses io_uring shows up as a failed start instead of a silent skip."""
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    fd = libc.syscall(425, 4, params)  # __NR_io_uring_setup is 425 on every architecture
    if fd >= 0:
        os.close(fd)
        return True
    return False


def build_uring_ref(work, backends):
    """(binary, None) or (None, why): ref/uring_echo.c, when the kernel has io_uring."""
    if "io_uring" not in backends:
        return None, "io_uring C reference not run: the kernel refuses io_uring_setup"
    binary, why = servers.build_ref(work, servers.URING_SRC, servers.URING_LIBS)
    return binary, why and f"io_uring C reference not built (liburing-dev missing?): {why}"


def _cpu_list(text):
    return [int(x) for x in text.split(",")] if text else None


def add_common_args(p, default_out, client=True):
    """Options shared by the loadtest scripts; client=False leaves out the client's (a script
    that runs no echoload). The default output goes under the repository's results/, which
    .gitignore already leaves out."""
    default = os.path.relpath(os.path.join(REPO, "results", default_out))
    p.add_argument("--out", default=default, help="output directory (default: %(default)s)")
    p.add_argument("--echod", help="echod binary (default: newest build*/server/echod, then PATH)")
    if client:
        p.add_argument("--echoload", help="echoload binary (default: newest build*/client/echoload)")
    p.add_argument("--server-cpus", type=_cpu_list, metavar="LIST",
                   help="CPUs for the servers, e.g. 0 or 0,1 (default: first half of ours)")
    if client:
        p.add_argument("--client-cpus", type=_cpu_list, metavar="LIST",
                       help="CPUs for the clients (default: the other half)")

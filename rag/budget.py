"""Parse files in a worker process under a time and a memory budget (`ParsePool`).

Why a process: the loaders guard against the hostile inputs we know (deep HTML, zip bombs, huge text
nodes, giant lines), but a parser can still hang or allocate without bound inside C code — lxml,
libxml2, zlib, pypdf's object graph — where no Python-level check or timer can interrupt it. A separate
process can be killed at any point and given an address-space limit (`RLIMIT_AS`) that turns runaway
allocations into a `MemoryError` or a crash *of the worker*, never of the ingest. Each verdict becomes an
`IngestError` that names the limit and the setting to raise (parse_timeout / RAG_PARSE_TIMEOUT,
parse_memory_mb / RAG_PARSE_MEMORY_MB), and the next file gets a fresh worker.

The worker is a fresh interpreter (`sys.executable`, like multiprocessing's 'spawn', so it never forks a
parent that runs threads — the web server, onnxruntime), started once and reused for every file. It
imports only `rag.loaders` (lxml, pypdf, python-docx, pydantic): not `rag/__init__`, which would pull in
numpy, onnxruntime and llama-index. Requests and replies are length-prefixed pickles over its
stdin/stdout; the worker is our own code, so unpickling its replies is safe.

Measured on the dev container (2 cores, Python 3.11.7; `tests/test_hostile.py` prints them and writes
test-artifacts/parse_pool.json): the worker starts in 0.25 s; after importing its parsers its address
space (`VmSize`) is 80 MB and its resident memory 58 MB, so `RLIMIT_AS` = that measured baseline +
`memory_mb` (glibc, lxml and pypdf map more than they touch, which is why the limit is on top of the
baseline rather than a total). Per-file overhead against an in-process `load_file`: +0.11 ms for the
seed article (0.06 → 0.18 ms), +0.16 ms on average over the 41 seed and eval files (0.55 → 0.71 ms).

Left out: parsing several files at once (one worker; ingest is bound by the embedder, not by parsing),
Windows (no RLIMIT_AS, no select() on pipes), CPU-time or disk limits (a loader writes nothing), and
orphan reaping beyond end of input: a worker stuck in a C loop when its parent dies runs until it ends.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from rag.errors import IngestError
from rag.types import Document

_HEADER = struct.Struct("!Q")
_START_TIMEOUT_S = 60.0  # a cold start (first import of lxml/pypdf from a slow disk) takes well under this
_RAG_DIR = Path(__file__).resolve().parent
# The worker imports rag.loaders without running rag/__init__ (which imports the whole engine): the
# package is registered as a bare module whose __path__ is rag's folder.
_BOOTSTRAP = ("import sys, types; pkg = types.ModuleType('rag'); pkg.__path__ = [sys.argv[1]]; "
              "sys.modules['rag'] = pkg; from rag.budget import _worker_main; _worker_main(int(sys.argv[2]))")


_PRELOAD = ("lxml.etree", "pypdf", "docx", "charset_normalizer")


class _Timeout(Exception):
    pass


class _WorkerDied(Exception):
    pass


def _memory_error(e: BaseException | None) -> bool:
    """True when `e` or an exception it was raised from is an allocation failure."""
    while e is not None:
        if isinstance(e, MemoryError) or "memory allocation failed" in str(e).lower():
            return True
        e = e.__cause__ or e.__context__
    return False


class ParsePool:
    """One reusable parser process; `load` is `rag.loaders.load_file` under a time and memory budget."""

    def __init__(self, timeout_s: float, memory_mb: int):
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.baseline_vm_bytes = 0  # the worker's address space before parsing (RLIMIT_AS = this + memory_mb)

    @property
    def pid(self) -> int | None:
        """The worker's process id while one runs (for monitoring: tests read its peak memory)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def load(self, path: Path, source: str, root: str = "") -> Document:
        """Parse one file in the worker; every failure, including a kill, is an `IngestError`."""
        with self._lock:
            try:
                proc = self._ensure_worker(source)
                kind, value = self._request(proc, (str(path), source, root))
            except _Timeout:
                self._kill()
                raise IngestError(f"{source}: took longer than {self.timeout_s:g} s to parse (limit parse_timeout, "
                                  f"RAG_PARSE_TIMEOUT); raise it if the file is fine") from None
            except _WorkerDied as e:
                self._kill()
                raise IngestError(f"{source}: the parser process died ({e}), most likely out of memory "
                                  f"{self._memory_limit_text()}") from None
            if kind == "ok":
                return value
            if kind == "memory":
                self._kill()  # a worker that hit its limit may be left in a bad state: start afresh
                raise IngestError(f"{source}: ran out of memory while parsing {self._memory_limit_text()}")
            raise IngestError(value)

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                _stop(proc)

    def _memory_limit_text(self) -> str:
        return (f"(limit parse_memory_mb = {self.memory_mb} MB, RAG_PARSE_MEMORY_MB); "
                "raise it if the file is fine")

    def _ensure_worker(self, source: str) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()
        proc = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, str(_RAG_DIR), str(self.memory_mb)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        weakref.finalize(self, _stop, proc)
        self._proc = proc
        try:
            kind, value = _read_reply(proc, time.monotonic() + _START_TIMEOUT_S)
        except (_Timeout, _WorkerDied) as e:
            self._kill()
            raise IngestError(f"{source}: the parser process did not start ({e or 'timed out'}); "
                              "run `rag doctor`") from None
        if kind != "ready":
            self._kill()
            raise IngestError(f"{source}: the parser process did not start ({value}); run `rag doctor`")
        self.baseline_vm_bytes = value
        return proc

    def _request(self, proc: subprocess.Popen, request: tuple[str, str, str]) -> tuple[str, object]:
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            proc.stdin.write(_HEADER.pack(len(payload)) + payload)
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise _WorkerDied(_exit_text(proc)) from e
        return _read_reply(proc, time.monotonic() + self.timeout_s)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc, kill=True)


def _readable(fd: int, timeout: float) -> bool:
    """poll(), not select(): select() fails on descriptors past 1023, which a long-running server reaches."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def _read_exact(proc: subprocess.Popen, n: int, deadline: float) -> bytes:
    fd = proc.stdout.fileno()
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not _readable(fd, left):
            raise _Timeout()
        block = os.read(fd, min(n - len(buf), 1 << 20))
        if not block:
            raise _WorkerDied(_exit_text(proc))
        buf += block
    return bytes(buf)


def _read_reply(proc: subprocess.Popen, deadline: float) -> tuple[str, object]:
    (size,) = _HEADER.unpack(_read_exact(proc, _HEADER.size, deadline))
    payload = _read_exact(proc, size, deadline)
    try:
        kind, value = pickle.loads(payload)
    except Exception as e:  # noqa: BLE001 — anything garbled on the pipe means the worker is not to be trusted
        raise _WorkerDied(f"garbled reply: {type(e).__name__}") from e
    return kind, value


def _exit_text(proc: subprocess.Popen) -> str:
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return "stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _stop(proc: subprocess.Popen, kill: bool = False) -> None:
    if proc.poll() is None:
        if not kill:
            try:
                proc.stdin.close()  # the worker exits at end of input
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass


# ---- the worker side --------------------------------------------------------------------------------------

def _address_space_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(memory_mb: int) -> int:
    """RLIMIT_AS = the worker's current address space + `memory_mb`; returns that baseline."""
    baseline = _address_space_bytes()
    try:
        import resource
    except ImportError:  # not POSIX: time budget only
        return baseline
    if baseline:
        limit = baseline + memory_mb * 2**20
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    return baseline


def _send(out, reply: tuple[str, object]) -> None:
    try:
        payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        payload = pickle.dumps(("memory", "reply too large"), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(payload)) + payload)
    out.flush()


def _worker_main(memory_mb: int) -> None:
    """Serve load requests from stdin until it closes. Stray prints from parsers go to stderr."""
    import logging

    out = os.fdopen(os.dup(1), "wb")  # replies go here; anything a library prints goes to stderr
    os.dup2(2, 1)
    from rag.loaders import load_file

    for module in _PRELOAD:  # import the parsers now, so their code is in the baseline and not charged to a file
        __import__(module)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf's repair warnings are noise for the user
    inp = sys.stdin.buffer
    _send(out, ("ready", _limit_memory(memory_mb)))
    while True:
        header = inp.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        path, source, root = pickle.loads(inp.read(_HEADER.unpack(header)[0]))
        try:
            reply: tuple[str, object] = ("ok", load_file(Path(path), source, root))
        except MemoryError:
            reply = ("memory", "")
        except IngestError as e:
            reply = ("memory", str(e)) if _memory_error(e) else ("error", str(e))
        _send(out, reply)
        if reply[0] == "memory":
            return  # the parent starts a fresh worker

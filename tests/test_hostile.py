"""Hostile files can never stop or hang an ingest (issue 8).

Three levels: every hostile file through `ParsePool` (the worker that parses under a time and memory
budget), the pool's own guarantees (a file over the time budget, over the memory budget, a worker that
dies, reuse and per-file overhead), and a whole hostile folder through a real `Assistant` (real Chroma,
real ONNX model) with its wall time and peak memory printed and written to test-artifacts/hostile.json.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from rag import Assistant
from rag.budget import ParsePool
from rag.errors import IngestError
from rag.loaders import iter_files, load_file

from .conftest import REPO, SEEDS
from .hostile_files import CASES, MB, Case, build_corpus, deep_html

ARTIFACTS = REPO / "test-artifacts"
FILE_CASES = [c for c in CASES if not c.folder_only]
LINK_CASES = [c for c in CASES if c.folder_only]
FILE_SECONDS = 20  # every hostile file is decided within this (the slowest, 200k-deep HTML, takes ~2 s)
PEAK_MB = 1536


def _param(case: Case):
    label = case.id.encode("unicode_escape").decode()[:40]
    return pytest.param(case, id=label, marks=[pytest.mark.slow] if case.slow else [])


def _path(folder: Path, case: Case) -> Path:
    name = case.name if isinstance(case.name, str) else os.fsdecode(case.name)
    return folder / name


def _build(folder: Path, case: Case) -> Path:
    path = _path(folder, case)
    case.build(path)
    return path


def _peak_rss_mb(pid: int | None) -> float:
    """A live process's peak resident memory (VmHWM), in MB."""
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def pool():
    with ParsePool(timeout_s=60, memory_mb=1024) as p:
        yield p


@pytest.mark.parametrize("case", [_param(c) for c in FILE_CASES])
def test_each_hostile_file_is_read_or_refused_within_budget(tmp_path, pool, case):
    path = _build(tmp_path, case)
    t0 = time.perf_counter()
    try:
        outcome, detail = "read", pool.load(path, case.id).text
    except IngestError as e:
        outcome, detail = "skip", str(e)
    seconds = time.perf_counter() - t0
    assert (outcome, case.expect in detail) == (case.outcome, True), detail[:300]
    if outcome == "skip":
        assert detail.startswith(f"{case.id}: ")
    else:
        assert "\x00" not in detail
    assert seconds < FILE_SECONDS
    assert _peak_rss_mb(pool.pid) < PEAK_MB


def test_links_fifos_and_odd_names_are_reported_by_the_walk(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    built = [c for c in LINK_CASES if _try_build(folder, c)]
    verdicts = {p.name: reason for p, reason in iter_files(folder)}
    for case in built:
        assert case.expect in (verdicts[_path(folder, case).name] or ""), case.id
    assert not any(p.name == "secret.txt" for p, _ in iter_files(folder))
    followed = {p.name: reason for p, reason in iter_files(folder, follow_links=True)}
    assert followed["outside.txt"] is None


def _try_build(folder: Path, case: Case) -> bool:
    try:
        _build(folder, case)
        return True
    except (OSError, UnicodeError):  # a filesystem that refuses the name
        return False


# ---- the pool's guarantees --------------------------------------------------------------------------------

def _good(tmp_path: Path) -> Path:
    path = tmp_path / "good.txt"
    path.write_text("A good file after a bad one.\n")
    return path


def test_a_file_over_the_time_budget_is_killed_and_the_next_file_gets_a_fresh_worker(tmp_path):
    slow = tmp_path / "deep.html"
    slow.write_bytes(deep_html(600_000))  # ~4 s to parse
    good = _good(tmp_path)
    with ParsePool(timeout_s=0.5, memory_mb=1024) as pool:
        pool.load(good, "good.txt")
        first = pool.pid
        t0 = time.perf_counter()
        with pytest.raises(IngestError) as e:
            pool.load(slow, "docs/deep.html")
        assert time.perf_counter() - t0 < 3
        assert str(e.value).startswith("docs/deep.html: took longer than 0.5 s to parse")
        assert "parse_timeout" in str(e.value) and "RAG_PARSE_TIMEOUT" in str(e.value)
        assert pool.pid is None  # killed, not left running
        assert pool.load(good, "good.txt").text.startswith("A good file")
        assert pool.pid not in (None, first)


def test_a_file_over_the_memory_budget_is_refused_naming_the_setting(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.write(b"all work and no play makes a big file. " * (4 * MB))  # 160 MB
    good = _good(tmp_path)
    with ParsePool(timeout_s=60, memory_mb=128) as pool:
        with pytest.raises(IngestError) as e:
            pool.load(big, "docs/big.txt")
        message = str(e.value)
        assert message.startswith("docs/big.txt: ran out of memory")
        assert "parse_memory_mb = 128 MB" in message and "RAG_PARSE_MEMORY_MB" in message
        assert pool.load(good, "good.txt").text.startswith("A good file")
        assert 0 < pool.baseline_vm_bytes < 1024 * MB


def test_a_worker_that_dies_becomes_an_ingest_error_and_is_replaced(tmp_path):
    slow = tmp_path / "deep.html"
    slow.write_bytes(deep_html(600_000))
    good = _good(tmp_path)
    with ParsePool(timeout_s=60, memory_mb=1024) as pool:
        pool.load(good, "good.txt")
        killer = threading.Timer(0.3, os.kill, (pool.pid, signal.SIGKILL))  # as the kernel's OOM killer would
        killer.start()
        with pytest.raises(IngestError) as e:
            pool.load(slow, "deep.html")
        killer.join()
        assert "killed by SIGKILL" in str(e.value) and "RAG_PARSE_MEMORY_MB" in str(e.value)
        assert pool.load(good, "good.txt").text.startswith("A good file")


def test_concurrent_callers_share_one_worker(tmp_path):
    good = _good(tmp_path)
    results: list[str] = []
    with ParsePool(timeout_s=60, memory_mb=1024) as pool:
        threads = [threading.Thread(target=lambda: results.append(pool.load(good, "good.txt").text)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 8 and len(set(results)) == 1
        pid = pool.pid
    assert pid is not None and not Path(f"/proc/{pid}").exists()  # close() stopped and reaped it


def test_the_worker_is_reused_and_cheap_files_stay_cheap():
    files = sorted(SEEDS.glob("*")) + sorted((REPO / "eval" / "corpora" / "pydocs").glob("*"))

    def timed(load) -> float:
        t0 = time.perf_counter()
        for path in files:
            load(path, path.name)
        return time.perf_counter() - t0

    with ParsePool(timeout_s=60, memory_mb=1024) as pool:
        t0 = time.perf_counter()
        pool.load(files[0], files[0].name)
        start_s = time.perf_counter() - t0
        pid = pool.pid
        pooled = min(timed(pool.load) for _ in range(3))
        assert pool.pid == pid  # one worker for every file
        baseline_mb = pool.baseline_vm_bytes / MB
    inproc = min(timed(load_file) for _ in range(3))
    seed_in = min(timed_one(load_file, files[0]) for _ in range(20))
    with ParsePool(timeout_s=60, memory_mb=1024) as pool:
        pool.load(files[0], files[0].name)
        seed_pool = min(timed_one(pool.load, files[0]) for _ in range(20))
    overhead_ms = 1000 * (pooled - inproc) / len(files)
    numbers = {"files": len(files), "worker_start_s": round(start_s, 3), "worker_baseline_vm_mb": round(baseline_mb),
               "in_process_ms_per_file": round(1000 * inproc / len(files), 3),
               "pool_ms_per_file": round(1000 * pooled / len(files), 3), "overhead_ms_per_file": round(overhead_ms, 3),
               "seed_in_process_ms": round(1000 * seed_in, 3), "seed_pool_ms": round(1000 * seed_pool, 3)}
    print("\nParsePool:", numbers)
    _artifact("parse_pool.json", numbers)
    assert overhead_ms < 20


def timed_one(load, path: Path) -> float:
    t0 = time.perf_counter()
    load(path, path.name)
    return time.perf_counter() - t0


def _artifact(name: str, numbers: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(numbers, indent=2) + "\n")


# ---- a whole hostile folder through the real engine -------------------------------------------------------

def _source(folder: Path, case: Case) -> str:
    return f"{folder.name}/{_path(folder, case).name}"


def test_links_outside_the_folder_follow_the_setting(tmp_path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Harbour lights were repaired in March.\n")
    outside = next(c for c in LINK_CASES if c.name == "outside.txt")
    _build(folder, outside)
    report = Assistant(data_dir=tmp_path / "d1", embed_model=embedder).ingest([folder])
    assert report.added == ["docs/good.txt"]
    assert [s.source for s in report.skipped] == ["docs/outside.txt"]
    assert "RAG_FOLLOW_SYMLINKS=true" in report.skipped[0].reason
    followed = Assistant(data_dir=tmp_path / "d2", embed_model=embedder, follow_symlinks=True).ingest([folder])
    assert sorted(followed.added) == ["docs/good.txt", "docs/outside.txt"] and not followed.skipped


# The peak is VmHWM, this process's own high-water mark. ru_maxrss is not: Linux carries the pre-exec memory
# into it, and a child spawned by a large pytest session reported that session's size (1,535 MB in CI against
# 1,132-1,229 MB of its own, measured by running the test alone).
_INGEST_ALONE = """import json, re, resource, sys, time
from pathlib import Path
from rag import Assistant
t0 = time.perf_counter()
report = Assistant(data_dir=sys.argv[1]).ingest([sys.argv[2]])
status = Path("/proc/self/status")
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()) if status.exists() else None
print(json.dumps({"report": report.model_dump(), "seconds": time.perf_counter() - t0,
                  "self": int(hwm.group(1)) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.mark.slow
def test_a_hostile_folder_ingests_within_time_and_memory_bounds(tmp_path, embedder):
    """The ingest runs in a process of its own, so its peak RSS is its own (not this test session's)."""
    import subprocess
    import sys

    from rag.types import IngestReport

    folder = tmp_path / "hostile"
    cases = build_corpus(folder)
    run = subprocess.run([sys.executable, "-c", _INGEST_ALONE, str(tmp_path / "d"), str(folder)], capture_output=True,
                         text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    report, seconds = IngestReport(**out["report"]), out["seconds"]
    peak_self, peak_children = out["self"], out["children"]
    assistant = Assistant(data_dir=tmp_path / "d", embed_model=embedder)
    numbers = {"files": len(cases), "seconds": round(seconds, 1), "peak_rss_mb_self": round(peak_self),
               "peak_rss_mb_children": round(peak_children), "added": len(report.added),
               "skipped": len(report.skipped), "chunks_written": report.chunks_written}
    print("\nhostile folder:", numbers)
    _artifact("hostile.json", numbers)
    for case in cases:
        source = _source(folder, case)
        lines = [s for s in report.skipped if s.source == source]
        if case.outcome == "read":
            assert source in report.added and not lines, (source, lines)
            assert "\x00" not in assistant.document_text(source)
        else:
            assert len(lines) == 1 and source not in report.added, (source, lines)
            assert lines[0].reason.startswith(f"{source}: ") and case.expect in lines[0].reason, lines[0].reason
    assert len(report.added) + len(report.skipped) == len(cases)
    assert "<script>alert(1)</script>" in assistant.document_text(f"{folder.name}/xss.md")
    assert seconds < 300 and peak_self < PEAK_MB and peak_children < PEAK_MB

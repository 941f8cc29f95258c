"""Pool: workers are forked from a forkserver that loaded the stages and the language model."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _with_repo_path() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here: workers are spawned"
)
def test_a_worker_starts_with_the_stages_and_the_language_model_loaded(tmp_path):
    """Each worker would otherwise import the stages (0.3 s) and load py3langid's model (0.8 s)
    itself. In a child process: a forkserver is started once per process, with what it preloads
    then."""
    code = textwrap.dedent(
        """
        import os, sys
        from concurrent.futures import ProcessPoolExecutor
        from pipeline.phases import pool

        def probe():
            metadata = sys.modules.get("pipeline.metadata")
            return (
                "pipeline.phases.tasks" in sys.modules,
                "trafilatura" in sys.modules,
                metadata is not None and metadata._identifier is not None,
                os.getpid(),
            )

        if __name__ == "__main__":
            assert "trafilatura" not in sys.modules and "pipeline.phases.tasks" in sys.modules
            with ProcessPoolExecutor(2, mp_context=pool.context()) as ex:
                got = [f.result() for f in [ex.submit(probe) for _ in range(4)]]
            print(*{g[:3] for g in got}, os.getpid() not in {g[3] for g in got})
        """
    )
    script = tmp_path / "probe.py"  # a file: workers import the probe from it
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_with_repo_path())
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[0] == "(True, True, True) True"


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here: workers are spawned"
)
def test_the_preload_keeps_what_the_caller_preloads():
    code = (
        "import multiprocessing\n"
        "multiprocessing.get_context('forkserver').set_forkserver_preload(['json'])\n"
        "from pipeline.phases import pool\n"
        "pool.context(); pool.context()\n"
        "print(multiprocessing.forkserver._forkserver._preload_modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_with_repo_path())
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['json', 'pipeline.phases.warm']"

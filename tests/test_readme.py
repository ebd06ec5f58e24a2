"""The README's two commands are the ones users and CI run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.split("```", 1)[0].strip() for b in text.split("```bash\n")[1:]]


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    blocks = _bash_blocks()
    assert len(blocks) >= 2 and ci == blocks[1]
    assert "pytest" in ci and "torch==2.13.0" in ci


def test_main_command_installs_then_trains():
    main = _bash_blocks()[0]
    assert main.index("pip install torch==2.13.0") < main.index("pip install -e") < main.index("mnistgan train")

"""Two commands on a fresh machine: CI runs exactly the README's test command, and that command
sets up what the suite needs (tests/setup.sh) before running it."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    section = ROOT.joinpath("README.md").read_text().split("## Run the tests", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    lines = [line for line in ROOT.joinpath(".ci/run").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines == [readme_test_command()]
    assert readme_test_command().startswith("bash tests/setup.sh && ")


def test_setup_script_is_valid_bash_and_names_the_packages():
    script = ROOT / "tests" / "setup.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for pkg in ("chromium", "chromium-driver", "dataset-fashion-mnist", "requirements-dev.txt"):
        assert pkg in text
    assert "DEBIAN_FRONTEND=noninteractive" in text and "sudo -n" in text

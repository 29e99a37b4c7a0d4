"""scripts/audit.py (`make audit`, CI) judges pip-audit's answer.

Each test runs the script as `make audit` does, with a stand-in for pip-audit that answers as
the real one does in each situation (its JSON report, its stderr, its exit code): a known
vulnerability fails, and so does a pin it could not check; only the case where the advisories
cannot be reached at all is SKIPPED.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import PROJECT_ROOT

AUDIT = PROJECT_ROOT / "scripts" / "audit.py"
# pip-audit's own words, where it names the package index it asked.
NOT_FOUND = "Dependency not found on the index and could not be audited: {name} ({version})"
PINS = [("django", "5.2.19"), ("pillow", "13.0.0"), ("redis", "8.1.0")]


def audited(name: str, version: str, vulns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "version": version, "vulns": vulns or []}


def not_found(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "skip_reason": NOT_FOUND.format(name=name, version=version)}


def fake_pip_audit(
    tmp_path: Path, *, report: dict[str, Any] | None, stderr: str = "", exit_code: int = 0
) -> Path:
    """An executable that answers like pip-audit: writes `report` to its --output file (none
    if None), prints `stderr`, exits with `exit_code`, and records its arguments."""
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"open({str(tmp_path / 'arguments.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"report = {json.dumps(report)!r}\n"
        "output = [a.split('=', 1)[1] for a in sys.argv if a.startswith('--output=')][0]\n"
        "if report != 'null':\n"
        "    open(output, 'w').write(report)\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return script


def run_audit(pip_audit: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's script, fixed arguments
        [sys.executable, str(AUDIT), "--pip-audit", str(pip_audit), *arguments, "requirements.txt"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_every_pin_audited_and_none_vulnerable_passes(tmp_path: Path) -> None:
    pip_audit = fake_pip_audit(tmp_path, report={"dependencies": [audited(*p) for p in PINS]})

    finished = run_audit(pip_audit)

    assert finished.returncode == 0, finished.stdout
    assert "No known vulnerabilities in 3 pins." in finished.stdout
    assert "audit: OK" in finished.stdout
    # Exact pins are looked up as they are: nothing resolved or installed.
    arguments = json.loads((tmp_path / "arguments.json").read_text())
    assert {"--no-deps", "--disable-pip", "--format=json"} <= set(arguments)
    assert arguments[arguments.index("--requirement") + 1] == "requirements.txt"


def test_a_known_vulnerability_fails_and_names_the_fix(tmp_path: Path) -> None:
    vulnerability = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["5.2.20"], "aliases": []}
    report = {
        "dependencies": [
            audited("django", "5.2.19", [vulnerability]),
            audited("pillow", "13.0.0"),
            not_found("redis", "8.1.0"),
        ]
    }
    pip_audit = fake_pip_audit(tmp_path, report=report, exit_code=1)

    finished = run_audit(pip_audit)

    assert finished.returncode == 1
    assert "django 5.2.19: GHSA-xxxx-yyyy-zzzz (fixed in 5.2.20)" in finished.stdout
    assert "audit: FAILED" in finished.stdout
    assert "SKIPPED" not in finished.stdout


def test_a_vulnerability_fails_even_when_other_pins_were_not_found(tmp_path: Path) -> None:
    """A network that hides some advisories must not hide the vulnerability it did see."""
    vulnerability = {"id": "PYSEC-2026-1", "fix_versions": [], "aliases": []}
    report = {
        "dependencies": [audited("django", "5.2.19", [vulnerability])]
        + [not_found(*pin) for pin in PINS[1:]]
    }
    finished = run_audit(fake_pip_audit(tmp_path, report=report, exit_code=1))

    assert finished.returncode == 1
    assert "django 5.2.19: PYSEC-2026-1" in finished.stdout


def test_some_pins_not_found_fails_since_one_of_them_may_be_vulnerable(tmp_path: Path) -> None:
    report = {"dependencies": [audited(*PINS[0]), not_found(*PINS[1]), not_found(*PINS[2])]}
    finished = run_audit(fake_pip_audit(tmp_path, report=report))

    assert finished.returncode == 1
    assert "2 of 3 pins could not be audited:" in finished.stdout
    assert "pillow: Dependency not found" in finished.stdout
    assert "SKIPPED" not in finished.stdout


def test_every_pin_not_found_means_the_advisories_are_not_served_here(tmp_path: Path) -> None:
    """This network's answer (a mirror or proxy that serves packages, not the advisories)."""
    report = {"dependencies": [not_found(*pin) for pin in PINS]}
    pip_audit = fake_pip_audit(tmp_path, report=report)

    finished = run_audit(pip_audit)
    assert finished.returncode == 0, finished.stdout
    assert finished.stdout.count("SKIPPED:") == 1
    assert "'not found' for every one of the 3 pins" in finished.stdout
    assert "audit: OK" not in finished.stdout

    strict = run_audit(pip_audit, "--no-skip")
    assert strict.returncode == 1
    assert "SKIPPED:" in strict.stdout


@pytest.mark.parametrize(
    "stderr",
    [
        # pip-audit's own connection error (a connect timeout), with its tip.
        "ERROR:pip_audit._cli:Could not connect to the vulnerability feed\n"
        "ERROR:pip_audit._cli:Tip: your network may be blocking this service. "
        "Try another service with `-s SERVICE`\n",
        # A refused connection, which it lets through as a traceback of requests'.
        "Traceback (most recent call last):\n  ...\n"
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='index.invalid', "
        "port=443): Max retries exceeded with url: /x (Caused by NewConnectionError(...))\n",
        "Traceback (most recent call last):\n  ...\n"
        "requests.exceptions.ProxyError: HTTPSConnectionPool(host='index.invalid', port=443): "
        "Max retries exceeded (Caused by ProxyError('Unable to connect to proxy'))\n",
    ],
    ids=["pip-audit connection error", "connection refused", "proxy refused"],
)
def test_no_connection_to_the_advisories_is_skipped(tmp_path: Path, stderr: str) -> None:
    finished = run_audit(fake_pip_audit(tmp_path, report=None, stderr=stderr, exit_code=1))

    assert finished.returncode == 0, finished.stdout
    assert "pip-audit could not connect:" in finished.stdout
    assert "SKIPPED:" in finished.stdout


def test_any_other_failure_of_pip_audit_fails_with_its_output(tmp_path: Path) -> None:
    stderr = (
        "Traceback (most recent call last):\n  ...\n"
        "pip_audit._service.interface.ServiceError: 503 Service Unavailable\n"
    )
    finished = run_audit(fake_pip_audit(tmp_path, report=None, stderr=stderr, exit_code=1))

    assert finished.returncode == 1
    assert "pip-audit exited with 1 and wrote no report:" in finished.stdout
    assert "ServiceError: 503 Service Unavailable" in finished.stdout
    assert "SKIPPED" not in finished.stdout

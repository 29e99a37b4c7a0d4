"""Known vulnerabilities in the pinned dependencies, judged from pip-audit's own answer.

    .venv/bin/python scripts/audit.py [--no-skip] requirements.txt requirements-dev.txt

`make audit` (and so CI) runs this. pip-audit looks up each exact pin (nothing is resolved or
installed: the files are complete, `make lock`) in the vulnerability advisories the package
index publishes per release, and this script reads its JSON report:

* a pin with a known vulnerability: FAILED (exit 1), whatever else happened;
* every pin looked up and none vulnerable: OK (exit 0);
* the advisories cannot be reached from here: SKIPPED (exit 0; exit 1 with --no-skip). pip-audit
  says so in one of two ways. Where pip can download packages but the advisories' address is
  not served (a mirror, an allow-listing proxy), every pin comes back "not found" (a 404 for
  each); where nothing answers, it stops on a connection error or a timeout;
* some pins looked up and others "not found": FAILED, since a pin that cannot be checked may
  be the vulnerable one (pip-audit's --strict, without stopping at the first);
* any other failure of pip-audit: FAILED, with its output.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# pip-audit's skip reason for a pin whose advisories answered 404.
NOT_FOUND = re.compile(r"^Dependency not found on .+ and could not be audited")
# What pip-audit prints when it cannot connect: its own connection error, which always ends
# with this tip, or a connection error or timeout of `requests` it let through as a traceback.
UNREACHABLE = (
    re.compile(r"your network may be blocking this service"),
    re.compile(
        r"^requests\.exceptions\.(ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|Timeout)\b",
        re.MULTILINE,
    ),
)


@dataclass
class Verdict:
    status: str  # "OK", "SKIPPED" or "FAILED"
    lines: list[str] = field(default_factory=list)


def judge(returncode: int, report: dict[str, Any] | None, stderr: str) -> Verdict:
    """What pip-audit's exit code, JSON report (None if it wrote none) and stderr mean."""
    if report is None:
        if any(pattern.search(stderr) for pattern in UNREACHABLE):
            reason = stderr.strip().splitlines()[-1] if stderr.strip() else "connection error"
            return Verdict("SKIPPED", [f"pip-audit could not connect: {reason}"])
        return Verdict("FAILED", [f"pip-audit exited with {returncode} and wrote no report:"])

    dependencies = report.get("dependencies", [])
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    skipped = [dep for dep in dependencies if "skip_reason" in dep]
    not_found = [dep for dep in skipped if NOT_FOUND.match(dep["skip_reason"])]
    if vulnerable:
        lines = [
            f"{dep['name']} {dep['version']}: {vuln['id']}"
            + (f" (fixed in {', '.join(vuln['fix_versions'])})" if vuln.get("fix_versions") else "")
            for dep in vulnerable
            for vuln in dep["vulns"]
        ]
        count = sum(len(dep["vulns"]) for dep in vulnerable)
        summary = f"{count} known vulnerabilities in {len(vulnerable)} pins:"
        return Verdict("FAILED", [summary, *lines])
    if dependencies and len(not_found) == len(dependencies):
        return Verdict(
            "SKIPPED",
            [
                f"the advisories answered 'not found' for every one of the {len(dependencies)} "
                f"pins (first: {not_found[0]['skip_reason']})"
            ],
        )
    if skipped:
        return Verdict(
            "FAILED",
            [
                f"{len(skipped)} of {len(dependencies)} pins could not be audited:",
                *(f"{dep['name']}: {dep['skip_reason']}" for dep in skipped),
            ],
        )
    if returncode != 0:
        return Verdict("FAILED", [f"pip-audit exited with {returncode}:"])
    return Verdict("OK", [f"No known vulnerabilities in {len(dependencies)} pins."])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("requirements", nargs="+", type=Path, help="pinned requirements files")
    parser.add_argument(
        "--no-skip",
        action="store_true",
        help="fail (exit 1) instead of SKIPPED where the advisories cannot be reached",
    )
    parser.add_argument(
        "--pip-audit",
        default=None,
        help="the pip-audit executable (default: this interpreter's `-m pip_audit`)",
    )
    args = parser.parse_args()

    command = [args.pip_audit] if args.pip_audit else [sys.executable, "-m", "pip_audit"]
    with tempfile.TemporaryDirectory(prefix="plaza-audit.") as directory:
        report_path = Path(directory) / "report.json"
        for requirements in args.requirements:
            command += ["--requirement", str(requirements)]
        command += [
            # Exact, complete pins: look each up as it is, without resolving or installing.
            "--no-deps",
            "--disable-pip",
            "--progress-spinner=off",
            "--desc=off",
            "--format=json",
            f"--output={report_path}",
        ]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        text = report_path.read_text() if report_path.exists() else ""
    report = json.loads(text) if text.strip() else None

    verdict = judge(finished.returncode, report, finished.stderr)
    if verdict.status == "FAILED" and (report is None or finished.returncode not in (0, 1)):
        verdict.lines.append(finished.stdout + finished.stderr)
    for line in verdict.lines:
        print(line)
    if verdict.status == "SKIPPED":
        print(
            "SKIPPED: pip-audit cannot reach the vulnerability advisories from here, so nothing "
            "was audited. Run `make audit` where it can (docs/operations.md#dependency-audit)."
        )
        return 1 if args.no_skip else 0
    print(f"audit: {verdict.status}")
    return 0 if verdict.status == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())

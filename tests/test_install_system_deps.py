"""scripts/install-system-deps (the first step of the README's test command): installs Chromium
and a CJK font only when missing, as root or through sudo, and says what to run otherwise.

apt-get, sudo, id and fc-list are stand-ins on a PATH of their own that record how they were
called, so the script's decisions are checked without touching the machine's packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install-system-deps"
BASH = shutil.which("bash") or "/bin/bash"


class Machine:
    """A PATH with only the commands the script may call; apt-get and sudo log to ``calls``."""

    def __init__(
        self, tmp: Path, *, uid: int, sudo: bool, font: bool, chromium: bool, apt_fails: bool = False
    ):
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.calls = tmp / "calls.log"
        for tool in ("grep", "env"):
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
        self._stub("id", f'[ "$1" = -u ] && echo {uid}')
        self._stub(
            "fc-list", 'echo "/usr/share/fonts/wqy-microhei.ttc: WenQuanYi Micro Hei"' if font else "true"
        )
        self._stub("apt-get", f'echo "apt-get $*" >> {self.calls}' + ("; exit 100" if apt_fails else ""))
        if sudo:
            self._stub("sudo", f'echo "sudo" >> {self.calls}; exec "$@"')
        self.chromium = tmp / "chromium"
        if chromium:
            self.chromium.write_text("#!/bin/sh\n")
            self.chromium.chmod(0o755)

    def _stub(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(0o755)

    def run(self) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.bin),
            "SIYU_TEST_CHROMIUM": str(self.chromium),
            "HOME": os.environ.get("HOME", "/"),
        }
        return subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    def logged(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.mark.parametrize("uid", [0, 1000])
def test_nothing_is_installed_when_chromium_and_a_cjk_font_are_there(tmp_path: Path, uid: int) -> None:
    machine = Machine(tmp_path, uid=uid, sudo=True, font=True, chromium=True)
    done = machine.run()
    assert done.returncode == 0, done.stderr
    assert machine.logged() == []  # not even apt-get update
    assert done.stdout == ""


def test_as_root_only_the_missing_package_is_installed(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=0, sudo=False, font=True, chromium=False)
    done = machine.run()
    assert done.returncode == 0, done.stderr
    update, install = machine.logged()
    assert update.startswith("apt-get update")
    assert install.startswith("apt-get install -y")
    assert install.split()[-1] == "chromium" and "fonts-wqy-microhei" not in install


def test_without_root_it_goes_through_sudo(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=1000, sudo=True, font=False, chromium=False)
    done = machine.run()
    assert done.returncode == 0, done.stderr
    calls = machine.logged()
    assert calls[0::2] == ["sudo", "sudo"]
    assert calls[1].startswith("apt-get update")
    assert calls[3].split()[-2:] == ["chromium", "fonts-wqy-microhei"]


def test_without_root_or_sudo_it_says_what_to_run_and_fails(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=1000, sudo=False, font=False, chromium=True)
    done = machine.run()
    assert done.returncode != 0
    assert machine.logged() == []
    assert "apt-get install -y fonts-wqy-microhei" in done.stderr
    assert "chromium" not in done.stderr.split("apt-get install")[-1]


def test_a_failing_apt_get_fails_the_script(tmp_path: Path) -> None:
    machine = Machine(tmp_path, uid=0, sudo=False, font=True, chromium=False, apt_fails=True)
    done = machine.run()
    assert done.returncode != 0
    assert machine.logged() == ["apt-get update -qq"]  # stopped there: nothing half-installed

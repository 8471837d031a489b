"""docs/BEHAVIOUR.md section 11: `overnight install-desktop` puts the menu entry, its icon and, when
asked, the autostart entry under the user's XDG folders, and takes away only what it put there."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.paths import resource

SCRIPT = Path(sys.executable).parent / "overnight"  # the venv's console script


class Desktop:
    """A user's XDG folders in tmp, and `overnight install-desktop` run against them."""

    def __init__(self, root: Path):
        self.data, self.config = root / "data", root / "config"
        self.menu = self.data / "applications" / "overnight.desktop"
        self.icon = self.data / "icons" / "hicolor" / "scalable" / "apps" / "overnight.svg"
        self.autostart = self.config / "autostart" / "overnight.desktop"
        self.environ = {**os.environ, "XDG_DATA_HOME": str(self.data), "XDG_CONFIG_HOME": str(self.config)}

    def run(self, *args: str, command: tuple[str, ...] = (str(SCRIPT),)) -> subprocess.CompletedProcess:
        return subprocess.run([*command, "install-desktop", *args], capture_output=True, text=True,
                              env=self.environ, timeout=60, check=False)

    def key(self, path: Path, name: str) -> str:
        return next(line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(name + "="))


@pytest.fixture
def desktop(tmp_path):
    return Desktop(tmp_path)


def test_the_menu_entry_and_icon_start_the_overnight_that_installed_them(desktop):
    out = desktop.run()
    assert out.returncode == 0, out.stderr
    assert desktop.key(desktop.menu, "Exec") == f"{SCRIPT} gui"
    assert desktop.key(desktop.menu, "TryExec") == str(SCRIPT)
    assert desktop.key(desktop.menu, "Name") == "Overnight"
    assert desktop.key(desktop.menu, "Icon") == "overnight"
    assert desktop.icon.read_bytes() == resource("icons", "overnight.svg").read_bytes()
    assert f"installed {desktop.menu}" in out.stdout and f"installed {desktop.icon}" in out.stdout


def test_started_as_python_m_app_with_a_home_the_entry_runs_the_same_python_on_that_home(desktop, tmp_path):
    home = tmp_path / "my queue"
    out = desktop.run("--home", str(home), command=(sys.executable, "-m", "app"))
    assert out.returncode == 0, out.stderr
    assert desktop.key(desktop.menu, "Exec") == f'{sys.executable} -m app --home "{home}" gui'
    assert desktop.key(desktop.menu, "TryExec") == sys.executable


def test_autostart_is_installed_only_when_asked(desktop):
    desktop.run()
    assert not desktop.autostart.exists()
    out = desktop.run("--autostart")
    assert out.returncode == 0, out.stderr
    assert desktop.autostart.read_text() == desktop.menu.read_text()


def test_a_second_install_changes_nothing(desktop):
    desktop.run("--autostart")
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in (desktop.menu, desktop.icon,
                                                                               desktop.autostart)}
    out = desktop.run("--autostart")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"unchanged {path}" for path in before]
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in before} == before


def test_a_reinstall_from_elsewhere_moves_the_autostart_entry_along(desktop):
    desktop.run("--autostart", command=(sys.executable, "-m", "app"))
    desktop.run()
    assert desktop.key(desktop.autostart, "Exec") == f"{SCRIPT} gui"


def test_uninstall_removes_what_it_installed_and_nothing_else(desktop):
    desktop.run("--autostart")
    neighbour = desktop.menu.with_name("other-app.desktop")
    neighbour.write_text("[Desktop Entry]\nName=Other\n")
    out = desktop.run("--uninstall")
    assert out.returncode == 0, out.stderr
    assert not desktop.menu.exists() and not desktop.icon.exists() and not desktop.autostart.exists()
    assert neighbour.read_text() == "[Desktop Entry]\nName=Other\n"
    assert desktop.run("--uninstall").stdout == ""


def test_uninstall_with_autostart_removes_only_the_autostart_entry(desktop):
    desktop.run("--autostart")
    out = desktop.run("--uninstall", "--autostart")
    assert out.stdout.splitlines() == [f"removed {desktop.autostart}"]
    assert desktop.menu.exists() and desktop.icon.exists()


def test_a_file_the_user_made_is_never_replaced_nor_removed(desktop):
    mine = "[Desktop Entry]\nType=Application\nName=My Overnight\nExec=/opt/overnight --home /srv/q\n"
    desktop.autostart.parent.mkdir(parents=True)
    desktop.autostart.write_text(mine)
    out = desktop.run("--autostart")
    assert out.returncode == 1
    assert f"refused {desktop.autostart}: it was not written by `overnight install-desktop`" in out.stdout
    assert "move it aside" in out.stdout
    assert desktop.menu.exists()  # the rest is installed
    out = desktop.run("--uninstall")
    assert f"kept {desktop.autostart}" in out.stdout
    assert desktop.autostart.read_text() == mine and not desktop.menu.exists()


def test_an_icon_of_another_app_is_kept_but_an_older_overnight_icon_is_replaced(desktop):
    desktop.icon.parent.mkdir(parents=True)
    desktop.icon.write_text("<svg>someone else's</svg>")
    out = desktop.run()
    assert out.returncode == 1 and f"refused {desktop.icon}" in out.stdout
    assert desktop.icon.read_text() == "<svg>someone else's</svg>"
    desktop.icon.unlink()
    desktop.run()
    desktop.icon.write_text("<svg>the icon of an older version</svg>")  # beside its own menu entry
    out = desktop.run()
    assert out.returncode == 0 and f"installed {desktop.icon}" in out.stdout
    assert desktop.icon.read_bytes() == resource("icons", "overnight.svg").read_bytes()


def test_a_folder_that_cannot_be_written_is_named(desktop):
    desktop.data.write_text("a file where the data folder should be")
    out = desktop.run()
    assert out.returncode == 1
    assert f"could not write {desktop.menu}:" in out.stdout and "Traceback" not in out.stderr

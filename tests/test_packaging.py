"""The installed distribution exposes every package folder under the stm_andreev namespace."""

import importlib
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAPPED = {
    "drivers": "stm_andreev.drivers",
    "procedures": "stm_andreev.procedures",
    "simulators": "stm_andreev.simulators",
    "stm_andreev": "stm_andreev",
}


def package_folders():
    for top, name in MAPPED.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            yield ".".join([name, *rel.parts]) if rel.parts else name


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    missing = sorted(set(package_folders()) - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_package_imports():
    for name in package_folders():
        importlib.import_module(name)


def test_console_script_entry_point():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "stm-andreev"]
    assert script.value == "stm_andreev.cli:main"

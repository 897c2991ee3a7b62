"""Install a Django project's dependencies, then what the image's runtime needs, into /opt/venv.

    install_requirements.py PROJECT_FILES RUNTIME_REQUIREMENTS

PROJECT_FILES holds the project's requirements.txt (which may include others: `-r
requirements/base.txt`), or its pyproject.toml, whose [project] dependencies are installed.
The project's pins win: a runtime package the project already brought (in any version) is
left as the project has it. A package that must be compiled gets the C compiler and
headers the first time one is missing: in this build stage only, never in the runtime image.
Runs in the Dockerfile's build stage, with the base image's python3 (3.10 or newer).
"""

import json
import os
import re
import shutil
import subprocess
import sys

PIP = ["/opt/venv/bin/pip", "install", "--no-input"]
BUILD_TOOLS = ["gcc", "libc6-dev"]


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return normalized(match.group(1)) if match and not line.lstrip().startswith("-") else ""


def project_arguments(folder):
    """pip's arguments for the project's own dependencies, or [] when it declares none."""
    requirements = os.path.join(folder, "requirements.txt")
    if os.path.isfile(requirements):
        return ["--requirement", requirements]
    pyproject = os.path.join(folder, "pyproject.toml")
    if os.path.isfile(pyproject):
        try:
            import tomllib
        except ImportError:
            sys.exit("error: reading pyproject.toml needs python3 3.11 or newer in BASE_IMAGE; "
                     "or list the dependencies in requirements.txt")
        with open(pyproject, "rb") as handle:
            return list(tomllib.load(handle).get("project", {}).get("dependencies", []))
    return []


def installed():
    """{name: version} of what the virtualenv holds."""
    listed = subprocess.run(["/opt/venv/bin/pip", "list", "--format=json"], capture_output=True, text=True, check=True)
    return {normalized(package["name"]): package["version"] for package in json.loads(listed.stdout)}


def pip_install(arguments, cwd):
    """pip install, once more with a C compiler when the first try failed without one."""
    if subprocess.run([*PIP, *arguments], cwd=cwd).returncode == 0:
        return
    if shutil.which("gcc") is None:
        print("install_requirements: pip failed; trying once more with a C compiler in the build stage", flush=True)
        headers = os.path.join(subprocess.run(
            [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
            capture_output=True, text=True, check=True).stdout.strip(), "Python.h")
        tools = BUILD_TOOLS + ([] if os.path.isfile(headers) else ["python3-dev"])
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "--yes", "--no-install-recommends", "-qq", *tools], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if subprocess.run([*PIP, *arguments], cwd=cwd).returncode == 0:
            return
    sys.exit("error: installing the requirements failed: see pip's output above")


def main(project_files, runtime_requirements):
    arguments = project_arguments(project_files)
    if arguments:
        pip_install(arguments, cwd=project_files)
    else:
        print("install_requirements: the project has no requirements.txt or pyproject.toml dependencies: "
              "only the runtime's packages are installed", flush=True)
    present = installed()
    with open(runtime_requirements) as handle:
        wanted = [line.strip() for line in handle if requirement_name(line) and requirement_name(line) not in present]
    if wanted:
        # What the project installed stays as it is: a runtime package that needs another version
        # of it fails here, saying so, rather than quietly replacing the project's pin.
        constraints = os.path.join(project_files, ".installed-constraints.txt")
        with open(constraints, "w") as handle:
            handle.writelines(f"{name}=={version}\n" for name, version in present.items())
        pip_install([*wanted, "--constraint", constraints], cwd=project_files)


if __name__ == "__main__":
    main(*sys.argv[1:])

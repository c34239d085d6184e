"""Install marsspec's Python packages into a folder of its own, from inside QGIS, in one click.

Never into QGIS's (or the system's) Python: ``pip install --target`` into a staging folder,
renamed into place, an install marker written last; the plugin puts the folder on
``sys.path`` only when that marker is there and was written for this Python. Pure logic, no
qgis: the QGIS task and dialog (marsspec_plugin/installer_task.py) and tests drive it.

- interpreter.py  which executable is QGIS's Python (Linux, Windows OSGeo4W/standalone, macOS)
- plan.py         what to install (pinned runtime packages, CPU or CUDA torch) and the commands
- folder.py       the packages folder: staging, marker, publish, uninstall, activation
- pip_run.py      run pip with a log, progress and cancel; say why it failed
- job.py          the whole install, in the order that never leaves a half-installed set
"""

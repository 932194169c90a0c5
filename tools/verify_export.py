#!/usr/bin/env python3
"""The auditor's standalone verifier: `python3 tools/verify_export.py --help`.

The code lives in the package (engine/log/verify_offline.py), so an installed wheel carries it
into every evidence bundle; this wrapper runs that one file by path, with the standard library
only, so nothing needs installing (not even the package's own dependencies).
"""

import runpy
import sys
from pathlib import Path

_MODULE = Path(__file__).resolve().parent.parent / "engine" / "log" / "verify_offline.py"

if __name__ == "__main__":
    sys.argv[0] = str(_MODULE)
    runpy.run_path(str(_MODULE), run_name="__main__")
else:  # imported by path (the tests do): expose the verifier's functions
    globals().update({k: v for k, v in runpy.run_path(str(_MODULE)).items() if not k.startswith("__")})

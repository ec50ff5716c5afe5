"""``python -m verifiers.sandbox --spec FILE [--spec FILE…] [--port N]``: serve the sandbox."""

import sys

from verifiers.sandbox.server import serve_child

sys.exit(serve_child())

"""Run the dashboard: ``python -m examples.pi_dashboard [--host 127.0.0.1] [--port 8000] [--folders F.json]``."""

from __future__ import annotations

import argparse
import logging
import sys

try:
    import uvicorn

    from .app import create_app
except ImportError as exc:
    raise SystemExit(f"the dashboard needs FastAPI and uvicorn ({exc}): pip install -e '.[model,dashboard]'") from None

from examples.options import add_model_options, classifier_from_args
from notifclf import NotifclfError

logger = logging.getLogger("pi_dashboard")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.pi_dashboard", description="notifclf web dashboard")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to your network)")
    parser.add_argument("--port", type=int, default=8000)
    add_model_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        clf = classifier_from_args(args)
    except NotifclfError as exc:
        print(f"pi_dashboard: error: {exc}", file=sys.stderr)
        return 2
    logger.info("dashboard on http://%s:%d/ (API description: /openapi.json)", args.host, args.port)
    uvicorn.run(create_app(clf), host=args.host, port=args.port, log_level="warning")
    clf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

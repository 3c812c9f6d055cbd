"""Why a node did not start during ``serve``'s first start, and the likely fix.

A node that exits (or is never ready) before the graph was ready once is not restarted:
``serve`` stops every node and exits non-zero with a :class:`NodeStartError` naming the
node, the lines of its log that tell why (the last exception, not the Gunicorn shutdown
chatter after it) and a hint. Restarts with back-off are for nodes that die after they
were ready (``supervisor.Supervisor._watch``).
"""

from __future__ import annotations

import re
from pathlib import Path

from graph.runner.plan import MOUNT, NodePlan
from model.errors import ConfigError

_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
_NOISE = re.compile(r"\[(INFO|DEBUG)\]|Worker exiting|Shutting down|Handling signal")


class NodeStartError(ConfigError):
    """A node could not start: ``node`` is its key, ``log`` its log file."""

    def __init__(self, message: str, node: str, log: Path) -> None:
        super().__init__(message)
        self.node = node
        self.log = log


def telling_lines(text: str, count: int = 12) -> list[str]:
    """The ``count`` log lines ending at the last exception line (else the last lines
    that are not Gunicorn's start/stop chatter). Exceptions printed as "Exception
    ignored in ..." (multiprocessing's atexit in a forked worker) are not the cause."""
    lines = text.splitlines()
    last, ignored = None, False
    for i, line in enumerate(lines):
        if line.startswith("Exception ignored in"):  # interpreter shutdown noise
            ignored = True
        elif line.startswith("[") or _NOISE.search(line):
            ignored = False
        elif _EXCEPTION.match(line) and not ignored:
            last = i
    if last is not None:
        return lines[max(0, last + 1 - count) : last + 1]
    return [line for line in lines if not _NOISE.search(line)][-count:]


def likely_fix(plan: NodePlan, lines: list[str]) -> str:
    """A hint for the usual causes: the model mount, an import, a port, parameters.
    A parameter still under ``/mnt/models`` means no ``--models-dir`` was given (with
    one, ``plan.resolve_parameters`` maps them all)."""
    text = "\n".join(lines)
    mounted = any(p["value"].startswith(MOUNT) for p in plan.parameters)
    if MOUNT in text or (mounted and "Error" in text and "import" not in text.lower()):
        return (
            f"its parameters point at {MOUNT}, where the cluster's storage initializer puts "
            "the model: pass --models-dir DIR (DIR/<last segment of modelUri> is used, e.g. "
            "--models-dir artifacts)"
        )
    if any(k in text for k in ("No module named", "ImportError", "has no attribute")):
        return (
            f"MODEL_NAME {plan.model_name!r} cannot be imported: run from the project root "
            "or install the package that holds it"
        )
    if "Address already in use" in text:
        return "a port was taken meanwhile: start again"
    if "PREDICTIVE_UNIT_PARAMETERS" in text or "parameter" in text.lower():
        return "check the node's parameters (names, types and values) in the manifest"
    return "read the node's log for the cause"


def start_error(plan: NodePlan, log: Path, reason: str) -> NodeStartError:
    """The error ``serve`` exits with when ``plan``'s node did not start."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    lines = telling_lines(text)
    shown = "\n".join(f"    {line}" for line in lines) or "    (empty log)"
    message = (
        f"node {plan.key} did not start ({reason}).\n"
        f"  last lines of its log ({log}):\n{shown}\n"
        f"  likely fix: {likely_fix(plan, lines)}"
    )
    return NodeStartError(message, plan.key, log)

"""The layers a newcomer should see: API → queue (database) → worker → PBX, with rules and licensing as
leaves; no import cycles; one module owning a trigger's life; short legs without back-and-forth.

`pytest tests/test_architecture.py -s` prints the modules each leg of a trigger passes through.
"""

from __future__ import annotations

import re

from tests.architecture import ROOT, cycles, import_graph, project_modules

OTHER_APPS = ("presence", "triggers")
MAX_LEG = 8


def test_there_are_no_import_cycles_counting_function_local_imports():
    assert cycles(import_graph()) == []


def test_licensing_imports_nothing_of_the_other_apps():
    graph = import_graph()
    leaks = {
        (m, t) for m, targets in graph.items() if m.startswith("licensing") for t in targets if t.startswith(OTHER_APPS)
    }
    assert leaks == set()


def test_the_helpers_the_apps_share_import_no_app():
    graph = import_graph()
    leaks = {
        (m, t)
        for m, targets in graph.items()
        if m.startswith("heartbeat_site.helpers")
        for t in targets
        if t.startswith(("licensing", *OTHER_APPS))
    }
    assert leaks == set()


def test_the_apps_take_only_the_helpers_from_heartbeat_site():
    graph = import_graph()
    uses = {
        (m, t)
        for m, targets in graph.items()
        if m.startswith(("licensing", *OTHER_APPS))
        for t in targets
        if t.startswith("heartbeat_site") and not t.startswith("heartbeat_site.helpers")
    }
    assert uses == set()


# Writing a trigger row or its status: creating one, or setting `status` on one or on a queryset of them.
TRIGGER_WRITES = re.compile(
    r"Trigger\.objects\.(create|bulk_create|get_or_create|update_or_create)\b"
    r"|\bTrigger\((?!\.)[^)]*\)\.save\("
    r"|update_rows\(\s*Trigger\b"
    r"|Trigger\.objects\.filter\([^\n]*\)\.update\("
    r"|\.update\(\s*status\s*="
)


def test_exactly_one_module_creates_trigger_rows_or_changes_their_status():
    writers = sorted(name for name, path in project_modules().items() if TRIGGER_WRITES.search(path.read_text()))
    assert writers == ["triggers.queue"]


def test_the_project_root_is_where_the_modules_are():
    assert (ROOT / "manage.py").exists() and "triggers.queue" in project_modules()

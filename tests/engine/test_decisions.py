"""DMN decision tables called from business rule tasks."""

from __future__ import annotations

import pytest
from factories import act, deploy, start

from engine import instances


@pytest.mark.parametrize(("topic", "unit"), [("yol", "fen_isleri"), ("zabita", "zabita"), ("başka", "yazi_isleri")])
def test_a_decision_table_routes_by_topic(db, topic: str, unit: str) -> None:
    deploy(db, "konu_birim.dmn", "konu_yonlendirme.bpmn")
    instance_id = start(db, "dmn_test", data={"konu": topic})
    data = act(db, "idari1", lambda s, a: instances.show(s, a, instance_id).data)
    assert data["onerilen_birim"] == unit

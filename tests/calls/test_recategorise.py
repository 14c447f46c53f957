"""CAD codes mean one thing everywhere: families, fire, and a recategorise run that changes old calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.calls.cad_types import cad_type_resolve
from apps.calls.models import CadTypeMapping, Call, Category
from tests.base import World
from tests.calls.test_import import SEATTLE_0325, run, write

pytestmark = pytest.mark.django_db


def test_a_code_family_maps_every_code_it_starts_and_the_exact_code_wins(world: World) -> None:
    CadTypeMapping.objects.create(agency=world.agency, code="EMS: *", category=Category.MEDICAL, priority=2)
    CadTypeMapping.objects.create(agency=world.agency, code="EMS: OD*", category=Category.OVERDOSE, priority=1)
    CadTypeMapping.objects.create(agency=world.agency, code="EMS: OD CHECK", category=Category.WELFARE_CHECK,
                                  priority=3)
    resolved = {code: cad_type_resolve(agency_id=world.agency.pk, code=code).category
                for code in ("EMS: CHEST PAIN", "ems: fall", "EMS: OD FENTANYL", "EMS: OD CHECK", "FIRE: ALARM")}
    assert resolved == {"EMS: CHEST PAIN": "medical", "ems: fall": "medical", "EMS: OD FENTANYL": "overdose",
                        "EMS: OD CHECK": "welfare_check", "FIRE: ALARM": "unknown"}
    assert cad_type_resolve(agency_id=world.other_agency.pk, code="EMS: CHEST PAIN").unmapped


def test_fire_and_traffic_are_categories_a_mapping_file_may_name(world: World, tmp_path: Path) -> None:
    path = write(tmp_path / "types.json", json.dumps([
        {"code": "FIRE*", "description": "Fire calls", "category": "fire", "priority": 1},
        {"code": "TRAFFIC STOP", "description": "", "category": "traffic", "priority": 4}]))
    run("load_cad_types", path, "--agency", world.agency.ori)
    assert cad_type_resolve(agency_id=world.agency.pk, code="FIRE - STRUCTURE").category == "fire"
    assert cad_type_resolve(agency_id=world.agency.pk, code="TRAFFIC STOP").category == "traffic"


def test_a_recategorise_run_changes_the_old_calls_and_is_audited(world: World, tmp_path: Path) -> None:
    run("import_calls", SEATTLE_0325, "--format", "seattle")
    def crisis() -> set[tuple[str, bool]]:
        return set(Call.objects.filter(cad_code="CRISIS - PERSON IN BEHAVIORAL/EMOTIONAL CRISIS")
                   .values_list("category", "cad_code_unmapped"))

    assert crisis() == {("unknown", True)}
    path = write(tmp_path / "types.json", json.dumps([
        {"code": "CRISIS - *", "description": "Crisis", "category": "mental_health", "priority": 2}]))
    out, _ = run("load_cad_types", path, "--agency", world.agency.ori)
    assert "recategorise_calls --agency WA0170000" in out
    assert crisis() == {("unknown", True)}, "loading mappings alone leaves stored calls as they were"

    out, err = run("recategorise_calls", "--agency", world.agency.ori)
    assert crisis() == {("mental_health", False)}
    changed = Call.objects.filter(category="mental_health").count()
    assert out.splitlines()[0].startswith(f"WA0170000: {changed} calls re-categorised over ")
    assert f"{changed}  unknown -> mental_health" in out
    assert "100%" in err  # the progress bar
    event = AuditEvent.objects.filter(object_type="calls.call", action=AuditEvent.Action.UPDATE).latest("id")
    assert event.detail["calls_changed"] == changed and event.actor_username == "recategorise_calls"
    again, _ = run("recategorise_calls", "--agency", world.agency.ori)
    assert again.splitlines()[0].startswith("WA0170000: 0 calls re-categorised")

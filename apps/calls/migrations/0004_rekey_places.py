"""Re-key every premise and call: a house keeps its number, and the municipality scopes the key.

Keys were the hundred block for a house ("9241 RAINIER AVE S" -> "9200 BLOCK RAINIER AVE S") and
ignored the municipality, so a house inherited its block's hazards and two townships' intersections
were one place. Existing rows have no municipality of their own: the agency's (usually blank) scopes
them. Reversing restores the old keys (the hundred block, no municipality).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from apps.places.normalize import address_key, block_key

BATCH = 2_000


def _rekey(apps: Any, model_name: str, app: str, *, forward: bool) -> None:
    model = apps.get_model(app, model_name)
    municipality_of = dict(apps.get_model("accounts", "Agency").objects.values_list("id", "municipality"))
    changed: list[Any] = []
    for row in model.objects.only("id", "agency_id", "address", "municipality", "address_key").iterator(BATCH):
        if forward:
            key = address_key(row.address, row.municipality.strip() or municipality_of.get(row.agency_id, ""))
        else:
            key = block_key(address_key(row.address))
        if key != row.address_key:
            row.address_key = key
            changed.append(row)
        if len(changed) >= BATCH:
            model.objects.bulk_update(changed, ["address_key"])
            changed = []
    if changed:
        model.objects.bulk_update(changed, ["address_key"])


def forward(apps: Any, schema_editor: Any) -> None:
    _rekey(apps, "Premise", "cases", forward=True)
    _rekey(apps, "Call", "calls", forward=True)


def backward(apps: Any, schema_editor: Any) -> None:
    _rekey(apps, "Premise", "cases", forward=False)
    _rekey(apps, "Call", "calls", forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0003_call_municipality"),
        ("cases", "0004_premise_municipality"),
        ("accounts", "0004_agency_municipality"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=True)]

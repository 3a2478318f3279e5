"""The offline model catalogue: the gateway's offline defaults file, written to its catalogue table at every start.

The file points the aliases at the runtime's own local model endpoint (`${LOCAL_MODELS_URL}`), whose port can change
from one run to the next, so the entries are rewritten each time (item format: see DynamoCatalogue in the layer).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from offline.sam import Application

DEFAULTS = Path("genai_core/gateway/defaults/offline.json")


def seed_catalogue(app: Application, dynamodb: Any, local_models_url: str) -> list[str]:
    """Write the offline catalogue to every table a function knows as CATALOGUE_TABLE; returns the aliases."""
    tables = {f.environment["CATALOGUE_TABLE"] for f in app.functions.values() if f.environment.get("CATALOGUE_TABLE")}
    files = [d / DEFAULTS for f in app.functions.values() for d in f.layer_dirs if (d / DEFAULTS).is_file()]
    if not tables or not files:
        return []
    text = files[0].read_text(encoding="utf-8").replace("${LOCAL_MODELS_URL}", local_models_url)
    entries = json.loads(text)["models"]
    for table in sorted(tables):
        for entry in entries:
            dynamodb.put_item(
                TableName=table,
                Item={"alias": {"S": entry["alias"]}, "entry": {"S": json.dumps(entry, separators=(",", ":"))}},
            )
    return [entry["alias"] for entry in entries]

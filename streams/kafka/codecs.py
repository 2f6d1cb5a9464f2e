"""Faust codec for item states: the table keeps ``ItemState`` objects in memory and writes them
to its changelog as compact JSON, so a worker never re-parses a state to read it."""

from __future__ import annotations

import json
from typing import Any

from faust.serializers import codecs

from outcome_pulse.processors.item_state import ItemState, state_from_dict, state_to_dict

ITEM_STATE_CODEC = "pulse_item_state"


class ItemStateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return json.dumps(state_to_dict(obj), separators=(",", ":")).encode()

    def _loads(self, s: bytes) -> ItemState:
        return state_from_dict(json.loads(s))


codecs.register(ITEM_STATE_CODEC, ItemStateCodec())

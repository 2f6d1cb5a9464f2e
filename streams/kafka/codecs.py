"""Faust codec for item states: the table keeps ``ItemState`` objects in memory and writes them
to its changelog as compact JSON, so a worker never re-parses a state to read it.

msgspec writes and reads the JSON (several times faster than the standard library; one changelog
write per changed item per batch). Its output is plain UTF-8 JSON, read back by any JSON parser:
faust's recovery, which decodes the changelog with its own JSON codec, and states written by the
standard library's ``json.dumps`` before (ASCII escapes) read the same."""

from __future__ import annotations

from typing import Any

import msgspec
from faust.serializers import codecs

from outcome_pulse.processors.item_state import ItemState, state_from_dict, state_to_dict

ITEM_STATE_CODEC = "pulse_item_state"
_ENCODER = msgspec.json.Encoder()


class ItemStateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return _ENCODER.encode(state_to_dict(obj))

    def _loads(self, s: bytes) -> ItemState:
        return state_from_dict(msgspec.json.decode(s))


ITEM_STATE_CODEC_IMPL = ItemStateCodec()
codecs.register(ITEM_STATE_CODEC, ITEM_STATE_CODEC_IMPL)

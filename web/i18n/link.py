"""Words of the prefecture link: its events, its alarm and its refusal."""

from __future__ import annotations

ZH: dict[str, str] = {
    "event.county_update": "县级平台续报",
    "event.instruction_sent": "下达指令",
    "event.instruction_received": "收到上级指令",
    "event.instruction_acknowledged": "指令已签收",
    "alarm.instruction": "上级指令，请签收",
    "error.not_linked": "该事件不是县级平台报送的，无法下达指令",
}

EN: dict[str, str] = {
    "event.county_update": "County update",
    "event.instruction_sent": "Instruction sent",
    "event.instruction_received": "Instruction from the prefecture",
    "event.instruction_acknowledged": "Instruction acknowledged",
    "alarm.instruction": "Instruction from the prefecture: acknowledge it",
    "error.not_linked": "This incident did not come from a county: there is nobody to instruct",
}

STRINGS = {"zh-CN": ZH, "en": EN}

"""A county's CAP 1.2 message to its prefecture, read as the link's intake needs it.

The county's messages are ordinary CAP (gateways/cap.py reads them), with what the link adds:
`incidents` names the county's incident, and the first info carries `eventCode`
`dispatch:category` (the county's category id, taken as is when this server knows it) and the
parameters `dispatch:state` and `dispatch:change` (the incident's state and what changed, shown
on the prefecture's timeline).
"""

from __future__ import annotations

from dispatch.config.model import Config
from dispatch.intake.county_link import CountyMessage
from dispatch.shared.errors import InvalidInput
from gateways import cap
from gateways.cap_xml import CapElement, parse

CATEGORY_CODE = "dispatch:category"
STATE = "dispatch:state"
CHANGE = "dispatch:change"
LINKED = (cap.MessageType.ALERT, cap.MessageType.UPDATE, cap.MessageType.CANCEL)


def translate(raw: bytes, config: Config) -> tuple[cap.CapMessage, CountyMessage | None]:
    """The CAP message, and what it asks of the link (None: an Ack, Error or a Test message)."""
    root = parse(raw)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    head = CapElement(root, namespace)
    infos = head.children("info") if namespace in cap.NAMESPACES else []
    first = infos[0] if infos else None
    codes = dict(first.pairs("eventCode")) if first is not None else {}
    parameters = dict(first.pairs("parameter")) if first is not None else {}
    settings = config.cap
    category = codes.get(CATEGORY_CODE)
    if category is not None and category in config.category_by_id:
        settings = settings.model_copy(update={"categories": {}, "default_category": category})
    message = cap.translate(raw, settings)
    if message.ignored is not None or message.message_type not in LINKED:
        return message, None
    incidents = (head.text("incidents") or "").split()
    if len(incidents) != 1:
        raise InvalidInput(
            "a county's message names exactly one of its incidents in <incidents>", field="incidents"
        )
    assert message.sent is not None  # translate requires it
    county = CountyMessage(
        sender=message.sender,
        identifier=message.identifier,
        msg_type=message.message_type.value,
        county_incident_id=incidents[0],
        sent_at=message.sent.isoformat(),
        county_state=parameters.get(STATE),
        change=parameters.get(CHANGE),
        alert=message.alert,
        raw=raw.decode("utf-8"),
    )
    return message, county

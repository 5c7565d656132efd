"""config.yaml: the shipped sample loads and tiles, broken files are refused naming the key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from shapely.geometry import Point
from shapely.ops import unary_union

from dispatch.cli.main import main
from dispatch.config.model import Config, ConfigError, Jurisdiction, Tier, load_config, parse_config
from dispatch.core.routing import Router
from tests.factories import box, config_data

SHIPPED = Path(__file__).parents[3] / "config.yaml"
PREFECTURE = Path(__file__).parents[3] / "dispatch" / "config" / "samples" / "prefecture.yaml"

# Rounding the slanted city outline to 6 decimals leaves centimetre slivers (~1e-7 deg²).
SLIVER_AREA = 1e-6


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(SHIPPED)


def _children(config: Config, parent: Jurisdiction) -> list[Jurisdiction]:
    return [node for node in config.jurisdictions if node.parent == parent.id]


def _of_tier(config: Config, tier: Tier) -> list[Jurisdiction]:
    return [node for node in config.jurisdictions if node.tier == tier]


def _with(changes: dict[str, Any]) -> dict[str, Any]:
    """The factory config with values set at dotted key paths ("policies.standard.steps.0.tier")."""
    data = copy.deepcopy(config_data())
    for path, value in changes.items():
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return data


def _refusal(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "test config")
    return str(raised.value)


# --- the shipped sample -------------------------------------------------------------------


def test_shipped_config_has_ten_towns_and_three_subdistricts(shipped: Config) -> None:
    names = [town.name for town in _of_tier(shipped, Tier.TOWN)]

    assert len(names) >= 13
    assert sum(name.endswith("镇") for name in names) >= 10
    assert sum(name.endswith("街道") for name in names) >= 3


def test_shipped_config_has_departments_categories_and_responders(shipped: Config) -> None:
    assert len(shipped.departments) >= 6
    assert len(shipped.categories) >= 12
    assert len(shipped.responders) >= 60


def test_shipped_config_gives_every_town_two_to_four_streets(shipped: Config) -> None:
    counts = {town.id: len(_children(shipped, town)) for town in _of_tier(shipped, Tier.TOWN)}

    assert {town: count for town, count in counts.items() if not 2 <= count <= 4} == {}


def test_shipped_config_has_a_responder_home_in_every_street(shipped: Config) -> None:
    empty = [
        street.id
        for street in _of_tier(shipped, Tier.STREET)
        if not any(street.polygon.contains_position(unit.home) for unit in shipped.responders)
    ]

    assert empty == []


def test_shipped_config_streets_tile_their_town(shipped: Config) -> None:
    uncovered = {
        town.id: town.polygon.geometry.difference(
            unary_union([street.polygon.geometry for street in _children(shipped, town)])
        ).area
        for town in _of_tier(shipped, Tier.TOWN)
    }

    assert {town: area for town, area in uncovered.items() if area > SLIVER_AREA} == {}


def test_shipped_config_towns_tile_the_city(shipped: Config) -> None:
    towns = unary_union([town.polygon.geometry for town in _of_tier(shipped, Tier.TOWN)])

    assert shipped.root.polygon.geometry.difference(towns).area < SLIVER_AREA


def test_prefecture_sample_has_the_county_of_config_yaml_among_its_counties(shipped: Config) -> None:
    """The level above: its top node is the prefecture, its counties tile it, and 沅江市 is one
    of them under the id config.yaml's top node has (the CAP sender its link is bound to)."""
    prefecture = load_config(PREFECTURE)
    counties = _of_tier(prefecture, Tier.TOWN)
    county = next(node for node in counties if node.id == shipped.root.id)

    assert prefecture.root.name == "益阳市"
    assert len(counties) >= 7
    assert county.name == shipped.root.name
    assert county.polygon.geometry.symmetric_difference(shipped.root.polygon.geometry).area < SLIVER_AREA
    assert (
        prefecture.root.polygon.geometry.difference(
            unary_union([node.polygon.geometry for node in counties])
        ).area
        < SLIVER_AREA
    )


def test_router_puts_each_street_center_in_that_street(shipped: Config) -> None:
    router = Router(shipped)
    streets = _of_tier(shipped, Tier.STREET)

    located = {street.id: router.locate(street.center.lat, street.center.lon) for street in streets}

    assert located == {street.id: street for street in streets}


def test_router_puts_every_point_of_the_city_in_a_street(shipped: Config) -> None:
    router = Router(shipped)
    city = shipped.root.polygon.geometry
    west, south, east, north = city.bounds
    steps = 40
    points = [
        (south + (north - south) * (row + 0.5) / steps, west + (east - west) * (column + 0.5) / steps)
        for row in range(steps)
        for column in range(steps)
    ]

    tiers = {
        (lat, lon): getattr(router.locate(lat, lon), "tier", None)
        for lat, lon in points
        if city.contains(Point(lon, lat))
    }

    assert len(tiers) > steps * steps // 2
    assert {point: tier for point, tier in tiers.items() if tier != Tier.STREET} == {}


# --- validators ---------------------------------------------------------------------------


def test_config_factory_with_siblings_sharing_edges_loads() -> None:
    config = parse_config(config_data(), "test config")

    assert len(config.jurisdictions) == 7


def test_config_accepts_a_sibling_overlap_below_the_tolerance() -> None:
    # west-s reaches 1e-9° into west-n: 2e-10 square degrees of overlap.
    data = _with({"jurisdictions.4.polygon": box(112.0, 28.0, 112.2, 28.1 + 1e-9)})

    assert parse_config(data, "test config").jurisdiction_by_id["west-s"].polygon.geometry.area > 0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"jurisdictions.4.polygon": box(112.0, 28.0, 112.2, 28.15)},
            "jurisdictions.4.polygon: overlaps its sibling 'west-n'",
            id="sibling-streets-overlap",
        ),
        pytest.param(
            {"jurisdictions.2.polygon": box(112.19, 28.0, 112.4, 28.2)},
            "jurisdictions.2.polygon: overlaps its sibling 'west'",
            id="sibling-towns-overlap",
        ),
        pytest.param(
            {"responders.0.home": {"lat": 28.05, "lon": 112.1}},
            "responders.0.home: outside its jurisdiction 'west-n'",
            id="home-in-another-street",
        ),
        pytest.param(
            {"responders.7.home": {"lat": 30.0, "lon": 115.0}},
            "responders.7.home: outside its jurisdiction 'city'",
            id="home-outside-the-city",
        ),
        pytest.param(
            {"prefecture": None},
            "policies.critical.notify_prefecture: is true but no `prefecture` is configured",
            id="notify-prefecture-without-prefecture",
        ),
        pytest.param(
            {"policies.standard.steps.0.responders": 0},
            "policies.standard.steps.0.responders: Input should be greater than or equal to 1",
            id="step-with-no-responders",
        ),
        pytest.param(
            {"responders.0.mqtt_client_id": "tracker-7", "responders.3.mqtt_client_id": "tracker-7"},
            "responders.3.mqtt_client_id: 'tracker-7' is already used by 'grid-west-n-1'",
            id="mqtt-client-id-twice",
        ),
        pytest.param(
            {
                "jurisdictions.3.polygon.coordinates": [
                    [[28.1, 112.0], [28.1, 112.2], [28.2, 112.2], [28.2, 112.0], [28.1, 112.0]]
                ]
            },
            "jurisdictions.3.polygon.coordinates: position 0.0 [28.1, 112.0] is out of range",
            id="polygon-written-lat-lon",
        ),
        pytest.param(
            {"jurisdictions.0.polygon": box(112.0, 28.0, 181.0, 28.2)},
            "jurisdictions.0.polygon.coordinates: position 0.1 [181.0, 28.0] is out of range",
            id="polygon-longitude-beyond-180",
        ),
        pytest.param(
            {
                "jurisdictions.0.polygon": {
                    "type": "MultiPolygon",
                    "coordinates": [box(112.0, 28.0, 112.4, 28.2)["coordinates"], [[[0, 0], [1, 95]]]],
                }
            },
            "jurisdictions.0.polygon.coordinates: position 1.0.1 [1, 95] is out of range",
            id="multipolygon-latitude-beyond-90",
        ),
        pytest.param(
            {"jurisdictions.3.parent": "nowhere"},
            "jurisdictions.3.parent: unknown jurisdiction 'nowhere'",
            id="unknown-parent",
        ),
    ],
)
def test_config_rejects_broken_config_naming_the_path(changes: dict[str, Any], expected: str) -> None:
    assert _refusal(_with(changes)).startswith(f"test config: {expected}")


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"colour": "red"}, "colour", id="top-level"),
        pytest.param({"correlation.radius": 300}, "correlation.radius", id="section"),
        pytest.param({"jurisdictions.3.colour": "red"}, "jurisdictions.3.colour", id="list-item"),
        pytest.param(
            {"policies.standard.steps.1.timeout": "60s"}, "policies.standard.steps.1.timeout", id="nested"
        ),
        pytest.param({"responders.2.home.alt": 12}, "responders.2.home.alt", id="position"),
    ],
)
def test_config_rejects_unknown_keys_naming_the_path(changes: dict[str, Any], path: str) -> None:
    assert _refusal(_with(changes)) == f"test config: {path}: unknown key"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90s", 90.0), ("2m", 120.0), (60, 60.0), ("1h", 3600.0), ("1.5s", 1.5), ("250ms", 0.25), ("45", 45.0)],
)
def test_config_parses_durations(written: str | int, seconds: float) -> None:
    config = parse_config(_with({"correlation.window": written}), "test config")

    assert config.correlation.window == seconds


@pytest.mark.parametrize("written", ["soon", "2 days", "-5s", 0])
def test_config_rejects_bad_durations(written: str | int) -> None:
    assert _refusal(_with({"correlation.window": written})).startswith("test config: correlation.window: ")


# --- dispatch config check ----------------------------------------------------------------


def test_cli_config_check_accepts_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "check", str(SHIPPED)])

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("ok: ")
    assert err == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            yaml.safe_dump(_with({"jurisdictions.3.colour": "red"}), allow_unicode=True).encode(),
            "jurisdictions.3.colour: unknown key",
            id="bad-key",
        ),
        pytest.param(b"jurisdictions: [unclosed\n  - id: x\n", "not valid YAML: ", id="broken-yaml"),
        pytest.param(b"just some words, not a config\n", "expected a mapping of config keys", id="prose"),
        pytest.param(b"", "expected a mapping of config keys", id="empty"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text", id="binary"),
    ],
)
def test_cli_config_check_refuses_a_bad_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)

    code = main(["config", "check", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {path}: {expected}")
    assert err.count("\n") == 1 and err.endswith("\n")


def test_cli_config_check_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"

    code = main(["config", "check", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"error: {path}: cannot read: No such file or directory\n"


@pytest.mark.parametrize(
    ("mqtt", "expected"),
    [
        pytest.param({"url": "http://broker"}, "mqtt.url: 'http://broker' is not a broker", id="not-mqtt"),
        pytest.param({"url": "mqtt://h:1883/x"}, "mqtt.url: 'mqtt://h:1883/x' is not a broker", id="path"),
        pytest.param({"prefix": "a/#"}, "mqtt.prefix: ", id="wildcard-prefix"),
        pytest.param({"frigate_prefix": "dispatch/frigate"}, "mqtt.frigate_prefix: ", id="nested-frigate"),
        pytest.param(
            {"sensor_gateways": ["grid-west-n-1"]},
            "responders.0.id: MQTT account 'grid-west-n-1' is already mqtt.sensor_gateways.0",
            id="same-account",
        ),
        pytest.param(
            {"username": "frigate"}, "mqtt.frigate_username: MQTT account 'frigate'", id="server-frigate"
        ),
    ],
)
def test_config_rejects_broken_mqtt_section_naming_the_path(mqtt: dict[str, Any], expected: str) -> None:
    data = _with({})
    data["mqtt"] = mqtt
    assert expected in _refusal(data)


def test_config_mqtt_is_off_unless_a_broker_is_named() -> None:
    assert parse_config(_with({}), "test config").mqtt.url is None

"""Simulated sensors' alarms: a gauge rising and falling, a flooded road, a detector going off. Pure."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from itertools import count

from dispatch.config.model import Config, Jurisdiction
from dispatch.simulate import texts
from dispatch.simulate.happenings import Origin, SensorReading
from dispatch.simulate.places import GaugeSite, Point, is_urban, place_name, stable_point

WATERLOGGING_THRESHOLD_CM = 15


def gauge_rise(
    config: Config,
    site: GaugeSite,
    point: Point,
    crossing: float,
    above: float,
    rng: random.Random,
    first_sequence: int,
) -> list[SensorReading]:
    """A station's readings from crossing its warning level until back under it, `above` later.

    The crest comes a third to three fifths of the way; some crests pass the guarantee level.
    A station reports only while above warning: it is an alarm, not the hydrological record.
    """
    crest = crossing + above * rng.uniform(0.35, 0.6)
    end = crossing + above
    over = (site.guarantee_m - site.warning_m) * rng.uniform(0.35, 1.4)
    every = random.Random(site.id).uniform(45.0, 75.0)  # each station has its own cadence
    found: list[SensorReading] = []
    previous: float | None = None
    at = crossing
    for sequence in count(first_sequence):
        if at > end:
            break
        if at <= crest:
            rise = over * math.sin(math.pi / 2 * (at - crossing) / (crest - crossing))
        else:
            rise = over * math.cos(math.pi / 2 * (at - crest) / (end - crest))
        level = round(site.warning_m + max(rise, 0.02) + rng.uniform(0.0, 0.01), 2)
        found.append(_gauge_reading(config, site, point, at, sequence, level, previous))
        previous = level
        at += every
    return found


def _gauge_reading(
    config: Config,
    site: GaugeSite,
    point: Point,
    at: float,
    sequence: int,
    level: float,
    previous: float | None,
) -> SensorReading:
    trend = "steady"
    if previous is not None and abs(level - previous) >= 0.01:
        trend = "rising" if level > previous else "falling"
    node = config.jurisdiction_by_id[site.jurisdiction]
    if level >= site.guarantee_m:
        severity, over = 2, f"超保证{level - site.guarantee_m:.2f} m"
    else:
        severity, over = 3, f"超警戒{level - site.warning_m:.2f} m"
    return SensorReading(
        at=round(at, 3),
        origin=Origin.GAUGE,
        source=site.id,
        sequence=sequence,
        category="water_level_warning",
        severity=severity,
        point=point,
        title=f"{site.name}水位{level:.2f} m，{over}",
        description=(
            f"{site.water}{site.name}（{place_name(config, node)}）实测水位{level:.2f} m，警戒水位"
            f"{site.warning_m:.2f} m，保证水位{site.guarantee_m:.2f} m，{texts.TREND_WORDS[trend]}。"
        ),
        attributes={
            "level_m": level,
            "warning_m": site.warning_m,
            "guarantee_m": site.guarantee_m,
            "trend": trend,
            "station": site.name,
            "water": site.water,
        },
    )


def flooding(
    config: Config,
    node: Jurisdiction,
    point: Point,
    at: float,
    rng: random.Random,
    serial: Iterator[int],
    origin: Origin,
) -> list[SensorReading]:
    """A road's waterlogging sensor through one rain cell: a reading a minute over the threshold."""
    readings = rng.randint(4, 9)
    peak = rng.uniform(22.0, 45.0)
    rain = rng.uniform(20.0, 70.0)
    found: list[SensorReading] = []
    for number in range(readings):
        shape = math.sin(math.pi * (number + 0.5) / readings)
        depth = round(WATERLOGGING_THRESHOLD_CM + (peak - WATERLOGGING_THRESHOLD_CM) * shape)
        found.append(
            SensorReading(
                at=round(at + 60.0 * number, 3),
                origin=origin,
                source=f"waterlog-{node.id}",
                sequence=next(serial),
                category="waterlogging",
                severity=3 if depth >= 30 else 4,
                point=point,
                title=f"{node.name}积水{depth} cm",
                description=(
                    f"{place_name(config, node)}中心路段积水深度{depth} cm（报警阈值"
                    f"{WATERLOGGING_THRESHOLD_CM} cm），降雨强度约{rain:.0f} mm/h。"
                ),
                attributes={
                    "depth_cm": depth,
                    "threshold_cm": WATERLOGGING_THRESHOLD_CM,
                    "rain_mm_h": round(rain, 1),
                },
            )
        )
    return found


def detector_alarm(
    config: Config,
    category: str,
    street: Jurisdiction,
    at: float,
    rng: random.Random,
    serial: Iterator[int],
    origin: Origin,
) -> list[SensorReading]:
    """One of the street's smoke (or gas) detectors going off, repeating while it lasts.

    Detectors are fixed: the same id is at the same point on every run, whatever the seed.
    """
    urban = is_urban(config, street)
    smoke = category == "smoke"
    kind = "smoke" if smoke else "gas"
    number = rng.randrange((3 if urban else 1) if smoke else (2 if urban else 1)) + 1
    source = f"{kind}-{street.id}-{number:02d}"
    point = stable_point(config, street, source)
    where = place_name(config, street)
    found: list[SensorReading] = []
    for step in range(rng.randint(1, 4) if smoke else rng.randint(2, 5)):
        moment = at + step * (20.0 if smoke else 30.0)
        attributes: dict[str, object]
        if smoke:
            value = round(0.12 + 0.12 * step + rng.uniform(0.0, 0.05), 2)
            title = f"{street.name}烟感报警（{number:02d}号探测器）"
            description = f"{where}独立式光电感烟探测器报警，减光率{value} dB/m。"
            attributes = {"obscuration_db_m": value, "detector": "photoelectric"}
            severity = 4
        else:
            value = round(min(60.0, 12.0 + 9.0 * step + rng.uniform(0.0, 6.0)), 1)
            title = f"{street.name}燃气浓度超限 {value}%LEL"
            description = f"{where}可燃气体探测器报警，天然气浓度{value}%LEL（低限10%，高限25%）。"
            attributes = {"lel_percent": value, "gas": "natural_gas"}
            severity = 3 if value >= 25 else 4
        found.append(
            SensorReading(
                at=round(moment, 3),
                origin=origin,
                source=source,
                sequence=next(serial),
                category=category,
                severity=severity,
                point=point,
                title=title,
                description=description,
                attributes=attributes,
            )
        )
    return found


def levee_piping(
    config: Config,
    site: GaugeSite,
    point: Point,
    at: float,
    rng: random.Random,
    serial: Iterator[int],
) -> list[SensorReading]:
    """Piping (管涌) behind the embankment by a gauged water: the seepage monitor's readings climb
    for a while, each an alarm of severity II, so the incident runs the critical ladder and goes
    up to the prefecture when a link is configured."""
    station = f"K{rng.randint(3, 28)}+{rng.randrange(0, 1000, 50):03d}"
    source = f"levee-{site.jurisdiction}"
    node = config.jurisdiction_by_id[site.jurisdiction]
    where = place_name(config, node)
    found: list[SensorReading] = []
    flow = rng.uniform(2.0, 5.0)
    for step in range(rng.randint(3, 6)):
        flow = round(flow * rng.uniform(1.2, 1.6), 1)
        found.append(
            SensorReading(
                at=round(at + 90.0 * step, 3),
                origin=Origin.LEVEE,
                source=source,
                sequence=next(serial),
                category="embankment_seepage",
                severity=2,
                point=point,
                title=f"{site.water}大堤{station}背水坡管涌险情",
                description=(
                    f"{where}{site.water}大堤桩号{station}背水坡出现管涌，渗压计读数突增，"
                    f"出水量约{flow} L/s并带出细沙，险情有扩大趋势，堤外水位接近保证水位。"
                ),
                attributes={"station": station, "flow_l_s": flow, "water": site.water, "sandy": True},
            )
        )
    return found

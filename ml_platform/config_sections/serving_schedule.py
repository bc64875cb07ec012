"""Off-hours scaling of an endpoint's instances: working hours from config, in the team's time zone.

Application Auto Scaling runs scheduled actions from a cron expression in an IANA time zone
(PutScheduledAction `Schedule` and `Timezone`). Two actions per endpoint: at `working_hours_stop`
the variant's capacity drops to the off-hours range, at `working_hours_start` it returns to the
endpoint's own range. Everything here is checked before any construct exists, with the field and
the reason, so a schedule AWS would refuse never reaches a deployment.
"""
from __future__ import annotations

import re
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from ml_platform.config_sections.base import Section

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names, special forms): the six fields of an Application Auto Scaling cron.
_FIELDS = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)
_CRON = re.compile(r"^cron\((?P<body>[^()]+)\)$")


def _value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + 1
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{text!r} is not in {low}-{high}" + (f" or one of {','.join(names)}" if names else ""))
    return int(text)


def _check_item(item: str, low: int, high: int, names: tuple[str, ...], special: str) -> None:
    """One comma-separated item: *, ?, n, n-m, n/step, */step, and the field's own L, W and # forms."""
    if item == "*" or (item == "?" and "?" in special) or (item == "L" and "L" in special):
        return
    if "#" in item and "#" in special:  # day-of-week#n: the n-th weekday of the month
        day, _, nth = item.partition("#")
        _value(day, low, high, names)
        _value(nth, 1, 5, ())
        return
    if item.endswith(("W", "L")) and item[-1] in special:  # 15W (nearest weekday), 6L (last Friday)
        _value(item[:-1], low, high, names)
        return
    base, _, step = item.partition("/")
    if step:
        _value(step, 1, high, ())
    if base == "*" and step:
        return
    start, _, end = base.partition("-")
    first = _value(start, low, high, names)
    if end and _value(end, low, high, names) < first:
        raise ValueError(f"range {base!r} runs backwards")


def aas_cron(value: str) -> str:
    """An Application Auto Scaling cron: `cron(minutes hours day-of-month month day-of-week year)`."""
    match = _CRON.match(value.strip())
    if match is None:
        raise ValueError("must be cron(minutes hours day-of-month month day-of-week year), "
                         "e.g. cron(0 8 ? * MON-FRI *)")
    parts = match.group("body").split()
    if len(parts) != len(_FIELDS):
        raise ValueError(f"Application Auto Scaling cron has 6 fields (minutes hours day-of-month month "
                         f"day-of-week year), got {len(parts)} in {value!r}")
    for part, (name, low, high, names, special) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            try:
                _check_item(item, low, high, names, special)
            except ValueError as error:
                raise ValueError(f"{name} field {part!r}: {error}") from None
    if (parts[2] == "?") == (parts[4] == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?' "
                         f"(e.g. cron(0 8 ? * MON-FRI *)), got {value!r}")
    return value.strip()


def iana_time_zone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)")
    return value


AasCron = Annotated[str, AfterValidator(aas_cron)]
TimeZoneName = Annotated[str, AfterValidator(iana_time_zone)]


class OffHoursScaling(Section):
    """Working hours of a non-prod endpoint; outside them its variant keeps only `min_instances`.

    `working_hours_start`/`working_hours_stop`: when the endpoint's own range (`endpoint.min_instances`
    to `endpoint.max_instances`) comes back and when it drops, local time in `time_zone`.
    `min_instances`: the off-hours floor (at least 1 for real-time endpoints, 0 allowed for async).
    `max_instances`: the off-hours ceiling; unset, real-time endpoints are held at `min_instances`
    and async endpoints keep `endpoint.max_instances` so that queued requests still get capacity.
    """

    time_zone: TimeZoneName = "UTC"
    working_hours_start: AasCron = "cron(0 7 ? * MON-FRI *)"
    working_hours_stop: AasCron = "cron(0 19 ? * MON-FRI *)"
    min_instances: int = Field(ge=0, le=100)
    max_instances: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _distinct(self) -> "OffHoursScaling":
        if self.working_hours_start == self.working_hours_stop:
            raise ValueError("working_hours_start and working_hours_stop are the same schedule")
        if self.max_instances is not None and self.max_instances < self.min_instances:
            raise ValueError("max_instances: the off-hours ceiling must be >= min_instances")
        return self


def off_hours_problems(off_hours: OffHoursScaling, *, mode: str, min_instances: int,
                       max_instances: int) -> list[str]:
    """What the endpoint's mode and range make impossible (field, reason); empty when it fits."""
    if mode == "serverless":
        return ["off_hours: a serverless endpoint has no instances to scale (SageMaker adds capacity per "
                "request and bills per request); remove off_hours, or use mode realtime or async"]
    if mode == "none":
        return ["off_hours: mode none deploys no endpoint to scale; remove off_hours"]
    problems = []
    if mode == "realtime" and off_hours.min_instances < 1:
        problems.append("off_hours.min_instances: a real-time endpoint cannot go below one instance (InvokeEndpoint "
                        "needs a running instance; only async endpoints scale to zero); use 1 or more")
    if off_hours.min_instances > min_instances:
        problems.append(f"off_hours.min_instances: {off_hours.min_instances} is above endpoint.min_instances "
                        f"({min_instances}): off hours would keep more instances than working hours")
    ceiling = off_hours.max_instances
    if ceiling is not None and ceiling > max_instances:
        problems.append(f"off_hours.max_instances: {ceiling} is above endpoint.max_instances ({max_instances})")
    if mode == "async" and ceiling == 0:
        problems.append("off_hours.max_instances: 0 would leave queued async requests without an instance until "
                        "working hours (the backlog step policy adds one from zero); use 1 or more, or unset")
    return problems

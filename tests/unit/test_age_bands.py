"""Age bands of the research tables: 15-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+ (the issue's
bands), by age on the day or in the year that places the record."""

from datetime import date

import pytest

from msc.research.catalogue import age_band


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (-1, None),
        (0, None),
        (14, None),
        (15, "15-17"),
        (17, "15-17"),
        (18, "18-24"),
        (24, "18-24"),
        (25, "25-34"),
        (44, "35-44"),
        (45, "45-54"),
        (64, "55-64"),
        (65, "65+"),
        (200, "65+"),
        (201, None),
    ],
)
def test_each_age_falls_in_its_band_and_none_outside_them(age, band):
    assert age_band(2000 - age, 2000) == band
    assert age_band(2000 - age, date(2000, 12, 31)) == band


def test_no_year_of_birth_has_no_band():
    assert age_band(None, 2000) is None

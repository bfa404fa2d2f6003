"""Tests of fast_lakarkontakt_share (methods reference §1.11); expected counts are by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from naravard_analysis.errors import DataWarning, ParameterError
from naravard_analysis.indicators.continuity import TARGETS, fast_lakarkontakt_share

T = pd.Timestamp("2022-12-31")


def _persons():
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4, 5, 6],
            "sex": ["F", "M", "F", "M", "F", "M"],
            "birth_date": pd.to_datetime(
                ["1940-06-01", "1950-01-01", "2000-12-31", "2023-03-01", "1930-01-01", "1985-07-07"]
            ),  # person 4 born after T
            "death_date": pd.to_datetime([None, None, None, None, "2022-06-01", None]),  # 5 dead
            "region_code": ["14", "14", "14", "13", "14", "13"],
            "special_housing": [True, False, False, False, True, False],
        }
    )


def _listings():
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 3, 5, 6, 99],
            "doctor_id": ["D1", None, "", "D3", "D5", "D6", "D9"],
            "unit_id": ["U1", "U1", "U2", "U3", "U1", "U2", "U1"],
            "start_date": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-01-01",
                    "2020-01-01",
                    "2023-01-01",
                    "2020-01-01",
                    "2020-01-01",
                    "2020-01-01",
                ]
            ),
            "end_date": pd.to_datetime([None, None, None, None, None, "2022-12-31", None]),
        }
    )


def test_share_by_hand_and_proxy_label():
    with pytest.warns(DataWarning, match="1 rows belong to persons absent"):
        out = fast_lakarkontakt_share(_listings(), _persons(), T)
    r = out.iloc[0]
    # residents at T: persons 1, 2, 3 (4 not born, 5 dead, 6's only listing closes on T without a
    # death: moved out, T is the first day not resident) = 3
    # named: 1 (D1); 2 no doctor; 3 empty doctor (D3 starts 2023)
    assert (r["n_population"], r["n_listed"], r["n_named_doctor"]) == (3, 3, 1)
    assert r["share_named_doctor_proxy"] == pytest.approx(1 / 3)
    assert out.attrs["denominator"] == "persons resident at date"
    assert out.attrs["n_alive_not_resident"] == {"2022-12-31": 1}
    with pytest.warns(DataWarning):
        alive = fast_lakarkontakt_share(_listings(), _persons(), T, residence="alive").iloc[0]
    # everybody alive: 1, 2, 3, 6; named 1 and 6 (end date T inclusive)
    assert (alive["n_population"], alive["n_listed"], alive["n_named_doctor"]) == (4, 4, 2)
    assert alive["share_named_doctor_proxy"] == pytest.approx(0.5)
    assert r["target"] == 0.55 and not r["meets_target"] and r["target_verified"]
    assert out.attrs["proxy"] is True and out.attrs["measure"].startswith("proxy")
    assert out.attrs["n_listed_unknown_person"] == 1
    assert "share_named_doctor_proxy" in out.columns and "fast_lakarkontakt" not in out.columns


def test_several_dates_and_open_listing_dates():
    with pytest.warns(DataWarning):
        out = fast_lakarkontakt_share(_listings(), _persons(), ["2022-12-31", "2023-06-30"])
    assert list(out["date"]) == [T, pd.Timestamp("2023-06-30")]
    r = out.iloc[1]
    # 2023-06-30: residents 1, 2, 3, 4 (unlisted, resident from birth) = 4; 6 moved out;
    # named: 1, 3 (D3 from 2023)
    assert (r["n_population"], r["n_named_doctor"]) == (4, 2)
    assert r["n_listed"] == 3  # 1, 2, 3 (4 not listed)
    assert out.attrs["n_resident_unlisted"] == 1


def test_by_region_age_group_unit_and_special_housing():
    # residence="alive" keeps person 6 (moved out on T) so every group below has people in it
    with pytest.warns(DataWarning):
        out = fast_lakarkontakt_share(
            _listings(), _persons(), T, by="region_code", residence="alive"
        )
    out = out.set_index("region_code")
    assert out.loc["14", "n_population"] == 3 and out.loc["14", "n_named_doctor"] == 1
    assert out.loc["13", "n_population"] == 1 and out.loc["13", "share_named_doctor_proxy"] == 1.0
    with pytest.warns(DataWarning):
        ages = fast_lakarkontakt_share(
            _listings(), _persons(), T, by="age_group", age_bins=(0, 65), residence="alive"
        ).set_index("age_group")
    # ages at T: 82 (p1), 72 (p2), 22 (p3, birthday on T counts), 37 (p6)
    assert ages.loc["0-64", "n_population"] == 2 and ages.loc["65+", "n_population"] == 2
    with pytest.warns(DataWarning):
        units = fast_lakarkontakt_share(
            _listings(), _persons(), T, by="unit_id", residence="alive"
        )
    assert units.set_index("unit_id").loc["U2", "n_population"] == 2  # persons 3 and 6
    with pytest.warns(DataWarning):
        sh = fast_lakarkontakt_share(_listings(), _persons(), T, by="special_housing")
    sh = sh.set_index("special_housing")
    assert sh.loc[True, "target"] == pytest.approx(0.80)
    assert not sh.loc[True, "target_verified"] and sh.loc[False, "target_verified"]
    assert TARGETS["named_doctor_special_housing"].verified is False


def test_population_denominator():
    pop = pd.DataFrame(
        {
            "year": 2022,
            "region_code": ["14", "14", "13"],
            "municipality_code": ["1480", "1401", "1280"],
            "sex": ["F", "M", "F"],
            "age": [30, 70, 40],
            "population": [10, 6, 4],
        }
    )
    with pytest.warns(DataWarning):
        out = fast_lakarkontakt_share(_listings(), _persons(), T, by="region_code", population=pop)
    out = out.set_index("region_code")
    assert out.loc["14", "n_population"] == 16 and out.loc["14", "n_named_doctor"] == 1
    assert out.loc["14", "share_named_doctor_proxy"] == pytest.approx(1 / 16)
    assert out.attrs["denominator"] == "population table"
    with pytest.warns(DataWarning), pytest.raises(ParameterError, match="no rows for year 2023"):
        fast_lakarkontakt_share(_listings(), _persons(), "2023-01-01", population=pop)
    with pytest.raises(ParameterError, match="by can only use"):
        fast_lakarkontakt_share(_listings(), _persons(), T, by="unit_id", population=pop)


def test_errors_and_empty_population():
    with pytest.raises(ParameterError, match="neither a persons column"):
        fast_lakarkontakt_share(_listings(), _persons(), T, by="nonsense")
    p = _persons().iloc[:0]
    lst = _listings().iloc[:0]
    out = fast_lakarkontakt_share(lst, p, T)
    assert out["n_population"].iloc[0] == 0 and np.isnan(out["share_named_doctor_proxy"].iloc[0])
    assert out["meets_target"].isna().all()


def test_residence_default_excludes_moved_out_and_not_yet_moved_in():
    persons = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "birth_date": pd.to_datetime(["1950-01-01"] * 4),
            "death_date": pd.to_datetime([None, None, None, "2021-05-01"]),
        }
    )
    listings = pd.DataFrame(
        {
            "person_id": [1, 2, 2, 3, 4],
            "doctor_id": ["D", "D", "D", "D", "D"],
            "unit_id": ["U"] * 5,
            # 1 stays; 2 changes unit then leaves on 2021-03-01; 3 moves in 2022-01-01;
            # 4 dies 2021-05-01 (closed listing with a death is not a move)
            "start_date": pd.to_datetime(
                ["2016-01-01", "2016-01-01", "2019-01-01", "2022-01-01", "2016-01-01"]
            ),
            "end_date": pd.to_datetime([None, "2018-12-31", "2021-03-01", None, "2021-05-01"]),
        }
    )
    out = fast_lakarkontakt_share(listings, persons, ["2021-02-28", "2021-03-01", "2021-12-31"])
    # 2021-02-28: 1, 2, 4 resident (3 not yet); 2021-03-01: 2 has left; 2021-12-31: 4 dead too
    assert out["n_population"].tolist() == [3, 2, 1]
    assert out.attrs["n_alive_not_resident"] == {
        "2021-02-28": 1, "2021-03-01": 2, "2021-12-31": 2
    }
    # explicit move columns in persons win over the listing history
    moved = persons.assign(
        move_in_date=pd.to_datetime([None, None, "2021-01-01", None]),
        move_out_date=pd.to_datetime([None, None, None, None]),
    )
    again = fast_lakarkontakt_share(listings, moved, "2021-12-31")
    assert again["n_population"].iloc[0] == 3  # 1, 2 (no move-out date given), 3
    with pytest.raises(ParameterError, match="residence must be one of"):
        fast_lakarkontakt_share(listings, persons, "2021-12-31", residence="registered")


def test_resident_denominator_recounts_the_population_table(demo_dir):
    """Independent count: the synthetic world's population table (residents on 31 December)."""
    from naravard_analysis.data import RegisterData

    data = RegisterData.from_dir(demo_dir)
    keys = ["municipality_code", "sex", "age_group"]
    dates = ["2016-12-31", "2019-12-31", "2023-12-31"]
    ours = fast_lakarkontakt_share(data.listings, data.persons, dates, by=keys)
    official = fast_lakarkontakt_share(
        data.listings, data.persons, dates, by=keys, population=data.population
    )
    both = ours.merge(official, on=["date", *keys], suffixes=("", "_table"), how="outer")
    assert len(both) == len(official)
    assert (both["n_population"] == both["n_population_table"]).all()
    assert sum(ours.attrs["n_alive_not_resident"].values()) > 0  # the world has emigrants

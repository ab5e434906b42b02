"""Normalisation, parameter extraction and parameter tokens: what the model sees of a description."""

from __future__ import annotations

import pytest

from service.features import (
    COLUMNS,
    extract_parameters,
    normalise,
    parameter_tokens,
    prepare,
    prepare_one,
    space_cjk,
)


def quantities(text: str) -> list[tuple[str, float]]:
    return [(p.quantity, round(p.value, 9)) for p in extract_parameters(text)]


def test_normalise_folds_width_case_and_unit_spellings() -> None:
    assert normalise("ＧａＮ　Ｗａｆｅｒ  2 INCH") == "gan wafer 2 inch"
    assert normalise("particles < 50 µm") == normalise("particles < 50 μm") == "particles < 50 um"
    assert normalise("粒径50微米") == "粒径50 um"
    assert normalise("200 × 200 mm, ≥ 97%") == "200 x 200 mm, >= 97%"


def test_traditional_and_japanese_characters_read_as_simplified() -> None:
    assert normalise("區熔鍺錠 5N，3公斤") == normalise("区熔锗锭 5N，3公斤")
    assert normalise("高純度酸化鉄") == "高纯度酸化铁"  # Japanese shinjitai 鉄 -> 铁


def test_normalise_drops_control_characters() -> None:
    assert normalise("gal\x00lium\u200b metal\x7f") == "gal lium metal"


def test_cjk_characters_become_words() -> None:
    assert space_cjk("区熔锗锭 5n") == "区 熔 锗 锭 5n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sm2Co17 magnet rings, 28 MGOe", [("energy_product_mgoe", 28.0)]),
        ("区熔锗锭 5N, 3 kg", [("purity_nines", 5.0), ("mass_g", 3000.0)]),
        ("consumer quadcopter 249 g, 4K camera", [("mass_g", 249.0)]),
        ("germanium 99.999%", [("percent", 99.999), ("purity_nines", 5.0)]),
        ("tellurium 6N5", [("purity_nines", 6.5)]),
        ("laser output 1.5 kW", [("power_w", 1500.0)]),
        ("output 100 mW", [("power_w", 0.1)]),
        ("transmitter 2 MW", [("power_w", 2_000_000.0)]),
        ("frequency exceeding 31,8 GHz", [("frequency_hz", 31.8e9)]),
        ("spindle 10,000 rpm", [("rotation_rpm", 10_000.0)]),
        ("最大持续功率超过16千瓦", [("power_w", 16_000.0)]),
        ("平均粒径小于等于50 μm", [("length_m", 5e-05)]),
        ("cell 300 Wh/kg", [("energy_density_whkg", 300.0)]),
        ("density 17.5 g/cm3", [("density_gcm3", 17.5)]),
        ("rated 70 MPa", [("pressure_pa", 70e6)]),
        ("sintered at 1500 °C", [("temperature_k", 1773.15)]),
        ("cryocooler 4.2 K", [("temperature_k", 4.2)]),
        ("centrifuge 20,000 x g", [("acceleration_g", 20_000.0)]),
        ("granules 0.4-1.6 mm", [("length_m", 0.0004), ("length_m", 0.0016)]),
        ("dislocation density <3x10^6 cm-2", []),
        ("cotton t-shirt", []),
    ],
)
def test_extract_parameters(text: str, expected: list[tuple[str, float]]) -> None:
    assert quantities(text) == expected


def test_parameters_keep_the_matched_text_and_unit() -> None:
    (param,) = extract_parameters("rings of 28 MGOe")
    assert (param.unit, param.text) == ("MGOe", "28 MGOe")


def test_tokens_place_a_value_on_both_sides_of_each_threshold() -> None:
    drone = set(parameter_tokens(extract_parameters("quadcopter 249 g")))
    heavier = set(parameter_tokens(extract_parameters("quadcopter 2.5 kg")))
    assert {"__mass_g__", "__mass_g_lt_250g__", "__mass_g_lt_1kg__"} <= drone
    assert {"__mass_g_ge_250g__", "__mass_g_ge_1kg__", "__mass_g_lt_25kg__"} <= heavier


def test_purity_tokens_separate_5n_from_4n() -> None:
    five = set(parameter_tokens(extract_parameters("germanium ingot 5N")))
    four = set(parameter_tokens(extract_parameters("germanium ingot 99.99%")))
    assert "__purity_nines_ge_5n__" in five
    assert "__purity_nines_lt_5n__" in four and "__purity_nines_ge_4n__" in four


def test_prepare_gives_one_row_of_three_strings_per_text() -> None:
    rows = prepare(["区熔锗锭 5N", "cotton"])
    assert rows.shape == (2, len(COLUMNS))
    assert tuple(rows[0]) == prepare_one("区熔锗锭 5N")
    assert rows[1, 2] == ""


@pytest.mark.parametrize("junk", ["", " ", "\x00\x01", "😀" * 50, "9" * 5000, "x10^999999 mm", "1e999 kg"])
def test_junk_never_raises(junk: str) -> None:
    prepare_one(junk)

"""Text featurisation shared by training and serving: normalisation, parameters, model input.

The saved pipelines hold only standard scikit-learn classes, so everything custom happens here,
before the pipeline: a description becomes three strings (``prepare``), one per vectoriser:
the normalised text (character n-grams), the same text with CJK characters spaced out (word
n-grams, so Chinese gets character uni- and bigrams) and binned parameter tokens such as
``__mass_lt_250g__`` that make values with units visible to a linear model.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import opencc

# Columns of the prepared model input, in order.
COLUMNS = ("char_text", "word_text", "param_text")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
# NFKC turns the micro sign into Greek mu; ASCII "u" is how most people type it.
_REPLACEMENTS = str.maketrans({
    "μ": "u", "×": "x", "≥": ">=", "≦": "<=", "≤": "<=", "≧": ">=", "–": "-", "—": "-",
    "−": "-", "～": "~", "。": ". ", "，": ", ", "、": ", ", "；": "; ", "：": ": ",
})


_T2S = opencc.OpenCC("t2s")
# Japanese shinjitai that OpenCC's t2s leaves alone, mapped to their Simplified forms.
SHINJITAI = str.maketrans(
    "発沢広鉄気関総験営売読転歩県図円楽薬検剤単様価圧渋浜徳恵栄覚挙処拡廃塩応桜蔵豊両竜亜悪駅険実従続戦択鋳鉱軽経継電",
    "发泽广铁气关总验营卖读转步县图圆乐药检剂单样价压涩滨德惠荣觉举处扩废盐应樱藏丰两龙亚恶驿险实从续战择铸矿轻经继电",
)


def simplified(text: str) -> str:
    """Traditional Chinese and Japanese shinjitai characters as Simplified Chinese."""
    return text if text.isascii() else _T2S.convert(text).translate(SHINJITAI)


def nfkc(text: str) -> str:
    """NFKC with control characters dropped and unit look-alikes unified; case is kept."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFKC", text)).translate(_REPLACEMENTS)
    return " ".join(text.split())  # collapses whitespace exactly as re.sub(r"\s+", " ") would


_UNIT_WORDS = {"micron": " um", "microns": " um", "微米": " um", "纳米": " nm", "毫米": " mm",
               "摄氏度": " °c", "℃": " °c"}
_UNIT_WORD_RE = re.compile(r"(?<=\d)\s*(microns?|微米|纳米|毫米|摄氏度|℃)")


def normalise(text: str) -> str:
    """The text every vectoriser sees: NFKC, Simplified, case-folded, unit spellings unified."""
    return _normalise_nfkc(nfkc(text))


def _normalise_nfkc(text: str) -> str:
    # Hong Kong, Taiwan and Japanese writers' characters read as the Simplified training text.
    text = _UNIT_WORD_RE.sub(lambda m: _UNIT_WORDS[m.group(1)], simplified(text).casefold())
    return " ".join(text.split())


def space_cjk(text: str) -> str:
    """Put spaces around CJK characters so word n-grams become character n-grams for Chinese."""
    if text.isascii():
        return text
    # Splitting on a captured pattern keeps the matches: joining puts a space on both sides.
    return " ".join(" ".join(_CJK.split(text)).split())


@dataclass(frozen=True, slots=True)
class Parameter:
    """A value with a unit read from a description, converted to the quantity's base unit."""

    quantity: str
    value: float
    unit: str
    text: str

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form for evidence."""
        return {"quantity": self.quantity, "value": self.value, "unit": self.unit, "text": self.text}


# (unit spellings, quantity, factor to the base unit). Spellings are matched case-sensitively
# first, so mW (milli) and MW (mega) stay apart; Chinese units follow the Latin ones.
_UNITS: tuple[tuple[tuple[str, ...], str, float], ...] = (
    (("MGOe", "mgoe", "MGOE"), "energy_product_mgoe", 1.0),
    (("kJ/m3", "kJ/m^3", "kj/m3"), "energy_product_mgoe", 1 / 7.958),
    (("Wh/kg", "wh/kg", "WH/KG"), "energy_density_whkg", 1.0),
    (("mAh/g", "mah/g"), "specific_capacity_mahg", 1.0),
    (("g/cm3", "g/cm^3", "g/cc", "g/cm³", "克/立方厘米"), "density_gcm3", 1.0),
    (("kg/m3", "kg/m^3"), "density_gcm3", 1e-3),
    (("r/min", "rpm", "RPM", "转/分", "转/分钟"), "rotation_rpm", 1.0),
    (("m/s", "米/秒"), "speed_ms", 1.0),
    (("km/h", "公里/小时"), "speed_ms", 1 / 3.6),
    (("deg/h", "°/h", "度/小时"), "drift_degh", 1.0),
    (("Gbps", "Gbit/s", "gbps", "Gb/s"), "data_rate_bps", 1e9),
    (("Mbps", "Mbit/s", "mbps", "Mb/s"), "data_rate_bps", 1e6),
    (("kbps", "kbit/s", "kb/s"), "data_rate_bps", 1e3),
    (("THz", "thz"), "frequency_hz", 1e12),
    (("GHz", "ghz", "Ghz", "吉赫", "千兆赫"), "frequency_hz", 1e9),
    (("MHz", "mhz", "Mhz", "兆赫"), "frequency_hz", 1e6),
    (("kHz", "khz", "KHz", "千赫"), "frequency_hz", 1e3),
    (("Hz", "hz", "赫兹"), "frequency_hz", 1.0),
    (("kWh", "kwh"), "energy_j", 3.6e6),
    (("Wh", "wh"), "energy_j", 3600.0),
    (("MJ",), "energy_j", 1e6),
    (("kJ", "kj"), "energy_j", 1e3),
    (("J",), "energy_j", 1.0),
    (("MW", "兆瓦"), "power_w", 1e6),
    (("kW", "kw", "KW", "千瓦"), "power_w", 1e3),
    (("mW", "毫瓦"), "power_w", 1e-3),
    (("W", "w", "瓦"), "power_w", 1.0),
    (("GPa", "gpa", "吉帕", "千兆帕"), "pressure_pa", 1e9),
    (("MPa", "mpa", "Mpa", "兆帕"), "pressure_pa", 1e6),
    (("kPa", "kpa", "千帕"), "pressure_pa", 1e3),
    (("mbar",), "pressure_pa", 100.0),
    (("bar", "bar(g)", "barg", "bara"), "pressure_pa", 1e5),
    (("psi", "PSI"), "pressure_pa", 6894.76),
    (("Torr", "torr"), "pressure_pa", 133.322),
    (("Pa", "pa", "帕"), "pressure_pa", 1.0),
    (("kV", "kv", "千伏"), "voltage_v", 1e3),
    (("mV",), "voltage_v", 1e-3),
    (("V", "伏"), "voltage_v", 1.0),
    (("kA",), "current_a", 1e3),
    (("mA",), "current_a", 1e-3),
    (("A", "安"), "current_a", 1.0),
    (("mT",), "induction_t", 1e-3),
    (("T", "特斯拉"), "induction_t", 1.0),
    (("kGy", "kgy"), "dose_gy", 1e3),
    (("Gy", "gy"), "dose_gy", 1.0),
    (("kN", "kn", "千牛"), "force_n", 1e3),
    (("nm", "nanometres", "nanometers"), "length_m", 1e-9),
    (("um", "µm", "micrometres", "micrometers"), "length_m", 1e-6),
    (("mm", "毫米"), "length_m", 1e-3),
    (("cm", "厘米"), "length_m", 1e-2),
    (("km", "千米", "公里"), "length_m", 1e3),
    (("m", "米", "metres", "meters"), "length_m", 1.0),
    (("mL", "ml", "毫升"), "volume_l", 1e-3),
    (("m3", "m^3", "立方米"), "volume_l", 1e3),
    (("L", "l", "litre", "litres", "liter", "liters", "升"), "volume_l", 1.0),
    (("mg", "毫克"), "mass_g", 1e-3),
    (("kg", "KG", "Kg", "公斤", "千克"), "mass_g", 1e3),
    (("tonnes", "tonne", "tons", "ton", "吨"), "mass_g", 1e6),
    (("g", "克"), "mass_g", 1.0),
    (("ns",), "time_s", 1e-9),
    (("us", "µs"), "time_s", 1e-6),
    (("ms",), "time_s", 1e-3),
    (("hours", "hour", "hrs", "hr", "h", "小时"), "time_s", 3600.0),
    (("minutes", "minute", "mins", "min", "分钟"), "time_s", 60.0),
    (("seconds", "sec", "s", "秒"), "time_s", 1.0),
    (("°C", "°c", "deg C", "degC", "摄氏度", "℃"), "temperature_k", 1.0),
    (("K",), "temperature_k", 1.0),
    (("bit", "bits", "位"), "resolution_bit", 1.0),
    (("wt%", "wt.%", "%", "％"), "percent", 1.0),
)
_UNIT_INFO = {spelling: (q, f) for spellings, q, f in _UNITS for spelling in spellings}
_NUMBER = r"\d+(?:[.,]\d+)?(?:\s*[x*]\s*10\^?\s*-?\d+|e-?\d+)?"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNIT_INFO, key=len, reverse=True))
_QUANTITY_RE = re.compile(
    rf"(?<![A-Za-z0-9_.])({_NUMBER})(?:\s*(?:-|~|to|至|到)\s*({_NUMBER}))?(\s*)({_UNIT_ALT})"
    r"(?![A-Za-z0-9²³^]|-\d)"
)
_DIGIT = re.compile(r"\d")
_PURITY_N = re.compile(r"(?<![A-Za-z0-9_.])(\d)\s?N(\d)?(?![A-Za-z0-9])")
_X_G = re.compile(r"(?<![A-Za-z0-9_.])(\d[\d,]*)\s*x\s*g(?![A-Za-z])")


def _to_float(raw: str) -> float | None:
    raw = raw.replace(" ", "")
    mantissa, exponent = raw, "0"
    if "10" in raw and ("x" in raw or "*" in raw):
        mantissa, exponent = [*re.split(r"[x*]10\^?", raw, maxsplit=1), "0"][:2]
    # "31,8" is a European decimal; "10,000" a thousands separator.
    if "," in mantissa and re.fullmatch(r"\d{1,3}(,\d{3})+", mantissa):
        mantissa = mantissa.replace(",", "")
    try:
        return float(mantissa.replace(",", ".")) * 10 ** float(exponent)
    except (ValueError, OverflowError):
        return None


def extract_parameters(text: str) -> list[Parameter]:
    """Values with units in a description (purity, MGOe, µm, GHz, kW, Wh/kg, kg, MPa, °C...)."""
    return _parameters_nfkc(nfkc(text))


def _parameters_nfkc(text: str) -> list[Parameter]:
    found: list[Parameter] = []
    if not _DIGIT.search(text):
        return found
    # The substring tests skip a regex scan for most descriptions (no 'N', or no 'x' and 'g').
    for match in _PURITY_N.finditer(text) if "N" in text else ():
        nines = int(match.group(1)) + (int(match.group(2)) / 10 if match.group(2) else 0.0)
        if 2 <= nines <= 9:
            found.append(Parameter("purity_nines", nines, "N", match.group(0)))
    for match in _X_G.finditer(text) if "x" in text and "g" in text else ():
        value = _to_float(match.group(1).replace(",", ""))
        if value is not None and math.isfinite(value):
            found.append(Parameter("acceleration_g", value, "x g", match.group(0)))
    for match in _QUANTITY_RE.finditer(text):
        unit = match.group(4)
        quantity, factor = _UNIT_INFO[unit]
        if unit == "K" and not match.group(3):
            continue  # "4K camera" is a resolution; kelvin is written with a space

        for raw in filter(None, (match.group(1), match.group(2))):
            value = _to_float(raw)
            if value is None or not math.isfinite(value):
                continue
            if quantity == "temperature_k" and unit != "K":
                value += 273.15
            else:
                value *= factor
            found.append(Parameter(quantity, value, unit, match.group(0)))
            if quantity == "percent" and 99.0 <= value < 100.0:
                nines = -math.log10(100.0 - value) + 2
                found.append(Parameter("purity_nines", round(nines, 2), unit, match.group(0)))
    return found


# Thresholds per quantity (base units) with readable labels; each parameter emits one
# ge/lt token per threshold so a linear model can learn a cut anywhere on the grid.
THRESHOLDS: dict[str, tuple[tuple[str, float], ...]] = {
    "length_m": (("10nm", 1e-8), ("100nm", 1e-7), ("1um", 1e-6), ("10um", 1e-5),
                 ("60um", 6e-5), ("500um", 5e-4), ("1mm", 1e-3), ("1cm", 1e-2), ("10cm", 0.1),
                 ("1m", 1.0), ("10m", 10.0), ("100m", 100.0), ("1km", 1e3), ("5km", 5e3),
                 ("300km", 3e5)),
    "mass_g": (("1g", 1.0), ("250g", 250.0), ("1kg", 1e3), ("25kg", 2.5e4), ("150kg", 1.5e5),
               ("1t", 1e6)),
    "frequency_hz": (("1khz", 1e3), ("1mhz", 1e6), ("100mhz", 1e8), ("1ghz", 1e9),
                     ("3ghz", 3e9), ("10ghz", 1e10), ("43ghz", 4.35e10), ("100ghz", 1e11)),
    "power_w": (("1w", 1.0), ("10w", 10.0), ("100w", 100.0), ("1kw", 1e3), ("1500w", 1.5e3),
                ("16kw", 1.6e4), ("100kw", 1e5), ("1mw", 1e6)),
    "energy_density_whkg": (("150", 150.0), ("250", 250.0), ("300", 300.0), ("350", 350.0)),
    "specific_capacity_mahg": (("150", 150.0), ("156", 156.0), ("200", 200.0)),
    "density_gcm3": (("1.73", 1.73), ("2.5", 2.5), ("10", 10.0), ("17.5", 17.5)),
    "pressure_pa": (("1kpa", 1e3), ("1bar", 1e5), ("1mpa", 1e6), ("10mpa", 1e7),
                    ("100mpa", 1e8), ("1gpa", 1e9), ("5gpa", 5e9)),
    "temperature_k": (("77k", 77.0), ("200k", 200.0), ("0c", 273.15), ("100c", 373.15),
                      ("500c", 773.15), ("1000c", 1273.15), ("1500c", 1773.15),
                      ("2000c", 2273.15)),
    "rotation_rpm": (("1k", 1e3), ("10k", 1e4), ("30k", 3e4), ("100k", 1e5)),
    "speed_ms": (("10", 10.0), ("100", 100.0), ("300", 300.0), ("1000", 1e3)),
    "drift_degh": (("0.001", 1e-3), ("0.01", 1e-2), ("0.1", 0.1), ("1", 1.0)),
    "data_rate_bps": (("1m", 1e6), ("100m", 1e8), ("1g", 1e9), ("10g", 1e10)),
    "energy_j": (("1j", 1.0), ("1kj", 1e3), ("1mj", 1e6), ("1kwh", 3.6e6)),
    "voltage_v": (("1v", 1.0), ("100v", 100.0), ("1kv", 1e3), ("10kv", 1e4), ("100kv", 1e5)),
    "current_a": (("1a", 1.0), ("100a", 100.0), ("1ka", 1e3)),
    "induction_t": (("0.1t", 0.1), ("1t", 1.0), ("1.5t", 1.5), ("5t", 5.0)),
    "dose_gy": (("1kgy", 1e3), ("5kgy", 5e3), ("100kgy", 1e5)),
    "force_n": (("1kn", 1e3), ("10kn", 1e4), ("100kn", 1e5)),
    "volume_l": (("1ml", 1e-3), ("1l", 1.0), ("20l", 20.0), ("100l", 100.0), ("1m3", 1e3)),
    "time_s": (("1ns", 1e-9), ("1us", 1e-6), ("1ms", 1e-3), ("1s", 1.0), ("1min", 60.0),
               ("30min", 1800.0), ("1h", 3600.0), ("2h", 7200.0), ("10h", 36000.0)),
    "resolution_bit": (("8bit", 8.0), ("12bit", 12.0), ("14bit", 14.0), ("16bit", 16.0)),
    "purity_nines": (("2n", 2.0), ("3n", 3.0), ("4n", 4.0), ("5n", 5.0), ("6n", 6.0),
                     ("7n", 7.0)),
    "percent": (("10", 10.0), ("50", 50.0), ("80", 80.0), ("90", 90.0), ("97", 97.0)),
    "energy_product_mgoe": (("10", 10.0), ("20", 20.0), ("28", 28.0), ("35", 35.0),
                            ("45", 45.0)),
    "acceleration_g": (("1000", 1e3), ("10000", 1e4), ("100000", 1e5)),
}


def parameter_tokens(params: Iterable[Parameter]) -> list[str]:
    """Binned tokens for parameters, e.g. ``__purity_nines_ge_5n__``, ``__mass_g_lt_250g__``."""
    tokens: list[str] = []
    for param in params:
        name = param.quantity
        tokens.append(f"__{name}__")
        for label, threshold in THRESHOLDS.get(param.quantity, ()):
            side = "ge" if param.value >= threshold * (1 - 1e-9) else "lt"
            tokens.append(f"__{name}_{side}_{label}__")
    return tokens


def prepare_with_parameters(text: str) -> tuple[tuple[str, str, str], list[Parameter]]:
    """The three model-input strings of a description and the parameters read from it."""
    folded = nfkc(text)
    norm = _normalise_nfkc(folded)
    params = _parameters_nfkc(folded)
    return (norm, space_cjk(norm), " ".join(parameter_tokens(params))), params


def prepare_one(text: str) -> tuple[str, str, str]:
    """One description as the three model-input strings (see ``COLUMNS``)."""
    return prepare_with_parameters(text)[0]


def prepare(texts: Sequence[str]) -> np.ndarray:
    """Descriptions as the pipelines' input: an object array of shape (n, 3)."""
    out = np.empty((len(texts), len(COLUMNS)), dtype=object)
    for i, text in enumerate(texts):
        out[i] = prepare_one(text)
    return out

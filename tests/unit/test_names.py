import pytest

from msc.migrants.names import search_key, to_latin
from msc.migrants.queries import name_score


@pytest.mark.parametrize(
    ("written", "latin"),
    [
        ("Ђорђевић", "Đorđević"),
        ("Љубица Њежић", "Ljubica Nježić"),
        ("ЉУБА", "LJUBA"),
        ("Џевад", "Dževad"),
        ("Ѓорѓи Ќосевски", "Gjorgji Kjosevski"),
        ("Щукин Юрий", "Shchukin Iurii"),  # Russian, ICAO 9303
        ("Рыжова", "Ryzhova"),  # ы marks Russian
        ("Жанна Хорошева", "Žanna Horoševa"),  # no Russian-only letter: read as Serbian
        ("Đorđević", "Đorđević"),  # Latin stays as written
        ("Gëzim Çela", "Gëzim Çela"),
        ("", ""),
    ],
)
def test_to_latin(written, latin):
    assert to_latin(written) == latin


@pytest.mark.parametrize(
    "spelling", ["Ђорђевић", "Đorđević", "Djordjevic", "Dordevic", "DJORDJEVIĆ", "đorđević"]
)
def test_one_key_for_every_spelling_of_a_serbian_name(spelling):
    assert search_key(spelling) == "dordevic"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Šehu", "Shehu"),
        ("Gëzim Çela", "Gezim Cela"),
        ("Xhafa", "Džafa"),
        ("Krasniqi", "Krasnići"),
        ("Чолаковић", "Cholakovic"),
        ("Жарко", "Zharko"),
        ("Хасан", "Khasan"),
        ("Цветковић", "Tsvetkovic"),
        ("Јована", "Yovana"),
    ],
)
def test_keys_match_across_scripts_and_transcriptions(a, b):
    assert search_key(a) == search_key(b)


def test_typos_score_high_and_different_names_low():
    assert name_score(["petrovc"], ["petrovic", "jelena"]) >= 80
    assert name_score(["jelna", "petrovic"], ["petrovic", "jelena"]) >= 80
    assert name_score(["pet"], ["petrovic"]) == 100  # a prefix
    assert name_score(["markovic"], ["petrovic", "jelena"]) < 80
    assert name_score(["jelena", "markovic"], ["petrovic", "jelena"]) < 80  # every word must match

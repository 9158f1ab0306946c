"""The six Western Balkan MSC countries, their regions, centres and staff (fictitious people)."""

from __future__ import annotations

# (country, region code, region name): ISO 3166-2 codes where they exist; Kosovo (XK) has none, so
# its districts carry codes of our own.
REGIONS = [
    ("AL", "AL-11", "Tiranë"),
    ("AL", "AL-02", "Durrës"),
    ("AL", "AL-10", "Shkodër"),
    ("BA", "BA-BIH", "Federacija Bosne i Hercegovine"),
    ("BA", "BA-SRP", "Republika Srpska"),
    ("BA", "BA-BRC", "Brčko distrikt"),
    ("XK", "XK-PR", "Prishtinë / Priština"),
    ("XK", "XK-PZ", "Prizren"),
    ("XK", "XK-PE", "Pejë / Peć"),
    ("ME", "ME-16", "Podgorica"),
    ("ME", "ME-02", "Bar"),
    ("ME", "ME-04", "Bijelo Polje"),
    ("MK", "MK-SK", "Skopje"),
    ("MK", "MK-609", "Tetovo"),
    ("MK", "MK-501", "Bitola"),
    ("RS", "RS-00", "Beograd"),
    ("RS", "RS-06", "Južnobački okrug"),
    ("RS", "RS-20", "Nišavski okrug"),
]

# (country, code, name, region code, host office, time zone)
CENTRES = [
    (
        "AL",
        "TIR",
        "MSC Tirana",
        "AL-11",
        "National Agency for Employment and Skills, Tirana",
        "Europe/Tirane",
    ),
    (
        "AL",
        "SHK",
        "MSC Shkodër",
        "AL-10",
        "National Agency for Employment and Skills, Shkodër",
        "Europe/Tirane",
    ),
    (
        "BA",
        "SA1",
        "MSC Sarajevo",
        "BA-BIH",
        "Employment Service of the Federation of BiH, Sarajevo",
        "Europe/Sarajevo",
    ),
    (
        "BA",
        "BL1",
        "MSC Banja Luka",
        "BA-SRP",
        "Employment Service of Republika Srpska, Banja Luka",
        "Europe/Sarajevo",
    ),
    (
        "XK",
        "PR1",
        "MSC Prishtina",
        "XK-PR",
        "Employment Agency, Prishtina regional office",
        "Europe/Belgrade",
    ),
    (
        "XK",
        "PZ1",
        "MSC Prizren",
        "XK-PZ",
        "Employment Agency, Prizren regional office",
        "Europe/Belgrade",
    ),
    (
        "ME",
        "PG1",
        "MSC Podgorica",
        "ME-16",
        "Employment Agency of Montenegro, Podgorica bureau",
        "Europe/Podgorica",
    ),
    (
        "ME",
        "BP1",
        "MSC Bijelo Polje",
        "ME-04",
        "Employment Agency of Montenegro, Bijelo Polje bureau",
        "Europe/Podgorica",
    ),
    (
        "MK",
        "SK1",
        "MSC Skopje",
        "MK-SK",
        "Employment Service Agency, Skopje centre",
        "Europe/Skopje",
    ),
    (
        "MK",
        "TE1",
        "MSC Tetovo",
        "MK-609",
        "Employment Service Agency, Tetovo centre",
        "Europe/Skopje",
    ),
    (
        "RS",
        "BG1",
        "MSC Belgrade",
        "RS-00",
        "National Employment Service, Belgrade branch",
        "Europe/Belgrade",
    ),
    (
        "RS",
        "NS1",
        "MSC Novi Sad",
        "RS-06",
        "National Employment Service, Novi Sad branch",
        "Europe/Belgrade",
    ),
    ("RS", "NI1", "MSC Niš", "RS-20", "National Employment Service, Niš branch", "Europe/Belgrade"),
]

# Staff names by country (counsellor, supervisor), one pair per centre in CENTRES order.
STAFF = {
    "TIR": (("Arta Hoxha", "sq"), ("Besnik Shehu", "sq")),
    "SHK": (("Elira Gjoka", "sq"), ("Ardian Marku", "sq")),
    "SA1": (("Amra Hodžić", "bs"), ("Emir Begović", "bs")),
    "BL1": (("Jovana Savić", "sr_Cyrl"), ("Dragan Kovačević", "sr_Latn")),
    "PR1": (("Vlora Krasniqi", "sq"), ("Driton Gashi", "sq")),
    "PZ1": (("Blerta Berisha", "sq"), ("Faton Morina", "sq")),
    "PG1": (("Milica Vuković", "sr_Latn"), ("Nikola Radulović", "sr_Latn")),
    "BP1": (("Sanja Bulatović", "sr_Latn"), ("Almir Kajević", "bs")),
    "SK1": (("Ana Stojanovska", "mk"), ("Goran Trajkovski", "mk")),
    "TE1": (("Merita Rexhepi", "sq"), ("Dejan Nikolovski", "mk")),
    "BG1": (("Jelena Petrović", "sr_Cyrl"), ("Marko Nikolić", "sr_Latn")),
    "NS1": (("Ivana Jovanović", "sr_Latn"), ("Stefan Popović", "sr_Latn")),
    "NI1": (("Tijana Stojanović", "sr_Cyrl"), ("Miloš Ilić", "sr_Cyrl")),
}

ADMIN = ("admin", "Lejla Mehmedović", "en")
RESEARCHERS = [("researcher", "Aleksandra Ristić", "en")]

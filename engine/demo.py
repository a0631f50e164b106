"""Demo data for ``kalem seed-demo``: the groups of the domain guide (section 5.1), the target
directorates, two or more users per staff group (password ``demo``), and every process under
``processes/``. Idempotent: running it again changes nothing that is already there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions, people
from engine.actors import Actor
from engine.config import ROOT

PROCESSES_DIR = ROOT / "processes"
DEMO_PASSWORD = "demo"

ROLE_GROUPS: dict[str, str] = {
    "baskan": "Başkan",
    "baskan_vekili": "Başkan Vekili",
    "baskan_yardimcisi": "Başkan Yardımcısı",
    "ozel_kalem_muduru": "Özel Kalem Müdürü",
    "ozel_kalem_sef": "Özel Kalem Şefi",
    "idari_isler": "İdari İşler Personeli",
    "halkla_iliskiler": "Basın Yayın ve Halkla İlişkiler (CİMER/HİM)",
    "bilgi_edinme_birimi": "Bilgi Edinme Birimi",
    "sekretarya": "Sekretarya",
    "protokol": "Protokol",
    "mudurluk_muduru": "Müdürlük Müdürü",
    "mudurluk_personeli": "Müdürlük Personeli",
    "gerceklestirme_gorevlisi": "Gerçekleştirme Görevlisi",
    "muayene_kabul": "Muayene ve Kabul",
    "destek_hizmetleri_birimi": "Destek Hizmetleri (satın alma)",
    "arsiv_sorumlusu": "Arşiv Sorumlusu",
    "imha_komisyonu": "Ayıklama ve İmha Komisyonu",
    "kvkk_sorumlusu": "KVKK Sorumlusu",
    "denetci": "Denetçi",
    "surec_tasarimcisi": "Süreç Tasarımcısı",
    "sistem_yoneticisi": "Sistem Yöneticisi",
    "entegrasyon": "Entegrasyon Hesapları (EBYS, e-Belediye)",
}

DIRECTORATES: dict[str, str] = {
    "fen_isleri": "Fen İşleri Müdürlüğü",
    "zabita": "Zabıta Müdürlüğü",
    "temizlik_isleri": "Temizlik İşleri Müdürlüğü",
    "park_bahceler": "Park ve Bahçeler Müdürlüğü",
    "imar": "İmar ve Şehircilik Müdürlüğü",
    "mali_hizmetler": "Mali Hizmetler Müdürlüğü",
    "destek_hizmetleri": "Destek Hizmetleri Müdürlüğü",
    "yazi_isleri": "Yazı İşleri Müdürlüğü",
    "bilgi_islem": "Bilgi İşlem Müdürlüğü",
    "kultur_sosyal": "Kültür ve Sosyal İşler Müdürlüğü",
}

# username, full name, title, [(group, is_manager)]
ROLE_USERS: list[tuple[str, str, str, list[tuple[str, bool]]]] = [
    ("baskan", "Ahmet Yılmaz", "Belediye Başkanı", [("baskan", False)]),
    ("baskan.vekili", "Elif Şahin", "Başkan Vekili", [("baskan_vekili", False), ("baskan", False)]),
    ("by.kaya", "Mehmet Kaya", "Başkan Yardımcısı", [("baskan_yardimcisi", True)]),
    ("by.demir", "Zeynep Demir", "Başkan Yardımcısı", [("baskan_yardimcisi", True)]),
    (
        "ok.mudur",
        "Ayşe Çelik",
        "Özel Kalem Müdürü",
        [
            ("ozel_kalem_muduru", True),
            ("ozel_kalem_sef", True),
            ("idari_isler", True),
            ("halkla_iliskiler", True),
            ("bilgi_edinme_birimi", True),
            ("sekretarya", True),
            ("protokol", True),
            ("gerceklestirme_gorevlisi", True),
        ],
    ),
    ("ok.mudur2", "Hasan Arslan", "Özel Kalem Müdür Vekili", [("ozel_kalem_muduru", True)]),
    ("ok.sef", "Fatma Öztürk", "Özel Kalem Şefi", [("ozel_kalem_sef", False), ("idari_isler", True)]),
    ("ok.sef2", "Emre Aydın", "Özel Kalem Şefi", [("ozel_kalem_sef", False)]),
    ("idari1", "Ali Koç", "Memur", [("idari_isler", False), ("gerceklestirme_gorevlisi", False)]),
    ("idari2", "Selin Yıldız", "Memur", [("idari_isler", False), ("gerceklestirme_gorevlisi", False)]),
    (
        "hi1",
        "Burak Güneş",
        "Halkla İlişkiler Uzmanı",
        [("halkla_iliskiler", False), ("bilgi_edinme_birimi", False)],
    ),
    (
        "hi2",
        "Derya Aksoy",
        "Halkla İlişkiler Uzmanı",
        [("halkla_iliskiler", False), ("bilgi_edinme_birimi", False)],
    ),
    ("sekreter1", "Gül Erdem", "Sekreter", [("sekretarya", False)]),
    ("sekreter2", "Cem Polat", "Sekreter", [("sekretarya", False)]),
    ("protokol1", "İpek Kılıç", "Protokol Sorumlusu", [("protokol", False)]),
    ("protokol2", "Irmak Işık", "Protokol Sorumlusu", [("protokol", False)]),
    ("muayene1", "Kemal Bulut", "Muayene Kabul Görevlisi", [("muayene_kabul", False)]),
    ("muayene2", "Nur Kaplan", "Muayene Kabul Görevlisi", [("muayene_kabul", False)]),
    ("satinalma1", "Oğuz Tekin", "Satın Alma Memuru", [("destek_hizmetleri_birimi", False)]),
    ("satinalma2", "Pınar Uçar", "Satın Alma Memuru", [("destek_hizmetleri_birimi", False)]),
    ("arsiv1", "Rıza Ekinci", "Arşiv Sorumlusu", [("arsiv_sorumlusu", False), ("imha_komisyonu", False)]),
    ("arsiv2", "Sevgi Özkan", "Arşiv Memuru", [("arsiv_sorumlusu", False), ("imha_komisyonu", False)]),
    ("kvkk1", "Tuba Sarı", "KVKK Sorumlusu", [("kvkk_sorumlusu", False)]),
    ("kvkk2", "Umut Karaca", "KVKK Uzmanı", [("kvkk_sorumlusu", False)]),
    ("denetci1", "Volkan Eren", "Denetçi", [("denetci", False)]),
    ("denetci2", "Yasemin Tan", "Denetçi", [("denetci", False)]),
    ("tasarimci1", "Zafer Acar", "Süreç Tasarımcısı", [("surec_tasarimcisi", False)]),
    ("tasarimci2", "Aylin Doğan", "Süreç Tasarımcısı", [("surec_tasarimcisi", False)]),
    ("admin", "Sistem Yöneticisi", "Sistem Yöneticisi", [("sistem_yoneticisi", True)]),
    ("admin2", "Yedek Sistem Yöneticisi", "Sistem Yöneticisi", [("sistem_yoneticisi", True)]),
    ("ebys", "EBYS Entegrasyonu", "Entegrasyon Hesabı", [("entegrasyon", False)]),
    ("ebelediye", "e-Belediye Entegrasyonu", "Entegrasyon Hesabı", [("entegrasyon", False)]),
]


def directorate_users() -> list[tuple[str, str, str, list[tuple[str, bool]]]]:
    """Each directorate gets a Müdür (manager of the directorate group) and a clerk."""
    users = []
    for code, name in DIRECTORATES.items():
        short = code.replace("_", "")
        unit = name.replace(" Müdürlüğü", "")
        users.append((f"{short}.mudur", f"{unit} Müdürü", f"{name} Müdürü", [(code, True), ("mudurluk_muduru", False)]))
        users.append(
            (
                f"{short}.memur",
                f"{unit} Memuru",
                f"{name} Memuru",
                [(code, False), ("mudurluk_personeli", False)],
            )
        )
    if "mali_hizmetler" in DIRECTORATES:
        users.append(("mali.muhasebe", "Muhasebe Yetkilisi", "Muhasebe Yetkilisi", [("mali_hizmetler", False)]))
    return users


def all_users() -> list[tuple[str, str, str, list[tuple[str, bool]]]]:
    return ROLE_USERS + directorate_users()


def seed(session: Session, *, deploy_processes: bool = True) -> list[str]:
    """Create or update the demo groups and users, deploy ``processes/``; returns deployed versions."""
    groups = {code: people.ensure_group(session, code, name, "role") for code, name in ROLE_GROUPS.items()}
    groups |= {code: people.ensure_group(session, code, name, "directorate") for code, name in DIRECTORATES.items()}
    password_hash: str | None = None
    for username, full_name, title, memberships in all_users():
        existing = people.find_user(session, username)
        if existing is None and password_hash is None:
            password_hash = PasswordHasher().hash(DEMO_PASSWORD)
        user = people.ensure_user(
            session,
            username,
            full_name,
            email=f"{username}@kalem.local",
            title=title,
            password_hash=password_hash if existing is None else None,
        )
        for code, is_manager in memberships:
            people.set_membership(session, user, groups[code], is_manager=is_manager)
    if not deploy_processes:
        return []
    files = process_files(PROCESSES_DIR)
    if not files:
        return []
    return [str(d) for d in definitions.deploy(session, Actor.system(), files) if d.kind == "process"]


def process_files(folder: Path) -> list[tuple[str, bytes]]:
    patterns = ("*.bpmn", "*.dmn", "*.form.json")
    paths = sorted({p for pattern in patterns for p in folder.rglob(pattern)})
    return [(p.name, p.read_bytes()) for p in paths]


# Sample cases for ``kalem seed-demo --with-cases`` (what ``make run`` shows): process key, business
# key, start data. Each is started by the first demo user the process lets start it.
DEMO_CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("f1_dilekce", None, {}),
    ("f1_dilekce", None, {}),
    ("f2_cimer", "CIMER-2026000101", {"cimer_no": "2026000101"}),
    ("f3_him", "HIM-153-2026-12", {"him_no": "153-2026-12"}),
    ("f4_bilgi_edinme", None, {}),
    ("f5_baskan_onayi", None, {"gonderen_birim": "fen_isleri"}),
    ("f6_temsil_gideri", None, {}),
    ("f7_randevu", None, {}),
    ("f8_davetiye", None, {}),
    ("f9_celenk_tebrik", None, {}),
    ("f10_talimat_takibi", None, {}),
]


def seed_cases(session: Session) -> list[int]:
    """Start the sample cases once (nothing when any case exists); returns their ids."""
    from engine import starting
    from engine.models import ProcessInstance

    if session.scalar(select(ProcessInstance.id).limit(1)) is not None:
        return []
    started = []
    for key, business_key, data in DEMO_CASES:
        if definitions.find_latest(session, key) is None:
            continue
        for username, *_rest in all_users():
            actor = people.actor_for(session, username)
            option = starting.get_startable_or_none(session, actor, key)
            if option is not None:
                with session.begin_nested():
                    result = starting.start(session, actor, key, business_key=business_key, data=dict(data))
                started.append(result.instance.id)
                break
    return started

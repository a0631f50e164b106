"""Turkish messages for invalid form data, and how values are shown inside them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from forms.values import ISTANBUL

REQUIRED = "Bu alan zorunludur."
NOT_TEXT = "Metin olmalı."
SINGLE_LINE = "Tek satır olmalı; satır sonu içeremez."
CONTROL_CHAR = "Geçersiz (kontrol) karakter içeriyor."
MAX_LENGTH = "En fazla {n} karakter olabilir."
MIN_LENGTH = "En az {n} karakter olmalı."
PATTERN = "Beklenen biçime uymuyor."
INTEGER = "Geçerli bir tam sayı değil."
DECIMAL = "Geçerli bir ondalık sayı değil."
DECIMAL_PLACES = "En fazla {n} ondalık basamak olabilir."
NO_DECIMAL_PLACES = "Ondalık basamak içeremez."
DECIMAL_TOO_LARGE = "Sayı çok büyük."
MIN_VALUE = "En az {v} olmalı."
MAX_VALUE = "En fazla {v} olabilir."
DATE = "Geçerli bir tarih değil (ör. 2024-12-31 ya da 31.12.2024)."
DATETIME = "Geçerli bir tarih ve saat değil (ör. 2024-12-31T14:30 ya da 31.12.2024 14:30)."
DATE_MIN = "{v} tarihinden önce olamaz."
DATE_MAX = "{v} tarihinden sonra olamaz."
FUTURE = "Gelecekte bir tarih olamaz."
PAST = "Geçmişte bir tarih olamaz."
BOOLEAN = "Evet ya da hayır (true/false) olmalı."
CHOICE = "Seçeneklerden biri olmalı: {choices}"
MULTICHOICE = "Seçenek listesi olmalı."
EMAIL = "Geçerli bir e-posta adresi değil."
PHONE = "Geçerli bir telefon numarası değil."
TCKN = "Geçerli bir T.C. kimlik numarası değil."
USER = "Geçerli bir kullanıcı adı değil."
UNIT = "Geçerli bir birim kodu değil."
FILE = "Geçerli bir dosya referansı değil: 'filename' ile 'attachment_id' ya da 'sha256' gerekli."
FILE_NAME = "Geçerli bir dosya adı değil."
FILE_ID = "Geçerli bir ek numarası ('attachment_id') değil."
FILE_SHA256 = "Geçerli bir SHA-256 özeti değil."
FILE_SIZE = "Dosya boyutu ('size') negatif olmayan bir tam sayı olmalı."
FILE_EXTRA = "Dosya referansındaki '{key}' değeri basit bir değer (metin, sayı) olmalı."
TYPENAME = "'typename' adlı anahtar kullanılamaz."
TOO_DEEP = "Değer çok derin iç içe yapı içeriyor."
UNKNOWN = "Bilinmeyen alan: '{key}'."
EMPTY_DEFAULT = "Boş bir değer olamaz."
NOT_MAPPING = "Form verisi bir nesne (anahtar-değer eşlemesi) olmalı."


def show_decimal(value: Decimal | int) -> str:
    """A number as Turkish readers write it: ``1234,5``."""
    return str(value).replace(".", ",")


def show_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def show_datetime(value: datetime) -> str:
    return value.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M")

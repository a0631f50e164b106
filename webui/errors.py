"""Engine errors and HTTP errors as pages: one status per error class, a Turkish message, nothing
changed (the transaction that raised was rolled back). Views that want a message beside a form
field catch ``InvalidInput`` themselves; everything else ends here."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, DeployError, InvalidInput, KalemError, NotAllowed, NotFound, ProcessError

STATUS: dict[type[KalemError], int] = {
    NotFound: 404,
    NotAllowed: 403,
    Conflict: 409,
    InvalidInput: 400,
    DeployError: 400,
    ProcessError: 500,
}


def status_for(exc: KalemError) -> int:
    return next((status for cls, status in STATUS.items() if isinstance(exc, cls)), 400)


def _titles() -> dict[int, str]:
    return {
        400: _("İstek geçersiz"),
        403: _("Yetkiniz yok"),
        404: _("Bulunamadı"),
        405: _("Bu işlem bu adreste yapılamaz"),
        409: _("Kayıt değişti"),
        413: _("Dosya çok büyük"),
        429: _("Çok fazla istek"),
        500: _("Beklenmeyen bir hata oluştu"),
    }


def _http_messages() -> dict[int, str]:
    return {
        400: _("İstek anlaşılamadı. Sayfayı yenileyip tekrar deneyin."),
        403: _("Bu sayfayı görme ya da bu işlemi yapma yetkiniz yok."),
        404: _("Aradığınız sayfa ya da kayıt bulunamadı ya da onu görme yetkiniz yok."),
        405: _("Bu işlem bu adreste yapılamaz."),
        413: _("Gönderilen dosya izin verilen boyuttan büyük; hiçbir şey kaydedilmedi."),
        429: _("Çok fazla istek gönderildi; biraz bekleyip tekrar deneyin."),
        500: _("Beklenmeyen bir hata oluştu; hiçbir şey kaydedilmedi. Sorun sürerse sistem yöneticisine bildirin."),
    }


def render_error(status: int, message: str, details: list[str] | None = None) -> Any:
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": str(status), "message": message, "fields": None}}), status
    title = _titles().get(status, _titles()[400])
    return render_template("errors/error.html", status=status, title=title, message=message, details=details), status


def _engine_error(exc: KalemError) -> Any:
    details = [f"{name}: {msg}" for name, msgs in exc.field_errors.items() for msg in msgs]
    message = str(exc.message)
    if isinstance(exc, ProcessError):
        message = _(
            "Süreç bir adımda hata verdi; işlem kaydedilmedi ve hata yöneticilere bildirildi: %(msg)s", msg=message
        )
    return render_error(status_for(exc), message, details)


def _csrf_error(_exc: CSRFError) -> Any:
    return render_error(
        400, _("Formun güvenlik doğrulaması geçersiz ya da süresi dolmuş. Sayfayı yenileyip tekrar deneyin.")
    )


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    return render_error(status, _http_messages().get(status, _http_messages()[400]))


def init_app(app: Flask) -> None:
    app.register_error_handler(KalemError, _engine_error)
    app.register_error_handler(CSRFError, _csrf_error)
    # Also unexpected exceptions: outside tests and debugging Flask turns them into a 500 HTTPException.
    app.register_error_handler(HTTPException, _http_error)

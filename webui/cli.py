"""The ``kalem`` command: every subcommand opens one transaction and calls one engine function.

Exit codes: 0 success; 2 usage; 3 not found; 4 not allowed; 5 conflict; 6 invalid input;
7 deployment rejected; 8 process error (incident recorded); 1 anything else.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from engine import (
    audit,
    backup,
    definitions,
    demo,
    imports,
    instance_migration,
    instances,
    messages,
    people,
    reports,
    starting,
    tasks,
    timers,
    tokens,
)
from engine import db as dbmod
from engine import setup as engine_setup
from engine.actors import Actor
from engine.config import Settings
from engine.errors import Conflict, DeployError, InvalidInput, KalemError, NotAllowed, NotFound, ProcessError
from engine.incidents import recorded_transaction

EXIT_CODES = {NotFound: 3, NotAllowed: 4, Conflict: 5, InvalidInput: 6, DeployError: 7, ProcessError: 8}
T = TypeVar("T")


class Context:
    def __init__(self) -> None:
        import handlers

        self.settings = Settings.from_env()
        engine_setup.configure(self.settings, handlers.ALL)
        self._db: dbmod.Database | None = None

    @property
    def db(self) -> dbmod.Database:
        if self._db is None:
            self._db = dbmod.from_settings(self.settings)
            # Closed when the command ends, however it ends (its connections never outlive it).
            click.get_current_context().find_root().call_on_close(self._db.dispose)
        return self._db

    def actor(self, session: Any, username: str | None) -> Actor:
        return Actor.system() if not username else people.actor_for(session, username)

    def write(self, username: str | None, fn: Callable[[Any, Actor], T]) -> T:
        with fail_cleanly(), recorded_transaction(self.db) as session:
            return fn(session, self.actor(session, username))

    def read(self, username: str | None, fn: Callable[[Any, Actor], T]) -> T:
        with fail_cleanly(), dbmod.read_session(self.db) as session:
            return fn(session, self.actor(session, username))


@contextmanager
def fail_cleanly() -> Iterator[None]:
    try:
        yield
    except KalemError as exc:
        click.echo(f"Hata: {exc}", err=True)
        for field, msgs in exc.field_errors.items():
            for msg in msgs:
                click.echo(f"  {field}: {msg}", err=True)
        code = next((c for cls, c in EXIT_CODES.items() if isinstance(exc, cls)), 1)
        sys.exit(code)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def parse_json(text: str | None, what: str = "--data") -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"geçerli JSON değil ({exc.msg}, konum {exc.pos})", param_hint=what) from None


pass_ctx = click.make_pass_decorator(Context, ensure=True)
as_option = click.option("--as", "as_user", metavar="USER", help="İşlemi yapan kullanıcı adı.")
json_option = click.option("--json", "as_json_flag", is_flag=True, help="Çıktıyı JSON olarak ver.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Kalem: Özel Kalem Müdürlüğü iş akışı motoru."""


@main.command("init-db")
@pass_ctx
def init_db(ctx: Context) -> None:
    """Veritabanını oluştur ya da en son şemaya yükselt (alembic)."""
    from engine.migrate import upgrade

    upgrade(ctx.db.url)
    click.echo("Veritabanı hazır.")


@main.command("seed-demo")
@click.option("--with-cases", is_flag=True, help="Boş bir veritabanında örnek başvurular da başlat.")
@pass_ctx
def seed_demo(ctx: Context, with_cases: bool) -> None:
    """Demo grupları, kullanıcıları (parola: demo) ve processes/ altındaki süreçleri yükle."""
    deployed = ctx.write(None, lambda s, a: demo.seed(s))
    click.echo(f"{len(demo.all_users())} demo kullanıcı hazır (parola: {demo.DEMO_PASSWORD}).")
    for line in deployed:
        click.echo(line)
    if with_cases:
        started = ctx.write(None, lambda s, a: demo.seed_cases(s))
        click.echo(f"{len(started)} örnek başvuru başlatıldı.")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="Değişiklik notu.")
@as_option
@pass_ctx
def deploy(ctx: Context, files: tuple[Path, ...], note: str | None, as_user: str | None) -> None:
    """BPMN, DMN ve *.form.json dosyalarını yeni sürüm olarak yükle."""
    payload = [(p.name, p.read_bytes()) for p in files]
    results = ctx.write(as_user, lambda s, a: definitions.deploy(s, a, payload, change_note=note))
    for result in results:
        if result.kind == "process":
            click.echo(str(result))


@main.command()
@click.argument("key")
@as_option
@click.option("--business-key", help="İş anahtarı (evrak no, CİMER no...).")
@click.option("--data", help="Başlangıç verisi (JSON nesnesi).")
@click.option("--subject", help="Konu.")
@json_option
@pass_ctx
def start(
    ctx: Context,
    key: str,
    as_user: str | None,
    business_key: str | None,
    data: str | None,
    subject: str | None,
    as_json_flag: bool,
) -> None:
    """Bir sürecin en son sürümünden yeni örnek başlat; örnek numarasını yazar."""
    payload = parse_json(data)

    def run(session: Any, actor: Actor) -> dict[str, Any]:
        instance = starting.start(
            session, actor, key, business_key=business_key, data=payload, subject=subject
        ).instance
        return {"id": instance.id, "status": str(instance.status), "business_key": instance.business_key}

    result = ctx.write(as_user, run)
    click.echo(as_json(result) if as_json_flag else str(result["id"]))


@main.command("tasks")
@as_option
@click.option("--process", help="Yalnız bu sürecin görevleri.")
@click.option("--limit", default=100, show_default=True)
@json_option
@pass_ctx
def list_tasks(ctx: Context, as_user: str | None, process: str | None, limit: int, as_json_flag: bool) -> None:
    """Kullanıcının görebildiği açık görevler."""
    page = ctx.read(as_user, lambda s, a: tasks.inbox(s, a, limit=limit, process_key=process))
    rows = [tasks.as_dict(t) for t in page.items]
    if as_json_flag:
        click.echo(as_json(rows))
        return
    if not rows:
        click.echo("Açık görev yok.")
    for r in rows:
        who = r["assignee"] or ",".join(r["candidate_groups"])
        due = r["due_at"] or "-"
        click.echo(f"{r['id']}\t{r['process_key']}\t{r['name']}\t{r['state']}\t{who}\t{due}")


def _task_action(name: str, doc: str, fn: Callable[..., Any]) -> None:
    @main.command(name, help=doc)
    @click.argument("task_id", type=int)
    @as_option
    @pass_ctx
    def command(ctx: Context, task_id: int, as_user: str | None) -> None:
        task = ctx.write(as_user, lambda s, a: tasks.as_dict(fn(s, a, task_id)))
        click.echo(f"{task['id']}\t{task['state']}\t{task['assignee'] or '-'}")


_task_action("claim", "Görevi üstlen.", tasks.claim)
_task_action("unclaim", "Üstlenilen görevi gruba geri bırak.", tasks.unclaim)


@main.command()
@click.argument("task_id", type=int)
@click.argument("username")
@as_option
@pass_ctx
def assign(ctx: Context, task_id: int, username: str, as_user: str | None) -> None:
    """Görevi bir kullanıcıya ata (yönetici)."""
    task = ctx.write(as_user, lambda s, a: tasks.as_dict(tasks.assign(s, a, task_id, username)))
    click.echo(f"{task['id']}\t{task['state']}\t{task['assignee']}")


@main.command()
@click.argument("task_id", type=int)
@as_option
@click.option("--data", help="Form verisi (JSON nesnesi).")
@click.option("--file", "files", multiple=True, metavar="FIELD=PATH", help="Dosya alanı için yüklenecek dosya.")
@pass_ctx
def complete(ctx: Context, task_id: int, as_user: str | None, data: str | None, files: tuple[str, ...]) -> None:
    """Görevi form verisiyle tamamla."""
    from engine import attachments

    payload = parse_json(data)
    if not isinstance(payload, dict):
        raise click.BadParameter("bir JSON nesnesi olmalı", param_hint="--data")
    uploads = []
    for item in files:
        field, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            raise click.BadParameter(
                f"'{item}' ALAN=DOSYA_YOLU biçiminde, var olan bir dosya olmalı", param_hint="--file"
            )
        uploads.append((field, Path(path)))

    def run(session: Any, actor: Actor) -> dict[str, Any]:
        for field, path in uploads:
            payload[field] = attachments.store_for_task(session, actor, task_id, field, path.name, path.read_bytes())
        return tasks.as_dict(tasks.complete(session, actor, task_id, payload))

    task = ctx.write(as_user, run)
    click.echo(f"{task['id']}\t{task['state']}")


@main.command()
@click.argument("name")
@click.option("--business-key", required=True, help="Mesajı bekleyen sürecin iş anahtarı.")
@click.option("--data", help="Mesaj içeriği (JSON).")
@as_option
@pass_ctx
def message(ctx: Context, name: str, business_key: str, data: str | None, as_user: str | None) -> None:
    """Bir BPMN mesajını iş anahtarıyla bekleyen sürece ilet."""
    payload = parse_json(data)
    instance_id = ctx.write(as_user, lambda s, a: messages.correlate(s, a, name, business_key, payload).id)
    click.echo(str(instance_id))


@main.group("timers")
def timers_group() -> None:
    """Zamanlayıcılar."""


@timers_group.command("run-due")
@click.option("--now", "now_text", metavar="ISO8601", help="Bu ana göre çalıştır (zaman yolculuğu).")
@pass_ctx
def timers_run_due(ctx: Context, now_text: str | None) -> None:
    """Vakti gelmiş bütün zamanlayıcıları tetikle."""
    at = _parse_instant(now_text) if now_text else None
    with fail_cleanly():
        report = timers.fire_due(ctx.db, at)
    click.echo(f"{len(report.fired_instances)} süreç örneğinde zamanlayıcı tetiklendi.")
    for instance_id, error in report.failed.items():
        click.echo(f"Hata: örnek {instance_id}: {error}", err=True)
    if report.failed:
        sys.exit(8)


def _parse_instant(text: str, option: str = "--now") -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "ISO 8601 tarih-saat olmalı, ör. 2026-12-01T09:00:00+03:00", param_hint=option
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@main.group("instance")
def instance_group() -> None:
    """Süreç örnekleri."""


@instance_group.command("show")
@click.argument("instance_id", type=int)
@as_option
@json_option
@pass_ctx
def instance_show(ctx: Context, instance_id: int, as_user: str | None, as_json_flag: bool) -> None:
    """Örneğin durumu, açık görevleri, beklediği olaylar ve verisi."""
    detail = ctx.read(as_user, lambda s, a: instances.show(s, a, instance_id).as_dict())
    if as_json_flag:
        click.echo(as_json(detail))
        return
    click.echo(f"Örnek {detail['id']} ({detail['process_key']}) — durum: {detail['status']}")
    click.echo(f"İş anahtarı: {detail['business_key'] or '-'}")
    for t in detail["open_tasks"]:
        click.echo(f"  Görev {t['id']}: {t['name']} [{t['state']}] {t['assignee'] or ','.join(t['candidate_groups'])}")
    for w in detail["waiting"]:
        click.echo(f"  Bekliyor: {w['type']} {w.get('fire_at') or w.get('name')}")
    for i in detail["incidents"]:
        click.echo(f"  Hata kaydı {i['id']}: {i['message']}")
    click.echo("Veri: " + as_json(detail["data"]))


def _instance_action(name: str, doc: str, fn: Callable[..., Any]) -> None:
    @instance_group.command(name, help=doc)
    @click.argument("instance_id", type=int)
    @as_option
    @pass_ctx
    def command(ctx: Context, instance_id: int, as_user: str | None) -> None:
        status = ctx.write(as_user, lambda s, a: str(fn(s, a, instance_id).status))
        click.echo(f"{instance_id}\t{status}")


_instance_action("suspend", "Örneği askıya al.", instances.suspend)
_instance_action("resume", "Askıdaki örneği sürdür.", instances.resume)
_instance_action("terminate", "Örneği sonlandır.", instances.terminate)
_instance_action("retry", "Hata kaydı olan örneği yeniden çalıştır.", instances.retry)


@main.group("task")
def task_group() -> None:
    """Tek bir görev."""


@task_group.command("show")
@click.argument("task_id", type=int)
@as_option
@json_option
@pass_ctx
def task_show(ctx: Context, task_id: int, as_user: str | None, as_json_flag: bool) -> None:
    """Görev ve formu."""

    def run(session: Any, actor: Actor) -> dict[str, Any]:
        task = tasks.show(session, actor, task_id)
        result = tasks.as_dict(task)
        form = definitions.form_for_task(session, task)
        result["form"] = definitions.form_json(form) if form is not None else None
        return result

    result = ctx.read(as_user, run)
    if as_json_flag:
        click.echo(as_json(result))
        return
    click.echo(f"Görev {result['id']}: {result['name']} ({result['process_key']}, örnek {result['instance_id']})")
    groups = ", ".join(result["candidate_groups"])
    click.echo(f"Durum: {result['state']}  Atanan: {result['assignee'] or '-'}  Gruplar: {groups}")
    click.echo(f"Son tarih: {result['due_at'] or '-'}  Öncelik: {result['priority']}")
    form = result["form"]
    if form:
        click.echo(f"Form: {form['title']} ({form['key']})")
        for f in form["fields"]:
            req = "zorunlu" if f.get("required") else "isteğe bağlı"
            choices = f" seçenekler: {', '.join(str(c['value']) for c in f['choices'])}" if f.get("choices") else ""
            click.echo(f"  - {f['name']} ({f['type']}, {req}): {f.get('label') or ''}{choices}")


@main.command("definitions")
@json_option
@pass_ctx
def list_definitions(ctx: Context, as_json_flag: bool) -> None:
    """Yüklü süreç tanımları ve sürümleri."""
    rows = ctx.read(None, lambda s, a: definitions.list_definitions(s))
    if as_json_flag:
        click.echo(as_json(rows))
        return
    for r in rows:
        click.echo(f"{r['key']}\t{r['name']}\tv{r['latest_version']}\t(sürümler: {', '.join(map(str, r['versions']))})")


@main.command("migrate")
@click.argument("key")
@click.option("--to", "to_version", type=int, required=True, help="Hedef sürüm numarası.")
@click.option("--map", "maps", multiple=True, metavar="ESKI=YENI", help="Yeni sürümde kimliği değişen adım.")
@click.option("--instance", "instance_ids", multiple=True, type=int, help="Yalnız bu örnekler (yoksa hepsi).")
@click.option("--dry-run", is_flag=True, help="Yalnız hangi örneklerin taşınabileceğini göster.")
@as_option
@json_option
@pass_ctx
def migrate_instances(
    ctx: Context,
    key: str,
    to_version: int,
    maps: tuple[str, ...],
    instance_ids: tuple[int, ...],
    dry_run: bool,
    as_user: str | None,
    as_json_flag: bool,
) -> None:
    """Çalışan örnekleri sürecin başka bir sürümüne taşı (önce --dry-run ile deneyin)."""
    mapping = dict(item.split("=", 1) for item in maps if "=" in item)
    if len(mapping) != len(maps):
        raise click.UsageError("--map ESKI=YENI biçiminde olmalı.")
    outcomes: list[Any] = []
    after = 0
    while True:
        page = ctx.read(
            as_user,
            lambda s, a, after=after: instance_migration.plan(s, a, key, to_version, mapping=mapping, after_id=after),
        )
        if not page:
            break
        after = page[-1].instance_id
        chosen = [o for o in page if not instance_ids or o.instance_id in instance_ids]
        movable = [o.instance_id for o in chosen if o.can_move]
        if movable and not dry_run:
            moved = ctx.write(
                as_user,
                lambda s, a, ids=movable: instance_migration.migrate(s, a, key, to_version, ids, mapping=mapping),
            )
            chosen = [o for o in chosen if not o.can_move] + moved
        outcomes += chosen
    if as_json_flag:
        click.echo(as_json([o.as_dict() for o in outcomes]))
        return
    for o in outcomes:
        state = "taşındı" if o.moved else ("taşınabilir" if o.can_move else "kalıyor: " + "; ".join(o.reasons))
        click.echo(f"{o.instance_id}\tv{o.from_version} → v{to_version}\t{state}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(sorted(imports.PRESETS)), required=True, help="Dışa aktarımın kaynağı.")
@click.option("--preview", is_flag=True, help="Yalnız denetle; hiçbir kayıt oluşturma.")
@as_option
@json_option
@pass_ctx
def import_file(ctx: Context, file: Path, kind: str, preview: bool, as_user: str | None, as_json_flag: bool) -> None:
    """CİMER/HİM dışa aktarımını (CSV ya da XLSX) içe aktar: her satır bir başvuru."""
    content = file.read_bytes()
    report = ctx.write(
        as_user, lambda s, a: imports.run(s, a, kind, imports.read_rows(file.name, content), preview=preview).as_dict()
    )
    if as_json_flag:
        click.echo(as_json(report))
        return
    for row in report["rows"]:
        instance = f" (örnek {row['instance_id']})" if row["instance_id"] else ""
        click.echo(f"satır {row['line']}\t{row['reference'] or '-'}\t{row['status']}{instance}\t{row['message']}")
    summary = report["summary"]
    click.echo(
        f"İçe aktarılan: {summary['imported']}, hazır: {summary['ready']}, "
        f"mükerrer: {summary['duplicate']}, reddedilen: {summary['rejected']}"
    )


@main.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def backup_command(ctx: Context, target: Path) -> None:
    """Veritabanını ve ek dosyalarını tek bir arşive yedekle (.tar.gz)."""
    with fail_cleanly():
        manifest = backup.backup(ctx.db, ctx.settings.attachment_dir, target)
    rows = sum(manifest["tables"].values())
    click.echo(f"Yedek yazıldı: {target} ({rows} satır, {manifest['attachments']} ek dosya).")


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def restore_command(ctx: Context, source: Path) -> None:
    """Bir yedeği boş bir veritabanına geri yükle (önce: kalem init-db)."""
    with fail_cleanly():
        manifest = backup.restore(ctx.db, ctx.settings.attachment_dir, source)
    click.echo(f"Geri yüklendi: {sum(manifest['tables'].values())} satır, {manifest['attachments']} ek dosya.")


@main.group("token")
def token_group() -> None:
    """REST API belirteçleri."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="Belirtecin adı (ör. EBYS entegrasyonu).")
@click.option("--scope", "scopes", multiple=True, required=True, help="Kapsam; birden çok verilebilir.")
@click.option("--expires", help="Bitiş zamanı (ISO 8601).")
@as_option
@pass_ctx
def token_create(
    ctx: Context, username: str, name: str, scopes: tuple[str, ...], expires: str | None, as_user: str | None
) -> None:
    """Bir kullanıcı için belirteç oluştur; gizli değer yalnız bir kez gösterilir."""
    expires_at = _parse_instant(expires, "--expires") if expires else None

    def create(session: Any, actor: Actor) -> tuple[int, str]:
        token, secret = tokens.create(session, actor, username, name, scopes, expires_at=expires_at)
        return token.id, secret

    token_id, secret = ctx.write(as_user, create)
    click.echo(secret)
    click.echo(f"Belirteç {token_id} oluşturuldu; bu değeri güvenli bir yerde saklayın.", err=True)


@token_group.command("revoke")
@click.argument("token_id", type=int)
@as_option
@pass_ctx
def token_revoke(ctx: Context, token_id: int, as_user: str | None) -> None:
    """Bir belirteci iptal et."""
    ctx.write(as_user, lambda s, a: tokens.revoke(s, a, token_id))
    click.echo(f"Belirteç {token_id} iptal edildi.")


@token_group.command("list")
@click.option("--user", "username", help="Yalnız bu kullanıcının belirteçleri.")
@as_option
@json_option
@pass_ctx
def token_list(ctx: Context, username: str | None, as_user: str | None, as_json_flag: bool) -> None:
    """Belirteçler (gizli değerler gösterilmez)."""
    rows = ctx.read(
        as_user,
        lambda s, a: [
            {
                "id": t.id,
                "user": t.user.username,
                "name": t.name,
                "prefix": t.prefix,
                "scopes": t.scopes,
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                "revoked": t.revoked_at is not None,
                "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            }
            for t in tokens.list_tokens(s, a, username)
        ],
    )
    if as_json_flag:
        click.echo(as_json(rows))
        return
    for r in rows:
        state = "iptal" if r["revoked"] else "etkin"
        click.echo(f"{r['id']}\t{r['user']}\t{r['name']}\t{r['prefix']}…\t{','.join(r['scopes'])}\t{state}")


@main.command("users")
@json_option
@pass_ctx
def list_users(ctx: Context, as_json_flag: bool) -> None:
    """Kullanıcılar ve grupları."""

    def run(session: Any, actor: Actor) -> list[dict[str, Any]]:
        return [
            {
                "username": u.username,
                "full_name": u.full_name,
                "title": u.title,
                "email": u.email,
                "is_active": u.is_active,
                "groups": sorted(m.group.code for m in u.memberships),
                "manages": sorted(m.group.code for m in u.memberships if m.is_manager),
            }
            for u in people.list_users(session)
        ]

    rows = ctx.read(None, run)
    if as_json_flag:
        click.echo(as_json(rows))
        return
    for r in rows:
        click.echo(f"{r['username']}\t{r['full_name']}\t{', '.join(r['groups'])}")


@main.group("audit")
def audit_group() -> None:
    """Denetim izi."""


@audit_group.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Denetim zincirini doğrula; bozuksa ilk bozuk kaydı adlandırır ve sıfırdan farklı çıkar."""
    report = ctx.read(None, lambda s, a: audit.verify(s))
    if report.ok:
        click.echo(f"Denetim zinciri sağlam: {report.count} kayıt doğrulandı.")
        return
    click.echo(f"Denetim zinciri BOZUK: ilk bozuk kayıt #{report.bad_seq}: {report.reason}", err=True)
    sys.exit(9)


@main.command("check")
@click.option("--instance", "instance_ids", multiple=True, type=int, help="Yalnız bu örnekler (yoksa hepsi).")
@click.option("--batch", default=200, show_default=True, type=int, help="Bir okumada denetlenen örnek sayısı.")
@json_option
@pass_ctx
def check_command(ctx: Context, instance_ids: tuple[int, ...], batch: int, as_json_flag: bool) -> None:
    """Görev, zamanlayıcı ve mesaj kayıtlarını süreç durumuyla karşılaştır; fark varsa 10 ile çıkar."""
    from engine import consistency

    if instance_ids:
        found = [d for i in instance_ids for d in ctx.read(None, lambda s, a, i=i: consistency.check(s, i))]
        report = consistency.Report(len(instance_ids), found)
    else:
        with fail_cleanly():
            report = consistency.check_all(ctx.db, batch_size=batch)
    if as_json_flag:
        click.echo(as_json({"checked": report.checked, "differences": [d.as_dict() for d in report.differences]}))
    else:
        for difference in report.differences:
            click.echo(str(difference), err=True)
        click.echo(f"{report.checked} örnek denetlendi, {len(report.differences)} fark bulundu.")
    if not report.ok:
        sys.exit(10)


@main.group("report")
def report_group() -> None:
    """Yasal raporlar."""


@report_group.command("bedk")
@click.option("--year", type=int, metavar="YYYY", help="Raporun yılı (varsayılan: geçen yıl).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "csv", "xlsx"]),
    default="text",
    show_default=True,
    help="Çıktı biçimi.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Çıktının yazılacağı dosya.")
@as_option
@pass_ctx
def report_bedk(ctx: Context, year: int | None, fmt: str, output: Path | None, as_user: str | None) -> None:
    """Bilgi Edinme Değerlendirme Kuruluna yıllık 4982 raporu: başvurular, sonuçlar, ret dayanakları, itirazlar."""
    if fmt == "xlsx" and output is None:
        raise click.UsageError("XLSX biçimi için --output ile bir dosya adı verin.")
    chosen = year if year is not None else reports.last_year()
    report = ctx.read(as_user, lambda s, a: reports.bedk_report(s, a, chosen))
    if fmt == "xlsx" and output is not None:
        with output.open("wb") as out:
            reports.write_xlsx(report, out)
    else:
        text = reports.to_csv(report) if fmt == "csv" else _bedk_text(report)
        if output is None:
            click.echo(text.lstrip("\ufeff"), nl=False)
            return
        output.write_text(text, encoding="utf-8")
    click.echo(f"Rapor yazıldı: {output} ({report.year}, {report.applications} başvuru).")


def _bedk_text(report: reports.BedkReport) -> str:
    local = report.generated_at.astimezone(reports.ISTANBUL)
    lines = [
        f"BEDK yıllık bilgi edinme raporu: {report.year}",
        f"Başvuru tarihine göre (Europe/Istanbul); hazırlandığı an: {local:%d.%m.%Y %H:%M}",
    ]
    if not report.year_complete:
        lines.append(str(reports.INTERIM_NOTE))
    rows = report.lines()
    width = max(len(r.label) for r in rows)
    section = ""
    for row in rows:
        if row.section != section:
            section = row.section
            lines += ["", str(reports.SECTION_TITLES[section])]
        lines.append(f"  {row.label:<{width}}  {row.count:>6}")
    lines += ["", *(str(note) for note in reports.NOTES)]
    return "\n".join(lines) + "\n"


@main.group("calendar")
def calendar_group() -> None:
    """İş takvimi ve yasal süreler."""


@calendar_group.command("deadline")
@click.option("--law", required=True, type=click.Choice(["3071", "4982", "4982-uzatma"]))
@click.option("--received", required=True, metavar="YYYY-MM-DD", help="Başvurunun kuruma ulaştığı gün.")
def calendar_deadline(law: str, received: str) -> None:
    """Yasal son tarihi yaz (Europe/Istanbul)."""
    from engine import calendar

    try:
        day = date.fromisoformat(received)
    except ValueError:
        raise click.BadParameter("YYYY-AA-GG biçiminde olmalı", param_hint="--received") from None
    with fail_cleanly():
        due = calendar.default_calendar().legal_deadline(law, day)
    click.echo(due.strftime("%Y-%m-%d %H:%M %z") + " (Europe/Istanbul)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--with-scheduler", is_flag=True, help="Zamanlayıcı işlerini bu süreçte de çalıştır (tek süreç).")
def serve(host: str, port: int, with_scheduler: bool) -> None:
    """Web uygulamasını başlat."""
    from webui import create_app

    app = create_app()
    if with_scheduler:
        from engine import scheduler

        scheduler.start_in_process(app, app.extensions["kalem_settings"])
    app.run(host=host, port=port)


# --- scheduler (issue #5) ---------------------------------------------------------------------------


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Her işi bir kez çalıştır ve çık (cron ya da test için).")
@click.option("--now", "now_text", metavar="ISO8601", help="--once ile: bu ana göre çalıştır (zaman yolculuğu).")
@click.option("--digest", is_flag=True, help="--once ile: günlük özeti de gönder.")
@pass_ctx
def scheduler_command(ctx: Context, once: bool, now_text: str | None, digest: bool) -> None:
    """Zamanlayıcıları, süre takibini, bildirim kuyruğunu ve günlük özeti çalıştıran süreç."""
    import logging

    from engine import scheduler

    config = scheduler.SchedulerConfig.from_env()
    if not once:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
        scheduler.run_forever(ctx.db, config)
        return
    at = _parse_instant(now_text) if now_text else None
    with fail_cleanly():
        result = scheduler.run_once(ctx.db, config, at, digest=digest)
    click.echo(
        f"{result['timers']} örnekte zamanlayıcı, {result['deadline_steps']} süre adımı, "
        f"{result['sent']} bildirim gönderildi ({result['retried']} yeniden denenecek, {result['failed']} başarısız)."
    )
